"""The ``zeroserve`` command line: a thin dispatcher over the components' own commands.

Each sub-command lives next to the component it starts and is imported only when it runs, so
``zeroserve --help`` stays instant and no component pays for another's imports. A command's entry
point is a function ``(argv: list[str]) -> int`` that parses its own arguments.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True)
class Command:
    """A sub-command: where its entry point lives and a one-line summary for ``--help``."""

    target: str
    """``module:function`` of the entry point, imported lazily."""
    summary: str

    def load(self) -> Callable[[list[str]], int]:
        module_name, _, func_name = self.target.partition(":")
        module = importlib.import_module(module_name)
        func: Callable[[list[str]], int] = getattr(module, func_name)
        return func


COMMANDS: dict[str, Command] = {
    "up": Command("zeroserve.local.cli:up", "start the embedded platform (API server, controller, engine)"),
    "down": Command("zeroserve.local.cli:down", "stop an embedded platform started with 'up --detach'"),
    "status": Command("zeroserve.local.cli:status", "show whether the embedded platform is running"),
    "kubeconfig": Command("zeroserve.local.cli:kubeconfig", "print or write the platform's kubeconfig"),
    "apply": Command("zeroserve.local.cli:apply", "create or update resources from YAML files (-f)"),
    "get": Command("zeroserve.local.cli:get", "list or show resources"),
    "delete": Command("zeroserve.local.cli:delete", "delete resources by file or name"),
    "logs": Command("zeroserve.local.cli:logs", "show an InferenceService's or Knative Service's logs"),
    "traces": Command("zeroserve.local.traces.cli:traces", "show traces that 'up --trace' collected"),
    "apiserver": Command("zeroserve.local.cli:apiserver", "run the embedded API server alone"),
    "build": Command("zeroserve.build.cli:main", "package a model folder as an image, registered locally"),
    "serve": Command("zeroserve.servers.cli:main", "run a model server (sklearn, xgboost, pytorch, custom)"),
    "storage-initializer": Command(
        "zeroserve.servers.storage.cli:main", "download a storageUri into a folder (init container)"
    ),
    "controller": Command("zeroserve.controller.cli:main", "run the InferenceService and graph operator"),
    "router": Command("zeroserve.router.cli:main", "run an InferenceGraph router"),
    "logger-agent": Command("zeroserve.logger.cli:agent", "run the payload-logging sidecar proxy"),
    "detector": Command("zeroserve.monitoring.cli:detector", "run a drift or outlier detector"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: zeroserve <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {cmd.summary}" for name, cmd in COMMANDS.items()]
    lines += ["", "Run 'zeroserve <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``zeroserve <command> ...`` to the command's entry point.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when omitted.

    Returns:
        The process exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version", "version"):
        from zeroserve import __version__

        print(f"zeroserve {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"zeroserve: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    from zeroserve.process import tracing

    tracing.configure(f"zeroserve-{args[0]}")  # on only when OTEL_EXPORTER_OTLP_*ENDPOINT is set
    try:
        return command.load()(args[1:])
    except KeyboardInterrupt:
        return 130
