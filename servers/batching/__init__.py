"""Adaptive batching: concurrent requests' rows joined into one ``predict``, per model.

Turned on server-wide by ``ServerSettings.batcher_enabled`` (``ZEROSERVE_BATCHER_ENABLED``, set by
the controller from ``spec.<component>.batcher``; ``--enable_batching``) or per model by setting
``model.batching = BatchConfig(...)`` (MLServer's ``max_batch_size`` / ``max_batch_time``:
:meth:`BatchConfig.from_mlserver`). Only models that accept batches are batched: those with
``batchable = True`` (every file-based runtime) or their own ``batching`` config.

- :mod:`.policy`: the flush decision, a pure function of the time.
- :mod:`.rows`: joining payloads' rows and splitting the answer, per protocol.
- :mod:`.batcher`: the queues, timers and batch tasks.
"""

from zeroserve.servers.batching.batcher import Batcher, BatchTimeout, Failed
from zeroserve.servers.batching.policy import BatchConfig, BatchPolicy
from zeroserve.servers.batching.rows import batch_key, join, split

__all__ = ["BatchConfig", "BatchPolicy", "BatchTimeout", "Batcher", "Failed", "batch_key", "join", "split"]
