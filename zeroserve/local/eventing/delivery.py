"""Knative's ``DeliverySpec`` as a pure policy: how often, how late and where a failed event goes.

``retry`` is the number of retries (attempts = retry + 1); the delay before retry *n* (1-based) is
``backoffDelay * n`` (linear) or ``backoffDelay * 2**n`` (exponential), as Knative's dispatcher
computes it. Retried answers: network errors, 5xx, 404, 408, 409 and 429; any other failure is
final. Failed events go to ``deadLetterSink`` when one is set.

Defaults (a Broker and Trigger with no ``delivery``): 40 retries, exponential from ``PT0.2S``, each
wait capped at 10 s, so a subscriber may be down for about 6 minutes (:data:`DEFAULT_DELIVERY`'s
:meth:`~DeliveryPolicy.total_backoff`, 362 s) and still get every event, and a recovered one waits at
most 10 s. An explicit ``backoffDelay`` or ``backoffPolicy`` is honoured as Knative does, uncapped;
an explicit ``retry`` alone keeps the capped default backoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zeroserve.apis.knative.eventing.v1.types import DeliverySpec

__all__ = ["DEFAULT_DELIVERY", "DeliveryPolicy", "is_retryable", "parse_duration"]

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float:
    """An ISO-8601 duration (``PT0.2S``, ``PT1M30S``, ``P1D``) in seconds.

    Args:
        text: the duration; week, month and year designators are not accepted.

    Returns:
        The duration in seconds.

    Raises:
        ValueError: when the text is not such a duration.
    """
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def is_retryable(status: int) -> bool:
    """Whether a subscriber's answer is retried (0 stands for a network error or timeout)."""
    return status == 0 or status >= 500 or status in (404, 408, 409, 429)


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retries, backoff and dead-letter sink of one Trigger (or its Broker's defaults)."""

    retry: int = 40
    backoff_policy: str = "exponential"
    backoff_delay: float = 0.2
    dead_letter_uri: str | None = None
    timeout: float = 30.0
    max_delay: float | None = 10.0
    """The longest single wait (``None``: uncapped, as an explicit Knative backoff is)."""

    @property
    def attempts(self) -> int:
        return self.retry + 1

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if self.backoff_policy == "linear":
            delay = self.backoff_delay * retry
        else:
            delay = self.backoff_delay * (2.0 ** min(retry, 1000))
        return delay if self.max_delay is None else min(delay, self.max_delay)

    def total_backoff(self) -> float:
        """Seconds from the first failure to the last retry: the outage every event rides out."""
        return sum(self.delay(n) for n in range(1, self.retry + 1))

    @classmethod
    def from_spec(
        cls,
        spec: DeliverySpec | Mapping[str, Any] | None,
        *,
        fallback: DeliveryPolicy | None = None,
        dead_letter_uri: str | None = None,
    ) -> DeliveryPolicy:
        """Read a ``delivery`` object; fields it leaves out come from ``fallback``.

        Args:
            spec: the ``spec.delivery`` object or mapping (may be ``None``).
            fallback: the Broker's policy or the cluster defaults.
            dead_letter_uri: the resolved ``deadLetterSink`` address, when it has one.

        Returns:
            The policy.

        Raises:
            ValueError: on a malformed duration or policy name.
        """
        base = fallback or DEFAULT_DELIVERY
        if spec is None:
            spec = DeliverySpec()
        elif not isinstance(spec, DeliverySpec):
            spec = DeliverySpec.model_validate(dict(spec))
        policy = spec.backoff_policy or base.backoff_policy
        if policy not in ("linear", "exponential"):
            raise ValueError(f"backoffPolicy must be linear or exponential, not {policy!r}")
        if spec.retry is not None and spec.retry < 0:
            raise ValueError(f"retry must be >= 0, not {spec.retry}")
        explicit_backoff = spec.backoff_policy is not None or spec.backoff_delay is not None
        return cls(
            retry=base.retry if spec.retry is None else int(spec.retry),
            backoff_policy=policy,
            backoff_delay=parse_duration(spec.backoff_delay) if spec.backoff_delay else base.backoff_delay,
            dead_letter_uri=dead_letter_uri or base.dead_letter_uri,
            timeout=parse_duration(spec.timeout) if spec.timeout else base.timeout,
            max_delay=None if explicit_backoff else base.max_delay,
        )


DEFAULT_DELIVERY = DeliveryPolicy()
"""The platform's default: 40 retries, exponential from ``PT0.2S``, each wait at most 10 s (362 s in all).

Knative's ``config-br-defaults`` ships 10 retries from ``PT0.2S`` uncapped (409 s, the last wait
205 s); the cap keeps a recovered subscriber from idling minutes while covering a longer outage."""
