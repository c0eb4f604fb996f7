"""The skip budget's arithmetic and report, the reference-folder lookup, and per-test seeding."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from support import reference
from support.seeding import seed_for, seed_global_generators
from support.skips import DEFAULT_MAX_SHARE, SkipSummary, max_share_from_env


def test_summary_counts_reasons_and_share() -> None:
    summary = SkipSummary(total=200, reasons=Counter({"needs a GPU": 1, "reference": 3}))
    assert summary.skipped == 4
    assert summary.share == pytest.approx(0.02)
    assert summary.lines() == ["4 of 200 tests skipped (2.0%)", "    3  reference", "    1  needs a GPU"]


def test_budget_allows_the_share_and_fails_above_it() -> None:
    at_limit = SkipSummary(total=100, reasons=Counter({"r": 2}))
    assert at_limit.over_budget(0.02) is None
    over = SkipSummary(total=100, reasons=Counter({"r": 3}))
    assert over.over_budget(0.02) == (
        "3 of 100 tests skipped (3.0%), over the allowed 2.0% (ZEROSERVE_MAX_SKIP_SHARE); reasons above"
    )
    assert SkipSummary().over_budget(0.0) is None


@pytest.mark.parametrize(
    ("value", "expected"), [(None, DEFAULT_MAX_SHARE), ("", DEFAULT_MAX_SHARE), ("0.1", 0.1), ("1", 1.0)]
)
def test_max_share_from_env(value: str | None, expected: float) -> None:
    environ = {} if value is None else {"ZEROSERVE_MAX_SKIP_SHARE": value}
    assert max_share_from_env(environ) == expected


@pytest.mark.parametrize(("value", "problem"), [("lots", "is not a number"), ("2", "between 0 and 1")])
def test_bad_max_share_says_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        max_share_from_env({"ZEROSERVE_MAX_SKIP_SHARE": value})
    assert repr(value) in str(info.value)


def test_shared_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(reference.SHARED_DIR_ENV, str(tmp_path / "missing"))
    assert reference.specs_dir() is None
    (tmp_path / "present" / "specs").mkdir(parents=True)
    monkeypatch.setenv(reference.SHARED_DIR_ENV, str(tmp_path / "present"))
    assert reference.specs_dir() == tmp_path / "present" / "specs"
    monkeypatch.delenv(reference.SHARED_DIR_ENV)
    assert reference.shared_dir() == reference.ROOT.parent / "shared"


def test_seed_is_stable_and_differs_between_tests() -> None:
    assert seed_for("test/a.py::test_x") == seed_for("test/a.py::test_x")
    assert seed_for("test/a.py::test_x") != seed_for("test/a.py::test_y")
    assert 0 <= seed_for("x") < 2**32


def test_each_test_starts_from_its_own_seed(request: pytest.FixtureRequest) -> None:
    drawn = (random.random(), float(np.random.random()))
    seed_global_generators(seed_for(request.node.nodeid))
    assert (random.random(), float(np.random.random())) == drawn


async def test_a_stop_cut_short_is_kept_for_the_runs_summary(request: pytest.FixtureRequest) -> None:
    import asyncio
    import logging

    from zeroserve.process.stopping import finish_within

    plugin = request.config.pluginmanager.get_plugin("zeroserve-stuck-stops")
    assert plugin is not None
    before = len(plugin.found)
    stuck = asyncio.create_task(asyncio.Event().wait(), name="stop of revision default/stuck")
    assert not await finish_within([stuck], 0.05, logging.getLogger("zeroserve.local.engine.engine"))
    (nodeid, message) = plugin.found[before]
    del plugin.found[before:]  # only this test's own stop: the run's summary stays about the others
    assert nodeid == request.node.nodeid
    assert message.startswith("stop of revision default/stuck did not finish within 0.05s")
