"""``kserve.context``: the server-wide predictor config (KServe's names)."""

from kserve.predictor_config import get_predictor_config, set_predictor_config

__all__ = ["get_predictor_config", "set_predictor_config"]
