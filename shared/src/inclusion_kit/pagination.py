"""Opaque cursors and keyset pagination for list endpoints (ARCHITECTURE §4 "HTTP").

Lists are ordered by ``(updated_at, id)`` ascending and walked with keyset pagination, so a page
costs the same however deep it is and rows changing between pages are neither skipped nor
repeated (a row that is updated moves to the end, where a later page, or the next
``updated_after`` sync, picks it up). Query parameters of every list endpoint:

``limit``          page size, 1 to 1000 (default 100); outside that range: 422 (pointer ``query/limit``)
``updated_after``  only rows with ``updated_at`` strictly after this instant (ISO 8601 with an
                   offset, e.g. ``2025-01-31T09:00:00Z``; without one: 422, pointer
                   ``query/updated_after``) - for incremental sync, pass the ``updated_at`` of
                   the last item you stored
``cursor``         the opaque value from a previous page's ``next`` link

The response is a :class:`Page`: ``{"items": [...], "next": "<absolute URL>" | null}``. ``next``
repeats the request's own query (filters, ``limit``, ``updated_after``) with the new cursor;
``null`` means the walk is complete.

Cursors are ``base64url(JSON position) "." base64url(HMAC-SHA256)`` under a key from settings
(``HttpSettings.cursor_secret``; see :func:`cursor_key`), and the JSON holds a fingerprint of the
route, ``updated_after`` and the route's filters. A cursor that does not verify, or that is
used with other filters (or on another route) than the ones it was issued for, is refused with
**400** problem ``invalid-cursor`` (``errors[0].pointer == "query/cursor"``): the client should
start again without a cursor. 400 rather than 422 because the cursor is not a value the client
composed and can fix; it is an opaque token that is wrong as a whole.

Usage (``install_pagination(app, settings)`` runs once in ``create_service_app``)::

    from inclusion_kit.pagination import Page, PageParams

    @router.get("/referrals", response_model=Page[ReferralOut])
    async def list_referrals(
        paging: PageParams, uow: UnitOfWorkDep, status: ReferralStatus | None = None
    ) -> Page[ReferralOut]:
        t = tables.referrals
        stmt = select(t).where(t.c.status == status) if status else select(t)
        stmt = paging.apply(stmt, t.c.updated_at, t.c.id, filters={"status": status})
        async with uow:
            rows = (await uow.session.execute(stmt)).all()
        return paging.page(rows, ReferralOut.model_validate)

Put every input that narrows the rows into ``filters`` (including the caller's scope, e.g. the
school URNs a school principal may see, when it is applied in the query) so a cursor cannot carry
a position from one result set into another. :func:`apply_keyset` is the bare SQL helper.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, tuple_

from inclusion_kit.problems import FieldProblem, ProblemError
from inclusion_kit.settings import LOCAL_JWT_SECRET, ServiceSettings

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CursorCodec",
    "Page",
    "PageParams",
    "PageRequest",
    "Position",
    "apply_keyset",
    "cursor_key",
    "install_pagination",
    "pagination",
]

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
MAX_CURSOR_LENGTH: Final = 1024
_VERSION: Final = 1
_MAC_BYTES: Final = 16  # HMAC-SHA256 truncated to 128 bits
_FINGERPRINT_BYTES: Final = 12

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next: str | None = Field(
        description="Absolute URL of the next page (same query, new cursor); null on the last page."
    )


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the ``(updated_at, id)`` of its last item."""

    updated_at: datetime
    id: int | str


