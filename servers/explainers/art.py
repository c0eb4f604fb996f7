"""``zeroserve serve art``: KServe's ``art`` explainer (adversarial-robustness-toolbox's ``SquareAttack``).

As KServe's artserver: ``:explain`` takes ``{"instances": [image, label]}``, wraps the predictor as a
black-box classifier (its V1 ``predictions``, a class index per row, one-hot over ``nb_classes``;
probability rows are used as they are) and answers::

    {"explanations": {"adversarial_example": [...], "L2 error": e,
                      "adversarial_prediction": c, "prediction": c0}}

Options (``spec.explainer.art.config`` keys, passed as flags): ``adversary_type`` (``SquareAttack``, the
only one KServe runs), ``nb_classes`` (10) and ``max_iter`` (1000). ART is imported when the model loads.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.explainers.predictor import predict_rows, require_predictor
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import RuntimeOptionsError
from zeroserve.servers.storage import ModelStorage

__all__ = ["ArtExplainer", "build_art"]

_ADVERSARIES = ("squareattack",)


class ArtExplainer(Model):
    """Adversarial examples for the predictor's decisions.

    Args:
        name: the model name (the predictor's model is called the same).
        adversary_type: ``SquareAttack``.
        nb_classes: how many classes the predictor tells apart.
        max_iter: the attack's iterations.
    """

    def __init__(
        self, name: str, adversary_type: str = "SquareAttack", nb_classes: int = 10, max_iter: int = 1000
    ):
        super().__init__(name)
        if adversary_type.lower() not in _ADVERSARIES:
            raise RuntimeOptionsError(
                f"art: adversary_type {adversary_type!r} is not supported; supported: SquareAttack"
            )
        self.adversary_type = adversary_type
        self.nb_classes = nb_classes
        self.max_iter = max_iter
        self._art: Any = None

    def load(self) -> bool:
        """Check for a predictor and import ART."""
        require_predictor(self, "art")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ART's imports warn about optional frameworks
            from art.attacks.evasion.square_attack import SquareAttack
            from art.estimators.classification import BlackBoxClassifierNeuralNetwork
        self._art = (SquareAttack, BlackBoxClassifierNeuralNetwork)
        self.ready = True
        return True

    def _one_hot(self, predictions: np.ndarray) -> np.ndarray:
        if predictions.ndim == 2 and predictions.shape[1] == self.nb_classes:
            return predictions
        classes = predictions.reshape(len(predictions), -1)[:, 0].astype(int)
        if ((classes < 0) | (classes >= self.nb_classes)).any():
            raise InvalidInput(
                f"model {self.name}: the predictor answered class {classes.max()} "
                f"but nb_classes is {self.nb_classes}"
            )
        one_hot: np.ndarray = np.eye(self.nb_classes)[classes]
        return one_hot

    async def explain(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Search an adversarial example for ``instances[0]`` (true label ``instances[1]``)."""
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or len(instances) != 2:
            raise InvalidInput(f'model {self.name}: explain expects {{"instances": [image, label]}}')
        try:
            inputs = np.asarray(instances[0], dtype=np.float32)
            label = np.atleast_1d(np.asarray(instances[1]))
        except (TypeError, ValueError):
            raise InvalidInput(f"model {self.name}: the image must be an array of numbers") from None
        if inputs.ndim == 1:
            inputs = inputs[None, :]
        loop = asyncio.get_running_loop()

        def predict(x: np.ndarray) -> np.ndarray:
            rows = np.asarray(x).reshape(len(x), -1)
            answer = asyncio.run_coroutine_threadsafe(predict_rows(self, rows, headers), loop).result()
            return self._one_hot(answer)

        def attack() -> dict[str, Any]:
            square_attack, black_box = self._art
            classifier = black_box(
                predict,
                inputs.shape[1:],
                self.nb_classes,
                channels_first=False,
                clip_values=(-np.inf, np.inf),
            )
            prediction = np.argmax(classifier.predict(inputs, batch_size=1))
            adversary = square_attack(estimator=classifier, max_iter=self.max_iter, verbose=False)
            x_adv = adversary.generate(x=inputs, y=label)
            adversarial = np.argmax(classifier.predict(x_adv))
            l2 = np.linalg.norm(np.reshape(x_adv[0] - inputs, [-1]))
            return {
                "explanations": {
                    "adversarial_example": x_adv.tolist(),
                    "L2 error": float(l2),
                    "adversarial_prediction": int(adversarial),
                    "prediction": int(prediction),
                }
            }

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return await loop.run_in_executor(None, attack)
            except ValueError as exc:  # ART's own checks of the input (e.g. not an image)
                first = (str(exc).strip().splitlines() or ["bad input"])[0]
                raise InvalidInput(
                    f"model {self.name}: {self.adversary_type} rejected the input of shape "
                    f"{list(inputs.shape)}: {first} (send [image as H x W x C, label])"
                ) from exc


def build_art(
    name: str, model_dir: Path | str | None, options: Mapping[str, Any], storage: ModelStorage | None = None
) -> Model:
    """The registry's factory of ``art`` (options ``adversary_type``, ``nb_classes``, ``max_iter``)."""
    unknown = sorted(set(options) - {"adversary_type", "nb_classes", "max_iter"})
    if unknown:
        raise RuntimeOptionsError(
            f"art: unknown option(s) {', '.join(unknown)}; known: adversary_type, nb_classes, max_iter"
        )
    try:
        nb_classes = int(options.get("nb_classes", 10))
        max_iter = int(options.get("max_iter", 1000))
    except (TypeError, ValueError):
        raise RuntimeOptionsError("art: nb_classes and max_iter must be integers") from None
    return ArtExplainer(name, str(options.get("adversary_type", "SquareAttack")), nb_classes, max_iter)
