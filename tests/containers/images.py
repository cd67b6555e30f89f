"""Images for the container tests, without a registry: a stand-in for the official Python base
bootstrapped from Debian's packages, and the project's Dockerfile built unchanged on it.

The stand-in is `debootstrap` of the Debian release the Dockerfile's default base is built on, with
Python 3.11 and its venv module, imported with `docker import`; its root file system is cached as a
tarball under ~/.cache/streamproc so that it is bootstrapped once per machine. The package index is
reached through the host's system CA bundle, handed to the build as a secret (`--secret id=ca`);
a canary certificate appended to it lets a test prove that no layer keeps it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.containers.engine import CACHE, DEBOOTSTRAP, OPENSSL, Engine, EngineError

REPO = Path(__file__).resolve().parents[2]
RELEASE = "bookworm"  # Debian 12, as python:3.11-slim-bookworm (its Python is 3.11 too)
MIRROR = os.environ.get("STREAMPROC_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# What the official image sets and a Debian root lacks; the Dockerfile relies on neither.
BASE_CHANGES = ("ENV LANG=C.UTF-8", 'CMD ["python3"]')
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's system bundle
BUILD_TIMEOUT_SECONDS = 900.0
NICE = ["nice", "-n", "10"]  # builds share 2 cores with other people's broker-heavy tests


@dataclass
class Timings:
    """Seconds each step took in this session; None when a cache made it unnecessary."""

    bootstrap: float | None = None
    import_: float | None = None
    project: float | None = None
    image_bytes: int | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectImage:
    tag: str
    base: str
    canary: str  # base64 body of a certificate that was only in the build secret
    size_bytes: int


def base_key() -> str:
    """Cache key of the stand-in: what went into it."""
    recipe = f"{RELEASE} minbase {','.join(BASE_PACKAGES)} {'|'.join(BASE_CHANGES)}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def base_tag() -> str:
    return f"streamproc-test-base:{RELEASE}-{base_key()}"


def default_base_release() -> str:
    """The Debian release in the Dockerfile's default base (python:3.11-slim-<release>)."""
    match = re.search(r"^ARG BASE=python:3\.11-slim-(\w+)$", (REPO / "Dockerfile").read_text(), re.M)
    if match is None:
        raise EngineError("the Dockerfile's default base is not python:3.11-slim-<debian release>")
    return match.group(1)


def _run(cmd: list[str], *, log: Path, timeout: float) -> None:
    with log.open("ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if done.returncode != 0:
        text = log.read_text(errors="replace")[-3000:]
        raise EngineError(f"{' '.join(cmd[:4])}... failed ({done.returncode}); log {log}:\n{text}")


def base_rootfs(timings: Timings) -> Path:
    """The stand-in's root file system as a tarball, bootstrapped on first use and cached."""
    cache = CACHE / "docker-base"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{RELEASE}-{base_key()}.tar"
    # Two sessions may need it at once: one bootstraps, the other waits for its tarball.
    with (cache / "bootstrap.lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            return tarball
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache))
        try:
            root, log = work / "root", cache / "bootstrap.log"
            log.write_bytes(b"")
            _run(
                [*NICE, DEBOOTSTRAP, "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                 RELEASE, str(root), MIRROR],
                log=log, timeout=1200,
            )  # fmt: skip
            # downloaded packages and indexes are not part of an image
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for item in (root / junk).glob("*"):
                    if item.is_file():
                        item.unlink()
            partial = tarball.with_suffix(".partial")
            _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], log=log, timeout=600)
            partial.rename(tarball)  # atomic: a killed run leaves no half tarball behind
        finally:
            subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
        timings.bootstrap = time.monotonic() - started
        return tarball


def base_image(engine: Engine, timings: Timings) -> str:
    """The stand-in base imported into the engine (once per cached engine data root)."""
    tag = base_tag()
    if engine.docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    tarball = base_rootfs(timings)
    started = time.monotonic()
    changes = [arg for change in BASE_CHANGES for arg in ("--change", change)]
    with tarball.open("rb") as data:
        done = subprocess.run(
            [*NICE, "/usr/bin/docker", "import", *changes, "-", tag],
            stdin=data, env=engine.env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise EngineError(f"docker import of {tarball} failed:\n{done.stdout}{done.stderr}")
    timings.import_ = time.monotonic() - started
    return tag


def canary_certificate(workdir: Path) -> str:
    """A fresh self-signed certificate (PEM); it exists nowhere but in this build's secret."""
    cert = workdir / "canary.pem"
    done = subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(workdir / "canary.key"), "-out", str(cert), "-days", "1",
         "-subj", "/CN=streamproc build secret canary"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise EngineError(f"openssl could not make the canary certificate:\n{done.stderr}")
    (workdir / "canary.key").unlink()
    return cert.read_text()


def pem_body(pem: str) -> str:
    """The base64 of a PEM block on one line: how it would appear in any copied file."""
    return "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))


def build_project(engine: Engine, base: str, tag: str, timings: Timings) -> ProjectImage:
    """`docker build` of the repository's Dockerfile on `base`, the CA bundle as a build secret."""
    if not HOST_CA_BUNDLE.is_file():
        raise EngineError(f"no system CA bundle at {HOST_CA_BUNDLE}: install ca-certificates")
    secrets = Path(tempfile.mkdtemp(prefix="build-secret-"))
    try:
        canary = canary_certificate(secrets)
        bundle = secrets / "ca.pem"
        bundle.write_text(HOST_CA_BUNDLE.read_text() + "\n" + canary)
        bundle.chmod(0o600)
        log = secrets / "build.log"
        started = time.monotonic()
        cmd = [*NICE, "/usr/bin/docker", "build", "--network", "host", "--progress", "plain",
               "--build-arg", f"BASE={base}", "--secret", f"id=ca,src={bundle}", "-t", tag, str(REPO)]  # fmt: skip
        with log.open("wb") as out:
            done = subprocess.run(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=engine.env,
                timeout=BUILD_TIMEOUT_SECONDS,
                check=False,
            )
        if done.returncode != 0:
            raise EngineError(
                f"docker build failed ({done.returncode}):\n{log.read_text(errors='replace')[-4000:]}"
            )
        timings.project = time.monotonic() - started
    finally:
        shutil.rmtree(secrets, ignore_errors=True)
    size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip())
    timings.image_bytes = size
    return ProjectImage(tag=tag, base=base, canary=pem_body(canary), size_bytes=size)


def image_files(engine: Engine, tag: str) -> Iterator[tuple[str, str, bytes]]:
    """(layer, path, content) of every regular file in every layer of the image (`docker save`)."""
    with tempfile.TemporaryFile() as saved:
        done = subprocess.run(
            ["/usr/bin/docker", "save", tag], stdout=saved, stderr=subprocess.PIPE, env=engine.env,
            timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise EngineError(f"docker save {tag} failed: {done.stderr.decode(errors='replace')}")
        saved.seek(0)
        with tarfile.open(fileobj=saved) as image:
            manifest = json.loads(_member(image, "manifest.json"))
            for layer in manifest[0]["Layers"]:
                with tarfile.open(fileobj=io.BytesIO(_member(image, layer))) as files:
                    for info in files:
                        if info.isfile():
                            yield layer, info.name, _member(files, info.name)


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    if handle is None:
        raise EngineError(f"{name} is not a file in the saved image")
    return handle.read()
