"""Triggers: which changes of a collection become events, shaped how, sent where.

A trigger fires after ``insert``, ``update`` and/or ``delete`` of one collection, when its
optional condition holds. The condition is an LQL expression over ``new`` and ``old`` (the
document after and before the change; ``NULL`` where there is none): ``new.status = 'paid' AND
old.status <> 'paid'``. ``payload`` optionally projects the documents to a list of fields.
Retries belong to the trigger (``retry``): at most ``max_attempts`` attempts, waits doubling
from ``backoff_ms`` up to ``max_backoff_ms``, each with up to half again of random jitter;
each attempt may take ``timeout_ms``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lumadb.errors import InvalidArgument, QueryError
from lumadb.events.sinks import SinkPolicy, check_sink
from lumadb.query.conditions import compile_condition
from lumadb.query.parser import Lql
from lumadb.service import Change

__all__ = ["OPS", "Trigger", "decode_triggers", "encode_triggers", "trigger_from_dict"]

OPS = ("insert", "update", "delete")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_SIDES = frozenset({"new", "old"})
_KEYS = frozenset(
    {"name", "collection", "on", "when", "payload", "sink", "retry", "enabled", "created_ms"}
)  # fmt: skip


@dataclass(frozen=True)
class Trigger:
    """One trigger as stored in the node's records."""

    name: str
    collection: str
    on: tuple[str, ...]
    sink: Mapping[str, Any]  # {"type": ..., options}
    when: str | None = None
    payload: tuple[str, ...] | None = None
    max_attempts: int = 6
    backoff: float = 1.0
    max_backoff: float = 300.0
    timeout: float = 10.0
    enabled: bool = True
    created_ms: int = 0
    _condition: Callable[[dict[str, Any]], bool] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.when is not None:
            object.__setattr__(self, "_condition", compile_trigger_condition(self.when))

    def matches(self, change: Change) -> bool:
        """Whether ``change`` fires this trigger."""
        if change.collection != self.collection:
            return False
        op = change.op
        if op == "put":  # a change from before the feed recorded old images
            if "insert" not in self.on and "update" not in self.on:
                return False
        elif op not in self.on:
            return False
        if self._condition is None:
            return True
        return self._condition({"new": change.new, "old": change.old})

    def body(self, change: Change, event_id: str, ts: int) -> dict[str, Any]:
        """The JSON every sink sends for ``change`` (``ts``: when it was read, ms)."""
        return {
            "id": event_id,
            "trigger": self.name,
            "collection": change.collection,
            "op": change.op,
            "key": change.id,
            "shard": change.shard,
            "seq": change.seq,
            "new": self._project(change.new),
            "old": self._project(change.old),
            "ts": ts,
        }

    def _project(self, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None or self.payload is None:
            return doc
        return {name: doc[name] for name in self.payload if name in doc}

    def describe(self) -> dict[str, Any]:
        """The trigger as the API shows it (secrets hidden)."""
        sink = {k: ("***" if k == "secret" else v) for k, v in self.sink.items()}
        return {**self.to_dict(), "sink": sink}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "collection": self.collection,
            "on": list(self.on),
            "when": self.when,
            "payload": list(self.payload) if self.payload is not None else None,
            "sink": dict(self.sink),
            "retry": {
                "max_attempts": self.max_attempts,
                "backoff_ms": round(self.backoff * 1000),
                "max_backoff_ms": round(self.max_backoff * 1000),
                "timeout_ms": round(self.timeout * 1000),
            },
            "enabled": self.enabled,
            "created_ms": self.created_ms,
        }


