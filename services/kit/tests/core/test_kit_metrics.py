"""The Prometheus text exposition: what a scraper reads must be exactly what was counted."""

from __future__ import annotations

import asyncio
import math

import pytest
from salur_kit.metrics import Family, MetricsRegistry, Sample, exposition, parse

pytestmark = pytest.mark.unit


async def test_a_counter_is_exposed_with_help_type_and_the_total_suffix() -> None:
    registry = MetricsRegistry()
    events = registry.counter("salur_things", "Things seen.", ("kind",))
    events.inc(kind="a")
    events.inc(2, kind="a")
    events.inc(kind="b")
    text = await registry.render()
    assert text.splitlines() == [
        "# HELP salur_things Things seen.",
        "# TYPE salur_things counter",
        'salur_things_total{kind="a"} 3',
        'salur_things_total{kind="b"} 1',
    ]


async def test_a_histogram_counts_cumulatively_into_its_buckets_with_sum_and_count() -> None:
    registry = MetricsRegistry()
    latency = registry.histogram("salur_latency_seconds", "Latency.", ("route",), (0.1, 0.5))
    for value in (0.05, 0.1, 0.3, 7.0):
        latency.observe(value, route="/x")
    samples = {(s.name, s.labels.get("le")): s.value for s in parse(await registry.render())}
    assert samples == {
        ("salur_latency_seconds_bucket", "0.1"): 2,
        ("salur_latency_seconds_bucket", "0.5"): 3,
        ("salur_latency_seconds_bucket", "+Inf"): 4,
        ("salur_latency_seconds_sum", None): pytest.approx(7.45),
        ("salur_latency_seconds_count", None): 4,
    }


async def test_label_values_are_escaped_and_read_back_unchanged() -> None:
    registry = MetricsRegistry()
    gauge = registry.gauge("salur_odd", "A help text\nover two lines \\ with a backslash.", ("v",))
    odd = 'quote " backslash \\ newline \n end'
    gauge.set(1.5, v=odd)
    text = await registry.render()
    assert "# HELP salur_odd A help text\\nover two lines \\\\ with a backslash." in text
    [sample] = parse(text)
    assert sample.labels == {"v": odd}
    assert sample.value == 1.5


def test_labels_must_match_the_declared_names() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("salur_c", "c", ("group",))
    with pytest.raises(ValueError, match="takes labels"):
        counter.inc(topic="t")
    with pytest.raises(ValueError, match="cannot go down"):
        counter.inc(-1, group="g")
    with pytest.raises(ValueError, match="already registered"):
        registry.gauge("salur_c", "again")
    with pytest.raises(ValueError, match="invalid label"):
        registry.histogram("salur_h", "h", ("le",))


async def test_a_failing_or_slow_collector_is_left_out_and_reported_down() -> None:
    registry = MetricsRegistry(collector_timeout_seconds=0.2)

    async def fine() -> list[Family]:
        return [Family("salur_fine", "gauge", "fine", [Sample({}, 7)])]

    async def broken() -> list[Family]:
        raise ConnectionError("postgres is away")

    async def slow() -> list[Family]:
        await asyncio.sleep(5)
        return []

    registry.add_collector("fine", fine)
    registry.add_collector("broken", broken)
    registry.add_collector("slow", slow)
    samples = parse(await registry.render())
    up = {s.labels["collector"]: s.value for s in samples if s.name == "salur_metrics_collector_up"}
    assert up == {"fine": 1, "broken": 0, "slow": 0}
    assert [s.value for s in samples if s.name == "salur_fine"] == [7]


def test_special_values_use_the_exposition_spelling() -> None:
    text = exposition(
        [Family("salur_v", "gauge", "v", [Sample({"k": "inf"}, math.inf), Sample({}, 0.25)])]
    )
    assert 'salur_v{k="inf"} +Inf' in text
    assert "salur_v 0.25" in text
