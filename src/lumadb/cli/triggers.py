"""``luma triggers ...``: list, show, create, drop, pause and resume triggers; dead letters.

The data directory is opened as every data command opens it; while a command runs, the
directory's dispatcher delivers as a node would (so a pending event may go out meanwhile).
"""

from __future__ import annotations

import json
from typing import Any

import click

from lumadb.cli._common import CliError, db_options, open_db, settings_from
from lumadb.cli._output import format_ms, plural, say, table

__all__ = ["triggers"]

_OPS = ("insert", "update", "delete")


@click.group(invoke_without_command=True)
@db_options
@click.pass_context
def triggers(ctx: click.Context) -> None:
    """Event triggers (without a subcommand: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_triggers)


@triggers.command("list")
@db_options
@click.pass_context
def list_triggers(ctx: click.Context) -> None:
    """Every trigger with its sink, state, lag and counters."""
    with open_db(settings_from(ctx)) as db:
        found = db.triggers()
        if not found:
            say(f"no triggers in {db.path}")
            return
        rows = []
        for described in found:
            status = db.trigger_status(described["name"])
            rows.append((
                status["name"], status["collection"], ",".join(status["on"]), _sink(status),
                "yes" if status["enabled"] else "paused", status["lag"], status["delivered"],
                status["dead_letters"],
            ))  # fmt: skip
        headers = ("name", "collection", "on", "sink", "enabled", "lag", "delivered", "dead")
        table(f"triggers in {db.path}", headers, rows, numeric={"lag", "delivered", "dead"})


def _sink(status: dict[str, Any]) -> str:
    sink = status["sink"]
    if sink["type"] == "webhook":
        return f"webhook {sink['url']}"
    if sink["type"] == "kafka":
        return f"kafka {sink['bootstrap']} {sink['topic']}"
    return str(sink["type"])


@triggers.command("show")
@click.argument("name")
@db_options
@click.pass_context
def show_trigger(ctx: click.Context, name: str) -> None:
    """The trigger NAME with its cursors and counters, as JSON."""
    with open_db(settings_from(ctx)) as db:
        say(json.dumps(db.trigger_status(name), indent=2, ensure_ascii=False))


@triggers.command("create")
@click.argument("name")
@click.option("--collection", "-C", required=True, help="The collection whose changes it sends.")
@click.option(
    "--on", "ops", type=click.Choice(_OPS), multiple=True,
    help="A change to send (repeat it; default: all three).",
)  # fmt: skip
@click.option("--when", help="An LQL condition over new and old (new.status = 'paid').")
@click.option("--webhook", metavar="URL", help="Send each event as a POST to URL.")
@click.option("--kafka", metavar="BOOTSTRAP", help="Send each event to a Kafka broker...")
@click.option("--topic", help="...on this topic (with --kafka).")
@click.option("--secret", help="The webhook's HMAC signing secret (at least 16 characters).")
@click.option("--retries", type=int, help="Attempts before an event is a dead letter.")
@click.option(
    "--paused", is_flag=True, help="Create it paused (resume with `luma triggers resume`)."
)
@db_options
@click.pass_context
def create_trigger(
    ctx: click.Context,
    name: str,
    collection: str,
    ops: tuple[str, ...],
    when: str | None,
    webhook: str | None,
    kafka: str | None,
    topic: str | None,
    secret: str | None,
    retries: int | None,
    paused: bool,
) -> None:
    """Create the trigger NAME sending COLLECTION's changes to a webhook or a Kafka topic."""
    if (webhook is None) == (kafka is None):
        raise CliError("give one sink: --webhook URL or --kafka BOOTSTRAP --topic TOPIC")
    if kafka is not None and topic is None:
        raise CliError("--kafka needs --topic")
    if webhook is None and (secret is not None):
        raise CliError("--secret signs webhooks; a Kafka sink has none")
    sink: dict[str, Any] = (
        {"type": "webhook", "url": webhook} if webhook is not None
        else {"type": "kafka", "bootstrap": kafka, "topic": topic}
    )  # fmt: skip
    if secret is not None:
        sink["secret"] = secret
    options: dict[str, Any] = {"enabled": not paused}
    if retries is not None:
        options["retry"] = {"max_attempts": retries}
    with open_db(settings_from(ctx)) as db:
        made = db.create_trigger(name, collection, sink, on=ops or _OPS, when=when, **options)
        state = "" if made["enabled"] else " (paused)"
        say(f"created trigger {name} on {collection} ({', '.join(made['on'])}) → "
            f"{_sink(made)}{state}")  # fmt: skip


@triggers.command("drop")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@db_options
@click.pass_context
def drop_trigger(ctx: click.Context, name: str, yes: bool) -> None:
    """Drop the trigger NAME with its cursors and dead letters (asks first unless --yes)."""
    with open_db(settings_from(ctx)) as db:
        dead = db.trigger_status(name)["dead_letters"]
        if not yes:
            click.confirm(f"drop trigger {name} and its {plural(dead, 'dead letter')}?", abort=True)
        db.drop_trigger(name)
        say(f"dropped trigger {name}")


@triggers.command("pause")
@click.argument("name")
@db_options
@click.pass_context
def pause_trigger(ctx: click.Context, name: str) -> None:
    """Stop NAME's deliveries; its cursors wait (the changes meanwhile go out on resume)."""
    _switch(ctx, name, enabled=False)


@triggers.command("resume")
@click.argument("name")
@db_options
@click.pass_context
def resume_trigger(ctx: click.Context, name: str) -> None:
    """Start NAME's deliveries again from where they stopped."""
    _switch(ctx, name, enabled=True)


def _switch(ctx: click.Context, name: str, *, enabled: bool) -> None:
    with open_db(settings_from(ctx)) as db:
        db.enable_trigger(name, enabled)
        say(f"{'resumed' if enabled else 'paused'} trigger {name}")


@triggers.command("dead")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--redeliver", is_flag=True, help="Deliver them again instead of listing them.")
@db_options
@click.pass_context
def dead_letters(ctx: click.Context, name: str, limit: int, redeliver: bool) -> None:
    """NAME's dead letters, oldest first (or, with --redeliver, send them again)."""
    with open_db(settings_from(ctx)) as db:
        if redeliver:
            say(f"redelivering {plural(db.redeliver(name), 'dead letter')} of {name}")
            return
        letters = db.dead_letters(name, limit)
        if not letters:
            say(f"trigger {name} has no dead letters")
            return
        rows = [
            (d["event"]["id"], d["event"]["op"], d["event"]["key"], d["attempts"], d["error"],
             format_ms(d.get("failed_ms")))
            for d in letters
        ]  # fmt: skip
        headers = ("event", "op", "key", "attempts", "error", "failed")
        table(f"dead letters of {name}", headers, rows, numeric={"attempts"})
