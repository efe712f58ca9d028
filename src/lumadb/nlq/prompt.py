"""The few-shot prompt a language model gets: the readable collections and examples of LQL.

Only the schema the caller may read goes in (collections, fields with kinds and example
values, vector fields with their models), then examples of the shapes LQL answers, then the
question. Chat models get it as a system and a user message; a base model (GGUF) as one text
to continue after ``LQL:``.
"""

from __future__ import annotations

import orjson

from lumadb.nlq.schema import Schema

__all__ = ["EXAMPLES", "completion_prompt", "schema_text", "system_prompt"]

EXAMPLES = (
    ("orders with status paid", "SELECT * FROM orders WHERE status = 'paid'"),
    ("how many products cost more than 50?", "SELECT count(*) FROM products WHERE price > 50"),
    ("average price by category", "SELECT category, avg(price) FROM products GROUP BY category"),
    ("the 3 most expensive products", "SELECT * FROM products ORDER BY price DESC LIMIT 3"),
    (
        "articles about sourdough baking",
        "SELECT * FROM articles ORDER BY embedding <=> embed('sourdough baking') LIMIT 10",
    ),
)


def schema_text(schema: Schema) -> str:
    """The collections as lines a model reads."""
    lines = []
    for coll in schema.collections:
        fields = ", ".join(
            f"{f.name} ({'/'.join(sorted(f.kinds))}; e.g. "
            f"{orjson.dumps(f.examples()[:3]).decode()})"
            for f in coll.fields
        )
        lines.append(f"- {coll.name}: id, {fields}")
        for vector in coll.vectors:
            made = f", embedded from {', '.join(vector.embed_from)}" if vector.embed_from else ""
            model = f" by {vector.model}" if vector.model else ""
            lines.append(f"  vector field {vector.name} ({vector.metric}{model}{made})")
    return "\n".join(lines)


def system_prompt(schema: Schema) -> str:
    """The instructions and schema for a chat model."""
    shots = "\n".join(f"Question: {q}\nLQL: {a}" for q, a in EXAMPLES)
    return (
        "You translate questions into LQL, a SQL dialect over JSON documents. Answer with one "
        "SELECT statement and nothing else. Collections are tables; their fields are columns. "
        "For questions about a topic, order by a vector field's distance to embed('topic') "
        "with <=>.\n\nCollections:\n"
        f"{schema_text(schema)}\n\nExamples:\n{shots}"
    )


def completion_prompt(schema: Schema, question: str) -> str:
    """One text for a base model to continue with the LQL."""
    shots = "\n\n".join(f"Question: {q}\nLQL: {a}" for q, a in EXAMPLES)
    return (
        f"Collections:\n{schema_text(schema)}\n\n{shots}\n\n"
        f"Question: {question.strip()}\nLQL: SELECT"
    )
