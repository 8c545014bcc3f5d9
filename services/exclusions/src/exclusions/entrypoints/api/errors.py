"""Domain errors -> RFC 9457 problems (one place, so every route answers alike)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError

from exclusions.domain.errors import (
    DuplicateNotification,
    IllegalTransition,
    NotOnRoll,
    Rejected,
    SuspensionCapExceeded,
)
from inclusion_kit.problems import Conflict, FieldProblem, ProblemError


@asynccontextmanager
async def domain_problems() -> AsyncIterator[None]:
    try:
        yield
    except Rejected as exc:
        raise ProblemError(
            422,
            "The notification does not meet the rules.",
            slug="notification-rejected",
            errors=[FieldProblem(pointer="/" + f, code="rule", detail=m) for f, m in exc.errors],
        ) from exc
    except NotOnRoll as exc:
        raise ProblemError(
            422,
            f"{exc} (as the school's roll returns have told the authority); check the UPN, or send the "
            "school's new-pupil return first.",
            slug="not-on-roll",
            errors=[FieldProblem(pointer="/upn", code="not_on_roll", detail="not on this school's roll")],
        ) from exc
    except SuspensionCapExceeded as exc:
        raise ProblemError(
            422,
            str(exc),
            slug="suspension-cap-exceeded",
            errors=[FieldProblem(pointer="/length_days", code="cap_exceeded", detail=str(exc))],
            extra={
                "academic_year": exc.academic_year,
                "suspension_days_so_far": exc.so_far,
                "requested_days": exc.requested,
                "cap_days": exc.cap,
            },
        ) from exc
    except DuplicateNotification as exc:
        raise Conflict(
            str(exc), slug="duplicate-notification", extra={"existing_id": exc.existing_id}
        ) from exc
    except IllegalTransition as exc:
        raise Conflict(str(exc), slug="illegal-transition") from exc
    except IntegrityError as exc:
        # Two identical notifications raced past the check: the unique index kept one.
        raise Conflict("this was already notified", slug="duplicate-notification") from exc
