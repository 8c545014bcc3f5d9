"""Per-caller rate limiting: an in-process token bucket as ASGI middleware (ARCHITECTURE §4
"HTTP": 429 with ``Retry-After`` past published rate limits).

Each caller has a bucket of ``burst`` tokens (default: the per-minute rate) refilled at
``per_minute / 60`` tokens a second; a request takes one token. An empty bucket answers **429**
problem ``rate-limited`` with ``Retry-After`` (whole seconds until a token is back). Every limited
response, allowed or not, carries the draft-ietf-httpapi-ratelimit-headers fields
``RateLimit-Limit`` (bucket size), ``RateLimit-Remaining`` (whole tokens left),
``RateLimit-Reset`` (seconds until the bucket is full again) and ``RateLimit-Policy``
(``<per_minute>;w=60``).

Callers are told apart by their verified bearer token's subject (``sub:<subject>``; tokens are
verified with the app's ``app.state.token_verifier``, and verified tokens are cached until they
expire, so the route's own check does the real work only once per token), else by client address
(``ip:<address>``) for requests without a valid token. The address is ASGI's ``client``: behind
the gateway run uvicorn with ``--proxy-headers --forwarded-allow-ips=<gateway>`` so it is the
caller's, not the gateway's (this module never trusts ``X-Forwarded-For`` itself).

Health, readiness and metrics paths (``/healthz``, ``/readyz``, ``/metrics``) are exempt, and
``per_minute <= 0`` turns the limiter off. The clock is injectable (monotonic seconds).

The buckets live in the process: with several replicas the effective limit is per replica
(``replicas x per_minute`` in total at worst). Enforce a global limit at the gateway if one is
needed; this middleware protects each replica and gives clients the standard signals.

Wiring (in ``create_service_app``, between the body limit and the request context middleware, so
429s are counted and carry the correlation id, and are refused before the body is read)::

    app.add_middleware(RateLimitMiddleware, per_minute=settings.http.rate_limit_per_minute)
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inclusion_kit.auth import AuthError
from inclusion_kit.problems import problem_response

__all__ = [
    "DEFAULT_EXEMPT_PATHS",
    "Decision",
    "Identify",
    "RateLimitMiddleware",
    "TokenBucketLimiter",
    "bearer_identity",
]

DEFAULT_EXEMPT_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
_EPSILON: Final = 1e-9

Identify = Callable[[Scope], Awaitable[str | None]]
"""Returns the caller's key for a request, or None to fall back to the client address."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int  # bucket size
    remaining: int  # whole tokens left after this request
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # seconds until the next request may pass (0 when allowed)

    def headers(self, policy: str) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": policy,
        }
        if not self.allowed:
            values["Retry-After"] = str(self.retry_after)
        return values


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Token buckets by key. Not thread-safe; one event loop per process is assumed (a decision
    never awaits, so concurrent requests on the loop cannot interleave inside it)."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive (disable the middleware instead)")
        self.per_minute = per_minute
        self.capacity = burst if burst is not None else per_minute
        if self.capacity < 1:
            raise ValueError("burst must be at least 1")
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self._refill_seconds = self.capacity / self.rate  # an idle bucket is full after this

    @property
    def policy(self) -> str:
        return f"{self.per_minute};w=60"

    def take(self, key: str) -> Decision:
        now = self._clock()
        self._forget_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.capacity), updated=now)
            self._buckets[key] = bucket
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.capacity), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        allowed = bucket.tokens + _EPSILON >= 1.0
        if allowed:
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            retry_after = 0
        else:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.rate - _EPSILON))
        remaining = max(0, math.floor(bucket.tokens + _EPSILON))
        reset = max(0, math.ceil((self.capacity - bucket.tokens) / self.rate - _EPSILON))
        return Decision(allowed, self.capacity, remaining, reset, retry_after)

    def _forget_idle(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no bucket: drop it. The
        # oldest are first, so this stops at the first recent one (amortised O(1)).
        buckets = self._buckets
        while buckets:
            key, bucket = next(iter(buckets.items()))
            if now - bucket.updated >= self._refill_seconds or len(buckets) > self._max_keys:
                del buckets[key]
            else:
                break

    def __len__(self) -> int:
        return len(self._buckets)


class _TokenCache:
    """Verified bearer tokens -> subject, until the token expires (bounded, LRU)."""

    def __init__(self, size: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._size = size
        self._clock = clock

    def get(self, digest: bytes) -> str | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        subject, expires = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return subject

    def put(self, digest: bytes, subject: str, expires: float) -> None:
        self._entries[digest] = (subject, expires)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def bearer_identity(cache_size: int = 10_000) -> Identify:
    """Identify callers by the subject of their verified bearer token (None without a valid one)."""
    cache = _TokenCache(cache_size)

    async def identify(scope: Scope) -> str | None:
        token = _bearer_token(scope)
        if token is None:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        subject = cache.get(digest)
        if subject is not None:
            return f"sub:{subject}"
        app = scope.get("app")
        verifier = getattr(getattr(app, "state", None), "token_verifier", None)
        if verifier is None:
            return None
        try:
            claims: dict[str, Any] = await verifier.decode(token)
        except AuthError:
            return None  # the route answers 401; meanwhile the address's bucket pays
        subject = claims.get("sub")
        expires = claims.get("exp")
        if not isinstance(subject, str) or not subject.strip():
            return None
        subject = subject.strip()
        if isinstance(expires, int | float):
            cache.put(digest, subject, float(expires))
        return f"sub:{subject}"

    return identify


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            header: str = bytes(value).decode("latin-1")
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    if client:
        return f"ip:{client[0]}"
    return "ip:unknown"


class RateLimitMiddleware:
    """ASGI middleware applying a :class:`TokenBucketLimiter` per caller (see the module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
        identify: Identify | None = None,
        max_keys: int = 100_000,
    ) -> None:
        self.app = app
        self.limiter = (
            TokenBucketLimiter(per_minute, burst=burst, clock=clock, max_keys=max_keys)
            if per_minute > 0
            else None
        )
        self.exempt_paths = frozenset(exempt_paths)
        self.identify = identify or bearer_identity()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter
        if limiter is None or scope["type"] != "http" or scope.get("path", "") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        key = await self.identify(scope) or _client_address(scope)
        decision = limiter.take(key)
        headers = decision.headers(limiter.policy)
        if not decision.allowed:
            response = problem_response(
                429,
                detail=f"Too many requests: at most {limiter.per_minute} a minute. "
                f"Retry after {decision.retry_after} s.",
                instance=scope.get("path"),
                headers=headers,
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
