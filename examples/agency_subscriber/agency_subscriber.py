"""Follow Salur's partnership events as another agency would: IATI-style transactions.

Needs nothing but the public contracts package (`salur-contracts`) and a Kafka client
(`aiokafka`). Each agreement signed is printed as a commitment, each tranche disbursed as
a disbursement, each realisation reported as an expenditure; completions and terminations
(with the unspent funds returned) close an agreement.

Kafka delivers at least once and Salur may publish an event again after a crash, with the
same CloudEvent id and aggregate version. The subscriber therefore remembers, per
aggregate, the last version it printed and skips anything not newer: every event is printed
exactly once, in its aggregate's order (one aggregate's events share a key, hence a
partition). The memory is a small JSON file saved before the Kafka offsets are committed,
so a restart neither repeats nor skips.

    python agency_subscriber.py --bootstrap-servers kafka:9092 --group bappenas-mirror
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from salur_contracts.cloudevents import (
    Envelope,
    MalformedEventError,
    UnknownEventTypeError,
    decode,
)
from salur_contracts.partnerships import (
    AgreementSigned,
    PartnershipCompleted,
    PartnershipTerminated,
    RealisationReported,
    TrancheDisbursed,
)

TOPIC = "salur.partnerships.events.v1"
# IATI TransactionType codes, as the providing partner reports them.
COMMITMENT, DISBURSEMENT, EXPENDITURE = 2, 3, 4


def rupiah(amount: Decimal) -> str:
    return f"IDR {amount:>18,.2f}"


def iati_line(envelope: Envelope) -> str | None:
    """The event as one line, or None for events an agency's books do not record."""
    event = envelope.data
    day = envelope.time.date()
    if isinstance(event, AgreementSigned):
        what, code, amount = "commitment", COMMITMENT, event.amount
        day = event.signed_on or day
    elif isinstance(event, TrancheDisbursed):
        what, code, amount = "disbursement", DISBURSEMENT, event.amount
        day = event.disbursed_on or day
    elif isinstance(event, RealisationReported):
        what, code, amount = "expenditure", EXPENDITURE, event.amount_spent
        day = event.reported_on
    elif isinstance(event, PartnershipCompleted):
        return f"{_day(event.completed_on or day)}  completed  agreement {event.agreement_id}"
    elif isinstance(event, PartnershipTerminated):
        returned = rupiah(event.returned_amount).strip()
        return (
            f"{_day(event.terminated_on or day)}  terminated  agreement {event.agreement_id}"
            f"  returned {returned}"
        )
    else:
        return None
    provider = getattr(event, "partner_name", None) or f"partner {event.partner_id}"
    receiver = event.receiver_name or f"BKM {event.bkm_id}"
    where = " ".join(str(v) for v in (event.aspect, event.region_code) if v is not None)
    return (
        f"{_day(day)}  {what:<12} (IATI {code})  {rupiah(amount)}  {provider} -> {receiver}"
        f"  activity {event.activity_id}  {where}  agreement {event.agreement_id}"
    ).rstrip()


def _day(day: dt.date) -> str:
    return day.isoformat()


class Printed:
    """The newest aggregate version printed per aggregate, kept in a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.versions: dict[str, int] = {}
        if path is not None and path.exists():
            self.versions = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def is_new(self, envelope: Envelope) -> bool:
        return envelope.aggregate_version > self.versions.get(envelope.subject, 0)

    def remember(self, envelope: Envelope) -> None:
        self.versions[envelope.subject] = envelope.aggregate_version

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.versions))
        os.replace(temporary, self.path)


def handle(records: Iterable[Any], printed: Printed, out: Callable[[str], None]) -> None:
    for record in records:
        try:
            envelope = decode(record.key, record.value, record.headers)
        except (MalformedEventError, UnknownEventTypeError) as error:
            # Not ours to fix: note it and go on (a newer catalogue may know the type).
            print(
                f"skipped {record.topic}/{record.partition}@{record.offset}: {error}",
                file=sys.stderr,
            )
            continue
        if not printed.is_new(envelope):
            continue  # a redelivery, or Salur publishing again after a crash
        line = iati_line(envelope)
        if line is not None:
            out(line)
        printed.remember(envelope)


async def follow(
    *,
    bootstrap_servers: str,
    group: str,
    topic: str = TOPIC,
    state: Path | None = None,
    idle_seconds: float | None = None,
    out: Callable[[str], None] = print,
) -> None:
    """Print until cancelled, or until `idle_seconds` pass without a record."""
    printed = Printed(state)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        quiet_since = asyncio.get_running_loop().time()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            now = asyncio.get_running_loop().time()
            if not batches:
                if idle_seconds is not None and now - quiet_since >= idle_seconds:
                    return
                continue
            quiet_since = now
            for records in batches.values():
                handle(records, printed, out)
            printed.save()  # before the commit: a crash in between repeats nothing
            await consumer.commit()
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--group", required=True, help="your agency's consumer group id")
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument(
        "--state", type=Path, default=None, help="JSON file remembering what was printed"
    )
    parser.add_argument(
        "--idle-exit", type=float, default=None, help="stop after this many quiet seconds"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a follower stops
        asyncio.run(
            follow(
                bootstrap_servers=args.bootstrap_servers,
                group=args.group,
                topic=args.topic,
                state=args.state,
                idle_seconds=args.idle_exit,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
