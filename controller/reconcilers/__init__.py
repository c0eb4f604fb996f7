"""Reconcilers: the reconcile logic of each kind, over the store interface."""

from zeroserve.controller.reconcilers.inference_graph import InferenceGraphReconciler
from zeroserve.controller.reconcilers.inference_service import InferenceServiceReconciler
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.seldon_deployment import SeldonDeploymentReconciler

__all__ = ["InferenceGraphReconciler", "InferenceServiceReconciler", "Result", "SeldonDeploymentReconciler"]
