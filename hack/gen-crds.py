#!/usr/bin/env python3
"""Write config/crd/ from the API types (zeroserve.apis.crds); remove CRD files no longer generated.

Usage: .venv/bin/python hack/gen-crds.py [--check]
  --check  write nothing; exit 1 and list the files that differ (what the staleness test checks).
"""

from __future__ import annotations

import sys
from pathlib import Path

from zeroserve.apis.crds import crd_files


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def main(argv: list[str]) -> int:
    """Generate (or with ``--check`` compare) ``config/crd``; returns the exit status."""
    check = "--check" in argv
    out = Path(__file__).resolve().parent.parent / "config" / "crd"
    wanted = crd_files()
    present = {p.name for p in out.glob("*.yaml")} if out.is_dir() else set()
    stale = sorted(
        name
        for name, text in wanted.items()
        if not (out / name).is_file() or (out / name).read_text() != text
    )
    extra = sorted(present - set(wanted))
    if check:
        for name in [*stale, *extra]:
            print(f"stale: config/crd/{name}")
        return 1 if stale or extra else 0
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_text(wanted[name])
        print(f"wrote config/crd/{name}")
    for name in extra:
        (out / name).unlink()
        print(f"removed config/crd/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
