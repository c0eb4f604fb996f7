"""Triton's model repository served by ``zeroserve serve triton``.

``<repository>/<model>/config.pbtxt`` (read by :mod:`.pbtxt` and :mod:`.config`) and
``<repository>/<model>/<version>/model.onnx|model.pt|model.py`` for the backends :mod:`.backends` runs:
ONNX Runtime, TorchScript (libtorch) and Python (``TritonPythonModel`` over :mod:`.python_utils`, a
minimal ``triton_python_backend_utils``). :mod:`.model` serves every model in one server over V2.
"""

from zeroserve.servers.runtimes.triton.config import ModelConfig, TensorConfig, read_model_config
from zeroserve.servers.runtimes.triton.model import TritonModel, TritonRepository, build_triton
from zeroserve.servers.runtimes.triton.pbtxt import TextFormatError, parse_text_proto

__all__ = [
    "ModelConfig",
    "TensorConfig",
    "TextFormatError",
    "TritonModel",
    "TritonRepository",
    "build_triton",
    "parse_text_proto",
    "read_model_config",
]
