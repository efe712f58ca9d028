"""CSV and Parquet in and out: rows of a table as documents, and documents as a table.

In, a row is a document of its non-null cells (CSV cells typed by pyarrow's inference, the
``id`` column always text); Parquet's nested structs and lists become objects and arrays,
dates and times ISO 8601 texts, decimals numbers. Out, the columns are the documents' top-level
fields (``id`` first), found by a first pass over the collection; CSV cells hold scalars as
text and objects or arrays as JSON; a Parquet column is typed when its field holds one kind of
scalar (whole numbers, numbers, texts, booleans) and is JSON text otherwise. Both read and
write in batches, so memory holds a batch, not the collection.
"""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import io
import math
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from lumadb.cli._jsonl import LineError
from lumadb.service import Document

__all__ = ["FORMATS", "format_of", "read_rows", "write_rows"]

FORMATS = ("jsonl", "csv", "parquet")
BATCH = 10_000
_KINDS = {int: "int", float: "float", str: "str", bool: "bool"}
_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}


def format_of(path: str, given: str | None) -> str:
    """The format named, or the one the file's extension says (JSON Lines otherwise)."""
    if given is not None:
        return given
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    return "jsonl"


def _jsonable(value: Any, row: int, field: str) -> Any:  # noqa: PLR0911 - one per kind
    """A value read from a table as JSON (raising :class:`LineError` for what has none)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LineError(row, f"{field}: {value} is not a JSON number")
        return value
    if isinstance(value, dict):
        return {k: _jsonable(v, row, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, row, field) for v in value]
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value), row, field)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise LineError(row, f"{field}: a {type(value).__name__} has no JSON form")


def read_rows(file: IO[bytes], fmt: str) -> Iterator[tuple[int, Document]]:
    """``(row number from 1, document)`` for every row of a CSV or Parquet file."""
    batches: Iterable[pa.RecordBatch]
    try:
        if fmt == "csv":
            convert = pa_csv.ConvertOptions(
                column_types={"id": pa.string()}, strings_can_be_null=True
            )
            batches = pa_csv.open_csv(file, convert_options=convert)
        else:
            batches = pq.ParquetFile(file).iter_batches(batch_size=BATCH)
        row = 0
        for batch in batches:
            for record in batch.to_pylist():
                row += 1
                yield row, {k: _jsonable(v, row, k) for k, v in record.items() if v is not None}
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        what = "CSV" if fmt == "csv" else "Parquet"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LineError(0, f"not readable as {what}: {first}") from None


def _columns(docs: Iterable[tuple[str, Document]]) -> dict[str, set[str]]:
    """Every top-level field, in order of appearance, with the kinds of value it holds."""
    columns: dict[str, set[str]] = {"id": {"str"}}
    for _, doc in docs:
        for key, value in doc.items():
            if key == "id" or value is None:
                columns.setdefault(key, set())
                continue
            columns.setdefault(key, set()).add(_KINDS.get(type(value), "json"))
    return columns


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_rows(sink: IO[bytes], fmt: str, scan: Any, progress: Any = None) -> int:
    """Write every document ``scan()`` yields (called twice: fields, then rows); how many."""
    columns = _columns(scan())
    if fmt == "csv":
        return _write_csv(sink, list(columns), scan(), progress)
    return _write_parquet(sink, columns, scan(), progress)


def _write_csv(
    sink: IO[bytes], names: list[str], docs: Iterable[tuple[str, Document]], progress: Any
) -> int:
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(names)
    written = 0
    for doc_id, doc in docs:
        writer.writerow([doc_id, *(_cell(doc.get(n)) for n in names[1:])])
        written += 1
        if progress is not None:
            progress(written)
    text.flush()
    text.detach()
    return written


def _parquet_type(kinds: set[str]) -> tuple[pa.DataType, bool]:
    """The column's type, and whether its values are written as JSON text."""
    if kinds and kinds <= {"int", "float"}:
        return (pa.int64() if kinds == {"int"} else pa.float64()), False
    if len(kinds) == 1 and next(iter(kinds)) in _TYPES:
        return _TYPES[next(iter(kinds))], False
    return pa.string(), bool(kinds)


def _write_parquet(
    sink: IO[bytes],
    columns: dict[str, set[str]],
    docs: Iterable[tuple[str, Document]],
    progress: Any,
) -> int:
    typed = {name: _parquet_type(kinds) for name, kinds in columns.items()}
    schema = pa.schema([(name, kind) for name, (kind, _) in typed.items()])
    written = 0
    with pq.ParquetWriter(sink, schema) as writer:
        batch: list[tuple[str, Document]] = []

        def flush() -> None:
            data: dict[str, list[Any]] = {"id": [doc_id for doc_id, _ in batch]}
            for name, (_, as_json) in typed.items():
                if name == "id":
                    continue
                values = [doc.get(name) for _, doc in batch]
                data[name] = (
                    [None if v is None else orjson.dumps(v).decode() for v in values]
                    if as_json
                    else values
                )
            writer.write_table(pa.table(data, schema=schema))

        for pair in docs:
            batch.append(pair)
            if len(batch) >= BATCH:
                flush()
                written += len(batch)
                batch = []
                if progress is not None:
                    progress(written)
        if batch:
            flush()
            written += len(batch)
    return written
