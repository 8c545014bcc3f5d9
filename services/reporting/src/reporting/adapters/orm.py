"""Tables of reporting's own database (no other service reads them).

Two kinds:

* **Control tables**, owned by Alembic like any service's: the kit's plumbing and
  ``projection_generations``, which says which generation of the read models readers use.
* **Read models**, one *generation* at a time: a complete set of projection tables built from the
  topics. They are derived data, so their layout is owned by the projector (``LAYOUT``), not by
  migrations: a new layout ships with a ``reporting rebuild``, which replays the topics into a
  fresh generation and switches readers over. On PostgreSQL a generation is a schema
  (``reporting_g3``), dropped whole when retired; on SQLite (embedded mode) a set of tables
  prefixed ``g3_`` in the service's file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from inclusion_kit.db.metadata import KitTables, make_metadata

metadata = make_metadata()
# Outbox, inbox, dead letters and audit log: the plumbing every service owns.
tables = KitTables(metadata)

# Which generations of the read models exist; exactly one is "active" (what readers use) once the
# first event arrived; "building" while `reporting rebuild` replays; "retired" once replaced.
projection_generations = Table(
    "projection_generations",
    metadata,
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("status", String(12), nullable=False),
    Column("layout", Integer, nullable=False),
    Column("source", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)
Index("ix_projection_generations_status", projection_generations.c.status)

# The projection tables' layout version: bump it with any change to ProjectionTables below; the
# change then needs a `reporting rebuild` (the status endpoint shows generations on an old layout).
LAYOUT: Final = 2  # 2: fillfactor on the attendance tables
# Percent of each page the attendance tables fill on insert; the rest takes the new versions of
# its rows. A school day updates every current row (a half-term's rows were inserted together, so
# whole pages at once): at 50 each update is "HOT" (no index entries) and pruning reuses the space
# the next day. Measured (120,000 pupils, 4 days of updates): 100% HOT and 89 MB at 50; 64% and
# 138 MB at 70; 1% and 178 MB at 100, slower by the day.
FILLFACTOR: Final = 50
GENERATION_PREFIX: Final = re.compile(r"^g[0-9]+_")


def is_generation_table(name: str | None) -> bool:
    """Projection tables on SQLite (``g3_enrolments``): Alembic leaves them alone."""
    return name is not None and GENERATION_PREFIX.match(name) is not None


def generation_schema(generation: int) -> str:
    return f"reporting_g{generation}"


@dataclass(frozen=True)
class ProjectionTables:
    """One generation's read models, placed for its database (schema on PostgreSQL, table prefix
    on SQLite)."""

    generation: int
    metadata: MetaData
    applied: Table
    schools: Table
    enrolments: Table
    fsm_periods: Table
    attendance_enrolment: Table
    attendance_school: Table
    exclusions: Table
    repeat_suspensions: Table
    cme_cases: Table
    ehe_registrations: Table
    referrals: Table
    absence_identified: Table
    notice_requests: Table
    penalty_notices: Table
    prosecutions: Table

    @property
    def schema(self) -> str | None:
        return self.applied.schema


_COUNTERS = ("present", "aea", "authorised", "unauthorised", "not_counted", "late", "unknown_code")


@cache
def projection_tables(generation: int, dialect: str) -> ProjectionTables:
    md = make_metadata()
    schema = generation_schema(generation) if dialect == "postgresql" else None
    prefix = "" if schema else f"g{generation}_"

    def table(name: str, *columns: Column[Any], **options: Any) -> Table:
        return Table(prefix + name, md, *columns, schema=schema, **options)

    # The projection's own ledger of applied event ids: a generation may be fed by the live
    # consumer and by a rebuild at once around a switch; each event changes it exactly once.
    applied = table("applied", Column("event_id", String(64), primary_key=True))
    schools = table(
        "schools",
        Column("urn", String(6), primary_key=True),
        Column("la_code", String(3)),
        Column("name", String(200)),
        Column("phase", String(20), nullable=False),
        Column("district", String(100)),
    )
    enrolments = table(
        "enrolments",
        Column("school_urn", String(6), primary_key=True),
        Column("upn", String(13), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("year_group", String(4)),
        Column("on_roll_from", Date, nullable=False),
        Column("on_roll_until", Date),
        Column("sen_provision", String(8), nullable=False),
        Column("looked_after", Boolean, nullable=False),
        Column("child_in_need", Boolean, nullable=False),
        Column("child_protection_plan", Boolean, nullable=False),
        Column("ethnicity", String(4)),
        Column("grt", Boolean, nullable=False),
        Column("version", Integer, nullable=False),
    )
    fsm_periods = table(
        "fsm_periods",
        Column("school_urn", String(6), primary_key=True),
        Column("upn", String(13), primary_key=True),
        Column("start", Date, primary_key=True),
        Column("end", Date),
    )
    counters = [Column(name, Integer, nullable=False, default=0) for name in _COUNTERS]
    # Sessions per enrolment (school, pupil) and period (half-term, term, academic year).
    # Every school day rewrites each pupil's rows of the current periods: pages are left part
    # empty (PostgreSQL's fillfactor) so the new row versions fit beside the old ones, a "HOT"
    # update that writes no index entries (the counters are in no index).
    attendance_enrolment = table(
        "attendance_enrolment",
        Column("school_urn", String(6), primary_key=True),
        Column("upn", String(13), primary_key=True),
        Column("period", String(20), primary_key=True),
        *counters,
        postgresql_with={"fillfactor": FILLFACTOR},
    )
    Index(f"ix_{prefix}attendance_enrolment_period", attendance_enrolment.c.period)
    # The same summed per school, with the enrolments counted (possible sessions > 0), persistent
    # (>= 10%) and severe (>= 50%): LA, area, district and phase figures read only this.
    attendance_school = table(
        "attendance_school",
        Column("school_urn", String(6), primary_key=True),
        Column("period", String(20), primary_key=True),
        *[Column(name, BigInteger, nullable=False, default=0) for name in _COUNTERS],
        Column("enrolments", Integer, nullable=False, default=0),
        Column("persistent", Integer, nullable=False, default=0),
        Column("severe", Integer, nullable=False, default=0),
        postgresql_with={"fillfactor": FILLFACTOR},
    )
    Index(f"ix_{prefix}attendance_school_period", attendance_school.c.period)
    exclusions = table(
        "exclusions",
        Column("exclusion_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("school_urn", String(6)),
        Column("kind", String(20)),
        Column("start_date", Date),
        Column("academic_year", String(7)),
        Column("days", Float),
        Column("reason_codes", String(40)),
        Column("fsm", Boolean),
        Column("sen_provision", String(8)),
        Column("ehc_plan", Boolean),
        Column("looked_after", Boolean),
        Column("child_in_need", Boolean),
        Column("withdrawn_on", Date),
        Column("provision_due", Date),
        Column("provision_on_time", Boolean),
        Column("provision_missed", Boolean),
        Column("version", Integer),
    )
    Index(f"ix_{prefix}exclusions_start_date", exclusions.c.start_date)
    repeat_suspensions = table(
        "repeat_suspensions",
        Column("child_ref", String(64), primary_key=True),
        Column("academic_year", String(7), primary_key=True),
        Column("school_urn", String(6)),
        Column("flagged_on", Date, nullable=False),
        Column("suspensions", Integer, nullable=False),
    )
    cme_cases = table(
        "cme_cases",
        Column("case_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("district", String(100)),
        Column("opened_on", Date),
        Column("located_on", Date),
        Column("days_to_located", Integer),
        Column("placed_on", Date),
        Column("days_to_placed", Integer),
        Column("placed_within_target", Boolean),
        Column("closed_on", Date),
        Column("outcome", String(40)),
        Column("reviews_overdue", Integer, nullable=False, default=0),
    )
    Index(f"ix_{prefix}cme_cases_opened_on", cme_cases.c.opened_on)
    ehe_registrations = table(
        "ehe_registrations",
        Column("registration_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("district", String(100)),
        Column("registered_on", Date, nullable=False),
        Column("first_contact_due", Date),
        Column("visit_offer_due", Date),
    )
    referrals = table(
        "referrals",
        Column("referral_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("kind", String(40)),
        Column("school_urn", String(6)),
        Column("received_on", Date),
        Column("decision", String(20)),
        Column("decided_on", Date),
        Column("within_target", Boolean),
        Column("closed_on", Date),
    )
    absence_identified = table(
        "absence_identified",
        Column("school_urn", String(6), primary_key=True),
        Column("child_ref", String(64), primary_key=True),
        Column("academic_year", String(7), primary_key=True),
        Column("term", String(10), primary_key=True),
        Column("level", String(12), primary_key=True),
        Column("basis", String(12), primary_key=True),
        Column("as_at", Date, nullable=False),
    )
    notice_requests = table(
        "notice_requests",
        Column("request_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("school_urn", String(6)),
        Column("offence_type", String(30)),
        Column("requested_on", Date),
        Column("declined_on", Date),
        Column("declined_parents", Integer, nullable=False, default=0),
    )
    penalty_notices = table(
        "penalty_notices",
        Column("notice_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("request_id", String(64)),
        Column("school_urn", String(6)),
        Column("issued_on", Date),
        Column("issued_within_target", Boolean),
        Column("paid_on", Date),
        Column("amount_pence", Integer),
        Column("rate", String(10)),
        Column("withdrawn_on", Date),
        Column("withdrawal_ground", String(40)),
    )
    prosecutions = table(
        "prosecutions",
        Column("case_id", String(64), primary_key=True),
        Column("child_ref", String(64), nullable=False),
        Column("notice_id", String(64)),
        Column("offence_section", String(12)),
        Column("started_on", Date),
        Column("concluded_on", Date),
        Column("outcome", String(20)),
    )
    return ProjectionTables(
        generation=generation,
        metadata=md,
        applied=applied,
        schools=schools,
        enrolments=enrolments,
        fsm_periods=fsm_periods,
        attendance_enrolment=attendance_enrolment,
        attendance_school=attendance_school,
        exclusions=exclusions,
        repeat_suspensions=repeat_suspensions,
        cme_cases=cme_cases,
        ehe_registrations=ehe_registrations,
        referrals=referrals,
        absence_identified=absence_identified,
        notice_requests=notice_requests,
        penalty_notices=penalty_notices,
        prosecutions=prosecutions,
    )


COUNTERS: Final = _COUNTERS