def compile_trigger_condition(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over ``{"new": doc, "old": doc}``; every field must be under new or old."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("a trigger's when must be a non-empty LQL condition")
    dialect = Lql()
    try:
        node = dialect.parser().parse_into(exp.Condition, dialect.tokenize(text), text)[0]
    except (ParseError, TokenError) as exc:
        raise QueryError(f"the trigger's when is not an LQL condition: {exc}") from None
    for column in node.find_all(exp.Column) if node is not None else ():
        parts = [p.name for p in column.parts]
        if len(parts) < 2 or parts[0].lower() not in _SIDES:
            raise QueryError(
                f"{column.sql(dialect=Lql)} in a trigger's when must be new.<field> or old.<field>"
            )
    return compile_condition(text, "__trigger__")


def _whole(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(
            f"trigger retry.{key} must be a whole number in {low}..{high}, got {value!r}"
        )
    return value


_RETRY_KEYS = frozenset({"max_attempts", "backoff_ms", "max_backoff_ms", "timeout_ms"})


def _retry(raw: Any) -> dict[str, int]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidArgument("trigger retry must be an object")
    unknown = set(raw) - _RETRY_KEYS
    if unknown:
        raise InvalidArgument(
            f"trigger retry key {sorted(unknown)[0]!r} is unknown; expected: "
            + ", ".join(sorted(_RETRY_KEYS))
        )
    return {
        "max_attempts": _whole(raw, "max_attempts", 6, 1, 100),
        "backoff_ms": _whole(raw, "backoff_ms", 1000, 0, 3_600_000),
        "max_backoff_ms": _whole(raw, "max_backoff_ms", 300_000, 0, 86_400_000),
        "timeout_ms": _whole(raw, "timeout_ms", 10_000, 1, 600_000),
    }


def trigger_from_dict(raw: Mapping[str, Any], allow: SinkPolicy, now_ms: int = 0) -> Trigger:
    """A checked trigger from its JSON description (REST, LQL and the CLI all come here)."""
    if not isinstance(raw, Mapping):
        raise InvalidArgument("a trigger must be a JSON object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise InvalidArgument(f"trigger key {sorted(unknown)[0]!r} is unknown")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"trigger name {name!r} must be a letter or _ then up to 62 letters, digits or _"
        )
    collection = raw.get("collection")
    if not isinstance(collection, str) or not collection:
        raise InvalidArgument("trigger collection must be a collection name")
    on = raw.get("on", list(OPS))
    if isinstance(on, str):
        on = [on]
    if not isinstance(on, Sequence) or not on or any(op not in OPS for op in on):
        raise InvalidArgument(f"trigger on must list some of {', '.join(OPS)}; got {on!r}")
    payload = raw.get("payload")
    if payload is not None and (
        not isinstance(payload, list) or not all(isinstance(p, str) and p for p in payload)
    ):
        raise InvalidArgument("trigger payload must be a list of field names")
    when = raw.get("when")
    if when is not None:
        compile_trigger_condition(when)  # its errors before the sink's
    sink = raw.get("sink")
    if not isinstance(sink, Mapping) or not isinstance(sink.get("type"), str):
        raise InvalidArgument('trigger sink must be an object with a "type"')
    options = {k: v for k, v in sink.items() if k != "type"}
    checked = {"type": sink["type"], **check_sink(sink["type"], options, allow)}
    retry = _retry(raw.get("retry"))
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidArgument("trigger enabled must be true or false")
    return Trigger(
        name=name,
        collection=collection,
        on=tuple(op for op in OPS if op in on),
        sink=checked,
        when=when if when is None else str(when),
        payload=tuple(payload) if payload is not None else None,
        max_attempts=retry["max_attempts"],
        backoff=retry["backoff_ms"] / 1000,
        max_backoff=retry["max_backoff_ms"] / 1000,
        timeout=retry["timeout_ms"] / 1000,
        enabled=enabled,
        created_ms=int(raw.get("created_ms", now_ms) or now_ms),
    )


def encode_triggers(triggers: Mapping[str, Trigger]) -> bytes:
    return orjson.dumps([t.to_dict() for t in triggers.values()])


def decode_triggers(raw: bytes | None) -> dict[str, Trigger]:
    """Stored triggers; sink options were checked when stored, so only their shape is read."""
    if not raw:
        return {}
    out: dict[str, Trigger] = {}
    for item in orjson.loads(raw):
        out[item["name"]] = Trigger(
            name=item["name"],
            collection=item["collection"],
            on=tuple(item["on"]),
            sink=item["sink"],
            when=item.get("when"),
            payload=tuple(item["payload"]) if item.get("payload") is not None else None,
            max_attempts=item["retry"]["max_attempts"],
            backoff=item["retry"]["backoff_ms"] / 1000,
            max_backoff=item["retry"]["max_backoff_ms"] / 1000,
            timeout=item["retry"]["timeout_ms"] / 1000,
            enabled=item["enabled"],
            created_ms=item["created_ms"],
        )
    return out
