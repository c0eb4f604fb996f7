"""``zeroserve traces [ID]``: the recent traces that ``zeroserve up --trace`` collected, or one as a tree."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

from zeroserve.local.traces.render import render_list, render_tree

__all__ = ["traces"]


def _collector_url(args: argparse.Namespace) -> str | None:
    if args.url:
        return str(args.url).rstrip("/")
    from zeroserve.local.apiserver import default_state_dir
    from zeroserve.local.platform import read_platform_info

    home = Path(args.state_dir or default_state_dir()).expanduser().resolve()
    info = read_platform_info(home)
    if info is None:
        return None
    url = (info.get("extra") or {}).get("traces")
    return str(url) if url else None


def traces(argv: list[str]) -> int:
    """``zeroserve traces [ID]``: list recent traces, or print one as an indented tree with timings.

    Args:
        argv: command-line arguments after ``traces``.

    Returns:
        The exit code (1 when no collector runs or the trace is unknown).
    """
    parser = argparse.ArgumentParser(
        prog="zeroserve traces", description="Show traces collected by 'zeroserve up --trace'."
    )
    parser.add_argument("trace_id", nargs="?", help="a trace id (or its first 8+ hex digits); omit to list")
    parser.add_argument("--state-dir", type=Path, default=None, help="the platform's state folder")
    parser.add_argument(
        "--url", default=None, help="the collector's URL (default: from the running platform)"
    )
    args = parser.parse_args(argv)
    url = _collector_url(args)
    if url is None:
        print(
            "zeroserve traces: no trace collector is running; start the platform with 'zeroserve up --trace'",
            file=sys.stderr,
        )
        return 1
    path = f"/api/traces/{args.trace_id}" if args.trace_id else "/api/traces"
    try:
        response = httpx.get(url + path, timeout=10)
    except httpx.HTTPError as err:
        print(f"zeroserve traces: the collector at {url} does not answer ({err})", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"zeroserve traces: {response.json().get('error', response.text)}", file=sys.stderr)
        return 1
    doc = response.json()
    print(render_tree(doc["spans"]) if args.trace_id else render_list(doc["traces"]))
    return 0
