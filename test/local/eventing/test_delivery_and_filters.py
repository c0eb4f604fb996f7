"""Pure, table-driven tests of Knative's delivery policy and attribute filters."""

from __future__ import annotations

import pytest

from zeroserve.local.eventing.delivery import DEFAULT_DELIVERY, DeliveryPolicy, is_retryable, parse_duration
from zeroserve.local.eventing.triggers import FilterError, compile_filters, matches


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1S", 1.0),
        ("PT1M30S", 90.0),
        ("PT2H", 7200.0),
        ("P1D", 86400.0),
        ("P1DT1S", 86401.0),
    ],
)
def test_iso8601_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "1S", "PT-1S", "P1W", "soon"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_duration(text)


def test_linear_and_exponential_backoff_follow_knative() -> None:
    linear = DeliveryPolicy.from_spec({"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT0.5S"})
    exponential = DeliveryPolicy.from_spec({"backoffPolicy": "exponential", "backoffDelay": "PT0.5S"})
    assert [linear.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert [exponential.delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert linear.attempts == 4 and exponential.retry == DEFAULT_DELIVERY.retry == 40
    # an explicit backoff is Knative's: uncapped
    assert exponential.max_delay is None and exponential.delay(10) == 512.0


def test_the_default_delivery_rides_out_a_five_minute_outage_with_capped_waits() -> None:
    policy = DeliveryPolicy.from_spec(None)
    assert policy == DEFAULT_DELIVERY
    assert policy.total_backoff() > 5 * 60
    assert max(policy.delay(n) for n in range(1, policy.retry + 1)) == policy.max_delay == 10.0
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.4, 0.8, 1.6]  # Knative's PT0.2S exponential
    # a Trigger that only sets retry keeps the capped default backoff; one that sets a backoff does not
    assert DeliveryPolicy.from_spec({"retry": 100}).delay(100) == 10.0
    assert DeliveryPolicy.from_spec({"backoffDelay": "PT1S"}).max_delay is None
    with pytest.raises(ValueError, match="retry"):
        DeliveryPolicy.from_spec({"retry": -1})


def test_trigger_delivery_falls_back_to_the_broker_policy() -> None:
    broker = DeliveryPolicy.from_spec({"retry": 2, "backoffDelay": "PT3S"}, dead_letter_uri="http://dls")
    trigger = DeliveryPolicy.from_spec({"retry": 7}, fallback=broker)
    assert (trigger.retry, trigger.backoff_delay, trigger.dead_letter_uri) == (7, 3.0, "http://dls")
    with pytest.raises(ValueError, match="backoffPolicy"):
        DeliveryPolicy.from_spec({"backoffPolicy": "random"})


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (0, True),
        (500, True),
        (503, True),
        (404, True),
        (408, True),
        (409, True),
        (429, True),
        (400, False),
        (401, False),
        (413, False),
    ],
)
def test_retryable_statuses(status: int, retried: bool) -> None:
    assert is_retryable(status) is retried


EVENT = {"type": "org.kubeflow.serving.inference.request", "source": "s", "component": "predictor"}


@pytest.mark.parametrize(
    ("filter_attributes", "passes"),
    [
        ({}, True),
        ({"type": "org.kubeflow.serving.inference.request"}, True),
        ({"type": "org.kubeflow.serving.inference.Request"}, False),  # case-sensitive
        ({"type": "org.kubeflow.serving.inference"}, False),  # exact, not prefix
        ({"component": ""}, True),  # "" = present
        ({"namespace": ""}, False),
        ({"type": "org.kubeflow.serving.inference.request", "component": "transformer"}, False),  # ANDed
    ],
)
def test_exact_match_filters(filter_attributes: dict[str, str], passes: bool) -> None:
    assert matches(filter_attributes, EVENT) is passes


@pytest.mark.parametrize(
    ("filters", "passes"),
    [
        ([{"exact": {"type": "org.kubeflow.serving.inference.request"}}], True),
        ([{"prefix": {"type": "org.kubeflow.serving."}}], True),
        ([{"suffix": {"type": ".response"}}], False),
        ([{"prefix": {"namespace": ""}}], False),  # the attribute must be present
        ([{"any": [{"exact": {"component": "transformer"}}, {"exact": {"component": "predictor"}}]}], True),
        ([{"all": [{"prefix": {"type": "org."}}, {"not": {"exact": {"source": "s"}}}]}], False),
        ([{"prefix": {"type": "org."}}, {"exact": {"source": "s"}}], True),  # the list is ANDed
    ],
)
def test_subscriptions_api_filters(filters: list[dict[str, object]], passes: bool) -> None:
    assert compile_filters(filters)(EVENT) is passes


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([{"cesql": "type = 'x'"}], "not supported"),
        ([{"regex": {"type": "x"}}], "unknown filter dialect"),
        ([{"exact": {"type": "x"}, "prefix": {"type": "x"}}], "exactly one dialect"),
        ([{"all": []}], "non-empty list"),
    ],
)
def test_unsupported_filters_are_refused_with_their_path(
    filters: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filters(filters)
