"""Roll imports: a school's MIS states who is on its roll, with each pupil's year group and census
characteristics (DOMAIN.md §8.1).

The body is NDJSON, one pupil per line, read as a stream and applied in chunks inside one
transaction. Each line is validated on its own; a bad line is rejected with its reasons while the
good ones are kept. A pupil sent again unchanged does nothing; a new pupil or a change (year group,
dates, characteristics, personal details) is stored and, when what other services rely on changed,
evented as ``PupilEnrolmentRecorded``. An import never takes a pupil off the roll by omission:
leaving is a deletion return with its regulation 9(1) ground. The result counts the pupils on the
roll here whom the import did not mention, so the school can send those returns.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import and_, bindparam, insert, select, update

from inclusion_kit.calendar import london_date
from inclusion_kit.contracts.events import roll as contracts
from inclusion_kit.pupils import UPN_PATTERN, validate_upn
from referral_api.adapters.orm import children, roll
from referral_api.domain.errors import UnknownSchool
from referral_api.service_layer import publishing
from referral_api.service_layer.unit_of_work import UnitOfWork

CHUNK = 500
MAX_PUPILS = 10_000  # the largest schools have about 3,000 pupils
MAX_REJECTIONS_LISTED = 1000
YEAR_GROUP_PATTERN = r"^(N1|N2|R|[1-9]|1[0-4]|X)$"


class FsmLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> FsmLine:
        if self.end is not None and self.end < self.start:
            raise ValueError("an FSM period cannot end before it starts")
        return self


class RollPupil(BaseModel):
    """One line of a roll import: a pupil on the school's roll, as its MIS holds them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    upn: str = Field(pattern=UPN_PATTERN, description="Validated with its check letter.")
    forename: str = Field(min_length=1, max_length=100)
    surname: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Literal["M", "F", "U"] | None = None
    year_group: str | None = Field(default=None, pattern=YEAR_GROUP_PATTERN)
    on_roll_from: date
    on_roll_until: date | None = None
    sen_provision: Literal["N", "K", "E"] = "N"
    fsm_periods: list[FsmLine] = Field(default_factory=list, max_length=50)
    looked_after: bool = False
    child_in_need: bool = False
    child_protection_plan: bool = False
    ethnicity: str | None = Field(default=None, pattern=r"^[A-Z]{4}$")

    @field_validator("upn", mode="before")
    @classmethod
    def _upn(cls, value: Any) -> Any:
        return validate_upn(value.strip().upper()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _dates(self) -> RollPupil:
        if self.on_roll_until is not None and self.on_roll_until < self.on_roll_from:
            raise ValueError("on_roll_until cannot be before on_roll_from")
        if self.on_roll_from < self.date_of_birth:
            raise ValueError("on_roll_from cannot be before the date of birth")
        return self


_LINE = TypeAdapter(RollPupil)


@dataclass
class RollImportResult:
    import_id: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    not_in_import: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    child_refs: list[str] = field(default_factory=list, repr=False)  # pupils added or updated

    def reject(self, line: int, reason: str, upn: str | None = None) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_LISTED:
            self.rejections.append({"line": line, "reason": reason, **({"upn": upn} if upn else {})})


class TooManyPupils(Exception):
    pass


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


async def import_roll(
    school_urn: str, lines: AsyncIterator[bytes], uow: UnitOfWork, now: datetime
) -> RollImportResult:
    school_row = await uow.schools.get(school_urn)
    if school_row is None:
        raise UnknownSchool(f"no school with URN {school_urn} in the reference list")
    school = publishing.school_ref(school_row)
    assert school is not None
    today = london_date(now)
    result = RollImportResult(import_id="ri-" + uuid.uuid4().hex[:16])
    seen: set[str] = set()
    mentioned: set[str] = set()
    chunk: list[RollPupil] = []
    count = 0
    line_no = 0
    async for raw in lines:
        line_no += 1
        if not raw.strip():
            continue
        count += 1
        if count > MAX_PUPILS:
            raise TooManyPupils(f"an import carries at most {MAX_PUPILS} pupils")
        try:
            pupil = _LINE.validate_json(raw)
        except ValidationError as exc:
            result.reject(line_no, _reason(exc))
            continue
        if pupil.on_roll_from > today:
            result.reject(line_no, "on_roll_from cannot be in the future", pupil.upn)
            continue
        if pupil.upn in seen:
            result.reject(line_no, "the same UPN appears twice in this import", pupil.upn)
            continue
        seen.add(pupil.upn)
        chunk.append(pupil)
        if len(chunk) >= CHUNK:
            mentioned |= await _apply(chunk, school_urn, school, result, uow, now)
            chunk = []
    if chunk:
        mentioned |= await _apply(chunk, school_urn, school, result, uow, now)
    current = (
        await uow.session.scalars(
            select(roll.c.child_ref).where(roll.c.school_urn == school_urn, roll.c.left_on.is_(None))
        )
    ).all()
    result.not_in_import = len(set(current) - mentioned)
    return result


async def _references(uow: UnitOfWork, upns: list[str], now: datetime) -> dict[str, str]:
    """The platform reference of each UPN, creating those the platform has not met."""
    known = {
        r.upn: r.child_ref
        for r in (
            await uow.session.execute(
                select(children.c.upn, children.c.child_ref).where(children.c.upn.in_(upns))
            )
        ).all()
    }
    fresh = [
        {"child_ref": "c-" + uuid.uuid4().hex[:16], "upn": upn, "created_at": now}
        for upn in upns
        if upn not in known
    ]
    if fresh:
        await uow.session.execute(insert(children), fresh)
        known.update({row["upn"]: row["child_ref"] for row in fresh})
    return known


def _state(pupil: RollPupil) -> dict[str, Any]:
    """What is stored for an enrolment (JSON-ready), compared to tell a change from a repeat."""
    characteristics = contracts.PupilCharacteristics(
        sen_provision=contracts.SenProvision(pupil.sen_provision),
        fsm_periods=[contracts.FsmPeriod(start=p.start, end=p.end) for p in pupil.fsm_periods],
        looked_after=pupil.looked_after,
        child_in_need=pupil.child_in_need,
        child_protection_plan=pupil.child_protection_plan,
        ethnicity=pupil.ethnicity,
    )
    return {
        "upn": pupil.upn,
        "on_roll_from": pupil.on_roll_from,
        "left_on": pupil.on_roll_until,
        "year_group": pupil.year_group,
        "person": {
            "forename": pupil.forename,
            "surname": pupil.surname,
            "date_of_birth": pupil.date_of_birth.isoformat(),
            "sex": pupil.sex,
        },
        "characteristics": characteristics.model_dump(mode="json"),
    }


_EVENTED = ("upn", "on_roll_from", "left_on", "year_group", "characteristics")


async def _apply(
    chunk: list[RollPupil],
    school_urn: str,
    school: Any,
    result: RollImportResult,
    uow: UnitOfWork,
    now: datetime,
) -> set[str]:
    refs = await _references(uow, [p.upn for p in chunk], now)
    columns = (roll.c.child_ref, roll.c.version, *(roll.c[name] for name in (*_EVENTED, "person")))
    existing = {
        r.child_ref: r._mapping
        for r in (
            await uow.session.execute(
                select(*columns).where(
                    roll.c.school_urn == school_urn, roll.c.child_ref.in_(list(refs.values()))
                )
            )
        ).all()
    }
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for pupil in chunk:
        child_ref = refs[pupil.upn]
        state = _state(pupil)
        before = existing.get(child_ref)
        if before is not None and all(before[k] == state[k] for k in (*_EVENTED, "person")):
            result.unchanged += 1
            continue
        evented = before is None or any(before[k] != state[k] for k in _EVENTED)
        version = (before["version"] if before is not None else 0) + (1 if evented else 0)
        row = {**state, "version": version, "updated_at": now}
        if before is None:
            result.added += 1
            fresh.append({"school_urn": school_urn, "child_ref": child_ref, **row})
        else:
            result.updated += 1
            changed.append({"k_urn": school_urn, "k_ref": child_ref, **{f"v_{k}": v for k, v in row.items()}})
        result.child_refs.append(child_ref)
        if evented:
            uow.emit(
                contracts.PupilEnrolmentRecorded(
                    child_ref=child_ref,
                    aggregate_id=f"{school_urn}/{child_ref}",
                    aggregate_version=version,
                    occurred_at=now,
                    school=school,
                    upn=pupil.upn,
                    year_group=pupil.year_group,
                    on_roll_from=pupil.on_roll_from,
                    on_roll_until=pupil.on_roll_until,
                    characteristics=contracts.PupilCharacteristics.model_validate(state["characteristics"]),
                )
            )
    if fresh:
        await uow.session.execute(insert(roll), fresh)
    if changed:
        names = [*_EVENTED, "person", "version", "updated_at"]
        await uow.session.execute(
            update(roll)
            .where(and_(roll.c.school_urn == bindparam("k_urn"), roll.c.child_ref == bindparam("k_ref")))
            .values({name: bindparam(f"v_{name}") for name in names}),
            changed,
        )
    return set(refs.values())
