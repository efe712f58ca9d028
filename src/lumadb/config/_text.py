"""How configuration values are shown in error messages.

Users wrote the value in TOML or in a shell, so errors echo it back in TOML spelling
(``"sometimes"``, ``true``, ``{ copies = 2 }``) rather than as a Python ``repr``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping

__all__ = ["choices", "show"]

# A pasted blob should not drown the message that explains it.
_MAX_SHOWN = 80


def show(value: object) -> str:
    """Render ``value`` the way it would be written in luma.toml, shortened if long."""
    text = _render(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def choices(values: Iterable[object]) -> str:
    """``"a", "b", "c"``: the allowed values of an enumeration, for an error message."""
    return ", ".join(_render(value) for value in values)


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.date | datetime.time):
        # TOML has date and time literals; echo them as written, not as Python reprs.
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(f"{key} = {_render(item)}" for key, item in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    return repr(value)
