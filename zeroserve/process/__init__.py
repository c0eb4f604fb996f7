"""What every zeroserve process does the same way: ASGI plumbing, logging, ports and the ready file.

- :mod:`zeroserve.process.asgi`: the ASGI type aliases, the lifespan loop, a bounded body reader and
  response helpers, shared by every plain ASGI app we ship (model server, router, gateway, broker
  ingress, logger agent, detectors).
- :mod:`zeroserve.process.logs`: the one JSON log format (and a plain one for terminals).
- :mod:`zeroserve.process.listen`: the ``PORT`` default and socket binding with an error that names
  the port and the flag that changes it.
- :mod:`zeroserve.process.ready`: the ready file (``{"pid", "http_port", "grpc_port"}``).

This package imports nothing of zeroserve's own: every component may depend on it, it on none.
"""
