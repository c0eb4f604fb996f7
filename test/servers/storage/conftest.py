"""Fixtures of the storage tests: a real local HTTP file server and a real S3-compatible server (moto)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from storage_support import MODEL_BYTES, FileServer, make_tar_gz, make_zip

from zeroserve.servers.storage import DownloadProgress, StorageSettings


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.state.requests.append(self.path)
        body = self.server.state.files.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    state: FileServer


@pytest.fixture(scope="module")
def file_server() -> Iterator[FileServer]:
    """A real HTTP server on 127.0.0.1, port 0, serving a model file, a tar.gz and a zip."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    files = {
        "/models/model.joblib": MODEL_BYTES,
        "/models/model.tar.gz": make_tar_gz({"model.joblib": MODEL_BYTES, "sub/extra.txt": b"x"}),
        "/models/model.zip": make_zip({"model.joblib": MODEL_BYTES, "sub/extra.txt": b"x"}),
        "/models/escape.tar.gz": make_tar_gz({"../evil.txt": b"evil"}),
    }
    httpd.state = FileServer(url=f"http://127.0.0.1:{httpd.server_address[1]}", files=files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def settings(tmp_path: Path) -> StorageSettings:
    """Storage settings with a fresh cache folder and no mirrors."""
    return StorageSettings(cache_dir=tmp_path / "cache", progress_interval_seconds=0.0)


@pytest.fixture
def progress_events() -> list[DownloadProgress]:
    """A list to collect progress snapshots in (pass ``events.append`` as ``progress_sink``)."""
    return []


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on 127.0.0.1, port 0; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
