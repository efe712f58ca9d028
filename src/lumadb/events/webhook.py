"""The webhook sink: an HTTP POST of the event's JSON, signed.

Each request carries ``X-Luma-Event-Id``, ``X-Luma-Trigger`` and, when a secret is set,
``X-Luma-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (Stripe's scheme:
the timestamp inside the signed text lets receivers refuse replays of old requests).

Targets that resolve to private, loopback, link-local or otherwise non-public addresses are
refused unless their network is listed in ``[events] allow_private``: a trigger must not
become a way to reach the node's own network (SSRF). The check runs when the trigger is made
and inside the client's resolver, on exactly the addresses it connects to, so a name
re-pointed after the first check (DNS rebinding) is caught too. Redirects are not followed,
for the same reason. Success is a 2xx; 408, 429 and 5xx are retried (``Retry-After``
honoured); other answers are final. At most ``max_response_bytes`` of a response are read.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult

from lumadb.errors import InvalidArgument
from lumadb.events.sinks import DeliveryFailed, Event, SinkPolicy, check_known

__all__ = ["FACTORY", "WebhookSink", "signature"]

_OPTIONS = ("url", "headers", "secret")
_RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "x-luma-event-id",
        "x-luma-trigger",
        "x-luma-signature",
    }
)
_RETRY_STATUS = frozenset({408, 425, 429})


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Luma-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _Factory:
    def check(self, options: Mapping[str, Any], allow: SinkPolicy) -> dict[str, Any]:
        check_known("webhook", options, _OPTIONS)
        url = options.get("url")
        if not isinstance(url, str) or not url:
            raise InvalidArgument("webhook url must be a non-empty string")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument(f"webhook url {url!r} must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise InvalidArgument("webhook url must not hold credentials; use headers")
        headers = options.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise InvalidArgument("webhook headers must be an object of strings")
        for name in headers:
            if name.lower() in _RESERVED_HEADERS:
                raise InvalidArgument(f"webhook header {name!r} is set by LumaDB itself")
            if not name or any(c in name for c in " :\r\n") or "\n" in headers[name]:
                raise InvalidArgument(f"webhook header {name!r} is not a valid header")
        secret = options.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise InvalidArgument("webhook secret must be a string of at least 16 characters")
        _check_target(parts.hostname, allow)
        out: dict[str, Any] = {"url": url, "headers": dict(headers)}
        if secret is not None:
            out["secret"] = secret
        return out

    def build(self, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> WebhookSink:
        return WebhookSink(options, allow, timeout)


FACTORY = _Factory()


class WebhookSink:
    """POSTs events to one URL."""

    def __init__(self, options: Mapping[str, Any], allow: SinkPolicy, timeout: float) -> None:
        self.url: str = options["url"]
        self._host = urlsplit(self.url).hostname or ""
        self._headers: dict[str, str] = dict(options.get("headers", {}))
        secret = options.get("secret")
        self._secret = secret.encode() if secret else allow.signing_secret
        self._allow = allow
        self._timeout = timeout
        self._client: aiohttp.ClientSession | None = None
        # aiohttp connects to an address literal without asking the resolver: check it here.
        self._refused: InvalidArgument | None = None
        if _is_address(self._host) and not _allowed(self._host, allow):
            self._refused = _refuse(self._host, self._host)

    async def start(self) -> None:
        # aiohttp, not httpx: under 64 concurrent requests httpx's pool managed about a
        # tenth of aiohttp's rate against the same receiver and timed requests out waiting.
        connector = aiohttp.TCPConnector(
            limit=64, resolver=_CheckingResolver(self._allow), ttl_dns_cache=10
        )
        self._client = aiohttp.ClientSession(
            connector=connector, trust_env=False, auto_decompress=False
        )

    async def send(self, event: Event) -> None:
        if self._client is None:
            await self.start()
        assert self._client is not None
        if self._refused is not None:
            raise DeliveryFailed(str(self._refused), retryable=False)
        body = orjson.dumps(event.body)
        headers = {
            **self._headers,
            **event.headers,
            "content-type": "application/json",
            "x-luma-event-id": event.id,
            "x-luma-trigger": event.trigger,
        }
        if self._secret:
            headers["x-luma-signature"] = signature(self._secret, int(time.time()), body)
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.post(
                    self.url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    await response.content.read(self._allow.max_response_bytes)
        except TimeoutError:
            raise DeliveryFailed(f"no answer from {self.url} in {self._timeout} s") from None
        except _Refused as refused:
            raise DeliveryFailed(str(refused.error), retryable=False) from None
        except (aiohttp.ClientError, OSError) as exc:
            found = _refusal(exc)
            if found is not None:
                raise DeliveryFailed(str(found.error), retryable=False) from None
            raise DeliveryFailed(f"{self.url}: {type(exc).__name__}: {exc}") from None
        status = response.status
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRY_STATUS
        raise DeliveryFailed(
            f"{self.url} answered {status}",
            retryable=retryable,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class _Refused(OSError):
    """A resolved address the policy refuses (raised inside the client's resolver)."""

    def __init__(self, error: InvalidArgument) -> None:
        super().__init__(str(error))
        self.error = error


def _refusal(exc: BaseException) -> _Refused | None:
    # aiohttp wraps resolver errors in ClientConnectorError: find ours in the chain.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _Refused):
            return seen
        inner = getattr(seen, "os_error", None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__
    return None


class _CheckingResolver(AbstractResolver):
    """The default resolver, refusing addresses ``allow`` does not permit."""

    def __init__(self, allow: SinkPolicy) -> None:
        self._allow = allow
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not _allowed(result["host"], self._allow):
                raise _Refused(_refuse(host, result["host"]))
        return results

    async def close(self) -> None:
        await self._inner.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _allowed(address: str, allow: SinkPolicy) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return True
    return any(ip in ipaddress.ip_network(net) for net in allow.allow_private)


def _refuse(host: str, address: str) -> InvalidArgument:
    return InvalidArgument(
        f"webhook host {host!r} is {address}, a private, loopback or link-local address; list "
        "its network in [events] allow_private to allow it"
    )


def _check_target(host: str, allow: SinkPolicy) -> None:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise InvalidArgument(f"webhook host {host!r} does not resolve: {exc}") from None
    for address in sorted(addresses):
        if not _allowed(address, allow):
            raise _refuse(host, address)
