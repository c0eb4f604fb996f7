"""``kserve.predictor_config``: where a transformer's predictor is (KServe's ``PredictorConfig``).

zeroserve's :class:`~zeroserve.servers.transformer.config.PredictorConfig` with KServe's alias
properties. As in KServe 0.21, ``ModelServer`` sets one server-wide config from its
``--predictor_*`` flags (or its ``predictor_config`` argument), and every :class:`kserve.Model`
without one of its own uses it.
"""

from __future__ import annotations

from zeroserve.servers.transformer.config import PredictorConfig as _ZeroserveConfig

__all__ = ["PredictorConfig", "get_predictor_config", "set_predictor_config"]


class PredictorConfig(_ZeroserveConfig):
    """KServe's ``PredictorConfig(predictor_host, predictor_protocol="v1", predictor_use_ssl=False,
    predictor_request_timeout_seconds=600, predictor_request_retries=0, predictor_health_check=False)``."""

    @property
    def protocol(self) -> str:
        """Alias of ``predictor_protocol``."""
        return self.predictor_protocol

    @property
    def timeout(self) -> float:
        """Alias of ``predictor_request_timeout_seconds``."""
        return self.predictor_request_timeout_seconds

    @property
    def retries(self) -> int:
        """Alias of ``predictor_request_retries``."""
        return self.predictor_request_retries

    @property
    def use_ssl(self) -> bool:
        """Alias of ``predictor_use_ssl``."""
        return self.predictor_use_ssl

    @property
    def predictor_base_url(self) -> str:
        """``http(s)://<predictor_host>``."""
        return f"{'https' if self.predictor_use_ssl else 'http'}://{self.predictor_host}"


_server_config: _ZeroserveConfig | None = None


def set_predictor_config(config: _ZeroserveConfig | None) -> None:
    """Set the server-wide predictor config (``ModelServer`` does, from its flags)."""
    global _server_config
    _server_config = config if config is not None and config.predictor_host else None


def get_predictor_config() -> _ZeroserveConfig | None:
    """The server-wide predictor config, ``None`` when this server is no transformer."""
    return _server_config
