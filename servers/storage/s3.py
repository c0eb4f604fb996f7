"""``s3://bucket/prefix`` downloads with boto3 (imported only here, only when an s3 URI is resolved).

The endpoint comes from the settings (``AWS_ENDPOINT_URL`` or KServe's ``S3_ENDPOINT`` /
``S3_USE_HTTPS``); credentials from boto3's usual chain (``AWS_ACCESS_KEY_ID`` ...), or none at all
with ``s3_anonymous``. A client factory can be injected.
"""

from __future__ import annotations

from typing import Any

from zeroserve.servers.storage.buckets import BucketBackend, ListedObject
from zeroserve.servers.storage.errors import BackendUnavailableError, DownloadError, StorageNotFoundError
from zeroserve.servers.storage.objects import PlacedObject
from zeroserve.servers.storage.progress import ProgressReporter

__all__ = ["S3Backend"]

_CHUNK = 1 << 20


class S3Backend(BucketBackend):
    """Downloads every object under an S3 prefix (or the single object it names).

    Args:
        settings: endpoint, TLS and anonymous-access options.
        client_factory: returns a boto3 S3 client; built from the settings when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ("s3",)

    def _default_client(self) -> Any:
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
        except ImportError as exc:
            raise BackendUnavailableError(
                "s3:// URIs need boto3, which is not installed: pip install 'zeroserve[s3]'"
            ) from exc
        config = Config(signature_version=UNSIGNED) if self._settings.s3_anonymous else None
        return boto3.client(
            "s3",
            endpoint_url=self._settings.resolved_s3_endpoint(),
            verify=self._settings.s3_verify_ssl,
            region_name=self._settings.s3_region,
            config=config,
        )

    def _list(self, client: Any, bucket: str, prefix: str) -> list[ListedObject]:
        listed: list[ListedObject] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            listed += [(obj["Key"], obj.get("Size"), None) for obj in page.get("Contents", [])]
        return listed

    def _download(
        self, client: Any, bucket: str, item: PlacedObject, handle: Any, progress: ProgressReporter
    ) -> str | None:
        response = client.get_object(Bucket=bucket, Key=item.key)
        with item.path.open("wb") as out:
            for chunk in response["Body"].iter_chunks(_CHUNK):
                out.write(chunk)
                progress.advance(len(chunk))
        content_type: str | None = response.get("ContentType")
        return content_type

    def _translate(self, uri: str, exc: Exception) -> Exception | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "NoSuchKey", "404"):
                return StorageNotFoundError(f"{uri}: {code} ({exc})")
            return DownloadError(f"{uri}: S3 refused the request: {exc}")
        if isinstance(exc, BotoCoreError):
            return DownloadError(f"{uri}: {type(exc).__name__}: {exc}")
        return None
