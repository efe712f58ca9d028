"""Where events go: the sink plug-in interface.

A sink takes one event at a time and either delivers it or raises :class:`DeliveryFailed`.
The dispatcher owns retries, back-off, ordering and dead letters; a sink only knows its
target. Sinks are found by ``type`` among the ``lumadb.sinks`` entry points, so a package can
add one without touching LumaDB; the built-in ``webhook`` and ``kafka`` are registered the same
way in LumaDB's own ``pyproject.toml``.

A sink's ``send`` runs on the dispatcher's event loop and must not block it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from lumadb.errors import InvalidArgument

__all__ = ["BatchSink", "DeliveryFailed", "Event", "Sink", "SinkFactory", "make_sink", "sink_types"]

ENTRY_POINT_GROUP = "lumadb.sinks"


@dataclass(frozen=True, slots=True)
class Event:
    """One change as a trigger delivers it.

    ``id`` is stable across redeliveries (``"<shard>-<seq>"``): receivers deduplicate on it
    together with ``trigger``. ``body`` is the JSON payload every sink sends.
    """

    id: str
    trigger: str
    collection: str
    key: str
    op: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class DeliveryFailed(Exception):
    """A delivery attempt failed.

    ``retryable`` is false for answers that repeating cannot change (a 4xx other than 408 and
    429); ``retry_after`` is the target's own wish in seconds (HTTP ``Retry-After``), if any.
    """

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class BatchSink(Protocol):
    """A sink that takes many events at once as well (Kafka: the producer batches them)."""

    async def send_many(self, events: Sequence[Event]) -> list[DeliveryFailed | None]:
        """Deliver ``events`` in order; per event, None or why it failed (never raises).

        Events with the same key must reach the target in the order given.
        """
        ...


class Sink(Protocol):
    """A delivery target made from one trigger's sink settings."""

    async def start(self) -> None:
        """Open connections; called once on the dispatcher's loop before the first send."""
        ...

    async def send(self, event: Event) -> None:
        """Deliver ``event`` or raise :class:`DeliveryFailed`; at most ``timeout`` seconds."""
        ...

    async def close(self) -> None:
        """Release connections; no send follows."""
        ...


class SinkFactory(Protocol):
    """What an entry point names: checks settings and builds a sink from them."""

    def check(self, options: Mapping[str, Any], allow: SinkPolicy) -> dict[str, Any]:
        """Validated, normalised options (raise :class:`InvalidArgument` naming the key)."""
        ...

    def build(self, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> Sink:
        """A sink for options :meth:`check` returned."""
        ...


@dataclass(frozen=True, slots=True)
class SinkPolicy:
    """Node settings every sink obeys (``[events]`` in ``luma.toml``)."""

    allow_private: tuple[str, ...] = ()  # networks (CIDR) private targets may be in
    max_response_bytes: int = 65536
    signing_secret: bytes = b""


def sink_types() -> list[str]:
    """The names of every registered sink type."""
    return sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)})


def check_known(kind: str, options: Mapping[str, Any], known: Sequence[str]) -> None:
    """:class:`InvalidArgument` naming the first option of ``options`` not in ``known``."""
    unknown = set(options) - set(known)
    if unknown:
        raise InvalidArgument(
            f"{kind} option {sorted(unknown)[0]!r} is unknown; expected: {', '.join(known)}"
        )


def make_sink(kind: str, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> Sink:
    """Build a sink of type ``kind``."""
    return _factory(kind).build(options, allow, timeout)


def check_sink(kind: str, options: Mapping[str, Any], allow: SinkPolicy) -> dict[str, Any]:
    """Validate a sink's options for type ``kind``."""
    return _factory(kind).check(options, allow)


def _factory(kind: str) -> SinkFactory:
    # Only the asked-for plug-in is imported: one that fails to load cannot break the others.
    for point in entry_points(group=ENTRY_POINT_GROUP, name=kind):
        try:
            factory: SinkFactory = point.load()
        except (ImportError, AttributeError) as exc:
            raise InvalidArgument(f"sink type {kind!r} is not usable here: {exc}") from None
        return factory
    allowed = ", ".join(sink_types()) or "none installed"
    raise InvalidArgument(f"sink type {kind!r} is unknown; expected one of: {allowed}")
