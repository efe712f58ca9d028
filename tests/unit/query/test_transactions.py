"""BEGIN ... COMMIT: writes kept aside, seen by the statements after them, committed together."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import lumadb
from lumadb.errors import DocumentExists, QueryError, SchemaViolation, VersionMismatch


@pytest.fixture
def db() -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", shards=4) as opened:
        opened.create_collection("acct")
        opened.collection("acct").put_many([(f"a{i}", {"bal": 100}) for i in range(8)])
        yield opened


def _balances(db: lumadb.Database) -> dict[str, int]:
    return {r["id"]: r["bal"] for r in db.query("SELECT id, bal FROM acct")}


def test_statements_see_the_buffer_and_commit_together(db: lumadb.Database) -> None:
    result = db.execute(
        "BEGIN;"
        "UPDATE acct SET bal = bal - 30 WHERE id = 'a0';"
        "UPDATE acct SET bal = bal + 30 WHERE id = 'a5';"
        "INSERT INTO acct (id, bal) VALUES ('new', 1);"
        "DELETE FROM acct WHERE id = 'a7';"
        "COMMIT"
    )
    assert result.rows == [[1]]  # the last statement's result: DELETE's count
    found = _balances(db)
    assert found["a0"] == 70
    assert found["a5"] == 130
    assert found["new"] == 1
    assert "a7" not in found
    inside = db.query(
        "BEGIN; UPDATE acct SET bal = 0 WHERE id = 'a1';"
        "SELECT sum(bal) AS total, count(*) AS n FROM acct; ROLLBACK"
    )
    assert inside == [{"total": 601, "n": 8}]  # what the transaction saw: a1 at 0
    assert _balances(db)["a1"] == 100  # rolled back


def test_reads_inside_see_earlier_writes(db: lumadb.Database) -> None:
    db.query("CREATE INDEX acct_bal ON acct (bal)")
    seen = db.query(
        "BEGIN; UPDATE acct SET bal = 5 WHERE id = 'a2';"
        "SELECT id FROM acct WHERE bal = 5; ROLLBACK"  # the index does not hold the buffer
    )
    assert seen == [{"id": "a2"}]
    assert db.query("BEGIN; ROLLBACK") == [{"transaction": "rolled back", "writes": 0}]
    with pytest.raises(QueryError, match="without COMMIT"):
        db.query("BEGIN; UPDATE acct SET bal = 5 WHERE id = 'a2'")
    assert _balances(db)["a2"] == 100  # nothing written


def test_a_refused_write_refuses_the_whole_transaction(db: lumadb.Database) -> None:
    db.query("""ALTER COLLECTION acct SET SCHEMA '{"properties": {"bal": {"minimum": 0}}}'""")
    with pytest.raises(SchemaViolation):
        db.query(
            "BEGIN; UPDATE acct SET bal = bal + 500 WHERE id = 'a3';"
            "UPDATE acct SET bal = bal - 500 WHERE id = 'a4'; COMMIT"
        )
    found = _balances(db)
    assert (found["a3"], found["a4"]) == (100, 100)
    with pytest.raises(DocumentExists):
        db.query("BEGIN; INSERT INTO acct (id, bal) VALUES ('a1', 1); COMMIT")


def test_concurrent_transfers_lose_no_update(db: lumadb.Database) -> None:
    transfer = (
        "BEGIN; UPDATE acct SET bal = bal - 1 WHERE id = 'a0';"
        "UPDATE acct SET bal = bal + 1 WHERE id = ?; COMMIT"
    )
    conflicts = []

    def work(target: str) -> None:
        done = 0
        while done < 60:
            try:
                db.query(transfer, [target])
                done += 1
            except VersionMismatch:
                conflicts.append(1)  # someone committed first: try again

    threads = [threading.Thread(target=work, args=(f"a{i}",)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = _balances(db)
    assert found["a0"] == 100 - 180
    assert [found[f"a{i}"] for i in (1, 2, 3)] == [160, 160, 160]
    assert sum(found.values()) == 800


def test_misplaced_statements_are_query_errors(db: lumadb.Database) -> None:
    for text, words in [
        ("COMMIT", "COMMIT without BEGIN"),
        ("ROLLBACK", "ROLLBACK without BEGIN"),
        ("BEGIN; BEGIN; COMMIT", "do not nest"),
        ("BEGIN; CREATE COLLECTION x; COMMIT", "not allowed inside a transaction"),
        ("BEGIN; ALTER COLLECTION acct SET TTL '1d'; COMMIT", "not allowed inside"),
    ]:
        with pytest.raises(QueryError, match=words):
            db.query(text)


def _race(db: lumadb.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make another writer change a0 between the transaction's reads and its commit."""
    from lumadb.query.transactions import Transaction

    pending = Transaction.pending

    def raced(self: Transaction) -> list[object]:
        db.collection("acct").put("a0", {"bal": 1})
        return pending(self)  # type: ignore[return-value]

    monkeypatch.setattr(Transaction, "pending", raced)


TRANSFER = (
    "BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 'a5';"
    "UPDATE acct SET bal = bal - 1 WHERE id = 'a0'; COMMIT"
)


def test_a_write_between_read_and_commit_aborts_it_whole(
    db: lumadb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _race(db, monkeypatch)
    with pytest.raises(VersionMismatch):
        db.query(TRANSFER)
    found = _balances(db)
    assert (found["a0"], found["a5"]) == (1, 100)  # the other write stands; none of this one


def test_canary_a_commit_without_its_checks_loses_the_update(
    db: lumadb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumadb.service.local import LocalService

    commit = LocalService.commit

    def unchecked(self: LocalService, writes: list[tuple[str, str, object, int]]) -> int:
        return commit(self, [(c, i, d, -1) for c, i, d, _ in writes])  # type: ignore[misc]

    monkeypatch.setattr(LocalService, "commit", unchecked)
    _race(db, monkeypatch)
    db.query(TRANSFER)
    assert _balances(db)["a0"] == 99  # the racing write of 1 was overwritten: lost


def test_scans_inside_merge_the_buffer_in_order(db: lumadb.Database) -> None:
    from lumadb.query.transactions import Transaction
    from lumadb.service import ScanRange

    tx = Transaction(db._svc)
    tx.put_if("acct", "a35", {"bal": 1}, None)
    tx.put_if("acct", "a0", {"bal": 2}, tx.get_versioned("acct", "a0")[1])  # type: ignore[index]
    tx.delete("acct", "a6")
    forward = [i for i, _ in tx.scan("acct", ScanRange())]
    assert forward == ["a0", "a1", "a2", "a3", "a35", "a4", "a5", "a7"]
    backward = [i for i, _ in tx.scan("acct", ScanRange(reverse=True, limit=3))]
    assert backward == ["a7", "a5", "a4"]
    assert dict(tx.scan("acct", ScanRange(prefix="a3")))["a35"] == {"bal": 1}
