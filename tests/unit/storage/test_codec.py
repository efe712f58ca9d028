"""Stored-value and change-feed record formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumadb.errors import CorruptionError
from lumadb.storage import codec


@given(
    st.sampled_from(sorted(codec.OP_NAMES)),
    st.integers(0, 2**63),
    st.binary(max_size=600),
    st.one_of(st.none(), st.binary(max_size=300)),
    st.one_of(st.none(), st.binary(max_size=300)),
)
def test_feed_records_roundtrip(
    op: int, ts: int, key: bytes, new: bytes | None, old: bytes | None
) -> None:
    record = codec.decode_feed(5, codec.encode_feed(op, ts, key, new, old))
    assert (record.seq, record.op, record.ts_ms, record.key) == (5, op, ts, key)
    assert (record.new, record.old) == (new, old)


def test_truncated_or_unknown_feed_records_are_corruption() -> None:
    raw = codec.encode_feed(codec.OP_PUT, 1, b"key", b'{"a":1}')
    with pytest.raises(CorruptionError, match="truncated"):
        codec.decode_feed(1, raw[:5])
    with pytest.raises(CorruptionError, match="truncated"):
        codec.decode_feed(1, raw[:-2])
    with pytest.raises(CorruptionError, match="unknown format"):
        codec.decode_feed(1, b"\x09" + raw[1:])


def test_stored_values_carry_their_version() -> None:
    value = codec.stored_value(42, b'{"a":1}')
    assert codec.stored_version(value) == 42
    assert bytes(codec.stored_body(value)) == b'{"a":1}'
    with pytest.raises(CorruptionError):
        codec.stored_version(b"\x07" + value[1:])
    with pytest.raises(CorruptionError):
        codec.stored_body(b"")


def test_undecodable_documents_are_corruption() -> None:
    with pytest.raises(CorruptionError):
        codec.decode_document(b"{broken")
    with pytest.raises(CorruptionError):
        codec.decode_document(b"[1,2]")


@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=20),
    st.booleans(),
    st.integers(0, 2**63),
)
def test_group_records_roundtrip(keys: list[bytes], with_new: bool, ts: int) -> None:
    bodies = [k[::-1] for k in keys] if with_new else None
    raw = codec.encode_feed_group(ts, keys, bodies)
    records = codec.decode_feed_records(100, raw)
    assert [r.seq for r in records] == list(range(100 - len(keys) + 1, 101))
    assert [r.key for r in records] == keys
    assert [r.new for r in records] == (bodies or [None] * len(keys))
    with pytest.raises(CorruptionError):
        codec.decode_feed_records(100, raw[:-1] if raw[-1:] else raw + b"x")
