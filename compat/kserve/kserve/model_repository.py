"""``kserve.model_repository``: KServe's ``ModelRepository``, the models a server starts with.

``ModelServer(registered_models=repo)`` serves every model registered in ``repo``; from then on
zeroserve's own repository (``zeroserve.servers.repository``) holds them, with the V2 repository
extension (``--enable_model_repository``) loading ``<models_dir>/<name>``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODEL_MOUNT_DIRS", "ModelRepository"]

MODEL_MOUNT_DIRS = "/mnt/models"


class ModelRepository:
    """KServe's ``ModelRepository(models_dir="/mnt/models")``: models by name.

    Args:
        models_dir: the folder the repository extension loads ``<models_dir>/<name>`` from.
    """

    def __init__(self, models_dir: str = MODEL_MOUNT_DIRS) -> None:
        self.models_dir = models_dir
        self.models: dict[str, Any] = {}

    def update(self, model: Any, name: str | None = None) -> None:
        """Register ``model`` under ``name`` (its own name by default)."""
        self.models[name or model.name] = model

    def get_model(self, name: str) -> Any | None:
        """The model registered as ``name``, or ``None``."""
        return self.models.get(name)

    def get_models(self) -> dict[str, Any]:
        """Every registered model, by name."""
        return self.models

    def is_model_ready(self, name: str) -> bool:
        """Whether ``name`` is registered and ready."""
        model = self.models.get(name)
        return bool(model is not None and model.ready)

    def unload(self, name: str) -> None:
        """Forget ``name`` (calling its ``stop``).

        Raises:
            KeyError: ``name`` is not registered.
        """
        model = self.models.pop(name)
        model.stop()
