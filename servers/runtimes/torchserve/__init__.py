"""KServe's ``pytorch`` format: TorchServe model archives served by ``zeroserve serve torchserve``.

A model folder holds ``model-store/*.mar`` (:mod:`.archive`) and ``config/config.properties``
(:mod:`.properties`); each archive's handler (:mod:`.handlers`: the built-in ``base_handler`` of
:mod:`.base_handler`, or the archive's own ``handler.py``) runs with TorchServe's ``context``
(:mod:`.context`). :mod:`.model` serves every archive under its ``modelName`` over V1 and V2. PyTorch
is imported only when a model loads. ``ts.torch_handler.base_handler`` resolves to our
``BaseHandler`` only when TorchServe itself is not installed.
"""

from zeroserve.servers.runtimes.torchserve.archive import MANIFEST, ModelArchive, open_archive
from zeroserve.servers.runtimes.torchserve.model import (
    TorchServeModel,
    TorchServeRepository,
    build_torchserve,
)
from zeroserve.servers.runtimes.torchserve.properties import TorchServeConfig, parse_properties, read_config

__all__ = [
    "MANIFEST",
    "ModelArchive",
    "TorchServeConfig",
    "TorchServeModel",
    "TorchServeRepository",
    "build_torchserve",
    "open_archive",
    "parse_properties",
    "read_config",
]
