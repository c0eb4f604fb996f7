"""A KServe V1 test image built here from local files: a static C server in a FROM-scratch image.

No registry is reachable from CI, so the image is made by ``podman import`` of a root filesystem tar
holding only ``/server`` (``kserve_v1_server.c`` compiled with ``gcc -static``). Without podman (or
gcc) the tests skip and say why.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from zeroserve.local.engine.containers import detect_engine

SOURCE = Path(__file__).with_name("kserve_v1_server.c")


@pytest.fixture(scope="session")
def podman() -> str:
    """The podman that works here, or skip the test with the reason."""
    engine, why = detect_engine("podman")
    if engine is None:
        pytest.skip(
            f"needs a working podman ({why}); hack/install-system.sh installs podman and runc as root "
            "with apt-get and says why when it cannot"
        )
    return engine.path


@pytest.fixture(scope="session")
def kv1_image(podman: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test image's name (``localhost/zeroserve-test-kv1:<pid>``), removed after the session."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("needs gcc to build the test image's static server")
    folder = tmp_path_factory.mktemp("kv1")
    binary = folder / "server"
    built = subprocess.run(
        [gcc, "-static", "-O2", "-o", str(binary), str(SOURCE)], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        pytest.skip(f"gcc -static failed (no static libc?): {built.stderr.strip().splitlines()[-1:]}")
    tar = folder / "rootfs.tar"
    with tarfile.open(tar, "w") as archive:
        info = archive.gettarinfo(str(binary), arcname="server")
        info.mode = 0o755
        info.uid = info.gid = 0
        with binary.open("rb") as fh:
            archive.addfile(info, io.BytesIO(fh.read()))
    image = f"localhost/zeroserve-test-kv1:{os.getpid()}"
    subprocess.run(
        [podman, "import", "--change", 'ENTRYPOINT ["/server"]', str(tar), image],
        capture_output=True,
        check=True,
    )
    try:
        yield image
    finally:
        subprocess.run([podman, "rmi", "-f", image], capture_output=True, check=False)
