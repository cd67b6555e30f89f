# streamproc worker image: `docker build -t streamproc .`, `docker run streamproc worker --help`.
#
# Build with BuildKit (Docker 23+ does by default; Docker 20.10: DOCKER_BUILDKIT=1). Options:
#   --build-arg BASE=IMAGE   a Python 3.11 image with `python3 -m venv` (default below; the tests
#                            use a Debian bookworm root with python3-venv, imported offline)
#   --secret id=ca,src=FILE  a CA bundle for the package index (a TLS-inspecting proxy): mounted
#                            for the pip steps only, never copied into a layer
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/streamproc/bin:$PATH

# A virtual environment, so the same steps work on the official image (pip at /usr/local) and on
# Debian's python3 (no pip, and PEP 668 forbids installing into the system Python).
RUN python3 -m venv /opt/streamproc

# Dependencies first, from pyproject.toml alone (a stub package stands in for the code), so this
# layer is rebuilt only when the dependencies change, not on every code change.
WORKDIR /src
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    mkdir streamproc && touch streamproc/__init__.py \
    && pip install . && pip uninstall -y streamproc && rm -rf streamproc build ./*.egg-info

# Without setup.py: the base images have no C compiler, so the duplicate core runs its numpy code
# instead of the optional C kernels (same results, slower; the worker logs detection_kernels=).
COPY streamproc ./streamproc
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install --no-deps . && cd / && rm -rf /src

# Non-root. RocksDB table state lives in its home (recovered from the changelog topics if lost);
# the data directory exists and is the user's, so a new named volume mounted there is too (Docker
# copies the mount point's owner into an empty volume). No VOLUME line: anonymous volumes pile up.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin streamproc \
    && mkdir /home/streamproc/data && chown streamproc: /home/streamproc/data
USER streamproc
WORKDIR /home/streamproc
ENV STREAMPROC_METRICS_PORT=9464 \
    STREAMPROC_DATA_DIR=/home/streamproc/data

EXPOSE 9464
# /healthz: 200 while the worker starts or runs, 503 once its watchdog finds it stalled.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STREAMPROC_METRICS_PORT', '9464'), timeout=4)"]

# SIGTERM (docker stop) ends the worker within STREAMPROC_SHUTDOWN_SECONDS (30), committing what it
# finished; give `docker stop` a longer timeout than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["streamproc"]
CMD ["worker"]
