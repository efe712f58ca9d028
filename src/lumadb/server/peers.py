"""The internal protocol between a node's shard workers: msgpack frames over Unix sockets.

A frame is a 4-byte big-endian length and a msgpack body (never pickle). A request is
``[VERSION, id, op, args]``; its answer ``[id, True, result]`` or ``[id, False, [code,
message]]``. One connection per peer carries many requests at once, matched by id; answers
may come in any order. Frames written during one event-loop iteration leave in one write
(``loop.call_soon``, no timers), which is what made forwarding cheap in the prototype
(ARCHITECTURE.md §5). A dropped connection fails its pending calls with
:class:`~lumadb.errors.Unavailable` and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgpack

from lumadb.errors import InvalidArgument, LumaError, Unavailable, error_from_code

__all__ = ["VERSION", "Handler", "PeerClient", "PeerServer"]

VERSION = 1
MAX_FRAME = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")
_log = logging.getLogger("lumadb.peers")

Handler = Callable[..., Awaitable[Any]]


def _frame(body: object) -> bytes:
    data: bytes = msgpack.packb(body, use_bin_type=True)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    header = await reader.readexactly(_HEADER.size)
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is over the limit")
    return msgpack.unpackb(await reader.readexactly(size), raw=False, strict_map_key=False)


class _Batcher:
    """Collects frames and writes them once per event-loop iteration."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._buffer: list[bytes] = []

    def send(self, frame: bytes) -> None:
        if not self._buffer:
            asyncio.get_running_loop().call_soon(self._flush)
        self._buffer.append(frame)

    def _flush(self) -> None:
        data, self._buffer = b"".join(self._buffer), []
        if not self.writer.is_closing():
            self.writer.write(data)


class PeerServer:
    """Answers requests from peers with ``handlers[op](*args)``.

    ``inline`` operations are plain functions that never block (a read from the local
    shards): they are answered in the connection's read loop, without a task each.
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        address: str,
        inline: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self._handlers = handlers
        self._inline = dict(inline or {})
        self.address = address
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on the Unix socket ``address`` (a leading NUL: Linux abstract namespace)."""
        self._server = await asyncio.start_unix_server(self._serve, path=self.address)

    async def close(self) -> None:
        """Stop listening and drop the connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out = _Batcher(writer)
        self._writers.add(writer)
        try:
            inline = self._inline
            while True:
                request = await _read_frame(reader)
                if isinstance(request, list) and len(request) == 4 and request[2] in inline:
                    self._answer_inline(request, out)
                    continue
                task = asyncio.create_task(self._answer(request, out))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the peer went away
        except (ValueError, msgpack.UnpackException) as exc:
            _log.warning("dropping a peer connection that sent a bad frame: %s", exc)
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer_inline(self, request: list[Any], out: _Batcher) -> None:
        msg_id = request[1]
        try:
            if request[0] != VERSION or not isinstance(request[3], list):
                raise InvalidArgument(f"unsupported peer request {str(request)[:80]}")
            out.send(_frame([msg_id, True, self._inline[request[2]](*request[3])]))
        except LumaError as exc:
            out.send(_frame([msg_id, False, [exc.code, exc.message]]))
        except Exception as exc:
            _log.exception("peer operation %r failed", request[2])
            out.send(_frame([msg_id, False, ["internal", f"peer failed: {type(exc).__name__}"]]))

    async def _answer(self, request: Any, out: _Batcher) -> None:
        msg_id = request[1] if isinstance(request, list) and len(request) == 4 else -1
        try:
            if msg_id == -1 or request[0] != VERSION or not isinstance(request[3], list):
                raise InvalidArgument(f"unsupported peer request {str(request)[:80]}")
            handler = self._handlers.get(request[2])
            if handler is None:
                raise InvalidArgument(f"unknown peer operation {request[2]!r}")
            result = await handler(*request[3])
            out.send(_frame([msg_id, True, result]))
        except LumaError as exc:
            out.send(_frame([msg_id, False, [exc.code, exc.message]]))
        except Exception as exc:
            _log.exception("peer operation %r failed", request[2])
            out.send(_frame([msg_id, False, ["internal", f"peer failed: {type(exc).__name__}"]]))


class PeerClient:
    """Calls on one peer over one pipelined connection."""

    def __init__(
        self,
        address: str,
        name: str,
        connect_timeout: float = 2.0,
        call_timeout: float | None = None,
    ) -> None:
        self.address = address
        self.name = name
        self._timeout = connect_timeout
        self._call_timeout = call_timeout
        self._out: _Batcher | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._connecting: asyncio.Lock | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def call(self, op: str, *args: Any) -> Any:
        """``op(*args)`` on the peer; its LumaError is raised here as the same class."""
        out = self._out or await self._connect()
        self._next_id += 1
        msg_id = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[msg_id] = future
        out.send(_frame([VERSION, msg_id, op, list(args)]))
        if self._call_timeout is None:
            return await future
        # A peer that stopped answering (stopped, overloaded) must not hold the caller:
        # one timer handle per call, cheaper than wait_for's task.
        timer = loop.call_later(self._call_timeout, self._expire, msg_id)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, msg_id: int) -> None:
        future = self._pending.pop(msg_id, None)
        if future is not None and not future.done():
            limit = self._call_timeout
            future.set_exception(Unavailable(f"{self.name} did not answer within {limit:g} s"))

    async def _connect(self) -> _Batcher:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._out is not None:
                return self._out
            try:
                reader, writer = await asyncio.wait_for(self._open(), self._timeout)
            except (OSError, TimeoutError) as exc:
                raise Unavailable(f"{self.name} cannot be reached ({exc})") from None
            self._out = _Batcher(writer)
            self._reader_task = asyncio.create_task(self._read(reader, writer))
            return self._out

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # Connected by hand: uvloop refuses abstract-namespace paths in open_unix_connection.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, self.address)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_unix_connection(sock=sock)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                msg_id, ok, payload = await _read_frame(reader)
                future = self._pending.pop(msg_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(payload)
                else:
                    future.set_exception(error_from_code(payload[0], payload[1]))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, msgpack.UnpackException):
            pass
        finally:
            self._out = None
            writer.close()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(Unavailable(f"{self.name} went away mid-request"))

    async def close(self) -> None:
        """Drop the connection (pending calls fail with Unavailable)."""
        if self._out is not None:
            self._out.writer.close()
        if self._reader_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
