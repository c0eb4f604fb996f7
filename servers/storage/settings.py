"""Settings of the model storage: cache folder, URI mirrors, PVC root and the remote backends' options.

Read from the environment with the prefix ``ZEROSERVE_STORAGE_`` (e.g. ``ZEROSERVE_STORAGE_CACHE_DIR``);
the S3 options also accept the variables KServe's storage-initializer reads (``AWS_ENDPOINT_URL``,
``S3_ENDPOINT``, ``S3_USE_HTTPS``, ``S3_VERIFY_SSL``, ``awsAnonymousCredential``), so a KServe
``storage-config`` secret works unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.storage.archive import ArchiveLimits

__all__ = ["StorageSettings", "default_cache_dir"]

_PREFIX = "ZEROSERVE_STORAGE_"


def default_cache_dir() -> Path:
    """The model cache used when none is configured: ``$XDG_CACHE_HOME/zeroserve/models``.

    Returns:
        ``~/.cache/zeroserve/models`` unless ``XDG_CACHE_HOME`` points elsewhere.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zeroserve" / "models"


def _aliases(field: str, *kserve_names: str) -> AliasChoices:
    return AliasChoices(field, _PREFIX + field.upper(), *kserve_names)


class StorageSettings(BaseSettings):
    """Where models are cached and how each ``storageUri`` scheme is reached."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, populate_by_name=True, extra="ignore", case_sensitive=False
    )

    cache_dir: Path = Field(default_factory=default_cache_dir)
    """Folder of the local model cache; one sub-folder per downloaded URI (keyed by the URI)."""

    mirrors: dict[str, Path] = Field(default_factory=dict)
    """URI prefix -> local folder, e.g. ``{"gs://kfserving-examples/": "/data/kfserving-examples/"}``.

    A URI starting with a prefix resolves to the folder plus the rest of the URI, without any network
    access; the longest matching prefix wins. As an environment variable, a JSON object."""

    pvc_root: Path | None = None
    """Local folder standing in for PersistentVolumeClaims: ``pvc://<claim>/<path>`` resolves to
    ``<pvc_root>/<claim>/<path>``. Unset, ``pvc://`` URIs are refused."""

    progress_interval_seconds: float = 2.0
    """Minimum time between two download progress log lines for one download."""

    http_timeout_seconds: float = 60.0
    """Connect / read timeout of HTTP(S) downloads."""

    http_headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers sent with every HTTP(S) download (e.g. an ``Authorization`` header)."""

    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=_aliases("s3_endpoint_url", "AWS_ENDPOINT_URL")
    )
    """Endpoint of an S3-compatible server (MinIO, moto, ...), with scheme: ``http://minio:9000``.
    Also read from ``AWS_ENDPOINT_URL``. Unset, AWS' own endpoint is used."""

    s3_endpoint: str | None = Field(default=None, validation_alias=_aliases("s3_endpoint", "S3_ENDPOINT"))
    """KServe's spelling: ``host:port`` without a scheme (``S3_ENDPOINT``); the scheme comes from
    :attr:`s3_use_https`. Used only when :attr:`s3_endpoint_url` is unset."""

    s3_use_https: bool = Field(default=True, validation_alias=_aliases("s3_use_https", "S3_USE_HTTPS"))
    """Whether :attr:`s3_endpoint` is reached over HTTPS (``S3_USE_HTTPS``, KServe's default ``1``)."""

    s3_verify_ssl: bool = Field(default=True, validation_alias=_aliases("s3_verify_ssl", "S3_VERIFY_SSL"))
    """Whether the S3 endpoint's TLS certificate is verified (``S3_VERIFY_SSL``)."""

    s3_anonymous: bool = Field(
        default=False, validation_alias=_aliases("s3_anonymous", "awsAnonymousCredential")
    )
    """Send unsigned S3 requests (public buckets); KServe's ``awsAnonymousCredential``."""

    s3_region: str | None = Field(default=None, validation_alias=_aliases("s3_region", "AWS_DEFAULT_REGION"))
    """Region of the S3 bucket; ``AWS_DEFAULT_REGION`` also works."""

    archive_max_ratio: float = Field(default=100.0, gt=0)
    """Largest expanded size of an archive as a multiple of its own size, once the expanded size
    passes :attr:`archive_ratio_floor_bytes` (a 1.6 MB zip bomb expanding to 1.6 GB is refused)."""

    archive_ratio_floor_bytes: int = Field(default=100 * 1024 * 1024, ge=0)
    """Expanded size under which :attr:`archive_max_ratio` is not applied (small archives of very
    compressible files are fine)."""

    archive_max_bytes: int | None = Field(default=None, ge=0)
    """Largest total expanded size of an archive in bytes; unset, what the disk holding the target
    folder has free minus :attr:`archive_disk_margin_bytes`."""

    archive_disk_margin_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    """Space left free on the disk when :attr:`archive_max_bytes` is unset."""

    archive_max_entries: int = Field(default=10_000, ge=1)
    """Most members (files, folders, links) an archive may have."""

    gcs_anonymous: bool = False
    """Use an anonymous Google Cloud Storage client (public buckets such as ``gs://kfserving-examples``)."""

    @field_validator("mirrors", mode="before")
    @classmethod
    def _check_mirrors(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        checked: dict[str, object] = {}
        for prefix, folder in value.items():
            if not isinstance(prefix, str) or "://" not in prefix:
                raise ValueError(f"mirror prefix {prefix!r} is not a URI prefix (scheme://...)")
            if isinstance(folder, str) and folder.startswith("file://"):
                folder = folder.removeprefix("file://")
            checked[prefix] = folder
        return checked

    def resolved_s3_endpoint(self) -> str | None:
        """The S3 endpoint URL to use, from either spelling.

        Returns:
            A URL with scheme, or ``None`` for AWS' default endpoint.
        """
        if self.s3_endpoint_url:
            return self.s3_endpoint_url
        if self.s3_endpoint:
            if "://" in self.s3_endpoint:
                return self.s3_endpoint
            scheme = "https" if self.s3_use_https else "http"
            return f"{scheme}://{self.s3_endpoint}"
        return None

    def archive_limits(self) -> ArchiveLimits:
        """The archive extraction limits these settings describe."""
        return ArchiveLimits(
            max_ratio=self.archive_max_ratio,
            ratio_floor_bytes=self.archive_ratio_floor_bytes,
            max_bytes=self.archive_max_bytes,
            disk_margin_bytes=self.archive_disk_margin_bytes,
            max_entries=self.archive_max_entries,
        )