def invalid_cursor(detail: str) -> ProblemError:
    return ProblemError(
        400,
        detail,
        slug="invalid-cursor",
        title="Invalid cursor",
        errors=[
            FieldProblem(
                pointer="query/cursor",
                code="invalid_cursor",
                detail="Start again from the first page (without a cursor).",
            )
        ],
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class CursorCodec:
    """Signs and checks cursors. One per app (``app.state.cursor_codec``)."""

    def __init__(self, secret: bytes | str) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("cursor secret must not be empty")
        # A key of its own, even when the secret is shared with something else.
        self._key = hmac.new(raw, b"inclusion-kit/pagination-cursor/v1", hashlib.sha256).digest()

    def fingerprint(self, scope: Mapping[str, Any]) -> str:
        """A short digest of what a cursor is bound to (route, ``updated_after``, filters)."""
        cleaned = {k: v for k, v in jsonable_encoder(dict(scope)).items() if v is not None}
        digest = hmac.new(self._key, _canonical(cleaned), hashlib.sha256).digest()
        return _b64encode(digest[:_FINGERPRINT_BYTES])

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, position: Position, scope: Mapping[str, Any]) -> str:
        if isinstance(position.id, bool) or not isinstance(position.id, int | str):
            raise TypeError("cursor ids are int or str")
        payload = _canonical(
            {
                "v": _VERSION,
                "t": _utc(position.updated_at).isoformat(),
                "i": position.id,
                "f": self.fingerprint(scope),
            }
        )
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(self, cursor: str, scope: Mapping[str, Any]) -> Position:
        """The position in ``cursor``; a 400 ``invalid-cursor`` problem when it was not issued by
        this service (tampered, truncated, another key) or was issued for another ``scope``."""
        if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise invalid_cursor("The cursor is not one this service issued.")
        body, mac = cursor.split(".")
        try:
            payload = _b64decode(body)
            given = _b64decode(mac)
        except (binascii.Error, ValueError):
            raise invalid_cursor("The cursor is not one this service issued.") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise invalid_cursor("The cursor is not one this service issued.")
        try:
            data = json.loads(payload)
            if not isinstance(data, dict) or data.get("v") != _VERSION:
                raise ValueError("version")
            updated_at = datetime.fromisoformat(data["t"])
            item_id = data["i"]
            fingerprint = data["f"]
            if updated_at.tzinfo is None or isinstance(item_id, bool) or not isinstance(item_id, int | str):
                raise ValueError("shape")
            if not isinstance(fingerprint, str):
                raise ValueError("shape")
        except (ValueError, KeyError, TypeError):
            raise invalid_cursor("The cursor is not one this service issued.") from None
        if not hmac.compare_digest(fingerprint, self.fingerprint(scope)):
            raise invalid_cursor(
                "The cursor belongs to a different query: keep the filters and updated_after of the "
                "request that returned it."
            )
        return Position(updated_at=_utc(updated_at), id=item_id)


def cursor_key(settings: ServiceSettings) -> bytes:
    """The cursor signing secret: ``http.cursor_secret``; in local and test modes, when unset, one
    derived from the JWT secret. Raises ``RuntimeError`` in production without one (call it at
    app creation so a misconfigured service refuses to start)."""
    configured = settings.http.cursor_secret.get_secret_value() if settings.http.cursor_secret else ""
    if configured:
        if settings.mode not in ("local", "test") and len(configured) < 32:
            raise RuntimeError("http.cursor_secret must be at least 32 characters")
        return configured.encode()
    if settings.mode in ("local", "test"):
        jwt_secret = settings.auth.jwt_secret.get_secret_value() if settings.auth.jwt_secret else ""
        return ("local-cursors:" + (jwt_secret or LOCAL_JWT_SECRET)).encode()
    raise RuntimeError(
        f"{settings.service_name}: set HTTP__CURSOR_SECRET (at least 32 characters) to sign list cursors"
    )


def install_pagination(app: FastAPI, settings: ServiceSettings) -> CursorCodec:
    """Create the app's :class:`CursorCodec` on ``app.state.cursor_codec`` (from ``create_app``)."""
    codec = CursorCodec(cursor_key(settings))
    app.state.cursor_codec = codec
    return codec


