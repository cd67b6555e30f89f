# streamproc worker image: `docker build -t streamproc .`, `docker run streamproc worker --help`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY streamproc ./streamproc
RUN pip install . && rm -rf /src

# Non-root; RocksDB table state lives in its home (recovered from changelog topics if lost).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin streamproc
USER streamproc
WORKDIR /home/streamproc
ENV STREAMPROC_METRICS_PORT=9464 \
    STREAMPROC_DATA_DIR=/home/streamproc/data

EXPOSE 9464
# Healthy when /metrics answers (the worker serves it once its topics exist).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('STREAMPROC_METRICS_PORT', '9464'), timeout=4)"]

ENTRYPOINT ["streamproc"]
CMD ["worker"]
