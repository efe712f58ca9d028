"""Asking: checks of what a provider answers, the providers (a real local OpenAI-compatible
chat server; the GGUF model when llama-cpp-python is installed), dry runs and the audit log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import lumadb
from lumadb.config import NlqSettings, Settings
from lumadb.errors import LanguageModelFailed, TranslationFailed
from lumadb.nlq.ask import checked_lql

ORDERS = [("o1", {"status": "paid", "amount": 10}), ("o2", {"status": "new", "amount": 5})]


@pytest.mark.parametrize(
    ("answer", "lql"),
    [
        ("SELECT * FROM orders", "SELECT * FROM orders"),
        ("```sql\nSELECT count(*) FROM orders;\n```", "SELECT count(*) FROM orders"),
        ("SELECT id FROM orders; DROP COLLECTION orders", "SELECT id FROM orders"),
    ],
)
def test_an_answer_is_cut_to_one_select(answer: str, lql: str) -> None:
    assert checked_lql(answer) == lql


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "DELETE FROM orders",
        "DROP COLLECTION orders",
        "INSERT INTO orders (id) VALUES ('x')",
        "CREATE INDEX ON orders (a)",
        "I think you want the orders",
        "UPDATE orders SET a = 1",
    ],
)
def test_anything_but_a_select_is_refused(answer: str) -> None:
    with pytest.raises(TranslationFailed):
        checked_lql(answer)


class Chat:
    """What the local chat server saw and will answer."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.reply = "SELECT count(*) FROM orders WHERE status = 'paid'"
        self.status = 200


@contextmanager
def chat_server() -> Iterator[tuple[str, Chat]]:
    chat = Chat()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            chat.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            ok = self.path == "/v1/chat/completions" and chat.status == 200
            payload = (
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": chat.reply}}]}
                if ok
                else {"error": {"message": "no"}}
            )
            raw = json.dumps(payload).encode()
            self.send_response(200 if ok else chat.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", chat
    finally:
        server.shutdown()
        server.server_close()


def test_an_openai_compatible_chat_endpoint(tmp_path: Path) -> None:
    with chat_server() as (url, chat):
        settings = Settings(nlq=NlqSettings(provider="openai", base_url=url, model="m"))
        with lumadb.open(str(tmp_path / "data"), config=settings) as db:
            db.create_collection("orders").put_many(ORDERS)
            db.create_collection("secrets").put("s1", {"code": "x"})
            found = db.ask("how many paid orders?")
            assert found["rows"] == [[1]]
            assert found["provider"] == "openai"
            system = chat.bodies[0]["messages"][0]["content"]
            assert "orders" in system and "status" in system
            assert chat.bodies[0]["model"] == "m"
            chat.reply = "DELETE FROM orders"
            with pytest.raises(TranslationFailed, match="not one SELECT"):
                db.ask("delete everything")
            assert db.collection("orders").count() == 2
            chat.status = 500
            with pytest.raises(LanguageModelFailed, match="answered 500"):
                db.ask("anything")
            log = (tmp_path / "data" / "nlq-audit.jsonl").read_text().splitlines()
            outcomes = [json.loads(line)["outcome"] for line in log]
            assert outcomes == ["answered", "translation_failed", "language_model_failed"]
            assert json.loads(log[1])["lql"] is None


def test_dry_run_and_bad_questions() -> None:
    with lumadb.open(":memory:") as db:
        db.create_collection("orders").put_many(ORDERS)
        dry = db.ask("orders with status paid", dry_run=True)
        assert dry == {
            "question": "orders with status paid",
            "lql": "SELECT * FROM orders WHERE status = 'paid'",
            "provider": "builtin",
        }
        for question in ("", "   ", "x" * 3000, 3):
            with pytest.raises(lumadb.errors.InvalidArgument):
                db.ask(question)  # type: ignore[arg-type]
        with pytest.raises(TranslationFailed, match="no collection"):
            db.ask("tell me about the weather on mars")


def test_the_schema_holds_only_what_is_asked_about() -> None:
    from lumadb.nlq.ask import schema_of

    with lumadb.open(":memory:") as db:
        db.create_collection("orders").put_many(ORDERS)
        db.create_collection("secrets").put("s1", {"code": "x"})
        schema = schema_of(db._svc, ["orders"], 10)
        assert schema.names == ["orders"]
        assert {f.name for f in schema.collections[0].fields} == {"status", "amount"}


def test_a_local_gguf_model() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (it compiles)")
    settings = Settings(nlq=NlqSettings(provider="llama", max_tokens=48))
    with lumadb.open(":memory:", config=settings) as db:
        db.create_collection("orders").put_many(ORDERS)
        try:
            found = db.ask("orders with status paid", dry_run=True)
        except TranslationFailed:
            return  # a 270M base model may answer nonsense: refused, never run
        assert found["lql"].upper().startswith("SELECT")
