"""The RocksDB write-ahead log read back by ``WalReader``, against real RocksDB files."""

from __future__ import annotations

import os
import random
import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import crc32c
import pytest

from lumadb.errors import CorruptionError, StorageError
from lumadb.storage.lsm import DELETE, DELETE_RANGE, PUT, EngineOptions, LogOp
from lumadb.storage.lsm.rocks import RocksEngine, RocksFactory, rocks_options
from lumadb.storage.lsm.wal import BLOCK, WalReader, parse_batch

ALL = 10**9  # a limit no test reaches
_HEADER = 7  # crc32c (4) | length (2) | type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4

Op = tuple[int, bytes, bytes]  # (kind, key, value) before RocksDB numbers it


class _Log:
    """Writes through a RocksEngine and remembers what its write-ahead log must hold."""

    def __init__(self, engine: RocksEngine) -> None:
        self.engine = engine
        self.path = engine.path
        self.ops: list[LogOp] = []
        self.batches: list[tuple[int, int]] = []  # (first seq, last seq) of each write
        self.ends: list[int] = []  # offset in the live log file after each write

    def put(self, key: bytes, value: bytes) -> None:
        self.engine.put(key, value)
        self._numbered([(PUT, key, value)])

    def delete(self, key: bytes) -> None:
        self.engine.delete(key)
        self._numbered([(DELETE, key, b"")])

    def write(self, ops: list[Op]) -> None:
        batch = self.engine.batch()
        for kind, key, value in ops:
            if kind == PUT:
                batch.put(key, value)
            elif kind == DELETE:
                batch.delete(key)
            else:
                batch.delete_range(key, value)
        self.engine.write(batch, sync=False)
        self._numbered(ops)

    def _numbered(self, ops: list[Op]) -> None:
        last = self.engine.last_seq()
        first = last - len(ops) + 1
        assert first == len(self.ops) + 1  # RocksDB numbers operations 1, 2, 3...
        self.ops.extend((first + i, kind, key, value) for i, (kind, key, value) in enumerate(ops))
        self.batches.append((first, last))  # (n + 1, n) for an empty write
        self.ends.append(os.path.getsize(_live_log(self.path)))

    def expected(self, since: int, limit: int) -> list[LogOp]:
        """What ``read(since, limit)`` must return: whole writes until ``limit`` is reached."""
        out: list[LogOp] = []
        if limit <= 0:
            return out
        for first, last in self.batches:
            if last <= since:
                continue
            out.extend(op for op in self.ops[first - 1 : last] if op[0] > since)
            if len(out) >= limit:
                break
        return out


def _live_log(path: str) -> str:
    names = [n for n in os.listdir(path) if n.endswith(".log") and n[:-4].isdigit()]
    return os.path.join(path, max(names, key=lambda n: int(n[:-4])))


def _open(path: Path) -> RocksEngine:
    return RocksFactory(EngineOptions(), 8 << 20).open(str(path))


@pytest.fixture
def log(tmp_path: Path) -> Iterator[_Log]:
    """A fresh RocksDB database with a recorder of what it was asked to write."""
    engine = _open(tmp_path / "db")
    yield _Log(engine)
    engine.close()


def _fill_block_to(log: _Log, leave: int) -> None:
    """Put filler records until the live log ends exactly ``leave`` bytes before a block end."""
    for _ in range(20):
        size = os.path.getsize(_live_log(log.path))
        room = BLOCK - size % BLOCK - leave  # a put of key b"f" takes 22 + varint + value bytes
        if 23 <= room <= 150:
            value = room - 23
        elif 152 <= room <= 16000:
            value = room - 24
        else:
            value = 7976 if room > 16000 else 40  # get closer, or past the block end
            log.put(b"f", b"." * value)
            continue
        log.put(b"f", b"." * value)
        assert os.path.getsize(_live_log(log.path)) == size + room
        return
    raise AssertionError("could not position the log")


def _complete(log: _Log, cut: int) -> list[LogOp]:
    """The operations of the writes whose records end at or before ``cut``."""
    done = sum(1 for end in log.ends if end <= cut)
    if done == 0:
        return []
    count = sum(last - first + 1 for first, last in log.batches[:done])
    return log.ops[:count]


