"""Key layout and the order-preserving tuple encoding."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumadb.errors import InvalidArgument
from lumadb.storage import keys

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
)


def _rank(value: object) -> tuple[int, object]:
    # The documented cross-type order: null < false < true < numbers < strings < bytes.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, float(value) if value != 0 else 0.0)
    if isinstance(value, str):
        return (3, value.encode())
    return (4, value)


@given(st.lists(scalars, max_size=4), st.lists(scalars, max_size=4))
def test_pack_preserves_order(a: list[object], b: list[object]) -> None:
    ka, kb = keys.pack(tuple(a)), keys.pack(tuple(b))  # type: ignore[arg-type]
    ra, rb = [_rank(v) for v in a], [_rank(v) for v in b]
    if ra < rb:
        assert ka < kb
    elif ra > rb:
        assert ka > kb
    else:
        assert ka == kb


@given(st.lists(scalars, max_size=5))
def test_unpack_inverts_pack(values: list[object]) -> None:
    out = keys.unpack(keys.pack(tuple(values)))  # type: ignore[arg-type]
    expected = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
    assert [(-0.0 if v == 0 and isinstance(v, float) else v) for v in out] == [
        (-0.0 if v == 0 and isinstance(v, float) else v) for v in expected
    ]


def test_pack_rejects_nan_and_unknown_types() -> None:
    with pytest.raises(InvalidArgument, match="NaN"):
        keys.pack((math.nan,))
    with pytest.raises(InvalidArgument):
        keys.pack(([1],))  # type: ignore[arg-type]


def test_unpack_rejects_garbage() -> None:
    with pytest.raises(InvalidArgument):
        keys.unpack(b"\x99")
    with pytest.raises(InvalidArgument):
        keys.unpack(b"\x20abc")  # unterminated string


@given(st.binary(min_size=1, max_size=8).filter(lambda b: b.strip(b"\xff")))
def test_prefix_end_bounds_every_extension(prefix: bytes) -> None:
    end = keys.prefix_end(prefix)
    assert end > prefix
    assert prefix + b"\xff" * 4 < end


def test_all_ff_prefix_has_no_end() -> None:
    with pytest.raises(InvalidArgument):
        keys.prefix_end(b"\xff\xff")


def test_doc_keys_split_back() -> None:
    key = keys.doc_prefix(7) + keys.encode_id("héllo")
    assert keys.split_doc_key(key) == (7, "héllo")
