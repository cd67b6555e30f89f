"""The worker image, built from the repository's Dockerfile on a Debian stand-in base: what it runs
as, how it checks its health, and that the CA bundle given to the build stays out of it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streamproc import __version__
from streamproc.broker.process import free_port
from tests.containers.conftest import LABEL
from tests.containers.engine import Engine
from tests.containers.images import RELEASE, ProjectImage, default_base_release, image_files

pytestmark = [pytest.mark.containers]

MAX_IMAGE_BYTES = 600 * 10**6  # measured ~370 MB on the stand-in base; more means something leaked in


def image_config(engine: Engine, tag: str) -> dict[str, Any]:
    return dict(json.loads(engine.docker("image", "inspect", tag).stdout)[0])


def test_the_stand_in_base_is_the_release_of_the_default_base() -> None:
    assert default_base_release() == RELEASE, (
        f"the Dockerfile's default base is python:3.11-slim-{default_base_release()}, the tests "
        f"bootstrap {RELEASE}: change images.RELEASE with it"
    )


def test_the_image_is_built_on_the_given_base(engine: Engine, project_image: ProjectImage) -> None:
    base_layers = image_config(engine, project_image.base)["RootFS"]["Layers"]
    layers = image_config(engine, project_image.tag)["RootFS"]["Layers"]
    assert layers[: len(base_layers)] == base_layers, "the BASE build argument was not used"
    assert len(layers) > len(base_layers)
    assert project_image.size_bytes < MAX_IMAGE_BYTES, f"{project_image.size_bytes / 1e6:.0f} MB"


def test_the_image_runs_streamproc_as_a_non_root_user(engine: Engine, project_image: ProjectImage) -> None:
    config = image_config(engine, project_image.tag)["Config"]
    assert config["User"] == "streamproc"
    assert config["Entrypoint"] == ["streamproc"] and config["Cmd"] == ["worker"]
    assert "9464/tcp" in config["ExposedPorts"]
    version = engine.docker(
        "run", "--rm", "--network=host", f"--label={LABEL}", project_image.tag, "--version"
    )
    assert version.stdout.strip() == f"streamproc {__version__}"
    python = engine.docker(
        "run", "--rm", f"--label={LABEL}", "--entrypoint=python", project_image.tag, "--version"
    )
    assert python.stdout.startswith("Python 3.11."), python.stdout
    ids = engine.docker(
        "run", "--rm", "--network=host", f"--label={LABEL}", "--entrypoint=id", project_image.tag
    )
    assert ids.stdout.split()[:2] == ["uid=10001(streamproc)", "gid=10001(streamproc)"], ids.stdout


def test_no_layer_keeps_the_build_secret(engine: Engine, project_image: ProjectImage) -> None:
    """The build read the CA bundle (plus a canary certificate made for this build) as a secret:
    neither a file in any layer, nor the image's history or configuration, may contain it."""
    # Any full line of the canary's base64 is unique to it (its key and signature are fresh).
    lines = [project_image.canary[i : i + 64] for i in range(64, len(project_image.canary) - 64, 64)]
    assert len(lines) >= 3
    needles = [line.encode() for line in lines]
    files = 0
    for layer, path, content in image_files(engine, project_image.tag):
        files += 1
        assert not path.startswith("run/secrets/"), f"{layer}: {path}"
        leaked = [n for n in needles if n in content]
        assert not leaked, f"the build secret is in {path} ({layer})"
    assert files > 1000, "the saved image had too few files for the scan to mean anything"
    history = engine.docker("history", "--no-trunc", project_image.tag).stdout
    config = engine.docker("image", "inspect", project_image.tag).stdout
    assert not any(line in history or line in config for line in lines)


class _Healthz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def healthz_server(request: pytest.FixtureRequest) -> Iterator[int]:
    """A stand-in /healthz on a free loopback port, answering with the parametrised status (or
    no server at all for 0); yields the port."""
    status: int = request.param
    if status == 0:
        yield free_port()
        return
    handler = type("Handler", (_Healthz,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("healthz_server", "healthy"), [(200, True), (503, False), (0, False)], indirect=["healthz_server"]
)
def test_the_healthcheck_follows_healthz(
    engine: Engine, project_image: ProjectImage, healthz_server: int, healthy: bool
) -> None:
    """The image's HEALTHCHECK command, run as Docker runs it (in the container, with the
    container's STREAMPROC_METRICS_PORT), passes on 200 and fails on 503 or no answer."""
    check = image_config(engine, project_image.tag)["Config"]["Healthcheck"]
    assert check["Test"][0] == "CMD" and any("/healthz" in part for part in check["Test"])
    program, *args = check["Test"][1:]
    done = engine.docker(
        "run", "--rm", "--network=host", f"--label={LABEL}", f"--env=STREAMPROC_METRICS_PORT={healthz_server}",
        f"--entrypoint={program}", project_image.tag, *args, check=False,
    )  # fmt: skip
    assert (done.returncode == 0) == healthy, (done.returncode, done.stderr[-500:])
