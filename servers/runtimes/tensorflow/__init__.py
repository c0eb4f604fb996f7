"""The TensorFlow SavedModel runtime with TFServing's REST surface (see :mod:`.model`, :mod:`.surface`)."""

from zeroserve.servers.runtimes.tensorflow.model import TensorFlowModel, TensorFlowOptions, find_saved_model
from zeroserve.servers.runtimes.tensorflow.surface import TFServingSurface

__all__ = ["TFServingSurface", "TensorFlowModel", "TensorFlowOptions", "find_saved_model"]
