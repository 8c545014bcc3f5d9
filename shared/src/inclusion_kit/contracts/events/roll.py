"""Roll changes: pupils leaving and joining a school's admission register (topic
``inclusion.referrals``, because the front door receives them)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts.base import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.events.common import Address, ChildIdentity, SchoolRef


class DeletionGround(TolerantEnum):
    """Regulation 9(1) of the School Attendance (Pupil Registration) (England) Regulations 2024."""

    A_REGISTERED_ELSEWHERE = "9(1)(a)"
    B_NURSERY_NOT_TRANSFERRING = "9(1)(b)"
    C_DUAL_REGISTRATION_ENDED = "9(1)(c)"
    D_SAO_AMENDED = "9(1)(d)"
    E_SAO_REVOKED = "9(1)(e)"
    F_HOME_EDUCATION = "9(1)(f)"
    G_MOVED_AWAY = "9(1)(g)"
    H_NOT_RETURNED_FROM_LEAVE = "9(1)(h)"
    I_CONTINUOUS_ABSENCE = "9(1)(i)"
    J_DETAINED = "9(1)(j)"
    K_DIED = "9(1)(k)"
    L_CEASES_COMPULSORY_AGE = "9(1)(l)"
    M_BOARDING_FEES_UNPAID = "9(1)(m)"
    N_LEFT_INDEPENDENT_SCHOOL = "9(1)(n)"
    O_PERMANENTLY_EXCLUDED = "9(1)(o)"
    UNKNOWN = "unknown"


class ParentContact(BaseModel):
    """A parent the pupil normally lives with, and an emergency telephone number (reg 13)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(**x_pii())
    address: Address | None = Field(default=None, **x_pii())
    emergency_phone: str = Field(**x_pii())


class Destination(BaseModel):
    """Where the pupil goes, as far as the school knows (reg 8(3))."""

    model_config = ConfigDict(frozen=True)

    school: SchoolRef | None = Field(
        default=None, description="The next school, when it is in the LA's list."
    )
    school_urn: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    school_name: str | None = None
    la_code: str | None = Field(default=None, pattern=r"^[0-9]{3}$", description="The next school's LA.")
    starting_on: date | None = None
    new_address: Address | None = Field(default=None, **x_pii())
    new_address_from: date | None = None


class Enquiry(BaseModel):
    """A reasonable enquiry made before the deletion (grounds (h) and (i) need joint ones)."""

    model_config = ConfigDict(frozen=True)

    made_on: date
    by: str = Field(description="school, local_authority or joint")
    method: str = Field(description="e.g. home visit, phone, other LA, police")
    outcome: str = Field(**x_pii("What the enquiry found: may name people or places."))


class DeletionEvidence(BaseModel):
    """What the school gave for its ground (DOMAIN.md §5.2), as the front door accepted it: what
    the off-rolling watch checks returns against."""

    model_config = ConfigDict(frozen=True)

    leave_ended_on: date | None = Field(default=None, description="Ground (h).")
    absence_from: date | None = Field(default=None, description="Ground (i).")
    absence_to: date | None = Field(default=None, description="Ground (i).")
    absence_codes: list[str] = Field(default_factory=list, description="Ground (i): codes over the period.")
    excluded_on: date | None = Field(default=None, description="Ground (o).")
    enquiries: list[Enquiry] = Field(default_factory=list)


class PupilRemovedFromRoll(IntegrationEvent):
    """A school's deletion return: a pupil's name is (or is about to be) removed from its admission
    register on a regulation 9(1) ground.

    ``education_unknown`` is the front door's reading of the return: true when nobody knows where
    the child will be educated (grounds (h) and (i), or (g) without a next school), which is what
    the children-missing-education service acts on.
    """

    event_type: ClassVar[str] = "inclusion.referrals.pupil.removed-from-roll.v1"

    roll_change_id: str
    school: SchoolRef
    child: ChildIdentity
    ground: DeletionGround
    ground_met_on: date
    deleted_on: date | None = Field(default=None, description="Null when the return precedes the deletion.")
    destination: Destination | None = None
    parents: list[ParentContact] = Field(default_factory=list, **x_pii())
    parent_notice_received_on: date | None = Field(
        default=None, description="Ground (f): the written notice."
    )
    education_unknown: bool
    received_at: datetime
    year_group: str | None = Field(
        default=None, description="The pupil's year group on this school's roll, where the roll gives it."
    )
    evidence: DeletionEvidence | None = Field(default=None, description="Absent in returns before v1.1.")

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "rc-1a2b3c4d5e6f7a8b",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 10, 10, 0, tzinfo=UTC),
        "roll_change_id": "rc-1a2b3c4d5e6f7a8b",
        "school": {
            "urn": "118001",
            "laestab": "8864000",
            "la_code": "886",
            "phase": "secondary",
            "district": "Dover",
        },
        "child": {
            "upn": "K886400023012",
            "forename": "Sam",
            "surname": "Example",
            "date_of_birth": "2011-05-04",
            "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
        },
        "ground": "9(1)(i)",
        "ground_met_on": "2025-11-07",
        "deleted_on": None,
        "parents": [{"name": "Jo Example", "emergency_phone": "07700 900123"}],
        "education_unknown": True,
        "received_at": datetime(2025, 11, 10, 10, 0, tzinfo=UTC),
        "year_group": "9",
        "evidence": {
            "absence_from": "2025-10-06",
            "absence_to": "2025-11-07",
            "absence_codes": ["N", "O"],
            "enquiries": [
                {
                    "made_on": "2025-11-05",
                    "by": "joint",
                    "method": "home visit with the LA's officer",
                    "outcome": "no answer; neighbours say the family left",
                }
            ],
        },
    }


