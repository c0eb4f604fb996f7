"""A tiny HTTP server standing in for a container image in engine tests.

Listens on ``--http_port`` (else ``$PORT``); every request answers JSON describing the process
(pid, path, Host, a few environment variables). ``?sleep=S`` delays the answer, ``?stream=N&gap=S``
answers N chunks S seconds apart (chunked encoding), ``?fetch=URL`` answers what a GET of URL through
the instance's ``HTTP_PROXY`` returned; ``--exit-code N`` makes it fail at start, like a server whose
model is missing. ``first_body_at`` / ``body_done_at`` (``time.monotonic()``) say when the body's first
and last pieces arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import unquote


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    body = b""
    first_body_at = None
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        if first_body_at is None and body:
            first_body_at = time.monotonic()
        more = msg.get("more_body", False)
    body_done_at = time.monotonic()
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    if "fetch" in query:
        import httpx

        async with httpx.AsyncClient() as client:  # honours HTTP_PROXY, credentials included
            fetched = await client.get(unquote(query["fetch"]))
        data = json.dumps({"status": fetched.status_code, "text": fetched.text}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(data))],
            }
        )
        await send({"type": "http.response.body", "body": data})
        return
    if "sleep" in query:
        await asyncio.sleep(float(query["sleep"]))
    if "stream" in query:  # chunked: N chunks, ``gap`` seconds apart
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        for i in range(int(query["stream"])):
            if i:
                await asyncio.sleep(float(query.get("gap", "0.2")))
            await send({"type": "http.response.body", "body": f"chunk{i};".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    payload = {
        "pid": os.getpid(),
        "path": scope["path"],
        "host": headers.get("host"),
        "body": body.decode(errors="replace") if len(body) < 4096 else "",
        "body_len": len(body),
        "first_body_at": first_body_at,
        "body_done_at": body_done_at,
        "env": {
            k: os.environ.get(k)
            for k in (
                "K_REVISION",
                "HTTP_PROXY",
                "CUDA_VISIBLE_DEVICES",
                "PORT",
                "ZEROSERVE_HOME",
                "ZEROSERVE_HOST",
                "ZEROSERVE_BROKER_TOKEN",
            )
        },
    }
    data = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http_port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--exit-code", type=int, default=0)
    args = parser.parse_args(argv)
    if args.exit_code:
        print("standin: model not found at /nonexistent", file=sys.stderr)
        return args.exit_code
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.http_port, log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
