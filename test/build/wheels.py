"""A tiny pure-Python distribution built into a wheel offline.

A wheel is a zip: the code, METADATA, WHEEL and RECORD."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` into ``folder`` (its ``__version__`` is ``version``).

    Returns:
        The wheel's path.
    """
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'"""A test dependency."""\n__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: zeroserve-test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel
