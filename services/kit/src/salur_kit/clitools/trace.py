"""`salur trace [TRACE_ID]`: one trace's spans as a tree, from the local trace files.

Without an id, lists the most recent traces, so there is always a way to find one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from salur_kit import tracefile
from salur_kit.tracefile import SpanRecord

TRACE_ID = re.compile(r"^[0-9a-f]{8,32}$")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "trace",
        help="show a trace's spans as a tree (service, name, duration, parent links)",
        description=(
            "Render one trace from the span files services write in development "
            f"(${tracefile.DIR_VARIABLE}, default {tracefile.DEFAULT_DIR}/). Without a "
            "trace id, list the most recent traces. Trace ids appear in every JSON log "
            "line (trace_id) and in each event's ce_traceparent header. "
            "Exit status: 0 shown, 1 no such trace (or no traces), 2 usage."
        ),
    )
    parser.add_argument(
        "trace_id", nargs="?", help="32 hex digits, or a unique prefix of at least 8"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="trace file directory (default: as above)"
    )
    parser.add_argument(
        "--recent", type=int, default=10, help="how many traces to list without an id"
    )
    parser.set_defaults(handler=_command, command_parser=parser)


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directory: Path = args.dir or tracefile.directory()
    spans = list(tracefile.read_spans(directory))
    if args.trace_id is None:
        if args.recent <= 0:
            parser.error("--recent must be positive")
        return _list_recent(spans, args.recent, directory)
    wanted = args.trace_id.lower()
    if not TRACE_ID.match(wanted):
        parser.error(f"{args.trace_id!r} is not a trace id (32 hex digits, or 8+ as a prefix)")
    ids = {span.trace_id for span in spans if span.trace_id.startswith(wanted)}
    if len(ids) > 1:
        parser.error(f"prefix {wanted} matches {len(ids)} traces; give more digits")
    if not ids:
        print(f"no spans of trace {wanted} in {directory}/")
        return 1
    [trace_id] = ids
    print("\n".join(render([s for s in spans if s.trace_id == trace_id])))
    return 0


def render(spans: Sequence[SpanRecord]) -> list[str]:
    """The tree: each span under its parent, siblings by start time, offsets from the start.

    A span whose parent is not in the files (not exported yet, or from an uninstrumented
    caller) becomes a root marked with the missing parent's id.
    """
    by_id = {span.span_id: span for span in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in by_id else None
        children.setdefault(parent, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda span: (span.start_ns, span.span_id))
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    services = sorted({span.service for span in spans})
    lines = [
        f"trace {spans[0].trace_id}  {len(spans)} spans  {len(services)} services "
        f"({', '.join(services)})  {(end - start) / 1e6:.1f} ms"
    ]

    def walk(span: SpanRecord, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        orphan = ""
        if root and span.parent_span_id is not None:
            orphan = f"  (parent {span.parent_span_id} not recorded)"
        failed = "  ERROR" if span.status == "error" else ""
        lines.append(
            f"{prefix}{branch}{span.name}  [{span.service}]  {span.duration_ms:.1f} ms"
            f"  +{(span.start_ns - start) / 1e6:.1f} ms{failed}{orphan}"
        )
        kids = children.get(span.span_id, [])
        deeper = prefix if root else prefix + ("   " if last else "│  ")
        for index, child in enumerate(kids):
            walk(child, deeper, index == len(kids) - 1, False)

    for root in children.get(None, []):
        walk(root, "", True, True)
    return lines


def _list_recent(spans: Sequence[SpanRecord], count: int, directory: Path) -> int:
    traces: dict[str, list[SpanRecord]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    if not traces:
        print(f"no traces in {directory}/ (services write them there in development)")
        return 1
    newest = sorted(traces.values(), key=lambda group: max(s.end_ns for s in group))[-count:]
    print(f"{'TRACE ID':<32}  {'STARTED (UTC)':<23}  {'SPANS':>5}  {'MS':>8}  ROOT")
    for group in reversed(newest):
        first = min(group, key=lambda span: span.start_ns)
        started = dt.datetime.fromtimestamp(first.start_ns / 1e9, dt.UTC)
        millis = started.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
        took = (max(s.end_ns for s in group) - first.start_ns) / 1e6
        print(
            f"{first.trace_id:<32}  {millis:<23}  {len(group):>5}  {took:>8.1f}  "
            f"{first.name} [{first.service}]"
        )
    return 0
