"""Where the reference material is: KServe's, Knative's and Seldon's own files in ``../shared/specs``.

The reference material sits beside the repository in CI and dev checkouts, never in a user's clone.
Only tests that compare against it (a reference comparison) may depend on it; they ask for the
``shared_specs`` fixture of ``test/conftest.py``, which skips them with :data:`SKIP_REASON` when the
folder is absent. ``ZEROSERVE_SHARED_DIR`` points elsewhere, e.g. ``ZEROSERVE_SHARED_DIR=/nonexistent``
to run the suite the way a user's clone does.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root folder."""

SHARED_DIR_ENV = "ZEROSERVE_SHARED_DIR"
SKIP_REASON = "compares against reference material in ../shared/specs, absent in this clone"


def shared_dir() -> Path:
    """The shared folder: ``$ZEROSERVE_SHARED_DIR`` when set, else ``shared`` beside the repository."""
    configured = os.environ.get(SHARED_DIR_ENV)
    return Path(configured) if configured else ROOT.parent / "shared"


def specs_dir() -> Path | None:
    """``<shared>/specs`` when it exists, else None (a user's clone)."""
    specs = shared_dir() / "specs"
    return specs if specs.is_dir() else None
