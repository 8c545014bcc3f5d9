"""Attendance marks from schools' registers (topic ``inclusion.attendance``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import SchoolRef


class Session(TolerantEnum):
    AM = "AM"
    PM = "PM"
    UNKNOWN = "unknown"


class Mark(BaseModel):
    """One session's register mark as the school recorded it."""

    model_config = ConfigDict(frozen=True)

    date: date
    session: Session
    code: str = Field(description="The register code as recorded (its regime says which code set).")
    regime: str = Field(description="'2024' from 19 August 2024, else '2006' (DOMAIN.md §1).")
    minutes_late: int | None = Field(default=None, ge=0)
    previous_code: str | None = Field(default=None, description="Set when this mark corrects an earlier one.")


class AttendanceRecorded(IntegrationEvent):
    """A school's register marks for one pupil in one submission: new marks and corrections only
    (a mark sent again unchanged is not repeated). A correction carries the code it replaces, so a
    consumer that counted the old code can replace it exactly once."""

    event_type: ClassVar[str] = "inclusion.attendance.marks.recorded.v1"

    submission_id: str
    school: SchoolRef
    upn: str = Field(**x_pii("The pupil's UPN as the school's MIS sent it."))
    marks: list[Mark] = Field(min_length=1, **x_pii("A child's attendance record."))

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "118000/c-5f0e3a9b2c1d4e7f",
        "aggregate_version": 7,
        "occurred_at": datetime(2025, 10, 6, 16, 0, tzinfo=UTC),
        "submission_id": "s-0a1b2c3d4e5f6a7b",
        "school": {
            "urn": "118000",
            "laestab": "8862000",
            "la_code": "886",
            "phase": "primary",
            "district": "Maidstone",
        },
        "upn": "H886200024001",
        "marks": [
            {"date": "2025-10-06", "session": "AM", "code": "/", "regime": "2024"},
            {"date": "2025-10-06", "session": "PM", "code": "N", "regime": "2024"},
            {"date": "2025-10-03", "session": "PM", "code": "I", "regime": "2024", "previous_code": "N"},
        ],
    }
