"""`salur audit verify` and `salur audit replay` as an operator runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import psycopg
import pytest
from salur_audit.kafka_io import read_to_end
from salur_audit.signing import generate
from salur_audit.testing import Story, build_ledger, create_topics, delete_topics, unique_names
from salur_audit.verifier import Checkpoint
from salur_kit.cli import main

pytestmark = pytest.mark.integration
LedgerDb = tuple[str, Path, list[Checkpoint]]


@pytest.fixture
async def ledger_db(fresh_database_url: str, tmp_path: Path) -> LedgerDb:
    signer = generate(tmp_path / "key.pem")
    _, checkpoints = await build_ledger(
        fresh_database_url, signer, Story.of(12).events, [20, 45, 57]
    )
    return fresh_database_url, tmp_path / "key.pem", checkpoints


def _verify(url: str, key: Path, *extra: str) -> int:
    return main(
        ["audit", "verify", "--database-url", url, "--public-key", str(key), "--no-kafka", *extra]
    )


def test_verify_passes_a_clean_ledger(
    ledger_db: LedgerDb, capsys: pytest.CaptureFixture[str]
) -> None:
    url, key, _ = ledger_db
    assert _verify(url, key) == 0
    assert "ledger OK: 57 entries, 3 checkpoints" in capsys.readouterr().out


def test_verify_exits_non_zero_naming_an_edited_entry(
    ledger_db: LedgerDb, capsys: pytest.CaptureFixture[str]
) -> None:
    url, key, _ = ledger_db
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_entries SET canonical = canonical || ' '::bytea WHERE seq = 33")
    assert _verify(url, key, "--format", "json") == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is False
    assert ("edited-entry", "entry 33") in [(f["kind"], f["where"]) for f in summary["findings"]]


def test_verify_names_a_forged_checkpoint_given_from_a_file(
    ledger_db: LedgerDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, key, checkpoints = ledger_db
    forged = checkpoints[1].to_json() | {"size": 44}
    (tmp_path / "held.json").write_text(json.dumps(forged))
    assert _verify(url, key, "--checkpoint", str(tmp_path / "held.json")) == 1
    assert "FAIL forged-checkpoint: checkpoint 2 (size 44)" in capsys.readouterr().out


def test_verify_refuses_to_run_without_a_key(
    ledger_db: LedgerDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, _ = ledger_db
    monkeypatch.setenv("SALUR_AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "verify", "--database-url", url, "--no-kafka"])
    assert exit_.value.code == 2


def test_replay_prints_json_csv_and_a_table(
    ledger_db: LedgerDb, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, _ = ledger_db
    assert main(["audit", "replay", "--database-url", url, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["agreements"]) == 12
    assert report["anomalies"] == []
    assert main(["audit", "replay", "--database-url", url, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["level"] for r in rows} == {"bkm", "partner", "opportunity", "agreement"}
    bkm_total = sum(float(r["committed"]) for r in rows if r["level"] == "bkm")
    assert bkm_total == sum(float(a["committed"]) for a in report["agreements"].values())
    assert main(["audit", "replay", "--database-url", url]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[1].split() == [
        "level",
        "id",
        "committed",
        "disbursed",
        "spent",
        "returned",
    ]
    assert "anomalies: 0" in table


def test_replay_as_of_a_past_moment_counts_only_what_had_happened(
    ledger_db: LedgerDb, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, _ = ledger_db
    events = Story.of(12).events
    moment = events[20].time
    assert (
        main(
            [
                "audit",
                "replay",
                "--database-url",
                url,
                "--format",
                "json",
                "--as-of",
                moment.isoformat(),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == 21
    with pytest.raises(SystemExit):
        main(["audit", "replay", "--database-url", url, "--as-of", "2026-06-30T00:00:00"])


async def test_an_on_demand_checkpoint_signs_the_head_and_publishes_it(
    ledger_db: LedgerDb,
    kafka_bootstrap_servers: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, key, checkpoints = ledger_db
    topic = unique_names(1, "test.audit.checkpoints")[0]
    await create_topics(kafka_bootstrap_servers, [topic], partitions=1)
    for name, value in {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "SALUR_AUDIT_SIGNING_KEY": str(key),
        "SALUR_AUDIT_CHECKPOINT_TOPIC": topic,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        assert await asyncio.to_thread(main, ["audit", "checkpoint"]) == 0
        cut = json.loads(capsys.readouterr().out)
        assert (cut["number"], cut["size"], cut["root"]) == (4, 57, checkpoints[-1].root.hex())
        published = [r async for r in read_to_end(kafka_bootstrap_servers, [topic])]
        assert [json.loads(r.value)["number"] for r in published] == [4]
        args = ["--kafka", kafka_bootstrap_servers, "--checkpoint-topic", topic, "--topics", topic]
        code = await asyncio.to_thread(
            main, ["audit", "verify", "--database-url", url, "--public-key", str(key), *args]
        )
        assert code == 0
    finally:
        await delete_topics(kafka_bootstrap_servers, [topic])
