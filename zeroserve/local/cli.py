"""``zeroserve up | down | status | kubeconfig | apiserver | apply | get | delete | logs``.

Each entry point takes its own argv and returns an exit code; nothing runs at import. ``up`` runs the
platform in the foreground (Ctrl-C / SIGTERM stop it) or, with ``--detach``, in a background process
that ``down`` stops and ``status`` reports on, through ``platform.json`` in the state folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zeroserve.local.kubeconfig import kubeconfig_path
from zeroserve.process.logs import configure_logging

if TYPE_CHECKING:
    from zeroserve.local.platform import Platform

__all__ = ["apiserver", "apply", "delete", "down", "get", "kubeconfig", "logs", "status", "up"]

_log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _default_home() -> Path:
    from zeroserve.local.apiserver import default_state_dir

    return default_state_dir()


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="state folder (default $ZEROSERVE_HOME or ~/.zeroserve)"
    )


def _home(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or _default_home()).expanduser().resolve()


async def _until_stopped(stop: Callable[[], Awaitable[None]]) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await stop()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)


# -- up / down / status --------------------------------------------------------------------------------


def _up_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeroserve up", description="Start the embedded platform.")
    parser.add_argument(
        "--port", type=int, default=None, help="API server port (default 8001; 0 = free port)"
    )
    parser.add_argument(
        "--gateway-port", type=int, default=None, help="serving gateway port, HTTP and gRPC (default 8080)"
    )
    parser.add_argument("--domain", default=None, help="domain of external URLs (default example.com)")
    _state_dir_option(parser)
    parser.add_argument(
        "--component",
        action="append",
        dest="components",
        metavar="MODULE:CLASS",
        help="a component to start after the API server (repeatable; replaces the default list)",
    )
    parser.add_argument("--no-components", action="store_true", help="start the API server only")
    parser.add_argument(
        "--detach", action="store_true", help="run in the background ('zeroserve down' stops it)"
    )
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run a local trace collector and send every instance's spans to it ('zeroserve traces')",
    )
    return parser


def _summary(info: dict[str, Any]) -> str:
    lines = [
        f"zeroserve is up (pid {info['pid']})",
        f"  API server   {info['api_url']}",
        f"  kubeconfig   {info['kubeconfig']}",
        f"  components   {', '.join(info['components'])}",
        f"  state        {info['state_dir']}",
    ]
    lines += [f"  {key:<12} {value}" for key, value in sorted(info.get("extra", {}).items())]
    lines += ["", f"  export KUBECONFIG={info['kubeconfig']}", "  kubectl get isvc"]
    return "\n".join(lines)


def up(argv: list[str]) -> int:
    """``zeroserve up``: start the API server and the platform's components.

    Args:
        argv: command-line arguments after ``up``.

    Returns:
        The exit code.
    """
    args = _up_parser().parse_args(argv)
    home = _home(args)
    from zeroserve.local.platform import read_platform_info

    running = read_platform_info(home)
    if running is not None:
        print(f"zeroserve is already running (pid {running['pid']}) with state in {home}", file=sys.stderr)
        return 1
    from zeroserve.local.platform import Platform

    try:
        platform = Platform.from_settings(_settings(args, home))
        platform.check_ports()  # a busy port is one line naming it and its flag, even with --detach
    except Exception as exc:
        print(f"zeroserve up: {exc}", file=sys.stderr)
        return 1
    if args.detach:
        return _up_detached(argv, home)
    configure_logging(args.log_level)
    return asyncio.run(_run_up(platform, home, trace=args.trace))


def _settings(args: argparse.Namespace, home: Path) -> Any:
    from zeroserve.local.platform import PlatformSettings

    overrides: dict[str, Any] = {"home": home}
    if args.port is not None:
        overrides["api_port"] = args.port
    if args.gateway_port is not None:
        overrides["gateway_port"] = args.gateway_port
    if args.domain is not None:
        overrides["domain"] = args.domain
    if args.no_components:
        overrides["components"] = ()
    elif args.components:
        overrides["components"] = tuple(args.components)
    return PlatformSettings(**overrides)


async def _run_up(platform: Platform, home: Path, *, trace: bool = False) -> int:
    from zeroserve.local.platform import platform_info_path

    receiver = await _start_trace_receiver() if trace else None
    try:
        await platform.start()
    except Exception as exc:
        _log.debug("the platform did not start", exc_info=True)  # the details, with --log-level debug
        print(f"zeroserve up: {exc}", file=sys.stderr)
        return 1
    info = platform.describe()
    if receiver is not None:
        info.setdefault("extra", {})["traces"] = receiver.url
    info_path = platform_info_path(home)
    _write_json(info_path, info)
    print(_summary(info) + "\n\nPress Ctrl-C to stop.", flush=True)

    async def stop() -> None:
        print("zeroserve: stopping", flush=True)
        await platform.stop()
        if receiver is not None:
            await receiver.stop()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(info_path.read_text()).get("pid") == os.getpid():
                info_path.unlink()

    await _until_stopped(stop)
    return 0


async def _start_trace_receiver() -> Any:
    """Start the local collector; this process and every instance it starts (they inherit the
    environment) send their spans there."""
    from zeroserve.local.traces.receiver import TraceReceiver
    from zeroserve.process import tracing

    receiver = TraceReceiver()
    url = await receiver.start()
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "500")  # a laptop user looks right after a request
    tracing.configure("zeroserve-platform")
    return receiver


def _up_detached(argv: list[str], home: Path, timeout: float = 180.0) -> int:
    from zeroserve.local.platform import read_platform_info

    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "platform.log"
    child_argv = [a for a in argv if a != "--detach"]
    if "--state-dir" not in child_argv and not any(a.startswith("--state-dir=") for a in child_argv):
        child_argv += ["--state-dir", str(home)]
    with log_path.open("ab") as log:
        offset = log.tell()  # what this child writes starts here (earlier runs' output comes before)
        child = subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "up", *child_argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_platform_info(home)
        if info is not None and info.get("pid") == child.pid:
            print(_summary(info).replace("zeroserve is up", "zeroserve is up in the background", 1))
            print(f"\n  logs         {log_path}\n  stop with    zeroserve down --state-dir {home}")
            return 0
        if child.poll() is not None:
            break
        time.sleep(0.1)
    else:
        child.terminate()
    with log_path.open("rb") as log:
        log.seek(offset)
        written = log.read().decode(errors="replace").splitlines()
    reported = [line for line in written if line.startswith("zeroserve up: ")]
    if reported:  # the child's own one-line reason (e.g. a port taken after the check)
        print(reported[-1], file=sys.stderr)
    else:
        tail = "\n".join(written[-20:])
        print(f"zeroserve up --detach: the platform did not start:\n{tail}", file=sys.stderr)
    return 1


def down(argv: list[str]) -> int:
    """``zeroserve down``: stop a platform started with ``up --detach``.

    Args:
        argv: command-line arguments after ``down``.

    Returns:
        The exit code (0 also when nothing was running).
    """
    parser = argparse.ArgumentParser(prog="zeroserve down", description="Stop a background platform.")
    _state_dir_option(parser)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait before SIGKILL")
    args = parser.parse_args(argv)
    home = _home(args)
    from zeroserve.local.platform import platform_info_path, process_alive, read_platform_info

    info = read_platform_info(home)
    if info is None:
        print(f"zeroserve is not running (state in {home})")
        return 0
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
        print(f"zeroserve did not stop within {args.timeout:g}s; killed pid {pid}", file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):
        platform_info_path(home).unlink()
    print(f"zeroserve stopped (pid {pid})")
    return 0


def status(argv: list[str]) -> int:
    """``zeroserve status``: say whether the platform runs, and where.

    Args:
        argv: command-line arguments after ``status``.

    Returns:
        0 when running, 1 when not.
    """
    parser = argparse.ArgumentParser(prog="zeroserve status", description="Show the platform's state.")
    _state_dir_option(parser)
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    from zeroserve.local.platform import read_platform_info

    home = _home(args)
    info = read_platform_info(home)
    if args.output == "json":
        print(json.dumps({"running": info is not None, **(info or {"state_dir": str(home)})}, indent=2))
    elif info is None:
        print(f"zeroserve is not running (state in {home})")
    else:
        print(_summary(info).replace("zeroserve is up", "zeroserve is running", 1))
    return 0 if info is not None else 1


# -- kubeconfig / apiserver / logs ----------------------------------------------------------------------


def kubeconfig(argv: list[str]) -> int:
    """``zeroserve kubeconfig [--write PATH]``: print or write the platform's kubeconfig.

    Args:
        argv: command-line arguments after ``kubeconfig``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(
        prog="zeroserve kubeconfig", description="Print the platform's kubeconfig."
    )
    _state_dir_option(parser)
    parser.add_argument("--write", type=Path, metavar="PATH", help="write it to PATH instead of printing it")
    args = parser.parse_args(argv)
    source = kubeconfig_path(_home(args))
    if not source.exists():
        print(f"zeroserve kubeconfig: {source} does not exist; run 'zeroserve up' first", file=sys.stderr)
        return 1
    if args.write is None:
        sys.stdout.write(source.read_text())
        return 0
    target = args.write.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)
    print(f"kubeconfig written to {target}")
    return 0


