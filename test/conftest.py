"""Fixtures shared by every test tier.

Component fixtures live in the conftest of the component's own test folder; only what several
folders need (the shared reference material, free ports, the project root) lives here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    """``../shared/specs``: KServe's and Knative's reference CRDs and protocol specs.

    Tests that need it skip with a clear reason in a user's clone, where ``../shared`` is absent.
    """
    specs = SHARED / "specs"
    if not specs.is_dir():
        pytest.skip(f"reference specs not found at {specs} (../shared exists only in CI and dev checkouts)")
    return specs
