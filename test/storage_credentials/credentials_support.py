"""Names the storage-credential tests share: the secured S3 server's bucket and credentials."""

from __future__ import annotations

from dataclasses import dataclass

BUCKET = "models"
PREFIX = "iris"


@dataclass(frozen=True)
class SecuredS3:
    """moto's S3 server where only ``key_id`` / ``secret`` may read ``s3://models/iris``."""

    url: str
    key_id: str
    secret: str

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")
