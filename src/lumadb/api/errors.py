"""The one place where errors become HTTP responses.

A :class:`~lumadb.errors.LumaError` carries its code and status; this module adds the
headers some statuses need (``WWW-Authenticate``, ``Retry-After``, ``Allow``). Anything else
is a bug: it is logged with the request id and the client gets a 500 that names only the
request id, never the exception.
"""

from __future__ import annotations

import logging
import math

from lumadb.api._wire import Response, json_response
from lumadb.errors import LumaError, MethodNotAllowed, TooManyRequests, Unauthorized

__all__ = ["error_response"]

_log = logging.getLogger("lumadb.api")


def error_response(exc: BaseException, request_id: str) -> Response:
    """The response for ``exc`` raised while serving request ``request_id``."""
    if not isinstance(exc, LumaError):
        _log.error("request %s failed", request_id, exc_info=exc)
        body = {
            "error": {
                "code": "internal",
                "message": f"internal error; the server log has details under {request_id}",
            }
        }
        return json_response(body, 500)
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, Unauthorized):
        headers.append((b"www-authenticate", b'Bearer realm="lumadb"'))
    elif isinstance(exc, TooManyRequests):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    elif isinstance(exc, MethodNotAllowed):
        headers.append((b"allow", ", ".join(exc.allowed).encode()))
    if exc.status >= 500:
        _log.warning("request %s: %s: %s", request_id, exc.code, exc.message)
    return json_response(exc.to_dict(), exc.status, headers)
