"""The request path's event template writes exactly what the CloudEvent encoders write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zeroserve.cloudevents import encode_binary
from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.encoding import KIND_REQUEST, KIND_RESPONSE, EventTemplate, UtcClock
from zeroserve.logger.events import request_event, response_event
from zeroserve.logger.http1 import Http1Client

CONFIG = LoggerConfig(
    url="http://broker.example/ns/default",
    inference_service="iris",
    namespace="models",
    component="predictor",
    source_uri="http://iris-predictor.models/",
)


def _ns(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


@pytest.mark.parametrize(
    ("event_id", "metadata", "when"),
    [
        ("6f1c2d4e-0000-4000-8000-000000000001", None, datetime(2026, 11, 21, 21, 0, 5, 123456, UTC)),
        ('odd id "with" spaces % é', '{"X-User":["alice"]}', datetime(2026, 1, 2, 3, 4, 5, 0, UTC)),
        ("x", '{"X-Tenant":["blue"]}', datetime(2030, 12, 31, 23, 59, 59, 1, UTC)),
    ],
)
def test_template_bytes_equal_the_cloudevent_encoding(
    event_id: str, metadata: str | None, when: datetime
) -> None:
    client = Http1Client(CONFIG.url)
    template = EventTemplate(CONFIG, client.prefix)
    body = b'{"instances": [[1, 2]]}'
    for status in (200, 500):
        expected_request = request_event(
            CONFIG,
            event_id=event_id,
            body=body,
            content_type="application/json",
            metadata=metadata,
            when=when,
        )
        expected_response = response_event(
            CONFIG,
            event_id=event_id,
            body=body,
            content_type="application/json",
            status=status,
            metadata=metadata,
            when=when,
        )
        args = (event_id, _ns(when), status, body, "application/json", metadata)
        assert template.request(KIND_REQUEST, *args) == client.encode_event(expected_request)
        assert template.request(KIND_RESPONSE, *args) == client.encode_event(expected_response)
        assert encode_binary(template.event(KIND_RESPONSE, *args)) == encode_binary(expected_response)


def test_utc_clock_matches_isoformat_across_seconds() -> None:
    clock = UtcClock()
    start = _ns(datetime(2026, 11, 21, 23, 59, 58, 999_000, UTC))
    for step in range(0, 3_000_000_000, 7_777_777):
        ns = start + step
        when = datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
            microsecond=ns % 1_000_000_000 // 1000
        )
        assert clock.format(ns).decode() == when.isoformat().replace("+00:00", "Z")