# Operations, sequence numbers, since and limit.


def test_reads_back_every_kind_of_operation_with_rocksdb_sequence_numbers(log: _Log) -> None:
    """Puts, deletes and range deletes come back in order, numbered as RocksDB numbered them."""
    log.put(b"a", b"1")
    log.delete(b"a")
    log.write(
        [(PUT, b"x", b"y"), (DELETE_RANGE, b"b", b"c"), (DELETE, b"q", b""), (PUT, b"z", b"")]
    )
    log.write([])  # an empty write is logged (a batch of 0) but numbers nothing
    log.put(b"\x80" * 200, bytes(range(256)) * 3)  # multi-byte varint lengths
    log.write([(DELETE_RANGE, b"", b"\xff" * 130)])
    log.put(b"", b"empty key")
    log.write([(PUT, f"k{i}".encode(), f"v{i}".encode()) for i in range(20)])
    log.delete(b"k3")

    assert log.engine.last_seq() == len(log.ops) == 30
    got = WalReader(log.path).read(0, ALL)
    assert got == log.ops
    assert [op[0] for op in got] == list(range(1, log.engine.last_seq() + 1))
    assert log.engine.log_since(0, ALL) == log.ops
    assert got[2:6] == [
        (3, PUT, b"x", b"y"),
        (4, DELETE_RANGE, b"b", b"c"),
        (5, DELETE, b"q", b""),
        (6, PUT, b"z", b""),
    ]


def test_since_and_limit_return_whole_writes_after_since(log: _Log) -> None:
    """read(since) starts right after ``since`` (also inside a write) and stops at a write end."""
    rng = random.Random(1)
    for i in range(40):
        ops: list[Op] = [(PUT, f"k{i}.{j}".encode(), b"v" * j) for j in range(rng.randint(1, 5))]
        log.write(ops)
    last = log.engine.last_seq()
    shared = WalReader(log.path)
    for since in range(last + 2):
        assert WalReader(log.path).read(since, ALL) == [op for op in log.ops if op[0] > since]
        for limit in (0, 1, 2, 3, 7, 50):
            assert shared.read(since, limit) == log.expected(since, limit), (since, limit)
    assert shared.read(last, ALL) == []
    assert shared.read(last + 100, ALL) == []


def test_an_empty_database_has_an_empty_log(log: _Log) -> None:
    """A new database lists its live log with no first sequence number and reads nothing."""
    reader = WalReader(log.path)
    assert reader.read(0, ALL) == []
    (segment,) = reader.segments()
    assert (segment.first_seq, segment.size, segment.archived) == (0, 0, False)
    assert segment.path == _live_log(log.path)
    assert os.path.basename(segment.path) == f"{segment.number:06d}.log"


# Records split over blocks.


def test_values_larger_than_a_block_come_back_intact(log: _Log) -> None:
    """Values of 100 KiB and more (FIRST, MIDDLE... LAST fragments) are reassembled exactly."""
    rng = random.Random(2)
    log.put(b"small", b"s")
    log.put(b"big", rng.randbytes(100 << 10))
    log.put(b"block", rng.randbytes(BLOCK))
    log.write([(PUT, f"b{i}".encode(), rng.randbytes(40_000 + i)) for i in range(3)])
    log.put(b"huge", rng.randbytes(300 << 10))
    log.delete(b"big")
    assert os.path.getsize(_live_log(log.path)) > 15 * BLOCK
    assert WalReader(log.path).read(0, ALL) == log.ops
    shared = WalReader(log.path)
    for since in range(len(log.ops) + 1):
        assert shared.read(since, 1) == log.expected(since, 1)


@pytest.mark.parametrize("size", [20, 70_000])
def test_records_starting_near_a_block_end(log: _Log, size: int) -> None:
    """A record after 0-6 bytes of block padding, or whose FIRST fragment holds 0-6 bytes."""
    live = _live_log(log.path)
    for leave in range(14):
        _fill_block_to(log, leave)
        at = os.path.getsize(live)
        log.put(f"probe{leave}".encode(), bytes([leave]) * size)
        with open(live, "rb") as f:
            f.seek(at)
            tail = f.read(leave)
            f.seek(at + leave if leave < _HEADER else at)
            length, kind = struct.unpack("<xxxxHB", f.read(_HEADER))
        # Check that the log really has the layout this case is about.
        if leave < _HEADER:
            assert tail == bytes(leave)  # padding, then the record opens the next block
            assert kind == (_FULL if size < BLOCK else _FIRST)
        else:
            assert (kind, length) == (_FIRST, leave - _HEADER)
    assert WalReader(log.path).read(0, ALL) == log.ops
    shared = WalReader(log.path)
    for since in range(len(log.ops) + 1):
        assert shared.read(since, 1) == log.expected(since, 1)


