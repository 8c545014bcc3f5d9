"""HTTP plumbing shared by the services' APIs: request body limits."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inclusion_kit.messaging.context import correlation_id_var
from inclusion_kit.problems import MEDIA_TYPE, PROBLEM_BASE


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse bodies above a limit with 413, by Content-Length up front or while streaming.

    Bulk routes (``bulk_prefixes``) get the larger ``bulk_limit``; they parse as a stream and
    never hold the body whole.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, bulk_limit: int, bulk_prefixes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.bulk_limit = bulk_limit
        self.bulk_prefixes = tuple(bulk_prefixes)

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

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # FastAPI may answer 400 for a body it could not read: ours is the answer
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            pass
        if too_large and not response_started:
            await _too_large(send, limit, path)


async def _too_large(send: Send, limit: int, path: str) -> None:
    body = {
        "type": PROBLEM_BASE + "payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"The request body is larger than this endpoint accepts ({limit} bytes).",
        "instance": path,
    }
    correlation_id = correlation_id_var.get()
    if correlation_id:
        body["correlation_id"] = correlation_id
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
