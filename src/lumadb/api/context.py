"""What the handlers work with: the service, the accounts, the auth engine and limits."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from lumadb.api.auth.engine import AuthEngine
from lumadb.config import Settings
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService, deferred_durability

__all__ = ["ApiContext"]

T = TypeVar("T")


@dataclass(frozen=True)
class ApiContext:
    """Everything a request handler may touch; built once per worker at start-up."""

    service: LocalService
    accounts: AccountStore
    auth: AuthEngine
    settings: Settings
    executor: Executor

    @property
    def max_body(self) -> int:
        """``server.max_body``."""
        return self.settings.server.max_body

    @property
    def max_depth(self) -> int:
        """``server.max_json_depth``."""
        return self.settings.server.max_json_depth

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread.

        Writes wait for their WAL sync (group commit) and logins for argon2; on a thread they
        wait together instead of stalling every other request on the event loop.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the write ``fn(*args)`` and return once it is durable (per the shard's mode).

        In ``group`` mode the write runs right here on the event loop and its wait for the
        shared sync is awaited, not slept in a thread: a thousand concurrent requests share
        one WAL sync and one wake-up. ``always`` syncs per write, so it goes to a thread.
        """
        if self.settings.storage.durability == "always":
            return await self.blocking(fn, *args)
        with deferred_durability() as pending:
            result = fn(*args)
        for syncer in pending:
            await syncer.wait_async()
        return result