# Archived logs.


def test_flushed_logs_move_to_the_archive_and_are_still_read(log: _Log) -> None:
    """After a flush the old log is in archive/, and reads span it and the new live log."""
    reader = WalReader(log.path)
    for i in range(5):
        log.put(f"a{i}".encode(), b"1")
    assert reader.read(0, ALL) == log.ops  # indexes the live file, which then moves
    first_log = _live_log(log.path)
    log.engine.flush()

    archived, live = reader.segments()
    assert archived.archived
    assert archived.path == os.path.join(log.path, "archive", os.path.basename(first_log))
    assert not os.path.exists(first_log)
    assert (archived.first_seq, archived.size) == (1, os.path.getsize(archived.path))
    assert (live.archived, live.first_seq) == (False, 0)
    assert live.number > archived.number

    log.write([(PUT, b"b", b"2"), (DELETE_RANGE, b"a0", b"a3")])
    log.delete(b"a4")
    log.engine.flush()
    log.put(b"c", b"3")
    segments = log.engine.log_segments()
    assert [(s.archived, s.first_seq) for s in segments] == [(True, 1), (True, 6), (False, 9)]
    assert [s.number for s in segments] == sorted(s.number for s in segments)

    for r in (reader, WalReader(log.path)):
        assert r.read(0, ALL) == log.ops
        for since in range(len(log.ops) + 1):
            for limit in (1, 2, 4):
                assert r.read(since, limit) == log.expected(since, limit), (since, limit)


def test_the_log_survives_a_reopen(tmp_path: Path) -> None:
    """Closing and reopening archives the log; numbering and reading continue after it."""
    engine = _open(tmp_path / "db")
    log = _Log(engine)
    log.put(b"a", b"1")
    log.write([(PUT, b"b", b"2"), (DELETE, b"a", b"")])
    engine.close()
    engine = _open(tmp_path / "db")
    log.engine = engine
    log.put(b"c", b"3")
    log.delete(b"b")
    try:
        assert engine.log_since(0, ALL) == log.ops
        assert engine.log_since(3, ALL) == log.ops[3:]
        segments = engine.log_segments()
        assert segments[-1].archived is False
        assert all(s.archived for s in segments[:-1])
    finally:
        engine.close()


# Torn tails and failed checksums.


def _torn_setup(log: _Log, last_size: int) -> bytes:
    """Records of many shapes, the last one of ``last_size`` bytes; the live log's bytes."""
    rng = random.Random(4)
    log.put(b"a", b"1")
    log.write([(PUT, b"b", b"2"), (DELETE_RANGE, b"c", b"d"), (DELETE, b"e", b"")])
    log.put(b"large", rng.randbytes(50_000))
    for i in range(12):
        log.put(f"s{i}".encode(), rng.randbytes(rng.randint(0, 300)))
    log.put(b"last", rng.randbytes(last_size))
    with open(_live_log(log.path), "rb") as f:
        data = f.read()
    assert len(data) == log.ends[-1]
    return data


def _cuts(log: _Log, size: int) -> list[int]:
    """Offsets to cut at: near every record end and block boundary, in the last record, and a
    sample of the rest."""
    marks = [0, *log.ends, *range(0, size, BLOCK)]
    near = {m + d for m in marks for d in range(-12, 13)}
    last = log.ends[-2]  # every offset of the last record if it is small
    inside = range(last, size, 1 if size - last < 500 else 127)
    return sorted(c for c in near | {*range(0, size, 257), *inside} if 0 <= c <= size)


def _copy_of_log(log: _Log, tmp_path: Path, data: bytes) -> Path:
    """A file named like the live log, holding ``data``, alone in a fresh directory."""
    copy = tmp_path / "copy"
    copy.mkdir()
    path = copy / os.path.basename(_live_log(log.path))
    path.write_bytes(data)
    return path


