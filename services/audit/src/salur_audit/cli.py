"""`salur audit ...`: verify the ledger, replay the channelling, cut a checkpoint.

Registered with the kit's `salur` command through the `salur.commands` entry point.
Exit codes: 0 all good, 1 the ledger failed verification, 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)

from salur_audit.canonical import entry_of
from salur_audit.replay import Replay, Report, replay_ledger
from salur_audit.settings import CHECKPOINT_TOPIC, DEV_KEY_PATH, SOURCE_TOPICS
from salur_audit.verifier import Checkpoint
from salur_audit.verify import verify

DEV_DATABASE_URL = "postgresql://salur:salur@127.0.0.1:55432/salur_audit"


class Progress:
    """A plain-text progress bar on stderr, shown only for long runs."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, minimum: int = 10_000) -> None:
        self.label, self.stream, self.minimum, self.shown = label, stream, minimum, False

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum:
            return
        width = 30
        filled = width * min(done, total) // max(total, 1)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.shown = False


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subcommands.add_parser("audit", help="verify and replay the audit ledger")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "verify", help="recompute the ledger and check checkpoints and Kafka agreement"
    )
    _common(check)
    check.add_argument("--public-key", help="raw Ed25519 public key (base64) or a key file")
    check.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        help="a checkpoint held outside (JSON file, as published); repeatable",
    )
    check.add_argument("--checkpoint-topic", default=CHECKPOINT_TOPIC)
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(handler=_verify, command_parser=check)

    replay = commands.add_parser("replay", help="the channelling's totals and anomalies at a time")
    _common(replay)
    replay.add_argument(
        "--as-of", type=_aware_time, help="RFC 3339 time with offset; now by default"
    )
    replay.add_argument("--format", choices=("table", "json", "csv"), default="table")
    replay.add_argument(
        "--from-kafka", action="store_true", help="read the topics from offset zero, not the ledger"
    )
    replay.set_defaults(handler=_replay, command_parser=replay)

    cut = commands.add_parser(
        "checkpoint", help="sign and publish a checkpoint of the ledger now (service settings)"
    )
    cut.set_defaults(handler=_checkpoint, command_parser=cut)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SALUR_AUDIT_DATABASE_URL", DEV_DATABASE_URL),
        help="the audit database (read only); env SALUR_AUDIT_DATABASE_URL",
    )
    parser.add_argument(
        "--kafka",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers",
    )
    parser.add_argument("--no-kafka", action="store_true", help="skip everything Kafka")
    parser.add_argument("--topics", nargs="+", default=list(SOURCE_TOPICS))


def _aware_time(text: str) -> dt.datetime:
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if time.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add Z or +07:00)")
    return time


def _public_key(given: str | None) -> Ed25519PublicKey:
    if given is None:
        path = Path(os.environ.get("SALUR_AUDIT_SIGNING_KEY", DEV_KEY_PATH))
        if not path.exists():
            raise ValueError("give --public-key (the ledger's key: GET /ledger shows it)")
        given = str(path)
    path = Path(given)
    if path.exists():
        raw = path.read_bytes()
        if b"PRIVATE KEY" in raw:
            private = load_pem_private_key(raw, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            return private.public_key()
        if b"PUBLIC KEY" in raw:
            public = load_pem_public_key(raw)
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            return public
        given = raw.decode().strip()
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(given))


def _held(paths: Sequence[Path]) -> list[Checkpoint]:
    return [Checkpoint.from_json(json.loads(path.read_text())) for path in paths]


def _verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        key = _public_key(args.public_key)
        held = _held(args.checkpoint)
    except (ValueError, KeyError, OSError) as error:
        parser.error(str(error))
    progress = {"entries": Progress("entries"), "kafka": Progress("kafka")}

    def report(stage: str, done: int, total: int) -> None:
        if stage == "kafka":
            progress["entries"].close()  # the entries bar ends its line before the next
        progress[stage](done, total)

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(args.database_url) as conn:
            result = await verify(
                conn,
                key,
                external=held,
                kafka=None if args.no_kafka else args.kafka,
                topics=args.topics,
                checkpoint_topic=args.checkpoint_topic,
                progress=report,
            )
        progress["entries"].close()
        progress["kafka"].close()
        if args.format == "json":
            print(json.dumps(result.summary(), indent=2))
        else:
            for finding in result.findings:
                print(f"FAIL {finding}")
            verdict = "OK" if result.ok else f"FAILED ({len(result.findings)} findings shown)"
            print(
                f"ledger {verdict}: {result.size} entries, {result.checkpoints} checkpoints, "
                f"{result.kafka_records} Kafka records compared"
            )
        return 0 if result.ok else 1

    return asyncio.run(run())


def _replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    progress = Progress("replay")

    async def run() -> Report:
        if args.from_kafka:
            return await _replay_kafka(args.kafka, args.topics, args.as_of, progress)
        async with await psycopg.AsyncConnection.connect(args.database_url) as conn:
            return await replay_ledger(conn, args.as_of, progress)

    report = asyncio.run(run())
    progress.close()
    sys.stdout.write(render(report, args.format))
    return 0


async def _replay_kafka(
    bootstrap: str, topics: Sequence[str], as_of: dt.datetime | None, progress: Progress
) -> Report:
    from salur_audit.kafka_io import read_to_end

    # Kafka orders only within a partition; time then topic order gives one sequence.
    documents = []
    async for record in read_to_end(bootstrap, topics, progress=progress):
        try:
            entry = entry_of(
                key=record.key,
                value=record.value,
                headers=record.headers,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        except ValueError:
            continue
        documents.append((entry.time, record.topic, record.partition, record.offset, entry))
    documents.sort(key=lambda item: item[:4])
    state = Replay(as_of)
    seen: set[tuple[str, str]] = set()
    for *_, entry in documents:
        if entry.identity not in seen:
            seen.add(entry.identity)
            state.apply(json.loads(entry.canonical))
    return state.report()


def render(report: Report, form: str) -> str:
    if form == "json":
        return json.dumps(report.as_json(), indent=2) + "\n"
    rows = report.rows()
    columns = ("level", "id", "committed", "disbursed", "spent", "returned")
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        for anomaly in report.anomalies:
            writer.writerow({"level": "anomaly", "id": anomaly.subject, "committed": anomaly.rule})
        return out.getvalue()
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
    lines = [
        f"as of {report.as_of.isoformat() if report.as_of else 'now'}: {report.events} events",
        "  ".join(c.ljust(widths[c]) for c in columns),
    ]
    for row in rows:
        lines.append(
            "  ".join(
                row[c].rjust(widths[c]) if c not in ("level", "id") else row[c].ljust(widths[c])
                for c in columns
            )
        )
    lines.append(f"anomalies: {len(report.anomalies)}")
    lines.extend(f"  {a.rule}: {a.subject}: {a.detail}" for a in report.anomalies)
    return "\n".join(lines) + "\n"


def _checkpoint(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """An on-demand checkpoint: the current head, signed now, with the last frontier."""
    from pydantic import ValidationError
    from salur_kit.kafka import new_producer

    from salur_audit import signing
    from salur_audit.sequencer import Sequencer
    from salur_audit.settings import AuditSettings
    from salur_audit.writer import LedgerWriter

    try:
        settings = AuditSettings()
        signer = signing.load_or_generate(
            settings.key_path, development=settings.environment == "development"
        )
    except (ValidationError, signing.SigningKeyError) as error:
        parser.error(str(error))

    async def run() -> Checkpoint:
        producer = new_producer(settings.kafka_bootstrap_servers, client_id="salur-audit-cli")
        writer = LedgerWriter(settings.writer_url, signer)
        await producer.start()
        try:
            await writer.load()
            sealed = await writer.seal([], writer.frontier)
            sequencer = Sequencer(
                writer=writer,
                producer=producer,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                source_topics=settings.source_topics,
                checkpoint_topic=settings.checkpoint_topic,
            )
            await sequencer.publish(sealed.checkpoint)
            return sealed.checkpoint
        finally:
            await writer.close()
            await producer.stop()

    print(json.dumps(asyncio.run(run()).to_json(), indent=2))
    return 0
