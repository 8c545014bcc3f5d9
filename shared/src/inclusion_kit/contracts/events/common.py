"""Value objects shared by several public events."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts.base import TolerantEnum, x_pii


class Phase(TolerantEnum):
    """Phase of education of a school, as reports break figures down."""

    NURSERY = "nursery"
    PRIMARY = "primary"
    MIDDLE = "middle"
    SECONDARY = "secondary"
    ALL_THROUGH = "all_through"
    SPECIAL = "special"
    PRU = "pru"
    SIXTEEN_PLUS = "sixteen_plus"
    UNKNOWN = "unknown"


class SchoolRef(BaseModel):
    """A school by its DfE identifiers, with what reports need to group by."""

    model_config = ConfigDict(frozen=True)

    urn: str = Field(pattern=r"^[0-9]{6}$", description="Unique reference number (GIAS).")
    laestab: str | None = Field(
        default=None, pattern=r"^[0-9]{7}$", description="LA code + establishment number."
    )
    la_code: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    name: str | None = None
    phase: Phase = Phase.UNKNOWN
    district: str | None = Field(default=None, description="The LA's district the school is in.")


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    line1: str = Field(**x_pii())
    line2: str | None = Field(default=None, **x_pii())
    town: str | None = Field(default=None, **x_pii())
    postcode: str | None = Field(default=None, **x_pii())


class ChildIdentity(BaseModel):
    """Who the child is, as the sender knows them. Personal data throughout."""

    model_config = ConfigDict(frozen=True)

    upn: str | None = Field(
        default=None,
        pattern=r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$",
        **x_pii("Unique Pupil Number, where known (check letter validated)."),
    )
    forename: str = Field(**x_pii())
    surname: str = Field(**x_pii())
    date_of_birth: date = Field(**x_pii())
    sex: str | None = Field(default=None, pattern=r"^[MFU]$", description="CBDS: M, F or U (unknown).")
    address: Address | None = Field(default=None, **x_pii("Home address, where known."))


class ReferrerKind(TolerantEnum):
    SCHOOL = "school"
    AGENCY = "agency"
    UNKNOWN = "unknown"


class AgencyType(TolerantEnum):
    POLICE = "police"
    HEALTH = "health"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    HOUSING = "housing"
    OTHER_LOCAL_AUTHORITY = "other_local_authority"
    EARLY_HELP = "early_help"
    YOUTH_JUSTICE = "youth_justice"
    VOLUNTARY_SECTOR = "voluntary_sector"
    OTHER = "other"
    UNKNOWN = "unknown"


class Referrer(BaseModel):
    """Who sent it: a school (by URN) or another agency."""

    model_config = ConfigDict(frozen=True)

    kind: ReferrerKind
    school: SchoolRef | None = None
    agency_type: AgencyType | None = None
    agency_name: str | None = None
