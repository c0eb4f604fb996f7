"""The embedded platform's Knative Eventing broker: Brokers and Triggers made real, durably.

Parts: :mod:`.ingress` (accepts CloudEvents at ``/<namespace>/<broker>``), :mod:`.store` (SQLite
log of events and deliveries), :mod:`.dispatcher` (delivers to Trigger subscribers with retries,
backoff, dead-letter sinks and reply re-ingest), :mod:`.triggers` (filters), :mod:`.delivery`
(``DeliverySpec``), :mod:`.reconciler` (Broker/Trigger status from the API server) and
:mod:`.component` (``BrokerComponent``, what ``zeroserve up`` starts).

Delivery guarantee — **at least once, durable across restarts**:

- The ingress answers ``202 Accepted`` only after the event and one pending delivery per
  Trigger whose filter matched *at that moment* are committed to SQLite (``synchronous=FULL``).
  An answer other than 202 means the event was not taken; the sender should retry.
- A delivery stays pending until its subscriber answered 2xx (or, once retries are spent or the
  answer was final, until the dead-letter sink answered 2xx). Attempt counts and next-attempt
  times are stored, so a subscriber restart, a broker restart or a platform restart resumes
  every unfinished delivery. A subscriber may therefore see an event more than once (a crash
  between its 2xx and our commit); receivers should de-duplicate on ``source`` + ``id``.
- Events are given up (and counted) only when retries and the dead-letter sink are exhausted,
  when the Trigger is deleted, or when the ``knativebrokerttl`` loop guard runs out.
- Order is not guaranteed (deliveries run concurrently and retries reorder).

On a cluster, the same Broker / Trigger YAML runs on Knative Eventing; choose the Kafka broker
class there for the same durability.
"""
