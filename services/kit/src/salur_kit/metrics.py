"""Prometheus metrics in the text exposition format 0.0.4, without a client library.

A `MetricsRegistry` holds counters, gauges and histograms that code updates as work
happens, and *collectors*: async callables asked at scrape time for figures that live
elsewhere (the relay's position in Postgres, a consumer group's offsets in Kafka). A
collector that fails or is slow is left out of that scrape and reported by
`salur_metrics_collector_up`, so one unreachable dependency never hides the other figures.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; from a cached read (~1 ms) to a slow command under load.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Kind = Literal["counter", "gauge", "histogram"]
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Sample:
    """One line of the exposition: `<family name><suffix>{labels} value`."""

    labels: Mapping[str, str]
    value: float
    suffix: str = ""


@dataclass(frozen=True)
class Family:
    """A metric family as exposed: its name, type, help text and samples."""

    name: str
    kind: Kind
    help: str
    samples: Sequence[Sample]


Collector = Callable[[], Awaitable[Iterable[Family]]]


class _Metric:
    kind: Kind

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"invalid label name {label!r}")
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)

    def _key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def _labels(self, key: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self.labelnames, key, strict=True))

    def collect(self) -> Family:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up (events, messages); exposed with the `_total` suffix."""

    kind: Kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def collect(self) -> Family:
        samples = [Sample(self._labels(k), v, "_total") for k, v in self._values.items()]
        return Family(self.name, self.kind, self.help, samples)


class Gauge(_Metric):
    """A value that goes up and down (a lag, a queue length)."""

    kind: Kind = "gauge"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def set(self, value: float, **labels: str) -> None:
        self._values[self._key(labels)] = value

    def collect(self) -> Family:
        samples = [Sample(self._labels(k), v) for k, v in self._values.items()]
        return Family(self.name, self.kind, self.help, samples)


@dataclass
class _Observations:
    buckets: list[int]
    total: float = 0.0
    count: int = 0


class Histogram(_Metric):
    """Observations counted into fixed buckets (cumulative on exposition), with sum and count."""

    kind: Kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = sorted(set(buckets))
        if not bounds or any(math.isnan(b) for b in bounds):
            raise ValueError("a histogram needs bucket bounds")
        if bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.bounds = tuple(bounds)
        self._series: dict[tuple[str, ...], _Observations] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Observations([0] * len(self.bounds))
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                series.buckets[index] += 1
                break
        series.total += value
        series.count += 1

    def collect(self) -> Family:
        samples: list[Sample] = []
        for key, series in self._series.items():
            labels = self._labels(key)
            cumulative = 0
            for bound, count in zip(self.bounds, series.buckets, strict=True):
                cumulative += count
                le = {**labels, "le": format_value(bound)}
                samples.append(Sample(le, cumulative, "_bucket"))
            samples.append(Sample(labels, series.total, "_sum"))
            samples.append(Sample(labels, series.count, "_count"))
        return Family(self.name, self.kind, self.help, samples)


M = TypeVar("M", bound=_Metric)


class MetricsRegistry:
    """The metrics of one service (one per API, so tests can run several in one process)."""

    def __init__(self, collector_timeout_seconds: float = 2.0) -> None:
        self.collector_timeout_seconds = collector_timeout_seconds
        self._metrics: dict[str, _Metric] = {}
        self._collectors: dict[str, Collector] = {}

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._register(Counter(name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._register(Gauge(name, help, labelnames))

    def histogram(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._register(Histogram(name, help, labelnames, buckets))

    def add_collector(self, name: str, collector: Collector) -> None:
        if name in self._collectors:
            raise ValueError(f"collector {name!r} is already registered")
        self._collectors[name] = collector

    def _register(self, metric: M) -> M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self._metrics[metric.name] = metric
        return metric

    async def collect(self) -> list[Family]:
        families = [metric.collect() for metric in self._metrics.values()]
        names = list(self._collectors)
        results = await asyncio.gather(
            *(self._run(name) for name in names), return_exceptions=False
        )
        up: list[Sample] = []
        for name, result in zip(names, results, strict=True):
            up.append(Sample({"collector": name}, 0.0 if result is None else 1.0))
            families.extend(result or ())
        if up:
            families.append(
                Family(
                    "salur_metrics_collector_up",
                    "gauge",
                    "1 if the collector answered in time at this scrape, else 0.",
                    up,
                )
            )
        return families

    async def _run(self, name: str) -> list[Family] | None:
        try:
            async with asyncio.timeout(self.collector_timeout_seconds):
                return list(await self._collectors[name]())
        except Exception as error:
            log.warning(
                "metrics collector failed",
                extra={"fields": {"collector": name, "error": repr(error)}},
            )
            return None

    async def render(self) -> str:
        return exposition(await self.collect())


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def exposition(families: Iterable[Family]) -> str:
    """The text format 0.0.4: HELP and TYPE once per family, then its samples."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
            selector = f"{{{labels}}}" if labels else ""
            lines.append(f"{family.name}{sample.suffix}{selector} {format_value(sample.value)}")
    return "\n".join(lines) + "\n"


_SAMPLE_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)"
)
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


_ESCAPED = re.compile(r"\\(.)")


def _unescape(match: re.Match[str]) -> str:
    return "\n" if match[1] == "n" else match[1]


@dataclass(frozen=True)
class ParsedSample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse(text: str) -> list[ParsedSample]:
    """Samples of an exposition (what `salur status` reads from each service's /metrics)."""
    samples: list[ParsedSample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line)
        if match is None:
            continue
        labels = {
            key: _ESCAPED.sub(_unescape, value)
            for key, value in _LABEL_PAIR.findall(match["labels"] or "")
        }
        samples.append(ParsedSample(match["name"], labels, float(match["value"])))
    return samples
