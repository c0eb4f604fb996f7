"""The embedded platform's Knative Eventing broker: Brokers and Triggers made real, durably.

Parts: :mod:`.ingress` (accepts CloudEvents at ``/<namespace>/<broker>``), :mod:`.store` (SQLite
log of events and deliveries), :mod:`.dispatcher` (delivers to Trigger subscribers with retries,
backoff, dead-letter sinks and reply re-ingest), :mod:`.triggers` (filters), :mod:`.delivery`
(``DeliverySpec``), :mod:`.reconciler` (Broker/Trigger status from the API server) and
:mod:`.component` (``BrokerComponent``, what ``zeroserve up`` starts).

Delivery guarantee — **at least once, durable across restarts**: an event the ingress answered 202
reaches every Trigger whose filter matched, retried (by default 40 times with exponential backoff
from 0.2 s capped at 10 s per wait, about 6 minutes in all) through subscriber, broker and platform
restarts, or else is kept in the broker's dead-letter store (``GET /<ns>/<broker>/deadletters``,
``zeroserve_broker_dead_letters_total``, a warning log line) or sent to the Trigger's
``deadLetterSink``; it is never silently dropped.

In detail:

- The ingress answers ``202 Accepted`` only after the event and one pending delivery per
  Trigger whose filter matched *at that moment* are committed to SQLite (``synchronous=FULL``).
  An answer other than 202 means the event was not taken; the sender should retry.
- A delivery stays pending until its subscriber answered 2xx (or, once retries are spent or the
  answer was final, until the dead-letter sink answered 2xx). Attempt counts and next-attempt
  times are stored, so a subscriber restart, a broker restart or a platform restart resumes
  every unfinished delivery. A subscriber may therefore see an event more than once (a crash
  between its 2xx and our commit); receivers should de-duplicate on ``source`` + ``id``.
- A delivery is given up only when retries (and the dead-letter sink's) are spent or the answer
  was final; it then stays in the store as a dead letter for 7 days. Deliveries are dropped only
  when their Trigger is deleted, and events only when the ``knativebrokerttl`` loop guard runs out
  (the ingress refuses those with 400).
- The ingress takes events only with ``Authorization: Bearer`` and the platform's broker token
  (``ZEROSERVE_BROKER_TOKEN`` in instances) or the kubeconfig token; 401 otherwise.
- Order is not guaranteed (deliveries run concurrently and retries reorder).

On a cluster, the same Broker / Trigger YAML runs on Knative Eventing; choose the Kafka broker
class there for the same durability.
"""
