"""``zeroserve build DIR -t IMAGE``: build context, image (where a builder exists), local registration."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from zeroserve.build.context import BUILDERS, build_image, find_builder, write_context
from zeroserve.build.environment import ensure_environment
from zeroserve.build.registry import BuiltImage, normalize, register
from zeroserve.build.source import BuildError, read_source

__all__ = ["main"]


def _default_home() -> Path:  # the platform's default (zeroserve.local's), which this layer may not import
    home = os.environ.get("ZEROSERVE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".zeroserve"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeroserve build",
        description="Package a model folder (Seldon Model.py or a kserve model module, requirements.txt, "
        ".s2i/environment) as an image, and register it so that 'zeroserve up' runs it from the folder.",
    )
    parser.add_argument("folder", type=Path, help="the model folder")
    parser.add_argument(
        "-t", "--tag", required=True, help="the image reference, e.g. example.com/me/model:0.1"
    )
    parser.add_argument(
        "--builder",
        choices=("auto", *BUILDERS, "none"),
        default="auto",
        help="who builds the image (default auto)",
    )
    parser.add_argument(
        "--no-register", action="store_true", help="do not register with the embedded platform"
    )
    parser.add_argument("--base", default=None, help="the base image (default: our model-server image)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="platform state folder (default $ZEROSERVE_HOME or ~/.zeroserve)",
    )
    return parser


def _say(line: str) -> None:
    print(line, flush=True)


def _slug(image: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", normalize(image))


def main(argv: list[str]) -> int:
    """Run ``zeroserve build``.

    Args:
        argv: the arguments after ``build``.

    Returns:
        0 when built (or, with no builder, context written) and registered; 1 on a bad folder, a
        requirement that cannot install or a failed image build (one line on stderr); 2 on bad arguments.
    """
    args = _parser().parse_args(argv)
    state = Path(args.state_dir or _default_home()).expanduser().resolve()
    try:
        source = read_source(args.folder)
        kind = (
            f"Seldon {source.service_type} {source.module}"
            if source.kind == "seldon"
            else f"kserve {source.module}.py"
        )
        _say(f"build: {source.folder}: {kind}")
        context = state / "build" / "contexts" / _slug(args.tag)
        dockerfile = write_context(source, context, args.base)
        _say(f"build: context {context} (Dockerfile: {dockerfile})")
        if not args.no_register:
            env = ensure_environment(source, state / "build" / "envs", _say)
            path = register(
                state,
                BuiltImage(
                    reference=args.tag,
                    folder=source.folder,
                    args=source.args(),
                    env=source.environment,
                    python=str(env.python),
                    environment=str(env.path),
                    requirements_hash=env.hash,
                ),
            )
            _say(f"build: registered {normalize(args.tag)} with the embedded platform ({path})")
        builder = find_builder(args.builder)
        if builder is None:
            why = (
                "--builder none" if args.builder == "none" else f"none of {', '.join(BUILDERS)} is installed"
            )
            _say(f"build: no image built ({why}); the context is ready for any OCI builder")
        else:
            try:
                build_image(builder, context, args.tag, _say)
            except BuildError as err:
                registered = (
                    "" if args.no_register else " (registered with the embedded platform all the same)"
                )
                raise BuildError(f"{err}{registered}") from None
            _say(f"build: built {args.tag}")
    except BuildError as err:
        print(f"zeroserve build: {err}", file=sys.stderr)
        return 1
    return 0
