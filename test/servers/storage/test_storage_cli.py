"""``zeroserve storage-initializer``: in-process and as a real process, with JSON progress lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from storage_support import MODEL_BYTES, FileServer

from zeroserve.servers.storage.cli import main


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_downloads_an_archive_and_logs_progress(
    file_server: FileServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZEROSERVE_STORAGE_CACHE_DIR", str(tmp_path / "cache"))
    dest = tmp_path / "mnt" / "models"
    assert main([f"{file_server.url}/models/model.tar.gz", str(dest)]) == 0
    assert (dest / "model.joblib").read_bytes() == MODEL_BYTES
    lines = _json_lines(capsys.readouterr().err)
    progress = [line for line in lines if "percent" in line]
    assert progress and progress[-1]["percent"] == 100.0
    assert progress[-1]["bytes"] == progress[-1]["total"]
    assert {"ts", "level", "logger", "msg"} <= set(progress[-1])
    assert not (tmp_path / "cache").exists(), "without --use-cache nothing goes to the cache"


def test_failure_exits_1_with_the_reason(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([f"{file_server.url}/models/missing.bin", str(tmp_path / "d")]) == 1
    errors = [line for line in _json_lines(capsys.readouterr().err) if line["level"] == "ERROR"]
    assert "404" in str(errors[0]["msg"])


def test_odd_number_of_arguments_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["s3://a/b", str(tmp_path), "gs://c/d"]) == 2
    assert "expected pairs of <srcURI> <destPath>" in capsys.readouterr().err


def test_runs_as_the_zeroserve_sub_command(file_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zeroserve",
            "storage-initializer",
            "--use-cache",
            "--cache-dir",
            str(tmp_path / "cache"),
            f"{file_server.url}/models/model.zip",
            str(dest),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (dest / "sub" / "extra.txt").read_bytes() == b"x"
    assert len(list((tmp_path / "cache").iterdir())) == 1