def _torn_copy(log: _Log, tmp_path: Path, last_size: int) -> tuple[bytes, Path]:
    """The log after writes ending in one of ``last_size`` bytes, and a copy of it to damage."""
    data = _torn_setup(log, last_size)
    return data, _copy_of_log(log, tmp_path, data)


@pytest.mark.parametrize("last_size", [30, 70_000])
def test_a_torn_tail_ends_the_log_at_the_last_complete_record(
    log: _Log, tmp_path: Path, last_size: int
) -> None:
    """Cut anywhere, the log reads as exactly the records that end before the cut."""
    data, torn = _torn_copy(log, tmp_path, last_size)
    copy = torn.parent
    cuts = _cuts(log, len(data))
    last_start = log.ends[-2]
    assert sum(1 for c in cuts if last_start < c < len(data)) > 40
    for cut in reversed(cuts):  # shrinking the one copy
        os.truncate(torn, cut)
        assert WalReader(str(copy)).read(0, ALL) == _complete(log, cut), cut


def test_a_reader_tailing_a_half_written_record_resumes_when_it_completes(
    log: _Log, tmp_path: Path
) -> None:
    """Bytes arriving in pieces: each read returns the newly completed records, once."""
    data = _torn_setup(log, 70_000)
    growing = _copy_of_log(log, tmp_path, b"")
    reader = WalReader(str(growing.parent))
    seen: list[LogOp] = []
    written = 0
    for cut in _cuts(log, len(data)):
        with open(growing, "ab") as f:
            f.write(data[written:cut])
        written = cut
        seen.extend(reader.read(seen[-1][0] if seen else 0, ALL))
        assert seen == _complete(log, cut), cut
    assert seen == log.ops


@pytest.mark.parametrize("last_size", [30, 70_000])
def test_a_failed_checksum_ends_the_log_before_the_record(
    log: _Log, tmp_path: Path, last_size: int
) -> None:
    """A flipped byte anywhere in a record (header or payload) ends the log before it."""
    data, damaged = _torn_copy(log, tmp_path, last_size)
    copy = damaged.parent
    starts = [0, *log.ends[:-1]]
    rng = random.Random(5)
    flips = 0
    for i, (after, end) in enumerate(zip(starts, log.ends, strict=True)):
        start = after  # the record's first byte, unless the block's last bytes were padding
        if BLOCK - start % BLOCK < _HEADER:
            start += BLOCK - start % BLOCK
        headers = [start, *range(start - start % BLOCK + BLOCK, end, BLOCK)]  # one per fragment
        offsets = {o for h in headers for o in range(h, h + 12)}
        offsets |= {rng.randrange(start, end) for _ in range(8)}
        expected = _complete(log, starts[i])
        for offset in sorted(o for o in offsets if start <= o < end):
            with open(damaged, "r+b") as f:
                f.seek(offset)
                f.write(bytes([data[offset] ^ 0x41]))
            assert WalReader(str(copy)).read(0, ALL) == expected, offset
            with open(damaged, "r+b") as f:
                f.seek(offset)
                f.write(bytes([data[offset]]))
            flips += 1
    assert flips > 200


def test_after_a_crash_the_log_matches_what_rocksdb_recovered(log: _Log, tmp_path: Path) -> None:
    """RocksDB's point-in-time recovery of a torn tail agrees with the reader; seqs go on."""
    _torn_setup(log, 70_000)
    crashed = tmp_path / "crashed"
    shutil.copytree(log.path, crashed)  # the files as a crash would leave them
    os.truncate(_live_log(str(crashed)), log.ends[-2] + 40_000)
    before = log.ops[:-1]
    engine = _open(crashed)
    try:
        assert engine.last_seq() == before[-1][0]
        assert engine.get(b"last") is None
        assert engine.get(b"s11") is not None
        assert engine.log_since(0, ALL) == before
        engine.put(b"after", b"crash")
        engine.delete(b"a")
        seq = before[-1][0]
        assert engine.log_since(0, ALL) == [
            *before,
            (seq + 1, PUT, b"after", b"crash"),
            (seq + 2, DELETE, b"a", b""),
        ]
        assert engine.log_segments()[0].archived  # the torn log, archived by the recovery
    finally:
        engine.close()


