"""A local trace collector: an OTLP/HTTP receiver keeping the last traces, and ``zeroserve traces``.

``zeroserve up --trace`` starts :class:`~zeroserve.local.traces.receiver.TraceReceiver` and points
every instance at it; ``zeroserve traces [ID]`` prints what it holds.
"""
