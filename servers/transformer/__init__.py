"""Transformer mode: a model that forwards its preprocessed payload to a predictor."""

from zeroserve.servers.transformer.config import PredictorConfig, PredictorProtocol

__all__ = ["PredictorConfig", "PredictorProtocol"]