# The per-file resume index.


def test_reads_from_any_point_agree_with_a_filtered_full_read(log: _Log) -> None:
    """Over several 64 KiB index steps and two files, any (since, limit) reads correctly."""
    rng = random.Random(6)
    for i in range(2400):
        if i == 1500:
            log.engine.flush()
        ops: list[Op] = [
            (PUT, f"k{i}.{j}".encode(), rng.randbytes(rng.randint(10, 60)))
            for j in range(rng.randint(1, 4))
        ]
        log.write(ops)
    segments = log.engine.log_segments()
    assert sum(s.size for s in segments) > 4 * (64 << 10)
    assert [s.archived for s in segments] == [True, False]

    assert WalReader(log.path).read(0, ALL) == log.ops
    last = log.engine.last_seq()
    shared = WalReader(log.path)
    for _ in range(150):
        since = rng.randint(0, last + 1)
        limit = rng.choice([1, 2, 5, 40, 500, ALL])
        assert shared.read(since, limit) == log.expected(since, limit), (since, limit)
    for since in (0, 1, last - 1, last, *(first - 1 for first, _ in log.batches[::97])):
        assert shared.read(since, 3) == log.expected(since, 3), since
        assert WalReader(log.path).read(since, 3) == log.expected(since, 3), since

    # Reads that start at each record the index remembered (white box: which records those are
    # is invisible through read()), and at the records just before and after it.
    indexed = WalReader(log.path)
    assert indexed.read(0, ALL) == log.ops
    checkpoints = sorted({seq for i in indexed._index.values() for seq in i.seqs})
    assert len(checkpoints) > 4
    for seq in checkpoints:
        for since in range(max(0, seq - 4), seq + 2):
            assert indexed.read(since, 2) == log.expected(since, 2), (seq, since)


def test_tailing_while_appending_returns_every_operation_once(log: _Log) -> None:
    """A reader following the log as it grows (and as it is archived) sees each op once."""
    rng = random.Random(7)
    reader = WalReader(log.path)
    seen: list[LogOp] = []
    for i in range(600):
        for _ in range(rng.randint(0, 3)):
            size = 45_000 if rng.random() < 0.02 else rng.randint(0, 200)
            ops: list[Op] = [(PUT, f"k{i}".encode(), rng.randbytes(size))]
            if rng.random() < 0.2:
                ops.append((DELETE, f"k{i - 1}".encode(), b""))
            log.write(ops)
        if i % 150 == 149:
            log.engine.flush()
        since = seen[-1][0] if seen else 0
        limit = rng.choice([1, 3, 10, ALL])
        got = reader.read(since, limit)
        assert got == log.expected(since, limit), (i, since, limit)
        seen.extend(got)
    while got := reader.read(seen[-1][0], 50):
        seen.extend(got)
    assert seen == log.ops
    assert len(log.engine.log_segments()) == 5


def test_tailing_a_log_written_concurrently(log: _Log) -> None:
    """Reading while another thread writes (so records are caught half written) loses nothing."""
    rng = random.Random(8)
    values = [rng.randbytes(60_000 if i % 50 == 0 else rng.randint(0, 100)) for i in range(1500)]
    done = threading.Event()
    failed: list[BaseException] = []

    def writer() -> None:
        try:
            for i, value in enumerate(values):
                log.put(f"k{i}".encode(), value)
                if i == 900:
                    log.engine.flush()
        except BaseException as exc:
            failed.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    reader = WalReader(log.path)
    seen: list[LogOp] = []
    thread.start()
    while not done.is_set():
        seen.extend(reader.read(seen[-1][0] if seen else 0, 20))
    thread.join()
    assert not failed
    seen.extend(reader.read(seen[-1][0] if seen else 0, ALL))
    assert seen == log.ops
    assert [op[3] for op in seen] == values


# Record types, in hand-built log files.


def _record(kind: int, payload: bytes, number: int | None = None) -> bytes:
    """One physical record; with ``number``, the recyclable header holding the log number."""
    extra = b"" if number is None else struct.pack("<I", number)
    crc = crc32c.crc32c(bytes([kind]) + extra + payload)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return struct.pack("<IHB", masked, len(payload), kind) + extra + payload


