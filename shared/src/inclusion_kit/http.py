"""HTTP plumbing shared by the services' APIs: request body limits (size and time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inclusion_kit.messaging.context import correlation_id_var
from inclusion_kit.problems import MEDIA_TYPE, PROBLEM_BASE


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse bodies above a limit with 413, by Content-Length up front or while streaming; and
    bodies that stop arriving with 408.

    Bulk routes (``bulk_prefixes``) get the larger ``bulk_limit``; they parse as a stream and
    never hold the body whole.

    Time: while the body is incomplete, each read waits at most ``idle_timeout`` seconds for the
    next chunk, and all reads together wait at most ``body_timeout`` seconds (a slow drip as much
    as a stall; the app's own work between reads of a streamed bulk file does not count). Past
    either, the answer is **408** ``request-timeout`` with ``Connection: close``. Without explicit
    values they come from the app's settings (``app.state.settings.http``:
    ``body_idle_timeout_seconds``, ``body_timeout_seconds``); zero turns a limit off.
    Once the body is complete, reads (waiting for a disconnect) are not limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        bulk_limit: int,
        bulk_prefixes: Sequence[str] = (),
        idle_timeout: float | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.bulk_limit = bulk_limit
        self.bulk_prefixes = tuple(bulk_prefixes)
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout

    def _timeouts(self, scope: Scope) -> tuple[float | None, float | None]:
        http: Any = getattr(getattr(getattr(scope.get("app"), "state", None), "settings", None), "http", None)
        idle = self.idle_timeout
        if idle is None and http is not None:
            idle = getattr(http, "body_idle_timeout_seconds", None)
        total = self.body_timeout
        if total is None and http is not None:
            total = getattr(http, "body_timeout_seconds", None)
        return (idle if idle and idle > 0 else None), (total if total and total > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.bulk_limit if path.startswith(self.bulk_prefixes) and self.bulk_prefixes else self.limit
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _too_large(send, limit, path)
                    return
        received = 0
        response_started = False
        too_large = False
        timed_out = False
        body_complete = False
        idle_timeout, body_timeout = self._timeouts(scope)
        loop = asyncio.get_running_loop()
        waited = 0.0  # time spent waiting for the client, not the app's own work between reads

        async def next_message() -> Message:
            nonlocal waited, timed_out
            if body_complete or (idle_timeout is None and body_timeout is None):
                return await receive()
            left = None if body_timeout is None else body_timeout - waited
            waits = [t for t in (idle_timeout, left) if t is not None]
            started = loop.time()
            try:
                return await asyncio.wait_for(receive(), timeout=max(0.0, min(waits)))
            except TimeoutError:
                timed_out = True
                raise BodyTimeout from None
            finally:
                waited += loop.time() - started

        async def limited_receive() -> Message:
            nonlocal received, too_large, body_complete
            message = await next_message()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
                if not message.get("more_body", False):
                    body_complete = True
            else:
                body_complete = True  # http.disconnect: nothing more will come
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if too_large or timed_out:
                return  # FastAPI may answer 400 for a body it could not read: ours is the answer
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, BodyTimeout):
            pass
        if response_started:
            return
        if too_large:
            await _too_large(send, limit, path)
        elif timed_out:
            await _timed_out(send, path)


async def _too_large(send: Send, limit: int, path: str) -> None:
    await _problem(
        send,
        413,
        "payload-too-large",
        "Request body too large",
        f"The request body is larger than this endpoint accepts ({limit} bytes).",
        path,
    )


async def _timed_out(send: Send, path: str) -> None:
    await _problem(
        send,
        408,
        "request-timeout",
        "Request timeout",
        "The request body stopped arriving, or took too long; send it again.",
        path,
    )


async def _problem(send: Send, status: int, slug: str, title: str, detail: str, path: str) -> None:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
    }
    correlation_id = correlation_id_var.get()
    if correlation_id:
        body["correlation_id"] = correlation_id
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
