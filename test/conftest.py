"""Fixtures and hooks shared by every test tier.

Component fixtures live in the conftest of the component's own test folder; only what several
folders need lives here: the project root, the reference material (``shared_specs``), a seed for
``random`` and numpy per test, and the skip budget printed at the end of every run.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.reference import ROOT, SKIP_REASON, specs_dir
from support.seeding import seed_for, seed_global_generators
from support.skips import SkipBudget, max_share_from_env
from support.stuck_stops import StuckStops

# A suite started as a background job of a non-interactive shell (`bash .ci/run &`) inherits SIGINT
# ignored, and so would every process it starts: the tests that press Ctrl-C on `zeroserve up` or
# `zeroserve logs -f` would wait for nothing. A handler (unlike an ignore) is reset to the default in
# children, so they get Ctrl-C as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    """``../shared/specs``: KServe's, Knative's and Seldon's own CRDs and protocol specs.

    Only reference comparisons may ask for it: in a user's clone, where ``../shared`` is absent (or
    with ``ZEROSERVE_SHARED_DIR=/nonexistent``), they skip with one clear reason.
    """
    specs = specs_dir()
    if specs is None:
        pytest.skip(SKIP_REASON)
    return specs


@pytest.fixture(autouse=True)
def _seeded_randomness(request: pytest.FixtureRequest) -> None:
    """Seed ``random`` and numpy's global generator from the test's id: reruns see the same numbers."""
    seed_global_generators(seed_for(request.node.nodeid))


# -- the skip budget -----------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    try:
        max_share = max_share_from_env()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(SkipBudget(max_share), "zeroserve-skip-budget")
    config.pluginmanager.register(StuckStops(), "zeroserve-stuck-stops")
