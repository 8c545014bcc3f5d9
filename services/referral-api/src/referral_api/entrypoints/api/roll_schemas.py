"""Request and response bodies for roll changes (deletion and new-pupil returns)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.pupils import URN, LACode
from referral_api.entrypoints.api.schemas import AddressIn, ChildIn, Strict


class ParentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    address: AddressIn | None = None
    emergency_phone: str = Field(min_length=6, max_length=30)


class DestinationIn(Strict):
    school_urn: URN | None = None
    school_name: str | None = Field(default=None, max_length=200)
    la_code: LACode | None = None
    starting_on: date | None = None
    new_address: AddressIn | None = None
    new_address_from: date | None = None


class EnquiryIn(Strict):
    made_on: date
    by: Literal["school", "local_authority", "joint"]
    method: str = Field(min_length=1, max_length=200, description="e.g. home visit, phone, other LA, police")
    outcome: str = Field(min_length=1, max_length=1000)


class DeletionReturnIn(Strict):
    """A deletion return (regulation 13): the ground, when it was met, and what the regulations ask
    for. Fields needed only by some grounds are checked per ground."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118001",
                    "child": {
                        "upn": "K886400023012",
                        "forename": "Sam",
                        "surname": "Example",
                        "date_of_birth": "2011-05-04",
                        "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
                    },
                    "ground": "9(1)(i)",
                    "ground_met_on": "2025-11-07",
                    "parents": [{"name": "Jo Example", "emergency_phone": "07700 900123"}],
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
                {
                    "school_urn": "118001",
                    "child": {
                        "upn": "K886400023012",
                        "forename": "Sam",
                        "surname": "Example",
                        "date_of_birth": "2011-05-04",
                        "address": {"line1": "3 Example Lane", "town": "Dover", "postcode": "CT16 1AA"},
                    },
                    "ground": "9(1)(f)",
                    "ground_met_on": "2025-10-20",
                    "deleted_on": "2025-10-20",
                    "parents": [{"name": "Jo Example", "emergency_phone": "07700 900123"}],
                    "parent_notice_received_on": "2025-10-20",
                },
            ]
        }
    )

    school_urn: URN
    child: ChildIn
    ground: Literal[
        "9(1)(a)",
        "9(1)(b)",
        "9(1)(c)",
        "9(1)(d)",
        "9(1)(e)",
        "9(1)(f)",
        "9(1)(g)",
        "9(1)(h)",
        "9(1)(i)",
        "9(1)(j)",
        "9(1)(k)",
        "9(1)(l)",
        "9(1)(m)",
        "9(1)(n)",
        "9(1)(o)",
    ]
    ground_met_on: date
    deleted_on: date | None = Field(default=None, description="Omit when the return precedes the deletion.")
    parents: list[ParentIn] = Field(default_factory=list, max_length=6)
    destination: DestinationIn | None = None
    parent_notice_received_on: date | None = Field(default=None, description="Ground (f).")
    leave_ended_on: date | None = Field(default=None, description="Ground (h).")
    absence_from: date | None = Field(default=None, description="Ground (i): first day of the absence.")
    absence_to: date | None = Field(default=None, description="Ground (i): last day of the absence.")
    absence_codes: list[Literal["G", "N", "O", "U", "I", "M", "C", "E", "B", "K", "X"]] = Field(
        default_factory=list, description="Ground (i): the codes recorded over the period."
    )
    excluded_on: date | None = Field(default=None, description="Ground (o).")
    enquiries: list[EnquiryIn] = Field(default_factory=list, max_length=50)


class AdmissionReturnIn(Strict):
    """A new-pupil return: due by the end of the fifth day after the pupil is entered on the
    admission register."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "school_urn": "118000",
                    "child": {
                        "upn": "H886200024001",
                        "forename": "Alex",
                        "surname": "Example",
                        "date_of_birth": "2014-03-02",
                    },
                    "starting_day": "2025-11-10",
                    "entered_on": "2025-11-10",
                    "year_group": "6",
                    "previous_school_urn": "118001",
                }
            ]
        }
    )

    school_urn: URN
    child: ChildIn
    starting_day: date
    entered_on: date
    year_group: str | None = Field(default=None, pattern=r"^(N1|N2|R|[1-9]|1[0-4])$")
    previous_school_urn: URN | None = None


class RollChangeOut(BaseModel):
    id: str
    kind: Literal["deletion", "admission"]
    school_urn: str
    child_ref: str
    child: ChildIn
    details: dict[str, object]
    received_at: datetime
