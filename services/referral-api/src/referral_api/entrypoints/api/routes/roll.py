"""The roll: a school's MIS states who is on its roll, with year groups and census characteristics
(NDJSON, streamed). Leaving the roll is a deletion return (``/roll-changes/deletions``)."""

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
from referral_api.service_layer import roll_import
from referral_api.service_layer.attendance import lines_of

router = APIRouter(prefix="/roll", tags=["roll"], responses=PROBLEM_RESPONSES)
SENDERS = require_roles(Role.SCHOOL, Role.ADMIN)
NDJSON = "application/x-ndjson"

LINE_EXAMPLE = {
    "upn": "H886200024001",
    "forename": "Alex",
    "surname": "Example",
    "date_of_birth": "2014-03-02",
    "sex": "F",
    "year_group": "6",
    "on_roll_from": "2019-09-04",
    "sen_provision": "K",
    "fsm_periods": [{"start": "2023-01-09"}],
    "looked_after": False,
    "child_in_need": False,
    "child_protection_plan": False,
    "ethnicity": "WBRI",
}


class Rejection(BaseModel):
    line: int
    reason: str
    upn: str | None = None


class RollImportResult(BaseModel):
    import_id: str
    added: int = Field(description="Pupils new to this school's roll here.")
    updated: int = Field(description="Pupils whose year group, dates, characteristics or details changed.")
    unchanged: int
    rejected: int
    not_in_import: int = Field(
        description="Pupils on this school's roll here whom the import did not mention: send a "
        "deletion return for each who has left (an import never removes a pupil)."
    )
    rejections: list[Rejection] = Field(description="Up to 1,000 rejected lines with their reasons.")


@router.post(
    "/schools/{school_urn}/pupils",
    response_model=RollImportResult,
    summary="Send the school's roll (NDJSON: one pupil per line, with year group and characteristics)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {
                        "type": "object",
                        "required": ["upn", "forename", "surname", "date_of_birth", "on_roll_from"],
                        "properties": {
                            "upn": {"type": "string"},
                            "forename": {"type": "string"},
                            "surname": {"type": "string"},
                            "date_of_birth": {"type": "string", "format": "date"},
                            "sex": {"type": "string", "enum": ["M", "F", "U"]},
                            "year_group": {"type": "string", "pattern": roll_import.YEAR_GROUP_PATTERN},
                            "on_roll_from": {"type": "string", "format": "date"},
                            "on_roll_until": {"type": "string", "format": "date"},
                            "sen_provision": {"type": "string", "enum": ["N", "K", "E"]},
                            "fsm_periods": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["start"],
                                    "properties": {
                                        "start": {"type": "string", "format": "date"},
                                        "end": {"type": "string", "format": "date"},
                                    },
                                },
                            },
                            "looked_after": {"type": "boolean"},
                            "child_in_need": {"type": "boolean"},
                            "child_protection_plan": {"type": "boolean"},
                            "ethnicity": {"type": "string", "pattern": "^[A-Z]{4}$"},
                        },
                    },
                    "example": LINE_EXAMPLE,
                }
            },
        }
    },
)
async def import_roll(
    school_urn: URN,
    request: Request,
    principal: Annotated[Principal, Depends(SENDERS)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Any:
    if not principal.can_act_for_urn(school_urn):
        raise ProblemError(
            403, "You may send the roll only for the schools you act for.", slug="not-acting-for-school"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != NDJSON:
        raise ProblemError(415, f"Send the roll as {NDJSON}, one JSON object per pupil per line.")
    now = rt.context.clock.now()
    async with rt.kernel.uow() as uow:
        try:
            result = await roll_import.import_roll(school_urn, lines_of(request.stream()), uow, now)
        except UnknownSchool as exc:
            raise ProblemError(422, str(exc), slug="unknown-school") from exc
        except roll_import.TooManyPupils as exc:
            raise ProblemError(413, str(exc), slug="too-many-pupils") from exc
        await record_access_many(
            uow.session,
            uow.tables,
            principal,
            action="update",
            resource_type="roll",
            resource_id=result.import_id,
            child_refs=result.child_refs,
            purpose="roll-import",
        )
        if not result.child_refs:
            await record_access(
                uow.session,
                uow.tables,
                principal,
                action="update",
                resource_type="roll",
                resource_id=result.import_id,
                purpose="roll-import",
            )
        await uow.commit()
    rt.kernel.metrics.count_ingest(
        "roll_pupils",
        accepted=result.added,
        corrected=result.updated,
        unchanged=result.unchanged,
        rejected=result.rejected,
    )
    return RollImportResult.model_validate(result, from_attributes=True)
