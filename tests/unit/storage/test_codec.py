"""The stored-value format."""

from __future__ import annotations

import pytest

from lumadb.errors import CorruptionError
from lumadb.storage import codec


def test_stored_values_are_the_json_and_versions_hash_it() -> None:
    body = codec.encode_document({"a": 1}, 1 << 20)
    assert body == b'{"a":1}'
    assert codec.decode_stored(body) == {"a": 1}
    assert codec.version_of(body) == codec.version_of(b'{"a":1}')
    assert codec.version_of(body) != codec.version_of(b'{"a":2}')
    with pytest.raises(CorruptionError):
        codec.decode_stored(b"\x01" + body)


def test_undecodable_documents_are_corruption() -> None:
    with pytest.raises(CorruptionError):
        codec.decode_document(b"{broken")
    with pytest.raises(CorruptionError):
        codec.decode_document(b"[1,2]")
