"""Pure builders: API objects in, the Kubernetes objects the controller writes out (as dicts)."""

from zeroserve.controller.resources.http_route import build_http_route
from zeroserve.controller.resources.inference_graph import build_graph_service
from zeroserve.controller.resources.knative_service import build_component_service

__all__ = ["build_component_service", "build_graph_service", "build_http_route"]
