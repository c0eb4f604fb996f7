"""``s3://bucket/prefix`` downloads with boto3 (imported only here, only when an s3 URI is resolved).

The endpoint comes from the settings (``AWS_ENDPOINT_URL`` or KServe's ``S3_ENDPOINT`` /
``S3_USE_HTTPS``); credentials from boto3's usual chain (``AWS_ACCESS_KEY_ID`` ...), or none at all
with ``s3_anonymous``. A client factory can be injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeroserve.servers.storage.errors import BackendUnavailableError, DownloadError, StorageNotFoundError
from zeroserve.servers.storage.objects import place_objects, unpack_single_file
from zeroserve.servers.storage.progress import DownloadProgress, ProgressReporter, log_progress
from zeroserve.servers.storage.settings import StorageSettings
from zeroserve.servers.storage.uri import split_bucket

__all__ = ["S3Backend"]

_CHUNK = 1 << 20


class S3Backend:
    """Downloads every object under an S3 prefix (or the single object it names).

    Args:
        settings: endpoint, TLS and anonymous-access options.
        client_factory: returns a boto3 S3 client; built from the settings when omitted.
        progress_sink: receives progress snapshots.
        clock: monotonic clock for the progress interval.
    """

    schemes: tuple[str, ...] = ("s3",)

    def __init__(
        self,
        settings: StorageSettings,
        *,
        client_factory: Callable[[], Any] | None = None,
        progress_sink: Callable[[DownloadProgress], None] = log_progress,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._factory = client_factory or self._default_client
        self._owns_clients = client_factory is None
        self._sink = progress_sink
        self._clock = clock

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

    def fetch(self, uri: str, target: Path) -> None:
        """Download the objects of ``uri`` into the empty folder ``target``.

        Args:
            uri: ``s3://bucket/key-or-prefix``.
            target: an existing, empty folder.

        Raises:
            StorageNotFoundError: the bucket or the prefix holds nothing.
            DownloadError: S3 refused (credentials, permissions) or could not be reached.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, prefix = split_bucket(uri)
        client = self._factory()
        try:
            listed: list[tuple[str, int | None]] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                listed += [(obj["Key"], obj.get("Size")) for obj in page.get("Contents", [])]
            placed = place_objects(uri, prefix, listed, target)
            total = sum(p.size or 0 for p in placed)
            progress = ProgressReporter(
                uri,
                total,
                sink=self._sink,
                interval=self._settings.progress_interval_seconds,
                clock=self._clock,
            )
            content_type = None
            for item in placed:
                item.path.parent.mkdir(parents=True, exist_ok=True)
                response = client.get_object(Bucket=bucket, Key=item.key)
                content_type = response.get("ContentType")
                with item.path.open("wb") as out:
                    for chunk in response["Body"].iter_chunks(_CHUNK):
                        out.write(chunk)
                        progress.advance(len(chunk))
            progress.finish()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "NoSuchKey", "404"):
                raise StorageNotFoundError(f"{uri}: {code} ({exc})") from exc
            raise DownloadError(f"{uri}: S3 refused the request: {exc}") from exc
        except BotoCoreError as exc:
            raise DownloadError(f"{uri}: {type(exc).__name__}: {exc}") from exc
        finally:
            if self._owns_clients and hasattr(client, "close"):
                client.close()
        unpack_single_file(placed, prefix, content_type)
