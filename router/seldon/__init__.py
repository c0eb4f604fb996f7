"""The SeldonDeployment orchestrator: Seldon Core's graph semantics over the wrapper REST and gRPC APIs.

:mod:`.graph` reads ``--seldon-json`` into units, :mod:`.messages` fills and merges ``meta``,
:mod:`.walk` runs a prediction or a feedback through the graph (components over REST, or over gRPC
with :mod:`.grpc_calls`), :mod:`.app` is the engine API (``engine.oas3.json``) as an ASGI app,
:mod:`.grpc` the same API over gRPC (``seldon.protos.Seldon``), and :mod:`.serve` runs both.
"""
