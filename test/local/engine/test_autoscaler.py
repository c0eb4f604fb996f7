"""The KPA decision, table-driven, with a fake clock (no sleeps)."""

from __future__ import annotations

import pytest

from zeroserve.local.engine.autoscaler import (
    AutoscalingSpec,
    MetricSample,
    ScaleDecider,
    ScalerState,
    parse_duration,
)
from zeroserve.local.engine.settings import EngineSettings


def _window(now: float, seconds: int, concurrency: float, rps: float = 0.0) -> list[MetricSample]:
    return [
        MetricSample(time=now - seconds + i + 1, concurrency=concurrency, rps=rps) for i in range(seconds)
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("1m", 60), ("1m30s", 90), ("500ms", 0.5), ("6", 6), ("1h", 3600), ("2.5s", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10x", "s10"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_spec_defaults_are_knatives() -> None:
    spec = AutoscalingSpec.from_annotations({}, EngineSettings())
    assert spec.metric == "concurrency"
    assert spec.target == 100
    assert spec.target_utilization == pytest.approx(0.7)
    assert spec.target_per_instance == pytest.approx(70)
    assert spec.stable_window == 60
    assert spec.panic_window == pytest.approx(6)
    assert spec.panic_threshold == pytest.approx(2.0)
    assert spec.scale_to_zero_grace_period == 30
    assert (spec.min_scale, spec.max_scale, spec.initial_scale) == (0, 0, 1)


def test_spec_from_annotations_kebab_and_camel() -> None:
    ann = {
        "autoscaling.knative.dev/metric": "rps",
        "autoscaling.knative.dev/target": "10",
        "autoscaling.knative.dev/target-utilization-percentage": "50",
        "autoscaling.knative.dev/minScale": "2",
        "autoscaling.knative.dev/max-scale": "5",
        "autoscaling.knative.dev/window": "20s",
        "autoscaling.knative.dev/initial-scale": "3",
        "other/annotation": "x",
    }
    spec = AutoscalingSpec.from_annotations(ann, EngineSettings())
    assert spec.metric == "rps"
    assert spec.target_per_instance == pytest.approx(5)
    assert (spec.min_scale, spec.max_scale, spec.initial_scale) == (2, 5, 3)
    assert spec.stable_window == 20
    assert spec.panic_window == pytest.approx(2)


def test_container_concurrency_caps_the_soft_target() -> None:
    spec = AutoscalingSpec.from_annotations({}, EngineSettings(), container_concurrency=10)
    assert spec.target_per_instance == pytest.approx(7)


def test_invalid_annotation_names_the_prefix() -> None:
    with pytest.raises(ValueError, match=r"autoscaling\.knative\.dev"):
        AutoscalingSpec.from_annotations({"autoscaling.knative.dev/min-scale": "many"}, EngineSettings())
    with pytest.raises(ValueError, match="unsupported metric"):
        AutoscalingSpec.from_annotations({"autoscaling.knative.dev/metric": "cpu"}, EngineSettings())


def test_zero_initial_scale_needs_the_global_switch() -> None:
    ann = {"autoscaling.knative.dev/initial-scale": "0"}
    assert AutoscalingSpec.from_annotations(ann, EngineSettings()).initial_scale == 1
    allowed = EngineSettings(allow_zero_initial_scale=True)
    assert AutoscalingSpec.from_annotations(ann, allowed).initial_scale == 0


SPEC = AutoscalingSpec(target=10, target_utilization=1.0, stable_window=60)


@pytest.mark.parametrize(
    ("concurrency", "ready", "desired"),
    [
        (10, 1, 1),  # exactly at target
        (25, 3, 3),  # 2.5 -> 3
        (40, 4, 4),
        (5, 4, 2),  # scale down limited to ready / max-scale-down-rate
        (0.5, 1, 1),
    ],
)
def test_stable_mode_divides_demand_by_target(concurrency: float, ready: int, desired: int) -> None:
    now = 1000.0
    decision = ScaleDecider().decide(
        _window(now, 60, concurrency),
        SPEC,
        ScalerState(last_active=now),
        ready=ready,
        current=ready,
        pending=0,
        now=now,
    )
    assert decision.desired == desired
    assert not decision.panic


def test_rps_metric_uses_request_rate() -> None:
    spec = AutoscalingSpec(metric="rps", target=10, target_utilization=1.0)
    now = 100.0
    decision = ScaleDecider().decide(
        _window(now, 60, concurrency=0.1, rps=35), spec, ScalerState(), ready=4, current=4, pending=0, now=now
    )
    assert decision.desired == 4


def test_panic_mode_scales_up_fast_and_never_down_until_a_stable_window_passes() -> None:
    decider = ScaleDecider()
    now = 1000.0
    # quiet for a minute at target 10, then a 6 s burst of 50 concurrent (5x capacity of one instance)
    window = _window(now - 6, 54, 1.0) + _window(now, 6, 50.0)
    d1 = decider.decide(window, SPEC, ScalerState(last_active=now), ready=1, current=1, pending=0, now=now)
    assert d1.panic
    assert d1.desired == 5
    # the burst stops: panic holds the count for a stable window
    now2 = now + 10
    quiet = _window(now2, 60, 0.0)
    d2 = decider.decide(quiet, SPEC, d1.state, ready=5, current=5, pending=0, now=now2)
    assert d2.panic and d2.desired == 5
    now3 = now + 61
    d3 = decider.decide(_window(now3, 60, 0.0), SPEC, d2.state, ready=5, current=5, pending=0, now=now3)
    assert not d3.panic
    assert d3.desired < 5


def test_below_panic_threshold_stays_stable() -> None:
    now = 50.0
    window = _window(now, 60, 15.0)  # 150% of one instance's capacity: under the 200% threshold
    d = ScaleDecider().decide(
        window, SPEC, ScalerState(last_active=now), ready=1, current=1, pending=0, now=now
    )
    assert not d.panic
    assert d.desired == 2


def test_scale_to_zero_waits_stable_window_plus_grace() -> None:
    spec = AutoscalingSpec(target=10, stable_window=10, scale_to_zero_grace_period=5)
    decider = ScaleDecider()
    state = ScalerState(last_active=100.0)
    for now, expected in [(105.0, 1), (112.0, 1), (114.9, 1), (115.0, 0), (200.0, 0)]:
        d = decider.decide(_window(now, 10, 0.0), spec, state, ready=1, current=1, pending=0, now=now)
        assert d.desired == expected, (now, d.reason)
        state = d.state


def test_traffic_in_the_window_keeps_the_last_instance() -> None:
    spec = AutoscalingSpec(target=10, stable_window=10, scale_to_zero_grace_period=0)
    now = 200.0
    window = [*_window(now - 5, 5, 0.0), MetricSample(now - 4, 0.2, 1), *_window(now, 4, 0.0)]
    d = ScaleDecider().decide(
        window, spec, ScalerState(last_active=0), ready=1, current=1, pending=0, now=now
    )
    assert d.desired == 1


def test_retention_period_extends_the_linger() -> None:
    spec = AutoscalingSpec(stable_window=10, scale_to_zero_grace_period=5, scale_to_zero_retention=30)
    d = ScaleDecider().decide([], spec, ScalerState(last_active=0), ready=1, current=1, pending=0, now=20)
    assert d.desired == 1
    d = ScaleDecider().decide([], spec, ScalerState(last_active=0), ready=1, current=1, pending=0, now=40)
    assert d.desired == 0


def test_min_scale_prevents_scale_to_zero_and_max_scale_caps() -> None:
    decider = ScaleDecider()
    spec = AutoscalingSpec(target=10, target_utilization=1.0, min_scale=2, max_scale=3, stable_window=10)
    d = decider.decide([], spec, ScalerState(), ready=2, current=2, pending=0, now=10_000)
    assert d.desired == 2
    d = decider.decide(_window(100, 10, 100.0), spec, ScalerState(), ready=2, current=2, pending=0, now=100)
    assert d.desired == 3


def test_disabled_scale_to_zero_keeps_one() -> None:
    spec = AutoscalingSpec(enable_scale_to_zero=False, stable_window=10)
    d = ScaleDecider().decide([], spec, ScalerState(), ready=1, current=1, pending=0, now=10_000)
    assert d.desired == 1


def test_pending_requests_at_zero_activate_the_revision() -> None:
    spec = AutoscalingSpec(stable_window=10, activation_scale=2)
    decider = ScaleDecider()
    idle = decider.decide([], spec, ScalerState(), ready=0, current=0, pending=0, now=500)
    assert idle.desired == 0
    woken = decider.decide([], spec, ScalerState(), ready=0, current=0, pending=3, now=500)
    assert woken.desired == 2
    assert woken.state.last_active == 500


def test_scale_down_delay_holds_the_peak() -> None:
    spec = AutoscalingSpec(target=10, target_utilization=1.0, stable_window=10, scale_down_delay=30)
    decider = ScaleDecider()
    d1 = decider.decide(
        _window(100, 10, 30.0), spec, ScalerState(last_active=100), ready=3, current=3, pending=0, now=100
    )
    assert d1.desired == 3
    d2 = decider.decide(_window(115, 10, 10.0), spec, d1.state, ready=3, current=3, pending=0, now=115)
    assert d2.desired == 3
    d3 = decider.decide(_window(131, 10, 10.0), spec, d2.state, ready=3, current=3, pending=0, now=131)
    assert d3.desired == 1


def test_hpa_class_scales_on_cpu_with_tolerance_and_stabilization() -> None:
    ann = {
        "autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev",
        "autoscaling.knative.dev/target": "60",
        "autoscaling.knative.dev/max-scale": "5",
        "autoscaling.knative.dev/window": "30s",
    }
    spec = AutoscalingSpec.from_annotations(ann, EngineSettings())
    assert (spec.klass, spec.metric, spec.target, spec.lower_bound) == ("hpa", "cpu", 60, 1)
    decider = ScaleDecider()

    def at(now: float, cpu: float, ready: int, state: ScalerState) -> tuple[int, ScalerState]:
        d = decider.decide(
            [MetricSample(now, 0, 0, cpu=cpu)], spec, state, ready=ready, current=ready, pending=0, now=now
        )
        return d.desired, d.state

    desired, state = at(100, 150.0, 2, ScalerState())  # 2 x 150/60 = 5
    assert desired == 5
    desired, state = at(110, 63.0, 5, state)  # within 10% of target: stay
    assert desired == 5
    desired, state = at(120, 12.0, 5, state)  # wants 1, but held by the 30 s stabilization window
    assert desired == 5
    desired, state = at(141, 12.0, 5, state)  # 30 s after 5 was last recommended (t=110)
    assert desired == 1
    desired, _ = at(200, 0.0, 1, state)  # never to zero
    assert desired == 1


def test_hpa_memory_metric_and_kpa_metrics_are_class_specific() -> None:
    hpa = {
        "autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev",
        "autoscaling.knative.dev/metric": "memory",
    }
    spec = AutoscalingSpec.from_annotations(
        {**hpa, "autoscaling.knative.dev/target": "200"}, EngineSettings()
    )
    d = ScaleDecider().decide(
        [MetricSample(1, 0, 0, memory=500)], spec, ScalerState(), ready=1, current=1, pending=0, now=1
    )
    assert d.desired == 3
    with pytest.raises(ValueError, match="for the kpa class"):
        AutoscalingSpec.from_annotations({"autoscaling.knative.dev/metric": "memory"}, EngineSettings())
    with pytest.raises(ValueError, match="for the hpa class"):
        AutoscalingSpec.from_annotations({**hpa, "autoscaling.knative.dev/metric": "rps"}, EngineSettings())