class PupilAddedToRoll(IntegrationEvent):
    """A school's new-pupil return: a pupil was entered on its admission register (reg 13: due by
    the end of the fifth day after the entry). Closes the loop for a child missing education."""

    event_type: ClassVar[str] = "inclusion.referrals.pupil.added-to-roll.v1"

    roll_change_id: str
    school: SchoolRef
    child: ChildIdentity
    starting_day: date = Field(description="The pupil's first day, as entered in the register.")
    entered_on: date
    return_due_by: date
    returned_late: bool
    year_group: str | None = Field(default=None, description="National curriculum year, e.g. 'R', '7'.")
    previous_school_urn: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    received_at: datetime

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "rc-9f8e7d6c5b4a3f2e",
        "aggregate_version": 1,
        "occurred_at": datetime(2025, 11, 12, 9, 0, tzinfo=UTC),
        "roll_change_id": "rc-9f8e7d6c5b4a3f2e",
        "school": {
            "urn": "118000",
            "laestab": "8862000",
            "la_code": "886",
            "phase": "primary",
            "district": "Maidstone",
        },
        "child": {
            "upn": "H886200024001",
            "forename": "Alex",
            "surname": "Example",
            "date_of_birth": "2014-03-02",
        },
        "starting_day": "2025-11-10",
        "entered_on": "2025-11-10",
        "return_due_by": "2025-11-15",
        "returned_late": False,
        "year_group": "6",
        "received_at": datetime(2025, 11, 12, 9, 0, tzinfo=UTC),
    }


class SenProvision(TolerantEnum):
    """CBDS SEN provision: N no special educational need, K SEN support, E EHC plan."""

    NONE = "N"
    SEN_SUPPORT = "K"
    EHC_PLAN = "E"
    UNKNOWN = "unknown"


class FsmPeriod(BaseModel):
    """A free-school-meals eligibility period (DOMAIN.md §8.1: stored as date ranges, so that
    "eligible on census day" and Ever6 can be derived for any date)."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date | None = Field(default=None, description="Null while the eligibility continues.")


class PupilCharacteristics(BaseModel):
    """The census characteristics reports group pupils by (DOMAIN.md §8.1, §10.4). Special category
    and sensitive personal data throughout."""

    model_config = ConfigDict(frozen=True)

    sen_provision: SenProvision = Field(default=SenProvision.NONE, **x_pii())
    fsm_periods: list[FsmPeriod] = Field(default_factory=list, **x_pii())
    looked_after: bool = Field(default=False, **x_pii())
    child_in_need: bool = Field(default=False, **x_pii())
    child_protection_plan: bool = Field(default=False, **x_pii())
    ethnicity: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{4}$",
        **x_pii("DfE ethnicity code (main or extended), e.g. WROM, WIRT for Gypsy/Roma/Traveller."),
    )

    def fsm_eligible_on(self, day: date) -> bool:
        return any(p.start <= day and (p.end is None or day <= p.end) for p in self.fsm_periods)


class PupilEnrolmentRecorded(IntegrationEvent):
    """A school's roll as its MIS states it: one pupil's enrolment at the school (year group, on
    roll from/until) and census characteristics, sent when a roll import adds the pupil or changes
    any of these. It is the roll other contexts check a school's pupils against, and the
    denominators and pupil groups reports are built from. ``on_roll_until`` set means the enrolment
    has ended."""

    event_type: ClassVar[str] = "inclusion.referrals.pupil.enrolment-recorded.v1"

    school: SchoolRef
    upn: str = Field(pattern=r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$", **x_pii("The pupil's UPN."))
    year_group: str | None = Field(default=None, description="National curriculum year, e.g. 'R', '7'.")
    on_roll_from: date
    on_roll_until: date | None = None
    characteristics: PupilCharacteristics = Field(default_factory=PupilCharacteristics)

    example: ClassVar[dict[str, Any] | None] = {
        "child_ref": "c-5f0e3a9b2c1d4e7f",
        "aggregate_id": "118000/c-5f0e3a9b2c1d4e7f",
        "aggregate_version": 2,
        "occurred_at": datetime(2025, 9, 3, 7, 0, tzinfo=UTC),
        "school": {
            "urn": "118000",
            "laestab": "8862000",
            "la_code": "886",
            "phase": "primary",
            "district": "Maidstone",
        },
        "upn": "H886200024001",
        "year_group": "6",
        "on_roll_from": "2019-09-04",
        "characteristics": {
            "sen_provision": "K",
            "fsm_periods": [{"start": "2023-01-09"}],
            "looked_after": False,
            "child_in_need": False,
            "child_protection_plan": False,
            "ethnicity": "WBRI",
        },
    }