def apiserver(argv: list[str]) -> int:
    """``zeroserve apiserver``: run the API server alone (with the project's CRDs).

    Args:
        argv: command-line arguments after ``apiserver``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(prog="zeroserve apiserver", description="Run the embedded API server.")
    parser.add_argument("--port", type=int, default=8001, help="port (0 = free port)")
    parser.add_argument("--host", default="127.0.0.1")
    _state_dir_option(parser)
    parser.add_argument("--in-memory", action="store_true", help="keep objects in memory only")
    parser.add_argument(
        "--no-tls", action="store_true", help="serve plain HTTP (kubectl then sends no token)"
    )
    parser.add_argument(
        "--ready-file", type=Path, help="write {pid, url, port, kubeconfig} here once serving"
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return asyncio.run(_run_apiserver(args))


async def _run_apiserver(args: argparse.Namespace) -> int:
    from zeroserve.apis.crds import all_crds
    from zeroserve.local.apiserver import ApiServer, ApiServerSettings
    from zeroserve.local.kubeconfig import write_kubeconfig
    from zeroserve.local.platform import port_in_use

    home = _home(args)
    settings = ApiServerSettings(
        host=args.host, port=args.port, state_dir=home, in_memory=args.in_memory, tls=not args.no_tls
    )
    server = ApiServer(settings, crds=all_crds())
    try:
        await server.start()
    except Exception as exc:
        await server.stop()
        busy = port_in_use(exc, args.host, args.port, "--port") if isinstance(exc, OSError) else None
        print(f"zeroserve apiserver: {busy or exc}", file=sys.stderr)
        return 1
    config = write_kubeconfig(kubeconfig_path(home), server.url, server.token, ca_cert=server.ca_cert)
    info = {"pid": os.getpid(), "url": server.url, "port": server.port, "kubeconfig": str(config)}
    if args.ready_file:
        _write_json(args.ready_file, info)
    print(f"API server listening on {server.url}\nkubeconfig: {config}", flush=True)
    await _until_stopped(server.stop)
    return 0


def logs(argv: list[str]) -> int:
    """``zeroserve logs NAME [-f]``: print the instance logs of an InferenceService, Service or Revision.

    With ``-f`` / ``--follow`` it keeps printing lines as they are written, and the logs of instances
    started later, until Ctrl-C (as ``kubectl logs -f``).

    Args:
        argv: command-line arguments after ``logs``.

    Returns:
        The exit code (1 when no logs exist; 0 when a follow is stopped with Ctrl-C).
    """
    parser = argparse.ArgumentParser(prog="zeroserve logs", description="Show instance logs.")
    parser.add_argument("name", help="InferenceService, Knative Service or Revision name")
    parser.add_argument("-n", "--namespace", default="default")
    parser.add_argument("--tail", type=int, default=0, help="only the last N lines of each file")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    _state_dir_option(parser)
    args = parser.parse_args(argv)
    from zeroserve.local.engine.logs import log_files

    home = _home(args)
    files = log_files(home, args.namespace, args.name)
    if not files:
        print(f"zeroserve logs: no logs for {args.namespace}/{args.name} under {home}", file=sys.stderr)
        return 1
    try:
        if args.follow:
            _follow(home, args.namespace, args.name, files, args.tail)
            return 0
        for path in files:
            lines = path.read_text(errors="replace").splitlines()
            print(f"==> {path.parent.name}/{path.name} <==")
            print("\n".join(lines[-args.tail :] if args.tail else lines), flush=True)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # e.g. `zeroserve logs NAME -f | head`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _follow(home: Path, namespace: str, name: str, files: list[Path], tail: int) -> None:
    """Print the complete lines written so far (the last ``tail`` of each file when set), then every new
    line and new instances' files as they come, with a ``==> file <==`` header whenever the file changes.
    """
    from zeroserve.local.engine.logs import follow_logs

    seen: dict[Path, int] = {}
    last: Path | None = None
    for path in files:
        data = path.read_bytes()
        lines = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
        seen[path] = len(lines)  # follow_logs yields them again; they are skipped there
        print(f"==> {path.parent.name}/{path.name} <==")
        for line in lines[-tail:] if tail else lines:
            print(line.decode(errors="replace"))
        last = path
    sys.stdout.flush()
    for path, text in follow_logs(home, namespace, name, from_start=True):
        if seen.get(path, 0) > 0:
            seen[path] -= 1
            continue
        if path != last:
            print(f"==> {path.parent.name}/{path.name} <==")
            last = path
        print(text, flush=True)


# -- thin API clients ----------------------------------------------------------------------------------


def apply(argv: list[str]) -> int:
    """``zeroserve apply -f FILE``: create or update resources. See :mod:`zeroserve.local.kubectl`."""
    from zeroserve.local.kubectl import apply_command

    return apply_command(argv)


def get(argv: list[str]) -> int:
    """``zeroserve get KIND [NAME]``: list or show resources. See :mod:`zeroserve.local.kubectl`."""
    from zeroserve.local.kubectl import get_command

    return get_command(argv)


def delete(argv: list[str]) -> int:
    """``zeroserve delete KIND NAME | -f FILE``: delete resources. See :mod:`zeroserve.local.kubectl`."""
    from zeroserve.local.kubectl import delete_command

    return delete_command(argv)
