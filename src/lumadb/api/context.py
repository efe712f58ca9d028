"""What the handlers work with: the documents, the accounts, the auth engine and limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lumadb.api.auth.engine import AuthEngine
from lumadb.config import Settings
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService
from lumadb.service.routed import ShardRouter

__all__ = ["ApiContext"]

T = TypeVar("T")


@dataclass(frozen=True)
class ApiContext:
    """Everything a request handler may touch; built once per worker at start-up.

    ``service`` is this worker's own shards and the node's records (collections, accounts);
    documents go through ``docs``, which finds the worker owning each one.
    """

    service: LocalService
    docs: ShardRouter
    accounts: AccountStore
    auth: AuthEngine
    settings: Settings

    @property
    def max_body(self) -> int:
        """``server.max_body``."""
        return self.settings.server.max_body

    @property
    def max_depth(self) -> int:
        """``server.max_json_depth``."""
        return self.settings.server.max_json_depth

    def refresh(self) -> None:
        """Take in collections and accounts another worker changed (a memory load if none)."""
        if self.service.refresh():
            self.accounts.reload()

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread (argon2 hashing, DDL with its syncs)."""
        return await self.docs.blocking(fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the local write ``fn(*args)`` and return once it is durable."""
        return await self.docs.write(fn, *args)
