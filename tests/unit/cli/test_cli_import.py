"""``luma import COLLECTION FILE``: JSON Lines in, with ids or without, and every bad line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

import lumadb
from lumadb.cli import _jsonl

WriteJsonl = Callable[..., Path]
OpenData = Callable[[], lumadb.Database]


def _docs(open_data: OpenData, name: str = "users") -> dict[str, dict[str, object]]:
    return dict(open_data().collection(name).scan())


def test_import_with_ids(luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData) -> None:
    rows = [{"id": f"u{i:02d}", "n": i, "tags": ["a", i]} for i in range(25)]
    assert_ok(luma("collections", "create", "users"))
    out = assert_ok(luma("import", "users", str(write_jsonl(rows)), "--batch-size", "7"))
    assert "imported 25 documents into users" in out
    assert _docs(open_data) == {r["id"]: r for r in rows}


def test_import_without_ids_generates_them(
    luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData
) -> None:
    rows = [{"n": 1}, {"n": 2}, "", "   ", {"id": "fixed", "n": 3}]
    assert_ok(luma("collections", "create", "users"))
    assert "imported 3 documents" in assert_ok(luma("import", "users", str(write_jsonl(rows))))
    docs = _docs(open_data)
    assert docs.pop("fixed") == {"id": "fixed", "n": 3}
    assert sorted(d["n"] for d in docs.values()) == [1, 2]
    assert all(isinstance(k, str) and k for k in docs)


def test_import_create(luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData) -> None:
    out = assert_ok(luma("import", "fresh", str(write_jsonl([{"id": "a"}])), "--create"))
    assert "imported 1 document into fresh" in out
    assert _docs(open_data, "fresh") == {"a": {"id": "a"}}


def test_import_replaces_existing_ids(
    luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData
) -> None:
    path = write_jsonl([{"id": "a", "v": 1}, {"id": "a", "v": 2}])
    assert_ok(luma("import", "users", str(path), "--create"))
    assert _docs(open_data) == {"a": {"id": "a", "v": 2}}


def test_import_from_stdin(luma: Luma, open_data: OpenData) -> None:
    result = luma("import", "users", "-", "--create", input='{"id": "s1"}\n{"id": "s2"}\n')
    assert "imported 2 documents" in assert_ok(result)
    assert set(_docs(open_data)) == {"s1", "s2"}


def test_import_into_missing_collection(luma: Luma, write_jsonl: WriteJsonl) -> None:
    assert_ok(luma("collections", "create", "users"))
    result = luma("import", "ghosts", str(write_jsonl([{"id": "a"}])))
    assert_failed(result, 1, "collection 'ghosts' does not exist", "--create")


def test_import_missing_file_is_a_usage_error(luma: Luma, tmp_path: Path) -> None:
    result = luma("import", "users", str(tmp_path / "nope.jsonl"), "--create")
    assert_failed(result, 2, "nope.jsonl", "No such file")


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"id": "x", ', "invalid JSON at column"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ('"just text"', "expected a JSON object, got a string"),
        ("42", "expected a JSON object, got a number"),
        ("null", "expected a JSON object, got null"),
        ('{"id": 7}', '"id" must be a string, got a number'),
        ('{"id": null}', '"id" must be a string, got null'),
    ],
)
def test_bad_line_stops_and_keeps_what_came_before(
    luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData, bad_line: str, reason: str
) -> None:
    good = [{"id": f"g{i}", "n": i} for i in range(5)] + [{"n": "no id"}]
    path = write_jsonl([*good, bad_line, {"id": "after"}])
    result = luma("import", "users", str(path), "--create", "--batch-size", "2")
    assert_failed(result, 1, "line 7:", reason, "6 documents imported before it", str(path))
    docs = _docs(open_data)
    assert len(docs) == 6
    assert "after" not in docs


def test_document_refused_by_the_database_names_its_line(
    luma: Luma, write_jsonl: WriteJsonl, open_data: OpenData
) -> None:
    # The empty id passes the line check but not the database's; it sits inside a batch.
    path = write_jsonl([{"id": "a"}, {"id": "b"}, {"id": ""}, {"id": "d"}])
    result = luma("import", "users", str(path), "--create", "--batch-size", "10")
    assert_failed(result, 1, "line 3:", "document id", "2 documents imported before it")
    assert set(_docs(open_data)) == {"a", "b"}


def test_refused_document_without_id_names_its_line(luma: Luma, write_jsonl: WriteJsonl) -> None:
    # Valid JSON, but nested deeper than the database stores.
    deep = '{"a": ' * 300 + "1" + "}" * 300
    path = write_jsonl([{"n": 1}, deep])
    result = luma("import", "users", str(path), "--create")
    assert_failed(result, 1, "line 2:", "not valid JSON", "1 document imported before it")


def test_bom_on_the_first_line_is_ignored(luma: Luma, tmp_path: Path, open_data: OpenData) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a"}\n')
    assert_ok(luma("import", "users", str(path), "--create"))
    assert set(_docs(open_data)) == {"a"}


def test_ctrl_c_exits_130_with_a_count(
    luma: Luma, write_jsonl: WriteJsonl, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = _jsonl.Importer.add

    def add(self: _jsonl.Importer, line: int, doc: dict[str, object]) -> None:
        if line == 3:
            raise KeyboardInterrupt
        real_add(self, line, doc)

    monkeypatch.setattr(_jsonl.Importer, "add", add)
    path = write_jsonl([{"n": 1}, {"n": 2}, {"n": 3}])
    assert_failed(luma("import", "users", str(path), "--create"), 130, "interrupted", "2 documents")


def test_progress_goes_to_stderr(luma: Luma, write_jsonl: WriteJsonl) -> None:
    result = luma("import", "users", str(write_jsonl([{"id": "a"}])), "--create")
    assert "importing" in result.stderr
    assert "importing" not in assert_ok(result)


def test_storage_failure_reports_what_was_kept(
    luma: Luma, write_jsonl: WriteJsonl, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def put_many(self: object, pairs: object) -> int:
        calls.append(pairs)
        if len(calls) == 2:
            raise lumadb.StorageError("disk on fire")
        return 2

    monkeypatch.setattr(lumadb.Collection, "put_many", put_many)
    path = write_jsonl([{"id": str(i)} for i in range(6)])
    result = luma("import", "users", str(path), "--create", "--batch-size", "2")
    assert_failed(result, 1, "disk on fire", "2 documents imported before it")
