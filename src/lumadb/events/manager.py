"""The node's triggers: stored in its records, run by this process's dispatcher.

Triggers are one record (``events.triggers``) shared by every process of the node; each
process runs the dispatcher of the shards it owns. A trigger starts at the end of every
shard's feed when it is made (it fires for later changes, as in PostgreSQL and Hasura).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lumadb.config import key_from_env
from lumadb.errors import Conflict, InvalidArgument, NotFound
from lumadb.events.dispatcher import Dispatcher
from lumadb.events.sinks import SinkPolicy
from lumadb.events.store import ShardEvents
from lumadb.events.triggers import Trigger, decode_triggers, encode_triggers, trigger_from_dict

if TYPE_CHECKING:
    from lumadb.service.local import LocalService

__all__ = ["Events", "TriggerNotFound", "attach_events"]

_RECORD = "events.triggers"


class TriggerNotFound(NotFound):
    code = "trigger_not_found"


class TriggerExists(Conflict):
    code = "trigger_exists"


class Events:
    """Trigger management and delivery for one service."""

    def __init__(self, service: LocalService) -> None:
        self.service = service
        settings = service.settings.events
        secret = key_from_env(settings.signing_secret_env)
        self.policy = SinkPolicy(
            allow_private=settings.allow_private,
            max_response_bytes=settings.max_response_size,
            signing_secret=secret.encode() if secret else b"",
        )
        self.shards = [ShardEvents(s, settings.dead_letter_limit) for s in service.store.shards]
        self._triggers = decode_triggers(service.records.get(_RECORD))
        self.dispatcher: Dispatcher | None = None
        if settings.enabled:
            from lumadb.storage.faults import FAULTS

            self.dispatcher = Dispatcher(
                service, settings, self.policy, self.shards,
                skip_cursor_wait=FAULTS.events_cursor_first,
            )  # fmt: skip
            self.dispatcher.sync(self._triggers)

    # --- management ------------------------------------------------------------------------

    def create(self, raw: dict[str, Any], *, replace_existing: bool = False) -> dict[str, Any]:
        """Store a new trigger (checked) and start it; returns its description."""
        trigger = trigger_from_dict(raw, self.policy, self.service.store.clock.now_ms())
        self.service.describe_collection(trigger.collection)  # it must exist
        self.service.record_old_images(trigger.collection)
        with self.service.records.locked():
            triggers = decode_triggers(self.service.records.get(_RECORD))
            if trigger.name in triggers and not replace_existing:
                raise TriggerExists(f"trigger {trigger.name!r} already exists")
            if trigger.name not in triggers:
                # Start at the end of the feed of the shards here; others start at theirs
                # when their process first sees the trigger, before its next request.
                self._start_cursors(trigger.name)
            triggers[trigger.name] = trigger
            self.service.records.put(_RECORD, encode_triggers(triggers))
        self.refresh()
        return trigger.describe()

    def _start_cursors(self, name: str) -> None:
        for state in self.shards:
            state.set_cursor(name, state.shard.engine.last_seq())

    def drop(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a trigger with its cursors and dead letters."""
        with self.service.records.locked():
            triggers = decode_triggers(self.service.records.get(_RECORD))
            if triggers.pop(name, None) is None:
                if missing_ok:
                    return False
                raise TriggerNotFound(f"trigger {name!r} does not exist")
            self.service.records.put(_RECORD, encode_triggers(triggers))
        self.refresh()
        for state in self.shards:
            state.forget(name)
        return True

    def get(self, name: str) -> Trigger:
        self.refresh()
        trigger = self._triggers.get(name)
        if trigger is None:
            raise TriggerNotFound(f"trigger {name!r} does not exist")
        return trigger

    def describe_all(self) -> list[dict[str, Any]]:
        self.refresh()
        return [t.describe() for t in sorted(self._triggers.values(), key=lambda t: t.name)]

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        trigger = self.get(name)
        with self.service.records.locked():
            triggers = decode_triggers(self.service.records.get(_RECORD))
            triggers[name] = replace(trigger, enabled=enabled)
            self.service.records.put(_RECORD, encode_triggers(triggers))
        self.refresh()
        return triggers[name].describe()

    def status(self, name: str, *, lag: bool = True) -> dict[str, Any]:
        """Cursors, lag and counters of this process's shards.

        Counting the lag reads the change feed after the cursors; ``lag=False`` leaves it out
        (``None``) for a caller that polls.
        """
        trigger = self.get(name)
        figures = self.dispatcher.figures[name] if self.dispatcher else None
        behind = self.dispatcher.lag(name) if self.dispatcher and lag else {}
        return {
            **trigger.describe(),
            "cursors": {str(s.shard.id): s.cursor(name) for s in self.shards},
            "lag": sum(behind.values()) if lag else None,
            "delivered": figures.delivered if figures else 0,
            "attempts": figures.attempts if figures else 0,
            "failures": figures.failures if figures else 0,
            "dead_letters": sum(len(s.dead(name)) for s in self.shards),
        }

    def metrics(self) -> list[dict[str, Any]]:
        """This process's figures per trigger, for ``/metrics`` (lag per shard, capped)."""
        if self.dispatcher is None:
            return []
        self.refresh()
        out = []
        for name in sorted(self._triggers):
            figures = self.dispatcher.figures[name]
            out.append({
                "trigger": name,
                "delivered": figures.delivered,
                "attempts": figures.attempts,
                "failures": figures.failures,
                "dead": figures.dead,
                "latency_sum": figures.latency_sum,
                "lag": {str(k): v for k, v in self.dispatcher.lag(name).items()},
            })  # fmt: skip
        return out

    # --- dead letters and replay -----------------------------------------------------------

    def dead_letters(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        self.get(name)
        out: list[dict[str, Any]] = []
        for state in self.shards:
            out.extend(letter for _, letter in state.dead(name, limit))
        out.sort(key=lambda letter: letter["failed_ms"])
        return out[:limit]

    def purge_dead(self, name: str) -> int:
        self.get(name)
        removed = 0
        for state in self.shards:
            for seq, _ in state.dead(name):
                state.drop_dead(name, seq)
                removed += 1
        return removed

    def redeliver(self, name: str) -> int:
        """Deliver every dead letter again, by replaying the feed from the oldest one."""
        self.get(name)
        count = 0
        for state in self.shards:
            letters = state.dead(name)
            if not letters:
                continue
            oldest = letters[0][0]
            self._move(name, state, oldest - 1)
            for seq, _ in letters:
                state.drop_dead(name, seq)
            count += len(letters)
        return count

    def replay(self, name: str, since: dict[int, int]) -> dict[str, int]:
        """Deliver again every change after ``since[shard]`` (0 = the oldest kept)."""
        self.get(name)
        moved: dict[str, int] = {}
        for state in self.shards:
            seq = since.get(state.shard.id)
            if seq is None:
                continue
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise InvalidArgument(f"replay offsets must be whole numbers ≥ 0, got {seq!r}")
            self._move(name, state, seq)
            moved[str(state.shard.id)] = seq
        return moved

    def _move(self, name: str, state: ShardEvents, seq: int) -> None:
        # Stop the shard's task while its cursor moves, so it cannot write an older one back.
        trigger = self._triggers[name]
        if self.dispatcher is not None:
            self.dispatcher.sync({k: v for k, v in self._triggers.items() if k != name})
        state.set_cursor(name, max(0, seq))
        if self.dispatcher is not None:
            self.dispatcher.sync({**self._triggers, name: trigger})

    # --- life ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Take in triggers changed by any process of the node."""
        triggers = decode_triggers(self.service.records.get(_RECORD))
        for name in triggers.keys() - self._triggers.keys():
            for state in self.shards:
                if state.cursor(name) is None:
                    state.set_cursor(name, state.shard.engine.last_seq())
        self._triggers = triggers
        if self.dispatcher is not None:
            self.dispatcher.sync(triggers)

    def floor(self) -> dict[int, int]:
        return self.dispatcher.floor() if self.dispatcher else {}

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()


def attach_events(service: LocalService) -> Events:
    """Give ``service`` its triggers and their dispatcher."""
    events = Events(service)
    service.attach_events(events)
    return events
