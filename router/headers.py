"""Which request headers travel to every step.

KServe's router forwards only the headers whose names match one of the ``PROPAGATE_HEADERS``
patterns (the ``router.headers.propagate`` list of the ``inferenceservice-config`` ConfigMap). Each
pattern is a Go regular expression matched, unanchored, against the header's canonical name
(``x-foo-bar`` -> ``X-Foo-Bar``), so ``Test-Header-*`` matches ``Test-Header-1``. An invalid pattern is
ignored, as KServe does, and reported by :attr:`HeaderPropagator.invalid`.

On top of KServe, trace context and the request id always travel (KServe issues #2289, #2451): see
:data:`ALWAYS_PROPAGATED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["ALWAYS_PROPAGATED", "HeaderPropagator", "canonical_header"]

ALWAYS_PROPAGATED = frozenset({"x-request-id", "traceparent", "tracestate"})
"""Lower-cased names the router sets on every step call whatever the patterns say."""

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-request-id`` -> ``X-Request-Id``.

    Args:
        name: a header name in any case.

    Returns:
        The canonical form, or ``name`` unchanged when it holds characters Go leaves alone.
    """
    if not _TOKEN.match(name) or " " in name:
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class HeaderPropagator:
    """Selects the incoming headers that match the configured patterns.

    Args:
        patterns: Go-style regular expressions matched against canonical header names.
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.patterns: list[re.Pattern[str]] = []
        self.invalid: list[str] = []
        for pattern in patterns:
            if not pattern.strip():
                continue
            try:
                self.patterns.append(re.compile(pattern.strip()))
            except re.error:
                self.invalid.append(pattern)
        self._decisions: dict[bytes, str | None] = {}

    def _canonical_if_matched(self, raw_name: bytes) -> str | None:
        decision = self._decisions.get(raw_name, "")
        if decision != "":
            return decision
        name = canonical_header(raw_name.decode("latin-1"))
        matched = name if any(p.search(name) for p in self.patterns) else None
        if name.lower() in ALWAYS_PROPAGATED:
            matched = None  # set by the router itself
        if len(self._decisions) < 4096:
            self._decisions[raw_name] = matched
        return matched

    def select(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
        """The headers to forward, with canonical names, in their incoming order.

        Args:
            headers: ASGI raw headers (lower-cased names).

        Returns:
            ``(canonical name, value)`` pairs.
        """
        if not self.patterns:
            return []
        out: list[tuple[str, str]] = []
        for raw_name, value in headers:
            name = self._canonical_if_matched(raw_name)
            if name is not None:
                out.append((name, value.decode("latin-1")))
        return out
