"""Server answers and transport failures, turned into :class:`~lumadb.errors.LumaError`.

The server sends every error as ``{"error": {"code", "message"}}``; the code names a class of
:mod:`lumadb.errors`, so the caller of the client catches exactly what the caller of the
embedded API catches. httpx exceptions never leave this package.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from lumadb.errors import (
    DatabaseClosed,
    LumaError,
    MethodNotAllowed,
    RequestTimeout,
    TooManyRequests,
    class_for_code,
)

__all__ = ["error_from_response", "transport_error"]


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def _error_body(response: httpx.Response) -> tuple[str, str] | None:
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    return code, message


def error_from_response(response: httpx.Response) -> LumaError:
    """The error an unsuccessful ``response`` stands for (its code's class and message)."""
    found = _error_body(response)
    if found is None:
        # Not our server's error format (a proxy in between, say): keep what it said.
        text = response.text[:200].strip() or response.reason_phrase
        error = LumaError(f"HTTP {response.status_code} from the server: {text}")
        error.status = response.status_code
        return error
    code, message = found
    cls = class_for_code(code)
    if cls is TooManyRequests:
        return TooManyRequests(message, _retry_after(response))
    if cls is MethodNotAllowed:
        allowed = tuple(m.strip() for m in response.headers.get("allow", "").split(",") if m)
        return MethodNotAllowed(message, allowed)
    error = cls(message)
    if cls is LumaError:
        # A code this client does not know (a newer server): keep it for the caller to read.
        error.code, error.status = code, response.status_code
    return error


def transport_error(exc: httpx.HTTPError, url: str, timeout: float) -> LumaError:
    """The error for a request that got no HTTP answer from the server at ``url``."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(f"no answer from the server at {url} within {timeout:g} s")
    if isinstance(exc, httpx.TransportError):
        return DatabaseClosed(f"cannot reach the server at {url}: {exc or type(exc).__name__}")
    return LumaError(f"HTTP exchange with {url} failed: {exc or type(exc).__name__}")
