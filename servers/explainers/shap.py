"""Kernel SHAP (Lundberg and Lee, 2017) in numpy: Shapley values of one prediction from a model seen
only through its predictions.

A coalition ``z`` (which features keep the explained row's values; the others take each background
row's) is scored by the mean prediction over the background. Coalitions are enumerated when there are
few features (``2**d - 2 <= nsamples``: exact) and otherwise drawn by size with the Shapley kernel's
weights, each with its complement. The values solve the kernel-weighted least squares with the
constraint that they sum to ``f(x) - E[f(background)]``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

__all__ = ["coalitions", "kernel_shap", "plan", "shapley_kernel", "solve"]


def shapley_kernel(d: int, size: int) -> float:
    """The Shapley kernel weight of a coalition of ``size`` of ``d`` features (0 < size < d)."""
    return (d - 1) / (math.comb(d, size) * size * (d - size))


def coalitions(d: int, nsamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions to evaluate and their regression weights.

    Args:
        d: the number of features.
        nsamples: the most coalitions to evaluate.
        rng: the random source (only used when sampling).

    Returns:
        ``(masks, weights)``: a boolean ``(k, d)`` array and ``k`` weights.
    """
    if d <= 1:
        return np.zeros((0, d), dtype=bool), np.zeros(0)
    if 2**d - 2 <= nsamples:
        masks = [
            np.isin(np.arange(d), subset)
            for size in range(1, d)
            for subset in itertools.combinations(range(d), size)
        ]
        weights = [shapley_kernel(d, int(np.count_nonzero(m))) for m in masks]
        return np.asarray(masks), np.asarray(weights)
    sizes = np.arange(1, d)
    size_weights = np.asarray([shapley_kernel(d, int(s)) * math.comb(d, int(s)) for s in sizes])
    size_weights /= size_weights.sum()
    pairs = max(nsamples // 2, 1)
    masks_list: list[np.ndarray] = []
    for size in rng.choice(sizes, size=pairs, p=size_weights):
        mask = np.zeros(d, dtype=bool)
        mask[rng.choice(d, size=int(size), replace=False)] = True
        masks_list += [mask, ~mask]
    # drawn in proportion to the kernel already: every sample counts the same in the regression
    return np.asarray(masks_list), np.ones(len(masks_list))


def plan(
    x: np.ndarray, background: np.ndarray, nsamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows to predict for explaining ``x``: ``x``, the background, then every coalition mixed
    with every background row.

    Returns:
        ``(rows, masks, weights)``.
    """
    d = x.shape[0]
    masks, weights = coalitions(d, nsamples, rng)
    mixed = np.where(masks[:, None, :], x[None, None, :], background[None, :, :]).reshape(-1, d)
    return np.concatenate([x[None, :], background, mixed]), masks, weights


def solve(
    predictions: np.ndarray, masks: np.ndarray, weights: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shapley values from the predictions of :func:`plan`'s rows.

    Args:
        predictions: ``(rows,)`` or ``(rows, outputs)``.
        masks: the coalitions.
        weights: their weights.
        m: the number of background rows.

    Returns:
        ``(values, expected, prediction)``: values ``(outputs, d)``, the background's mean prediction
        and ``f(x)`` (``(outputs,)`` each); values sum to ``prediction - expected`` per output.
    """
    out = np.asarray(predictions, dtype=np.float64).reshape(len(predictions), -1)
    d = masks.shape[1]
    fx, expected = out[0], out[1 : 1 + m].mean(axis=0)
    total = fx - expected
    if len(masks) == 0:
        return total[:, None].copy(), expected, fx
    values = np.zeros((out.shape[1], d))
    v = out[1 + m :].reshape(len(masks), m, -1).mean(axis=1) - expected  # (coalitions, outputs)
    z = masks.astype(np.float64)
    # eliminate the last feature with the efficiency constraint: phi_last = total - sum(others)
    a = z[:, :-1] - z[:, -1:]
    sw = np.sqrt(weights)
    for j in range(out.shape[1]):
        target = v[:, j] - z[:, -1] * total[j]
        coef, *_ = np.linalg.lstsq(a * sw[:, None], target * sw, rcond=None)
        values[j, :-1] = coef
        values[j, -1] = total[j] - coef.sum()
    return values, expected, fx


def kernel_shap(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    background: np.ndarray,
    nsamples: int = 2048,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shapley values of ``predict`` at ``x`` (:func:`plan`, one call of ``predict``, :func:`solve`).

    Args:
        predict: rows ``(n, d)`` -> predictions ``(n,)`` or ``(n, k)``.
        x: the explained row, ``(d,)``.
        background: reference rows ``(m, d)``.
        nsamples: the most coalitions to evaluate.
        rng: the random source when coalitions are sampled.

    Returns:
        See :func:`solve`.
    """
    rows, masks, weights = plan(x, background, nsamples, rng or np.random.default_rng(0))
    return solve(predict(rows), masks, weights, background.shape[0])
