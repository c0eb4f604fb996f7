"""Helpers of the storage tests: archive builders, the bytes they move around, the file server's state."""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass, field

MODEL_BYTES = b"not really a model, but bytes to move around\n" * 100


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    """A ``.tar.gz`` holding ``members`` (name -> contents)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    """A ``.zip`` holding ``members`` (name -> contents)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class FileServer:
    """A local HTTP server answering GET from :attr:`files` and recording every requested path."""

    url: str
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)