def _put_batch(seq: int, key: bytes) -> bytes:
    return _batch(seq, 1, b"\x01" + _s(key) + _s(b"v"))


def _read_log(tmp_path: Path, data: bytes, number: int = 12) -> list[LogOp]:
    folder = tmp_path / f"log{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / f"{number:06d}.log").write_bytes(data)
    return WalReader(str(folder)).read(0, ALL)


def test_hand_built_records_are_what_rocksdb_writes(log: _Log) -> None:
    """The helpers below build records byte for byte as RocksDB does."""
    log.put(b"key", b"v")
    with open(_live_log(log.path), "rb") as f:
        assert f.read() == _record(_FULL, _put_batch(1, b"key"))


def test_metadata_records_are_skipped_and_unknown_ones_end_the_log(tmp_path: Path) -> None:
    """Timestamp-size (10) and safely ignorable (33) records are skipped; type 12, a fragment
    without its FIRST, zero bytes or a record of an older recycled log end the log."""
    first, then = _record(_FULL, _put_batch(1, b"a")), _record(_FULL, _put_batch(2, b"b"))
    a = [(1, PUT, b"a", b"v")]
    both = [*a, (2, PUT, b"b", b"v")]
    assert _read_log(tmp_path, first + _record(10, b"\x00" * 6) + then) == both
    assert _read_log(tmp_path, first + _record(33, b"predecessor") + then) == both
    assert _read_log(tmp_path, first + _record(12, b"?") + then) == a
    assert _read_log(tmp_path, first + _record(_LAST, b"orphan") + then) == a
    assert _read_log(tmp_path, first + _record(_MIDDLE, b"orphan") + then) == a
    assert _read_log(tmp_path, first + bytes(64) + then) == a
    # An empty FIRST fragment left behind (as old RocksDB writers did) before a FULL record.
    assert _read_log(tmp_path, first + _record(_FIRST, b"") + then + _record(_LAST, b"x")) == both
    fragmented = _record(_FIRST, _put_batch(2, b"b")[:5]) + _record(_LAST, _put_batch(2, b"b")[5:])
    assert _read_log(tmp_path, first + fragmented) == both
    assert _read_log(tmp_path, first + fragmented[:-1]) == a
    # Recyclable types carry the log number; a record of the file's previous life ends it.
    recycled = _record(5, _put_batch(1, b"a"), 12) + _record(5, _put_batch(2, b"b"), 12)
    assert _read_log(tmp_path, recycled, number=12) == both
    assert _read_log(tmp_path, recycled + _record(5, _put_batch(3, b"c"), 11), number=12) == both
    assert _read_log(tmp_path, recycled, number=13) == []


def test_a_compressed_log_is_refused(tmp_path: Path) -> None:
    """A log starting with a set-compression record (type 9) cannot be read: an error."""
    with pytest.raises(StorageError, match="compressed"):
        _read_log(tmp_path, _record(9, b"\x07") + _record(_FULL, _put_batch(1, b"a")))


