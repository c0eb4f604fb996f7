"""Azure Blob Storage downloads with an account key (Shared Key) or a service principal (OAuth token),
against an in-process stand-in for the blob service and Azure AD that checks both independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from zeroserve.servers.storage import DownloadError, ModelStorage

ACCOUNT = "acct"
KEY = base64.b64encode(b"sixteen byte key").decode()
BLOBS = {"iris/model.joblib": b"model-bytes", "iris/sub/labels.txt": b"a\nb\n", "other/x": b"no"}
TOKEN = "token-for-app"


class _StandIn(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # Azure AD's token endpoint
        form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        good = self.path == "/tenant-1/oauth2/v2.0/token" and form.get("client_secret") == "s3cret"
        good = (
            good
            and form.get("client_id") == "app"
            and form.get("scope") == "https://storage.azure.com/.default"
        )
        if not good:
            self._reply(401, b'{"error": "invalid_client"}')
            return
        self._reply(200, json.dumps({"access_token": TOKEN, "token_type": "Bearer"}).encode())

    def _authorized(self, path: str, query: dict[str, str]) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {TOKEN}":
            return True
        # Shared Key, as Azure's documentation spells StringToSign for a GET without a body
        ms = sorted((k.lower(), v.strip()) for k, v in self.headers.items() if k.lower().startswith("x-ms-"))
        canonical = "".join(f"{k}:{v}\n" for k, v in ms)
        resource = f"/{ACCOUNT}{path}" + "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
        to_sign = "GET\n" + "\n" * 11 + canonical + resource
        expected = base64.b64encode(
            hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
        )
        return auth == f"SharedKey {ACCOUNT}:{expected.decode()}"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if not self._authorized(parts.path, query):
            self._reply(403, b"", {"x-ms-error-code": "AuthenticationFailed"})
            return
        segments = parts.path.lstrip("/").split("/", 2)  # <account>/<container>[/<blob>]
        container = segments[1] if len(segments) > 1 else ""
        if query.get("comp") == "list":
            names = (
                [n for n in BLOBS if n.startswith(query.get("prefix", ""))] if container == "models" else []
            )
            items = "".join(
                f"<Blob><Name>{n}</Name><Properties><Content-Length>{len(BLOBS[n])}</Content-Length>"
                "</Properties></Blob>"
                for n in names
            )
            self._reply(
                200, f"<EnumerationResults><Blobs>{items}</Blobs><NextMarker/></EnumerationResults>".encode()
            )
            return
        name = segments[2] if len(segments) > 2 and container == "models" else ""
        if name not in BLOBS:
            self._reply(404, b"", {"x-ms-error-code": "BlobNotFound"})
            return
        self._reply(200, BLOBS[name], {"Content-Type": "application/octet-stream"})


@pytest.fixture(scope="module")
def blob_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


URI = f"https://{ACCOUNT}.blob.core.windows.net/models/iris"


def _env(monkeypatch: pytest.MonkeyPatch, base: str, **values: str) -> None:
    for name in ("AZURE_STORAGE_ACCESS_KEY", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_STORAGE_BLOB_ENDPOINT", f"{base}/{ACCOUNT}")  # Azurite-style path
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", base)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_account_key_and_service_principal(
    blob_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = ModelStorage()
    _env(monkeypatch, blob_service, AZURE_STORAGE_ACCESS_KEY=KEY)
    storage.download(URI, tmp_path / "key")
    assert (tmp_path / "key" / "model.joblib").read_bytes() == b"model-bytes"
    assert (tmp_path / "key" / "sub" / "labels.txt").read_bytes() == b"a\nb\n"
    assert not (tmp_path / "key" / "x").exists()
    _env(
        monkeypatch,
        blob_service,
        AZURE_TENANT_ID="tenant-1",
        AZURE_CLIENT_ID="app",
        AZURE_CLIENT_SECRET="s3cret",
    )
    storage.download(URI, tmp_path / "principal")
    assert (tmp_path / "principal" / "model.joblib").read_bytes() == b"model-bytes"


def test_wrong_credentials_say_what_was_refused(
    blob_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = ModelStorage()
    _env(monkeypatch, blob_service, AZURE_STORAGE_ACCESS_KEY=base64.b64encode(b"another key here").decode())
    with pytest.raises(DownloadError, match="refused the request: HTTP 403 AuthenticationFailed"):
        storage.download(URI, tmp_path / "a")
    _env(
        monkeypatch,
        blob_service,
        AZURE_TENANT_ID="tenant-1",
        AZURE_CLIENT_ID="app",
        AZURE_CLIENT_SECRET="nope",
    )
    with pytest.raises(DownloadError, match="Azure AD refused the service principal app of tenant tenant-1"):
        storage.download(URI, tmp_path / "b")
    _env(monkeypatch, blob_service)
    with pytest.raises(DownloadError, match="HTTP 403"):
        storage.download(URI, tmp_path / "c")
