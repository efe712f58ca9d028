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
from lumadb.service.local import LocalService

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
