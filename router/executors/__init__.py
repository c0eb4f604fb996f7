"""One small executor per node type, and the runner that wires them into a graph."""

from zeroserve.router.executors.runner import GraphRunner, NodeExecutor

__all__ = ["GraphRunner", "NodeExecutor"]
