"""``Idempotency-Key`` for REST writes (ARCHITECTURE §4 "HTTP"; IETF draft "The Idempotency-Key
HTTP Header Field", Stripe's semantics).

A client sends ``Idempotency-Key: <unique value, e.g. a UUID>`` with a write. The first request
with a key runs and its response is stored **in the same transaction as its effects** (the row in
``idempotency_keys`` is written through the request's unit-of-work session and committed by the
route's ``uow.commit()``), so a crash can never leave an effect without its stored answer, nor an
answer without its effect. Then, for the same caller and key:

========================================  =====================================================
retry, same method, path and body          the stored response verbatim (status, body,
                                           ``Location``, ``Content-Type``) plus
                                           ``Idempotent-Replayed: true``; nothing runs
same key, different body/method/path       422 problem ``idempotency-key-reused``
same key while the first is still running  409 problem ``idempotency-key-in-progress``
                                           (with ``Retry-After: 1``)
no key on an endpoint that requires it     428 problem ``idempotency-key-required``
malformed key (empty, > 200 characters,    422 problem ``validation-failed`` pointing at
non-ASCII)                                 ``header/idempotency-key``
========================================  =====================================================

Keys are scoped per caller (the principal's ``sub``, which for client-credentials tokens is the
MIS vendor's client), so two callers can never see each other's answers. A key expires after the
policy's ``ttl`` (24 hours): after that the same key starts a new request, and
:func:`purge_idempotency_keys` deletes expired rows (run it periodically, e.g. from the worker).

Only responses passed to :meth:`IdempotencyGuard.respond` are stored. When the handler raises
(a problem, a conflict, a crash) the unit of work rolls back the claim with the effects, and a
retry runs afresh: validation errors are deterministic anyway, and a conflict may have cleared.
So inside the guard, answer errors by raising (``ProblemError``), or store them deliberately with
``respond()``; leaving the block normally without either is a programming error (RuntimeError).

Usage in a route (the route owns the unit of work; service-layer handlers must not commit)::

    from inclusion_kit.idempotency import IDEMPOTENCY_RESPONSES, idempotency_openapi, idempotent

    @router.post(
        "/referrals",
        status_code=201,
        response_model=ReferralOut,
        responses=IDEMPOTENCY_RESPONSES,
        openapi_extra=idempotency_openapi(required=True),
    )
    async def submit_referral(
        body: ReferralIn, request: Request, principal: CurrentPrincipal, uow: UnitOfWorkDep
    ) -> Response:
        async with uow, idempotent(request, uow, principal) as guard:
            if guard.replay is not None:
                return guard.replay                      # stored answer; nothing runs
            referral = await handlers.submit_referral(uow, body, principal)
            response = await guard.respond(
                201, ReferralOut.from_domain(referral), headers={"Location": f"/referrals/{referral.id}"}
            )
            await uow.commit()                           # effects + events + stored answer, together
            return response

``idempotent(..., required=False)`` makes the key optional for an endpoint: without one the guard
stores nothing and :meth:`~IdempotencyGuard.respond` just builds the response. Bulk routes that
stream their body (so ``request.body()`` is unavailable) pass ``request_hash=`` computed with
:func:`request_fingerprint` over what they read.

Concurrency. PostgreSQL: the claim is the primary-key insert (``INSERT ... ON CONFLICT DO
NOTHING``) as the transaction's first write; a concurrent request with the same key waits on the
first one's uncommitted row for at most ``policy.lock_wait`` (a transaction-local
``lock_timeout``, restored right after) and then answers 409. If the first finishes within that
wait the retry sees its committed answer and replays it. SQLite: writers take the database lock at
``BEGIN IMMEDIATE``, so a concurrent retry queues behind the first and then replays its answer.

Configure per app with ``app.state.idempotency = IdempotencyPolicy(ttl=...)`` (optional; the
defaults apply otherwise) or per call with ``policy=``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Table, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.auth import Principal
from inclusion_kit.clock import Clock, SystemClock
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.problems import (
    MEDIA_TYPE,
    PROBLEM_BASE,
    PROBLEM_SCHEMA_REF,
    FieldProblem,
    Problem,
    ProblemError,
)

__all__ = [
    "DEFAULT_TTL",
    "HEADER",
    "IDEMPOTENCY_RESPONSES",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "IdempotencyGuard",
    "IdempotencyPolicy",
    "idempotency_openapi",
    "idempotent",
    "purge_idempotency_keys",
    "request_fingerprint",
]

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
MAX_KEY_LENGTH: Final = 200
DEFAULT_TTL: Final = timedelta(hours=24)
# Response headers stored with the answer and replayed; others are sent on the first response only.
STORED_HEADERS: Final = ("location", "content-type")

_KEY_RE: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
_LOCK_NOT_AVAILABLE: Final = "55P03"  # PostgreSQL: lock_timeout expired
# Read the transaction's lock_timeout and set a short one, in one round trip (the CTE is read
# before the select list is computed).
_SET_LOCK_TIMEOUT: Final = text(
    "WITH prev AS MATERIALIZED (SELECT current_setting('lock_timeout') AS v) "
    "SELECT prev.v, set_config('lock_timeout', :timeout, true) FROM prev"
)
_RESTORE_LOCK_TIMEOUT: Final = text("SELECT set_config('lock_timeout', :timeout, true)")


@dataclass(frozen=True)
class IdempotencyPolicy:
    """How long keys live and how long a retry may wait for a first request still running."""

    ttl: timedelta = DEFAULT_TTL
    lock_wait: timedelta = timedelta(milliseconds=50)
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if self.lock_wait < timedelta(milliseconds=1):
            raise ValueError("lock_wait must be at least 1 ms (0 would mean 'wait forever')")


def request_fingerprint(body: bytes, content_type: str | None = None) -> str:
    """sha256 (hex) of the canonical body: JSON is re-serialised with sorted keys and no
    whitespace, so key order and formatting do not make a retry look like a different request;
    other bodies are hashed as sent."""
    canonical = body
    if body and (content_type is None or "json" in content_type.lower()):
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            pass
        else:
            canonical = json.dumps(
                document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
    return hashlib.sha256(canonical).hexdigest()


def _problem(
    status: int, slug: str, title: str, detail: str, headers: Mapping[str, str] | None = None
) -> ProblemError:
    return ProblemError(status, detail, slug=slug, title=title, headers=headers)


def _key_required() -> ProblemError:
    return _problem(
        428,
        "idempotency-key-required",
        "Idempotency key required",
        f"This endpoint needs an {HEADER} header: a unique value (such as a UUID) per logical "
        "request, sent again unchanged when the request is retried.",
    )


def _key_reused() -> ProblemError:
    return _problem(
        422,
        "idempotency-key-reused",
        "Idempotency key reused",
        f"This {HEADER} was already used for a different request (method, path or body). "
        "Use a new key for a new request.",
    )


def _in_progress() -> ProblemError:
    return _problem(
        409,
        "idempotency-key-in-progress",
        "Request in progress",
        f"A request with this {HEADER} is still being processed. Retry shortly to get its answer.",
        headers={"Retry-After": "1"},
    )


def _parse_key(raw: str) -> str:
    value = raw.strip()
    # The IETF draft sends the key as a structured-field string ("..."); Stripe-style clients
    # send it bare. Both name the same key.
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    if not _KEY_RE.fullmatch(value):
        raise ProblemError(
            422,
            f"The {HEADER} header is invalid.",
            errors=[
                FieldProblem(
                    pointer="header/idempotency-key",
                    code="invalid_idempotency_key",
                    detail=f"1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID.",
                )
            ],
        )
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _caller(principal: Principal | str) -> str:
    subject = principal if isinstance(principal, str) else principal.subject
    if len(subject) > 255:  # the column's width; such subjects are unusual but must still work
        return "sha256:" + hashlib.sha256(subject.encode()).hexdigest()
    return subject


def _serialise(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True).encode()
    return json.dumps(
        jsonable_encoder(body), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()


class _InProgress(Exception):
    pass


class IdempotencyGuard:
    """One write's idempotency: use through :func:`idempotent` (an async context manager).

    After entering, :attr:`replay` is the stored response when this request is a retry (return
    it and do nothing else); otherwise do the work and finish with :meth:`respond`, then commit.
    """

    def __init__(
        self,
        request: Request,
        uow: UnitOfWork,
        principal: Principal | str,
        *,
        required: bool,
        policy: IdempotencyPolicy | None,
        request_hash: str | None,
    ) -> None:
        self._request = request
        self._uow = uow
        self._caller = _caller(principal)
        self._required = required
        self._policy = policy or _app_policy(request)
        self._request_hash = request_hash
        self.key: str | None = None
        self.replay: Response | None = None
        self._responded = False

    @property
    def _table(self) -> Table:
        tables: KitTables = self._uow.tables
        return tables.idempotency_keys

    async def __aenter__(self) -> Self:
        raw = self._request.headers.get(HEADER)
        if raw is None:
            if self._required:
                raise _key_required()
            return self
        self.key = _parse_key(raw)
        if self._request_hash is None:
            body = await self._request.body()
            self._request_hash = request_fingerprint(body, self._request.headers.get("content-type"))
        await self._claim_or_replay()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self.key is not None and self.replay is None and not self._responded:
            # The claim would commit without an answer and block the key until it expires.
            raise RuntimeError("an idempotent route must finish with `await guard.respond(...)`")

    # -- claim ---------------------------------------------------------------------------------
    async def _claim_or_replay(self) -> None:
        assert self.key is not None and self._request_hash is not None
        now = self._policy.clock.now()
        cutoff = now - self._policy.ttl
        table = self._table
        where = (table.c.principal == self._caller, table.c.key == self.key)
        for _ in range(3):
            if await self._claim(now):
                return
            row = (await self._uow.session.execute(select(table).where(*where))).one_or_none()
            if row is None:
                continue  # purged or rolled back between the insert and the read: claim again
            if _aware(row.created_at) < cutoff:
                await self._uow.session.execute(delete(table).where(*where, table.c.created_at < cutoff))
                continue  # expired: the key starts afresh
            if (row.method, row.path, row.request_hash) != (
                self._request.method,
                self._request.url.path,
                self._request_hash,
            ):
                raise _key_reused()
            if not row.completed or row.status_code is None:
                raise _in_progress()
            self.replay = _replay(row.status_code, bytes(row.response_body or b""), row.response_headers)
            return
        raise _in_progress()  # pragma: no cover - only under a pathological race with purges

    async def _claim(self, now: datetime) -> bool:
        """Insert this request's row; False when the caller's key already has one."""
        session = self._uow.session
        table = self._table
        values = {
            "principal": self._caller,
            "key": self.key,
            "method": self._request.method,
            "path": self._request.url.path,
            "request_hash": self._request_hash,
            "status_code": None,
            "response_body": None,
            "response_headers": None,
            "created_at": now,
            "completed": False,
        }
        dialect = self._uow.dialect
        if dialect == "postgresql":
            stmt: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
            timeout = f"{max(1, int(self._policy.lock_wait.total_seconds() * 1000))}ms"
            previous = (await session.execute(_SET_LOCK_TIMEOUT, {"timeout": timeout})).scalar_one()
            try:
                inserted = (await session.execute(stmt.returning(table.c.key))).scalar_one_or_none()
            except DBAPIError as exc:
                if _sqlstate(exc) == _LOCK_NOT_AVAILABLE:
                    # The first request still holds its uncommitted row: it is in progress. The
                    # transaction is aborted; the unit of work rolls it back.
                    raise _in_progress() from None
                raise
            await session.execute(_RESTORE_LOCK_TIMEOUT, {"timeout": previous})
            return inserted is not None
        if dialect == "sqlite":
            stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
            inserted = (await session.execute(stmt.returning(table.c.key))).scalar_one_or_none()
            return inserted is not None
        exists = await session.scalar(  # pragma: no cover - only PostgreSQL and SQLite are supported
            select(table.c.key).where(table.c.principal == self._caller, table.c.key == self.key)
        )
        if exists is not None:  # pragma: no cover
            return False
        await session.execute(insert(table).values(values))  # pragma: no cover
        return True  # pragma: no cover

    # -- answer --------------------------------------------------------------------------------
    async def respond(
        self,
        status_code: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> Response:
        """Build the response and store it through the unit of work's session (commit after).

        ``body`` is a pydantic model, JSON-able data, raw ``bytes`` or ``None`` (no content).
        ``Location`` and ``Content-Type`` are stored and replayed; other ``headers`` go on this
        response only.
        """
        if self.replay is not None:
            raise RuntimeError("this request is a replay: return guard.replay instead of responding")
        if self._responded:
            raise RuntimeError("respond() was already called")
        content = _serialise(body)
        all_headers = dict(headers or {})
        if body is not None and not any(k.lower() == "content-type" for k in all_headers):
            all_headers["Content-Type"] = media_type or "application/json"
        response = Response(content=content, status_code=status_code, headers=all_headers)
        if self.key is not None:
            stored = {k: v for k, v in all_headers.items() if k.lower() in STORED_HEADERS}
            table = self._table
            result = await self._uow.session.execute(
                update(table)
                .where(table.c.principal == self._caller, table.c.key == self.key)
                .values(
                    status_code=status_code,
                    response_body=content,
                    response_headers=stored,
                    completed=True,
                )
            )
            if getattr(result, "rowcount", 1) != 1:  # pragma: no cover - the claim is in this txn
                raise RuntimeError("the idempotency claim is gone: was the unit of work rolled back?")
        self._responded = True
        return response


def _replay(status_code: int, body: bytes, headers: Mapping[str, str] | None) -> Response:
    replayed = dict(headers or {})
    replayed[REPLAYED_HEADER] = "true"
    return Response(content=body, status_code=status_code, headers=replayed)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(orig, attribute, None)
        if isinstance(value, str):
            return value
    cause = getattr(orig, "__cause__", None)
    value = getattr(cause, "sqlstate", None)
    return value if isinstance(value, str) else None


def _app_policy(request: Request) -> IdempotencyPolicy:
    policy = getattr(request.app.state, "idempotency", None)
    return policy if isinstance(policy, IdempotencyPolicy) else IdempotencyPolicy()


def idempotent(
    request: Request,
    uow: UnitOfWork,
    principal: Principal | str,
    *,
    required: bool = True,
    policy: IdempotencyPolicy | None = None,
    request_hash: str | None = None,
) -> IdempotencyGuard:
    """The idempotency guard of one write: ``async with idempotent(request, uow, principal) as g``.

    Enter it inside ``async with uow`` and before any other write of the transaction (the claim
    should be its first write, so a concurrent retry waits as little as possible). ``required``
    chooses per endpoint whether a missing key is a 428 problem or simply no idempotency.
    """
    return IdempotencyGuard(
        request, uow, principal, required=required, policy=policy, request_hash=request_hash
    )


async def purge_idempotency_keys(
    engine: AsyncEngine,
    tables: KitTables,
    *,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> int:
    """Delete keys older than ``ttl``; returns how many. Run periodically (worker or CLI)."""
    cutoff = (now or datetime.now(UTC)) - ttl
    table = tables.idempotency_keys
    async with engine.begin() as conn:
        result = await conn.execute(delete(table).where(table.c.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def idempotency_openapi(*, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting the ``Idempotency-Key`` header of a route."""
    return {
        "parameters": [
            {
                "name": HEADER,
                "in": "header",
                "required": required,
                "description": (
                    "A unique value per logical request (e.g. a UUID), sent again unchanged on "
                    "retries: a retry within 24 hours returns the first answer with "
                    f"`{REPLAYED_HEADER}: true` and changes nothing."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            }
        ]
    }


IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "A request with this Idempotency-Key is still in progress "
        f"({PROBLEM_BASE}idempotency-key-in-progress).",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
    },
    422: {
        "model": Problem,
        "description": "Validation failed, or the Idempotency-Key was used for a different request "
        f"({PROBLEM_BASE}idempotency-key-reused).",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
    },
    428: {
        "model": Problem,
        "description": f"The Idempotency-Key header is required ({PROBLEM_BASE}idempotency-key-required).",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
    },
}
