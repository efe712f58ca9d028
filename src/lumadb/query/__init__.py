"""LQL, LumaDB's query language: SQL (parsed with sqlglot) over collections of documents.

``parser`` turns text into statements, ``compile`` expressions into closures, ``execute``
plans statements (once per text) and runs them on a service. See ``docs/lql.md``.
"""

from __future__ import annotations

from lumadb.query.execute import Engine, Result

__all__ = ["Engine", "Result"]
