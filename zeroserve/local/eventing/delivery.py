"""Knative's ``DeliverySpec`` as a pure policy: how often, how late and where a failed event goes.

``retry`` is the number of retries (attempts = retry + 1); the delay before retry *n* (1-based) is
``backoffDelay * n`` (linear) or ``backoffDelay * 2**n`` (exponential), as Knative's dispatcher
computes it. Retried answers: network errors, 5xx, 404, 408, 409 and 429; any other failure is
final. Failed events go to ``deadLetterSink`` when one is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

    retry: int = 10
    backoff_policy: str = "exponential"
    backoff_delay: float = 0.2
    dead_letter_uri: str | None = None
    timeout: float = 30.0

    @property
    def attempts(self) -> int:
        return self.retry + 1

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if self.backoff_policy == "linear":
            return self.backoff_delay * retry
        return self.backoff_delay * (2**retry)

    @classmethod
    def from_spec(
        cls,
        spec: Mapping[str, Any] | None,
        *,
        fallback: DeliveryPolicy | None = None,
        dead_letter_uri: str | None = None,
    ) -> DeliveryPolicy:
        """Read a ``delivery`` object; fields it leaves out come from ``fallback``.

        Args:
            spec: the ``spec.delivery`` mapping (may be ``None``).
            fallback: the Broker's policy or the cluster defaults.
            dead_letter_uri: the resolved ``deadLetterSink`` address, when it has one.

        Returns:
            The policy.

        Raises:
            ValueError: on a malformed duration or policy name.
        """
        base = fallback or DEFAULT_DELIVERY
        spec = spec or {}
        policy = spec.get("backoffPolicy", base.backoff_policy)
        if policy not in ("linear", "exponential"):
            raise ValueError(f"backoffPolicy must be linear or exponential, not {policy!r}")
        delay = spec.get("backoffDelay")
        timeout = spec.get("timeout")
        return cls(
            retry=int(spec.get("retry", base.retry)),
            backoff_policy=policy,
            backoff_delay=parse_duration(delay) if delay else base.backoff_delay,
            dead_letter_uri=dead_letter_uri or base.dead_letter_uri,
            timeout=parse_duration(timeout) if timeout else base.timeout,
        )


DEFAULT_DELIVERY = DeliveryPolicy()
"""Knative's cluster defaults (``config-br-defaults``): 10 retries, exponential, ``PT0.2S``."""
