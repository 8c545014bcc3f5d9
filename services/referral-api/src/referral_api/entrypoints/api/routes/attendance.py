"""Attendance: bulk session marks from a school's MIS (NDJSON, streamed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from inclusion_kit.audit import record_access, record_access_many
from inclusion_kit.auth import Principal, Role, require_roles
from inclusion_kit.problems import PROBLEM_RESPONSES, ProblemError
from inclusion_kit.pupils import URN
from referral_api.domain.errors import UnknownSchool
from referral_api.entrypoints.api.dependencies import Runtime, runtime
from referral_api.service_layer import attendance

router = APIRouter(prefix="/attendance", tags=["attendance"], responses=PROBLEM_RESPONSES)
SENDERS = require_roles(Role.SCHOOL, Role.ADMIN)
NDJSON = "application/x-ndjson"


class Rejection(BaseModel):
    line: int
    reason: str
    upn: str | None = None


class MarksResult(BaseModel):
    submission_id: str
    accepted: int = Field(description="New marks and corrections stored.")
    corrected: int = Field(description="Of the accepted, marks that replaced a different code.")
    unchanged: int = Field(description="Marks identical to what was already stored.")
    rejected: int
    pupils_evented: int = Field(description="AttendanceRecorded events, one per pupil with changes.")
    rejections: list[Rejection] = Field(description="Up to 1,000 rejected lines with their reasons.")


@router.post(
    "/schools/{school_urn}/marks",
    response_model=MarksResult,
    summary="Send register marks (NDJSON: one {upn, date, session, code, minutes_late?} per line)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {
                        "type": "object",
                        "required": ["upn", "date", "session", "code"],
                        "properties": {
                            "upn": {"type": "string", "example": "H886200024001"},
                            "date": {"type": "string", "format": "date"},
                            "session": {"type": "string", "enum": ["AM", "PM"]},
                            "code": {"type": "string", "example": "/"},
                            "minutes_late": {"type": "integer", "minimum": 0},
                        },
                    },
                    "example": {
                        "upn": "H886200024001",
                        "date": "2025-10-06",
                        "session": "AM",
                        "code": "L",
                        "minutes_late": 12,
                    },
                }
            },
        }
    },
)
async def post_marks(
    school_urn: URN,
    request: Request,
    principal: Annotated[Principal, Depends(SENDERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Any:
    if not principal.can_act_for_urn(school_urn):
        raise ProblemError(
            403, "You may send marks only for the schools you act for.", slug="not-acting-for-school"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != NDJSON:
        raise ProblemError(415, f"Send marks as {NDJSON}, one JSON object per line.")
    now = rt.context.clock.now()
    async with rt.kernel.uow() as uow:
        try:
            result = await attendance.ingest_marks(
                school_urn, attendance.lines_of(request.stream()), uow, rt.context, now
            )
        except UnknownSchool as exc:
            raise ProblemError(422, str(exc), slug="unknown-school") from exc
        except attendance.TooManyMarks as exc:
            raise ProblemError(413, str(exc), slug="too-many-marks") from exc
        # One audit row per pupil whose record this submission changed (the submission id links
        # them), and one for the submission itself, which is all a wholly rejected one leaves.
        await record_access_many(
            uow.session,
            uow.tables,
            principal,
            action="create",
            resource_type="attendance",
            resource_id=result.submission_id,
            child_refs=result.child_refs,
            purpose="attendance-marks",
        )
        if not result.child_refs:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="create",
                resource_type="attendance",
                resource_id=result.submission_id,
                purpose="attendance-marks",
            )
        await uow.commit()
    # Disjoint outcomes, so their sum is the records received.
    rt.kernel.metrics.count_ingest(
        "attendance_marks",
        accepted=result.accepted - result.corrected,
        corrected=result.corrected,
        unchanged=result.unchanged,
        rejected=result.rejected,
    )
    return MarksResult.model_validate(result, from_attributes=True)
