"""The README's "Using it" commands, pasted in order into one shell, each exiting 0.

The code blocks of "Using it" are split into commands (a line continued by ``\\`` or by an unfinished
``for``/``|`` is one command, as bash reads it) and run in one bash process, so ``source`` and
``export`` carry over as they do for a reader. What is substituted, and only that: ``HOME`` is a fresh
temporary folder (so ``~/.zeroserve`` is a new state folder and the mirror lands there), the README's
ports are free ones (``zeroserve up`` gets ``--port 0 --gateway-port N``, the flags the README names),
and ``.venv`` is the virtual environment running this test. Commands that run until Ctrl-C
(``zeroserve logs -f``, ``zeroserve serve``) start in the background, the rest of their block runs once
they show they are up (the "in another terminal" of the README), then they get SIGINT and must exit 0.
The two set-up commands are what made this environment; ``zeroserve down`` runs again afterwards in
case a command failed before the README's own.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

LONG_RUNNING = {
    # command pattern -> what its output shows once it is up
    r"^zeroserve logs .*(-f|--follow)\b": "==> ",
    r"^zeroserve serve ": '"serving"',
}
"""Commands that run until Ctrl-C, and the output line that says they are up."""

OTHER_TERMINAL = "# in another terminal"
"""A comment in a block: the commands after it run while the long-running one before it is up."""


@dataclass
class Step:
    block: int
    command: str
    ready: str | None = None
    """For a command that runs until Ctrl-C: the output that shows it is up."""
    alongside: bool = False
    """It keeps running while the rest of its block runs ("in another terminal"), else Ctrl-C at once."""


def section(text: str, title: str) -> str:
    """The Markdown section under ``## title``, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def code_blocks(markdown: str) -> list[str]:
    """The indented (four-space) code blocks, in order, without their indentation."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    previous_blank = True
    for line in markdown.splitlines():
        if line.startswith("    ") and (current is not None or previous_blank):
            if current is None:
                current = []
                blocks.append(current)
            current.append(line[4:])
        elif line.strip() and current is not None:
            current = None  # prose ends the block
        elif current is not None:
            current.append("")
        previous_blank = not line.strip()
    return ["\n".join(block).strip("\n") for block in blocks]


def commands(block: str) -> list[str]:
    """Split a block into commands the way bash reads them (continuations, unfinished loops/pipes)."""
    found: list[str] = []
    pending: list[str] = []
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append(line)
        if line.rstrip().endswith("\\"):
            continue
        text = "\n".join(pending)
        if subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0:
            found.append(text)
            pending = []
    assert not pending, f"an unfinished command in the README: {pending}"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def steps(readme: str, ports: dict[str, str], venv: str) -> list[Step]:
    """The "Using it" commands with this test's substitutions."""
    found: list[Step] = []
    for number, block in enumerate(code_blocks(section(readme, "Using it"))):
        before_other_terminal = block.split(OTHER_TERMINAL)[0] if OTHER_TERMINAL in block else ""
        for command in commands(block):
            alongside = command in before_other_terminal
            for old, new in ports.items():
                command = re.sub(rf"\b{old}\b", new, command)
            command = command.replace("source .venv/", f"source {shlex.quote(venv)}/")
            if re.match(r"^zeroserve up\b", command):
                flags = f"--port 0 --gateway-port {ports['8080']}"
                command = command.replace("zeroserve up", f"zeroserve up {flags}", 1)
            ready = next(
                (mark for pattern, mark in LONG_RUNNING.items() if re.search(pattern, command)), None
            )
            found.append(Step(number, command, ready, alongside and ready is not None))
    return found


def script(all_steps: list[Step], work: Path, timeout: int = 30) -> str:
    """One bash script running every step, writing ``<index> <exit status>`` lines to fd 3 (``status``)."""
    lines = [f"cd {shlex.quote(str(ROOT))}", f"exec 3>>{shlex.quote(str(work / 'status'))}"]
    running: list[int] = []

    def ctrl_c(index: int) -> None:
        out = work / f"step{index}.out"
        lines.append(
            f'kill -INT "$pid{index}" 2>/dev/null; wait "$pid{index}"; echo "{index} $?" >&3; cat {out}'
        )

    for index, step in enumerate(all_steps):
        if index and step.block != all_steps[index - 1].block:
            while running:
                ctrl_c(running.pop())
        lines.append(f"echo {shlex.quote(f'### step {index}: {step.command}')}")
        if step.ready is None:
            lines += [step.command, f'echo "{index} $?" >&3']
            continue
        out = work / f"step{index}.out"
        lines += [
            "set -m",  # its own process group, where SIGINT is not ignored as in a plain background job
            f"{step.command} >{out} 2>&1 &",
            f"pid{index}=$!",
            "set +m",
            f"deadline=$((SECONDS + {timeout}))",
            f'until grep -qF -- {shlex.quote(step.ready)} {out} || ! kill -0 "$pid{index}" 2>/dev/null '
            f"|| [ $SECONDS -ge $deadline ]; do sleep 0.1; done",
        ]
        if step.alongside:
            running.append(index)
        else:
            ctrl_c(index)
    while running:
        ctrl_c(running.pop())
    return "\n".join(lines) + "\n"


def test_readme_set_up_is_the_two_scripts() -> None:
    set_up = code_blocks(section(README.read_text(), "Set up"))
    assert set_up == ["bash hack/quickstart.sh", "bash hack/test.sh"]
    assert (ROOT / "hack" / "quickstart.sh").exists() and (ROOT / "hack" / "test.sh").exists()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's requests use curl, not installed here")
def test_readme_using_it_runs_in_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ports = {"8001": str(free_port()), "8080": str(free_port()), "8081": str(free_port())}
    all_steps = steps(README.read_text(), ports, sys.prefix)
    assert any(s.command.startswith("zeroserve up") for s in all_steps)
    assert all_steps[-1].command.startswith("curl"), "the data-plane example ends the section"
    (tmp_path / "status").touch()
    (tmp_path / "run.sh").write_text(script(all_steps, tmp_path))
    venv_bin = Path(sys.prefix, "bin").resolve()
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != venv_bin]
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join(path),  # without .venv/bin: the README's `source` must put it there
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
    }
    try:
        done = subprocess.run(
            ["bash", str(tmp_path / "run.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "zeroserve", "down", "--state-dir", str(home / ".zeroserve")],
            capture_output=True,
            timeout=60,
            check=False,
        )
    statuses = dict(line.split() for line in (tmp_path / "status").read_text().splitlines())
    log = done.stdout + done.stderr
    for index, step in enumerate(all_steps):
        assert str(index) in statuses, f"step {index} never finished: {step.command}\n{log[-6000:]}"
        assert statuses[str(index)] == "0", (
            f"step {index} exited {statuses[str(index)]}: {step.command}\n{log[-6000:]}"
        )
    assert re.search(r"^sklearn-iris\s+\S+\s+True\s+80\s+20\s", log, re.M), "kubectl get isvc shows 80/20"
    assert "zeroserve-revision: sklearn-iris-predictor-00001" in log
    assert log.count('{"predictions":[1,1]}') == 2, "V1 through the gateway, then from zeroserve serve"
