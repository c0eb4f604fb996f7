"""The SeldonDeployment orchestrator: Seldon Core's graph semantics over the wrapper REST API.

:mod:`.graph` reads ``--seldon-json`` into units, :mod:`.messages` fills and merges ``meta``,
:mod:`.walk` runs a prediction or a feedback through the graph, :mod:`.app` is the engine API
(``engine.oas3.json``) as an ASGI app and :mod:`.serve` runs it.
"""