def apply_keyset(
    stmt: Select[Any],
    updated_at: ColumnElement[Any],
    id_column: ColumnElement[Any],
    *,
    after: Position | None = None,
    updated_after: datetime | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Select[Any]:
    """``stmt`` restricted to rows after ``after`` (and ``updated_after``), ordered by
    ``(updated_at, id)`` and limited to ``limit + 1`` rows (the extra one says whether there is a
    next page). Index ``(updated_at, id)`` to keep every page an index range scan."""
    if updated_after is not None:
        stmt = stmt.where(updated_at > _utc(updated_after))
    if after is not None:
        stmt = stmt.where(tuple_(updated_at, id_column) > (after.updated_at, _coerce_id(after.id, id_column)))
    return stmt.order_by(updated_at.asc(), id_column.asc()).limit(limit + 1)


def _coerce_id(value: int | str, column: ColumnElement[Any]) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # pragma: no cover - exotic column types
        return value
    try:
        if python_type is int:
            if isinstance(value, str):
                raise ValueError("expected an integer id")
            return value
        if python_type is uuid.UUID:
            return uuid.UUID(str(value))
    except ValueError:
        raise invalid_cursor("The cursor is not one this service issued.") from None
    return str(value) if python_type is str else value


def _id_value(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


class PageRequest:
    """A list request's paging inputs (from :data:`PageParams`); build the query with
    :meth:`apply`, then the response with :meth:`page`."""

    def __init__(
        self,
        request: Request,
        codec: CursorCodec,
        *,
        limit: int,
        cursor: str | None,
        updated_after: datetime | None,
    ) -> None:
        self.request = request
        self.codec = codec
        self.limit = limit
        self.cursor = cursor
        self.updated_after = _utc(updated_after) if updated_after is not None else None
        self._scope: dict[str, Any] | None = None
        self._columns: tuple[ColumnElement[Any], ColumnElement[Any]] | None = None

    def scope(self, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What a cursor of this request is bound to."""
        return {
            "route": self.request.url.path,
            "updated_after": self.updated_after,
            "filters": dict(filters or {}),
        }

    def position(self, filters: Mapping[str, Any] | None = None) -> Position | None:
        """The position the cursor points after (None without a cursor); 400 when invalid."""
        if self.cursor is None:
            return None
        return self.codec.decode(self.cursor, self.scope(filters))

    def apply(
        self,
        stmt: Select[Any],
        updated_at: ColumnElement[Any],
        id_column: ColumnElement[Any],
        *,
        filters: Mapping[str, Any] | None = None,
    ) -> Select[Any]:
        """Check the cursor against ``filters`` and add the keyset condition, order and limit."""
        scope = self.scope(filters)
        after = self.codec.decode(self.cursor, scope) if self.cursor is not None else None
        self._scope = scope
        self._columns = (updated_at, id_column)
        return apply_keyset(
            stmt, updated_at, id_column, after=after, updated_after=self.updated_after, limit=self.limit
        )

    def page(
        self,
        rows: Sequence[Any],
        item: Callable[[Any], T] | None = None,
        *,
        position_of: Callable[[Any], tuple[datetime, Any]] | None = None,
    ) -> Page[T]:
        """The page from the rows :meth:`apply`'s query returned (up to ``limit + 1``).

        ``item`` maps a row to the response item; ``position_of`` returns a row's
        ``(updated_at, id)`` (default: the attributes named like the columns given to apply).
        """
        if self._scope is None or self._columns is None:
            raise RuntimeError("call apply() before page()")
        visible = list(rows[: self.limit])
        next_url: str | None = None
        if len(rows) > self.limit and visible:
            last = visible[-1]
            if position_of is not None:
                stamp, item_id = position_of(last)
            else:
                stamp = getattr(last, _attribute(self._columns[0]))
                item_id = getattr(last, _attribute(self._columns[1]))
            token = self.codec.encode(Position(_utc(stamp), _id_value(item_id)), self._scope)
            next_url = str(self.request.url.include_query_params(cursor=token))
        items: list[Any] = [item(row) for row in visible] if item is not None else visible
        return Page[Any](items=items, next=next_url)


def _attribute(column: ColumnElement[Any]) -> str:
    key = getattr(column, "key", None)
    if not isinstance(key, str):
        raise RuntimeError("pass position_of= for keyset expressions that are not plain columns")
    return key


_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")


def pagination(
    *, default_limit: int = DEFAULT_PAGE_SIZE, max_limit: int = MAX_PAGE_SIZE
) -> Callable[..., PageRequest]:
    """A FastAPI dependency reading ``limit``, ``cursor`` and ``updated_after`` (other limits
    than the defaults for an endpoint: ``Annotated[PageRequest, Depends(pagination(max_limit=200))]``)."""
    if not 1 <= default_limit <= max_limit:
        raise ValueError("need 1 <= default_limit <= max_limit")

    def dependency(
        request: Request,
        limit: int = Query(default_limit, ge=1, le=max_limit, description=f"Page size (1 to {max_limit})."),
        cursor: str | None = Query(
            None,
            max_length=MAX_CURSOR_LENGTH,
            description="Opaque cursor from the previous page's `next` link.",
        ),
        updated_after: datetime | None = Query(  # noqa: B008
            None,
            description="Only items updated strictly after this instant (ISO 8601 with an offset).",
        ),
    ) -> PageRequest:
        # pydantic also reads a bare number as Unix seconds ("0", "-234"): not the documented
        # ISO 8601 instant, so refused like a missing offset.
        unix_seconds = _NUMBER.fullmatch(request.query_params.get("updated_after", "").strip())
        if updated_after is not None and (updated_after.tzinfo is None or unix_seconds):
            raise ProblemError(
                422,
                "The request has invalid or missing fields.",
                errors=[
                    FieldProblem(
                        pointer="query/updated_after",
                        code="timezone_required",
                        detail="Give an ISO 8601 instant with a UTC offset, e.g. 2025-01-31T09:00:00Z.",
                    )
                ],
            )
        codec = getattr(request.app.state, "cursor_codec", None)
        if not isinstance(codec, CursorCodec):
            raise RuntimeError("app.state.cursor_codec is not set: call install_pagination(app, settings)")
        return PageRequest(request, codec, limit=limit, cursor=cursor, updated_after=updated_after)

    return dependency


PageParams = Annotated[PageRequest, Depends(pagination())]
"""The paging inputs of a list endpoint with the default limits (100, at most 1000)."""
