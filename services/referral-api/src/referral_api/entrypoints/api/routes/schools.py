"""Schools: the reference list (GIAS-style) that gives referrals their phase and district.

Reading is open to every authenticated role (GIAS data is public). Importing is for admins: the
body is the CSV itself, read as a stream (``service_layer.schools``). The list pages by URN with
a plain ``after_urn`` keyset; opaque cursors (``inclusion_kit.pagination``) can replace it later.
"""

from __future__ import annotations

import codecs
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from inclusion_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from inclusion_kit.contracts.events.common import Phase
from inclusion_kit.problems import PROBLEM_RESPONSES, NotFound, ProblemError
from referral_api.adapters.orm import schools
from referral_api.entrypoints.api.dependencies import Runtime, runtime
from referral_api.service_layer.schools import SchoolFileError, import_csv_stream

log = logging.getLogger(__name__)

router = APIRouter(prefix="/schools", tags=["schools"], responses=PROBLEM_RESPONSES)

IMPORTERS = require_roles(Role.ADMIN)
CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv"})
MAX_PAGE: Final = 1000

# The Phase values as a closed set: an unknown ?phase= is a 422, not silently "unknown".
PhaseName = Literal[
    "nursery", "primary", "middle", "secondary", "all_through", "special", "pru", "sixteen_plus", "unknown"
]

_SCHOOL_EXAMPLE: Final[dict[str, Any]] = {
    "urn": "118000",
    "laestab": "8862000",
    "la_code": "886",
    "name": "Example Primary School",
    "phase": "primary",
    "district": "Maidstone",
    "is_open": True,
    "updated_at": "2025-10-06T08:30:00Z",
}


class SchoolOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SCHOOL_EXAMPLE]})

    urn: str = Field(description="Unique reference number (GIAS), 6 digits.")
    laestab: str | None = Field(description="LA code + 4-digit establishment number (DfE number).")
    la_code: str | None = Field(description="3-digit LA code.")
    name: str
    phase: Phase = Field(description="Phase of education as reports group by it.")
    district: str | None = Field(description="The LA's district (GIAS DistrictAdministrative).")
    is_open: bool = Field(description="Open, or open but proposed to close.")
    updated_at: datetime = Field(description="When the import last changed this school.")


class SchoolList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_SCHOOL_EXAMPLE], "next_after_urn": "118000"}]}
    )

    items: list[SchoolOut]
    next_after_urn: str | None = Field(
        description="Give this as `after_urn` for the next page; null on the last page."
    )


class RowProblem(BaseModel):
    line: int = Field(description="Line of the file (the header is line 1).")
    reason: str


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "inserted": 598,
                    "updated": 3,
                    "unchanged": 0,
                    "skipped": 0,
                    "rejected_total": 1,
                    "rejected": [{"line": 42, "reason": "URN must be 6 digits"}],
                    "warnings": [],
                    "laestabs_released": 0,
                }
            ]
        }
    )

    inserted: int
    updated: int
    unchanged: int
    skipped: int = Field(description="Rows of other LAs (with `la_code`).")
    rejected_total: int
    rejected: list[RowProblem] = Field(description="Rejected rows (the first 1000): line and reason only.")
    warnings: list[RowProblem] = Field(description="Rows stored with a caveat (the first 1000).")
    laestabs_released: int = Field(
        description="Closed schools whose LAESTAB passed to an open school (academy conversions)."
    )


def _out(row: Any) -> SchoolOut:
    values = dict(row)
    if values["updated_at"].tzinfo is None:  # SQLite hands back naive datetimes
        values["updated_at"] = values["updated_at"].replace(tzinfo=UTC)
    return SchoolOut.model_validate(values)


@router.get("", response_model=SchoolList, summary="List schools, by URN, with filters")
async def list_schools(
    _: CurrentPrincipal,
    rt: Annotated[Runtime, Depends(runtime)],
    district: Annotated[str | None, Query(max_length=100, description="Case-insensitive.")] = None,
    phase: PhaseName | None = None,
    is_open: bool | None = None,
    la_code: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after_urn: Annotated[
        str | None, Query(pattern=r"^[0-9]{6}$", description="The previous page's `next_after_urn`.")
    ] = None,
) -> SchoolList:
    stmt = select(schools)
    if district is not None:
        stmt = stmt.where(func.lower(schools.c.district) == district.strip().lower())
    if phase is not None:
        stmt = stmt.where(schools.c.phase == phase)
    if is_open is not None:
        stmt = stmt.where(schools.c.is_open == is_open)
    if la_code is not None:
        stmt = stmt.where(schools.c.la_code == la_code)
    if after_urn is not None:
        stmt = stmt.where(schools.c.urn > after_urn)
    stmt = stmt.order_by(schools.c.urn).limit(limit + 1)
    async with rt.kernel.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    items = [_out(row) for row in rows[:limit]]
    more = len(rows) > limit
    return SchoolList(items=items, next_after_urn=items[-1].urn if more and items else None)


@router.get("/{urn}", response_model=SchoolOut, summary="Read one school")
async def read_school(urn: str, _: CurrentPrincipal, rt: Annotated[Runtime, Depends(runtime)]) -> SchoolOut:
    async with rt.kernel.engine.connect() as conn:
        row = (await conn.execute(select(schools).where(schools.c.urn == urn))).mappings().first()
    if row is None:
        raise NotFound("school")
    return _out(row)


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media_type.strip().lower(), charset


_CSV_BODY_EXAMPLE: Final = (
    "URN,LA (code),EstablishmentNumber,EstablishmentName,TypeOfEstablishment (name),"
    "EstablishmentStatus (name),PhaseOfEducation (name),DistrictAdministrative (name)\n"
    "118000,886,2000,Example Primary School,Community school,Open,Primary,Maidstone\n"
)


@router.post(
    "/import",
    response_model=ImportOut,
    summary="Import the reference list from a GIAS-style CSV (admin)",
    description=(
        "The body is the CSV (`text/csv`; `charset` optional: UTF-8, else Windows-1252 as GIAS "
        "downloads are), read as a stream. New schools are inserted and changed ones updated; "
        "schools missing from the file are left alone (extracts may be partial). Bad rows are "
        "reported by line with a reason and the rest imported. Batches are committed as they "
        "go: a file-level error part-way leaves earlier batches imported (re-importing is "
        "idempotent)."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_BODY_EXAMPLE}},
        }
    },
    responses={415: PROBLEM_RESPONSES[422] | {"description": "Unsupported media type"}},
)
async def import_schools(
    request: Request,
    _: Annotated[Principal, Depends(IMPORTERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    la_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{3}$", description="Import only this LA's rows.")
    ] = None,
) -> ImportOut:
    media_type, charset = _media_type(request.headers.get("content-type"))
    if media_type not in CSV_MEDIA_TYPES:
        raise ProblemError(415, "Send the schools file as text/csv.", slug="unsupported-media-type")
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            raise ProblemError(
                415, "The charset of the body is not one this service reads.", slug="unsupported-charset"
            ) from None
    try:
        report = await import_csv_stream(
            rt.kernel.engine,
            request.stream(),
            la_code=la_code,
            encoding=charset,
            now=rt.context.clock.now(),
        )
    except SchoolFileError as exc:
        raise ProblemError(
            422, f"The schools file cannot be read: {exc}.", slug="invalid-schools-file"
        ) from exc
    log.info(
        "schools imported",
        extra={  # only the logger's SAFE_FIELDS are written
            "accepted": report.inserted + report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected_total,
        },
    )
    return ImportOut.model_validate(report.as_dict())
