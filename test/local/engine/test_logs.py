"""Finding and following instance logs (pure file operations)."""

from __future__ import annotations

from pathlib import Path

from zeroserve.local.engine.logs import follow_logs, log_files


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(text)


def test_names_match_isvc_ksvc_and_revision(tmp_path: Path) -> None:
    root = tmp_path / "engine" / "logs" / "ns"
    for rev in ("iris-predictor-00001", "iris-transformer-00001", "iris2-predictor-00001", "other-00001"):
        _write(root / rev / "instance-1.log", f"{rev}\n")
    names = lambda n: sorted(p.parent.name for p in log_files(tmp_path, "ns", n))  # noqa: E731
    assert names("iris") == ["iris-predictor-00001", "iris-transformer-00001"]
    assert names("iris-predictor") == ["iris-predictor-00001"]
    assert names("other-00001") == ["other-00001"]
    assert names("missing") == []
    assert log_files(tmp_path, "elsewhere", "iris") == []


def test_follow_yields_new_lines_and_new_files(tmp_path: Path) -> None:
    root = tmp_path / "engine" / "logs" / "ns" / "svc-00001"
    _write(root / "instance-1.log", "one\ntw")
    steps = iter(
        [
            lambda: _write(root / "instance-1.log", "o\n"),
            lambda: _write(root / "instance-2.log", "three\n"),
            lambda: None,
        ]
    )
    done = {"stop": False}

    def sleep(_: float) -> None:
        step = next(steps, None)
        if step is None:
            done["stop"] = True
        else:
            step()

    lines = [line for _, line in follow_logs(tmp_path, "ns", "svc", stop=lambda: done["stop"], sleep=sleep)]
    assert lines == ["one", "two", "three"]


def test_rotation_keeps_logs_bounded(tmp_path: Path) -> None:
    from zeroserve.local.engine.instances import rotate_log

    log = tmp_path / "instance-1.log"
    log.write_text("x" * 100)
    rotate_log(log, 1000)
    assert log.exists()
    rotate_log(log, 50)
    assert not log.exists()
    assert (tmp_path / "instance-1.log.1").read_text() == "x" * 100
    rotate_log(tmp_path / "missing.log", 1)
