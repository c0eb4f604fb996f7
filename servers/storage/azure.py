"""Azure Blob Storage: ``https://<account>.blob.core.windows.net/<container>/<prefix>`` over its REST
API (no SDK), with the credentials KServe's storage initializer reads:

- ``AZURE_STORAGE_ACCESS_KEY``: Shared Key signatures (the account name is the URI's host);
- ``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_SECRET`` + ``AZURE_TENANT_ID``: a service principal's OAuth
  token (client credentials at ``$AZURE_AUTHORITY_HOST``, default ``https://login.microsoftonline.com``);
- neither: anonymous reads (a public container).

``AZURE_STORAGE_BLOB_ENDPOINT`` (e.g. Azurite's ``http://127.0.0.1:10000/devstoreaccount1``) sends
the requests elsewhere than ``https://<account>.blob.core.windows.net``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import xml.etree.ElementTree as ET
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from zeroserve.servers.storage.buckets import BucketBackend, ListedObject
from zeroserve.servers.storage.errors import DownloadError, StorageNotFoundError
from zeroserve.servers.storage.objects import PlacedObject
from zeroserve.servers.storage.progress import ProgressReporter

__all__ = ["AzureBlobBackend", "AzureBlobClient", "is_azure_blob", "shared_key_signature"]

_HOST_SUFFIX = ".blob.core.windows.net"
_VERSION = "2021-08-06"
_SIGNED = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


def is_azure_blob(uri: str) -> bool:
    """Whether ``uri`` names Azure Blob Storage (``https://<account>.blob.core.windows.net/...``)."""
    parts = urlsplit(uri)
    return parts.scheme == "https" and (parts.hostname or "").endswith(_HOST_SUFFIX)


def shared_key_signature(
    key: str, account: str, method: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> str:
    """The Shared Key signature of a request (Azure Storage's ``StringToSign``).

    Args:
        key: the account key (base64).
        account: the account name.
        method: the HTTP method.
        path: the request path, as sent.
        query: the query parameters.
        headers: the request headers (any case).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    fields = [lower.get(name, "") for name in _SIGNED]
    canonical_headers = "".join(f"{k}:{lower[k].strip()}\n" for k in sorted(lower) if k.startswith("x-ms-"))
    resource = f"/{account}{path}" + "".join(f"\n{k.lower()}:{query[k]}" for k in sorted(query))
    to_sign = "\n".join([method.upper(), *fields]) + "\n" + canonical_headers + resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class AzureBlobClient:
    """List and read blobs of one account with Shared Key, a service principal's token or nothing.

    Args:
        environ: where the credentials come from (``os.environ`` when omitted).
        http: the HTTP client (a fresh one when omitted).
    """

    def __init__(self, environ: dict[str, str] | None = None, http: httpx.Client | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self._key = env.get("AZURE_STORAGE_ACCESS_KEY") or env.get("AZURE_STORAGE_KEY")
        self._principal = (
            env.get("AZURE_TENANT_ID"),
            env.get("AZURE_CLIENT_ID"),
            env.get("AZURE_CLIENT_SECRET"),
        )
        self._authority = (env.get("AZURE_AUTHORITY_HOST") or "https://login.microsoftonline.com").rstrip("/")
        self._endpoint = env.get("AZURE_STORAGE_BLOB_ENDPOINT")
        self._http = http or httpx.Client(timeout=60, follow_redirects=False)
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _url(self, account: str, path: str) -> str:
        base = self._endpoint.rstrip("/") if self._endpoint else f"https://{account}{_HOST_SUFFIX}"
        return base + path

    def _bearer(self) -> str:
        if self._token is None:
            tenant, client_id, secret = self._principal
            answer = self._http.post(
                f"{self._authority}/{tenant}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id or "",
                    "client_secret": secret or "",
                    "scope": "https://storage.azure.com/.default",
                },
            )
            if answer.status_code != 200:
                raise DownloadError(
                    f"Azure AD refused the service principal {client_id} of tenant {tenant}: "
                    f"HTTP {answer.status_code} {answer.text[:200]}"
                )
            self._token = str(answer.json()["access_token"])
        return self._token

    def get(self, account: str, path: str, query: dict[str, str] | None = None) -> httpx.Response:
        """A signed (or token-bearing, or anonymous) GET of ``path`` (``/<container>[/<blob>]``).

        Raises:
            StorageNotFoundError: 404.
            DownloadError: any other failure, with Azure's error code.
        """
        query = dict(query or {})
        url = self._url(account, quote(path))
        headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": _VERSION}
        if self._key:
            signed_path = urlsplit(url).path
            signature = shared_key_signature(self._key, account, "GET", signed_path, query, headers)
            headers["Authorization"] = f"SharedKey {account}:{signature}"
        elif all(self._principal):
            headers["Authorization"] = f"Bearer {self._bearer()}"
        answer = self._http.get(url, params=query, headers=headers)
        if answer.status_code == 404:
            raise StorageNotFoundError(f"{url}: not found ({answer.headers.get('x-ms-error-code', '404')})")
        if answer.status_code != 200:
            code = answer.headers.get("x-ms-error-code", "")
            raise DownloadError(
                f"{url}: Azure Blob Storage refused the request: HTTP {answer.status_code} {code}"
            )
        return answer


class AzureBlobBackend(BucketBackend):
    """Downloads every blob under ``https://<account>.blob.core.windows.net/<container>/<prefix>``."""

    schemes: tuple[str, ...] = ()

    def _default_client(self) -> AzureBlobClient:
        return AzureBlobClient()

    def _list(self, client: Any, bucket: str, prefix: str) -> list[ListedObject]:
        account = bucket.split(".", 1)[0]
        container, _, blob_prefix = prefix.partition("/")
        listed: list[ListedObject] = []
        marker = ""
        while True:
            query = {"restype": "container", "comp": "list", "prefix": blob_prefix}
            if marker:
                query["marker"] = marker
            root = ET.fromstring(client.get(account, f"/{container}", query).content)
            for blob in root.iter("Blob"):
                name = blob.findtext("Name") or ""
                size = blob.findtext("Properties/Content-Length")
                listed.append(
                    (f"{container}/{name}", int(size) if size else None, (account, container, name))
                )
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return listed

    def _download(
        self, client: Any, bucket: str, item: PlacedObject, handle: Any, progress: ProgressReporter
    ) -> str | None:
        account, container, name = handle
        answer = client.get(account, f"/{container}/{name}")
        item.path.write_bytes(answer.content)
        progress.advance(len(answer.content))
        content_type: str | None = answer.headers.get("content-type")
        return content_type

    def _translate(self, uri: str, exc: Exception) -> Exception | None:
        if isinstance(exc, httpx.HTTPError):
            return DownloadError(f"{uri}: {type(exc).__name__}: {exc}")
        if isinstance(exc, ET.ParseError):
            return DownloadError(f"{uri}: the blob listing is not XML: {exc}")
        return None