# parse_batch on hand-built batches.


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _s(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _batch(seq: int, count: int, *entries: bytes) -> bytes:
    return struct.pack("<QI", seq, count) + b"".join(entries)


def test_parse_batch_reads_every_tag_lumadb_writes() -> None:
    """Put, delete, single delete and range delete, numbered from the batch's sequence number."""
    payload = _batch(
        100,
        5,
        b"\x01" + _s(b"k") + _s(b"v" * 300),
        b"\x00" + _s(b"gone"),
        b"\x07" + _s(b"single"),
        b"\x0f" + _s(b"a") + _s(b"z"),
        b"\x01" + _s(b"") + _s(b""),
    )
    out: list[LogOp] = [(1, PUT, b"earlier", b"")]
    assert parse_batch(payload, 0, out) == 104
    assert out == [
        (1, PUT, b"earlier", b""),
        (100, PUT, b"k", b"v" * 300),
        (101, DELETE, b"gone", b""),
        (102, DELETE, b"single", b""),
        (103, DELETE_RANGE, b"a", b"z"),
        (104, PUT, b"", b""),
    ]
    later: list[LogOp] = []
    assert parse_batch(payload, 102, later) == 104
    assert [op[0] for op in later] == [103, 104]
    assert parse_batch(payload, 104, later) == 104
    assert len(later) == 2


def test_parse_batch_skips_log_data_without_numbering_it() -> None:
    """A log-data blob (tag 3) holds no sequence number: the next entry takes it."""
    payload = _batch(
        7, 2, b"\x03" + _s(b"blob" * 50), b"\x01" + _s(b"a") + _s(b"1"), b"\x03" + _s(b"")
    )
    payload += b"\x00" + _s(b"b")
    out: list[LogOp] = []
    assert parse_batch(payload, 0, out) == 8
    assert out == [(7, PUT, b"a", b"1"), (8, DELETE, b"b", b"")]
    assert parse_batch(_batch(9, 0, b"\x03" + _s(b"only")), 0, out) == 8
    assert len(out) == 2


def test_parse_batch_rejects_a_count_that_does_not_match() -> None:
    """A header counting more or fewer entries than the batch holds is corruption."""
    entries = (b"\x01" + _s(b"a") + _s(b"1"), b"\x00" + _s(b"b"))
    for count in (0, 1, 3, 100):
        with pytest.raises(CorruptionError, match="entries"):
            parse_batch(_batch(10, count, *entries), 0, [])


def test_parse_batch_rejects_truncated_entries() -> None:
    """A batch cut anywhere inside its entries, or inside its header, is corruption."""
    payload = _batch(1, 3, b"\x01" + _s(b"key") + _s(b"v" * 200), b"\x00" + _s(b"k" * 130))
    payload += b"\x0f" + _s(b"a") + _s(b"bc")
    for cut in range(len(payload)):
        with pytest.raises(CorruptionError):
            parse_batch(payload[:cut], 0, [])
    out: list[LogOp] = []
    assert parse_batch(payload, 0, out) == 3
    assert len(out) == 3


def test_parse_batch_rejects_a_malformed_length() -> None:
    """A varint length longer than five bytes is corruption."""
    with pytest.raises(CorruptionError, match="malformed length"):
        parse_batch(_batch(1, 1, b"\x00" + b"\xff" * 5 + b"\x01"), 0, [])


@pytest.mark.parametrize("tag", [0x2, 0x4, 0x5, 0x8, 0x9, 0xE, 0x10, 0x12, 0x15, 0x7F])
def test_parse_batch_rejects_entries_lumadb_never_writes(tag: int) -> None:
    """Merges, column-family entries and transaction markers would be misread if skipped."""
    payload = _batch(1, 2, b"\x01" + _s(b"a") + _s(b"1"), bytes([tag]) + _s(b"k") + _s(b"v"))
    with pytest.raises(CorruptionError, match="unexpected entry"):
        parse_batch(payload, 0, [])


def test_a_damaged_older_log_is_reported_not_skipped(log: _Log) -> None:
    """A checksum failure inside an archived log would silently drop writes the database holds
    (the next log starts after them): the reader reports the gap instead."""
    for i in range(10):
        log.put(b"k%d" % i, b"v" * 50)
    old = _live_log(log.path)
    log.engine.flush()
    for i in range(3):
        log.put(b"n%d" % i, b"v")
    archived = Path(log.path) / "archive" / os.path.basename(old)
    data = bytearray(archived.read_bytes())
    data[log.ends[4] + 12] ^= 0xFF  # inside the sixth record's payload
    archived.write_bytes(bytes(data))
    with pytest.raises(CorruptionError, match="6 to 10"):
        WalReader(log.path).read(0, ALL)
    # Reading from after the damage is still possible.
    assert [op[2] for op in WalReader(log.path).read(10, ALL)] == [b"n0", b"n1", b"n2"]


def test_an_engine_without_a_block_cache_opens(tmp_path: Path) -> None:
    """Index and filter blocks are only kept in the block cache when there is one."""
    engine = RocksEngine(str(tmp_path / "db"), rocks_options(EngineOptions(), None))
    engine.put(b"k", b"v")
    assert engine.get(b"k") == b"v"
    assert [op[2] for op in engine.log_since(0, ALL)] == [b"k"]
    engine.close()
