"""The forms the portal offers: every referral kind, the roll-change returns, exclusion and
part-time-timetable notifications, penalty-notice requests and the officers' decisions. Field
names are the APIs' body paths (see :mod:`portal.forms`)."""

from __future__ import annotations

from collections.abc import Sequence

from portal.forms import YES_NO, Field, FormSpec, Section

REFERRAL_KINDS: dict[str, tuple[str, str]] = {
    "child_missing_education": (
        "Child missing education",
        "A child of compulsory school age who is not on a school roll or is missing from school.",
    ),
    "attendance_concern": ("Attendance concern", "A pupil whose attendance worries the school."),
    "elective_home_education": (
        "Elective home education",
        "A parent has told the school they will educate their child at home.",
    ),
    "early_help": ("Early help", "A family who would benefit from early help."),
    "other_agency_concern": ("Another concern", "A concern about a child that fits none of the above."),
}

AGENCY_TYPES = (
    ("police", "Police"),
    ("health", "Health"),
    ("childrens_social_care", "Children's social care"),
    ("housing", "Housing"),
    ("other_local_authority", "Another local authority"),
    ("early_help", "Early help"),
    ("youth_justice", "Youth justice"),
    ("voluntary_sector", "Voluntary sector"),
    ("other", "Other"),
)

SEX = (("F", "Female"), ("M", "Male"), ("U", "Not known"))
UPN_HINT = "13 characters, for example H886200024001. Leave empty if the child has none."


def _school_fields(urns: Sequence[str], *names: str) -> list[Field]:
    options = [(urn, urn) for urn in urns]
    return [Field(name, "School (URN)", "select", options=options) for name in names]


def child_section(title: str = "The child") -> Section:
    return Section(
        title,
        [
            Field("child.upn", "Unique pupil number (UPN)", hint=UPN_HINT, width="10", spellcheck=False),
            Field("child.forename", "First name", autocomplete="off", spellcheck=False),
            Field("child.surname", "Last name", autocomplete="off", spellcheck=False),
            Field("child.date_of_birth", "Date of birth", "date", hint="For example, 27 3 2014"),
            Field("child.sex", "Sex", "radios", options=SEX),
        ],
    )


def address_section(prefix: str = "child.address", title: str = "The child's address") -> Section:
    return Section(
        title,
        [
            Field(f"{prefix}.line1", "Address line 1", hint="Needed when the child has no UPN."),
            Field(f"{prefix}.line2", "Address line 2 (optional)"),
            Field(f"{prefix}.town", "Town or city", width="20"),
            Field(f"{prefix}.postcode", "Postcode", width="10", autocomplete="off"),
        ],
    )


def referral_form(kind: str, urns: Sequence[str]) -> FormSpec:
    """``urns``: the signed-in school's URNs (a school refers as itself); empty for LA staff,
    who refer on behalf of an agency."""
    title, _ = REFERRAL_KINDS[kind]
    sections = [child_section(), address_section()]
    if urns:
        referrer = Section("Your school", _school_fields(urns, "school_urn"))
    else:
        referrer = Section(
            "Who is referring",
            [
                Field("referrer.agency_type", "Agency", "select", options=AGENCY_TYPES),
                Field(
                    "referrer.agency_name", "Agency name", hint="For example, Maidstone school nursing team"
                ),
                Field("school_urn", "The child's school (URN), if known", width="10"),
            ],
        )
    fixed = {"kind": kind}
    sections.append(referrer)
    summary_label = "What is the concern?"
    if kind == "child_missing_education":
        sections.append(
            Section(
                "Missing education",
                [
                    Field("missing_education.last_attended_on", "Last day the child attended", "date"),
                    Field("missing_education.last_contact_on", "Last contact with the family", "date"),
                    Field(
                        "missing_education.possible_whereabouts",
                        "Where the child might be",
                        "textarea",
                        hint="For example, the family may have moved to Leeds",
                    ),
                ],
            )
        )
        summary_label = "Anything else the officer should know (optional)"
    elif kind == "elective_home_education":
        sections.append(
            Section(
                "Home education",
                [
                    Field(
                        "home_education.parent_notice_received_on", "Date the parent's notice arrived", "date"
                    ),
                    Field(
                        "home_education.intended_start_on", "Date home education starts (optional)", "date"
                    ),
                ],
            )
        )
        summary_label = "Anything else the officer should know (optional)"
    elif kind == "attendance_concern":
        sections.append(
            Section(
                "Attendance",
                [
                    Field(
                        "attendance_concern.attendance_percent",
                        "Attendance this year (%)",
                        "number",
                        width="4",
                        hint="For example, 81.5",
                    ),
                    Field(
                        "attendance_concern.unauthorised_sessions",
                        "Unauthorised absences (sessions)",
                        "integer",
                        width="4",
                    ),
                    Field(
                        "attendance_concern.support_already_given",
                        "Has the school already offered support?",
                        "yesno",
                        options=YES_NO,
                    ),
                ],
            )
        )
        summary_label = "Anything else the officer should know (optional)"
    sections.append(Section(None, [Field("summary", summary_label, "textarea")]))
    # A school refers as itself: the referrer is the school the child attends.
    copies = {"referrer.school_urn": "school_urn"} if urns else {}
    return FormSpec(
        f"Refer a child: {title.lower()}", sections, submit="Send referral", fixed=fixed, copies=copies
    )


DELETION_GROUNDS = (
    ("9(1)(a)", "(a) registered at another school (dual registration ended)"),
    ("9(1)(b)", "(b) a school attendance order names another school"),
    ("9(1)(c)", "(c) the parent withdrew the child from a school it was arranged to attend"),
    ("9(1)(d)", "(d) no longer of compulsory school age"),
    ("9(1)(e)", "(e) the child moved to another school"),
    ("9(1)(f)", "(f) the parent told the school in writing they will educate at home"),
    ("9(1)(g)", "(g) the child no longer lives within reasonable distance"),
    ("9(1)(h)", "(h) did not return within 10 school days after leave"),
    ("9(1)(i)", "(i) continuous absence of 20 school days, after joint enquiries"),
    ("9(1)(j)", "(j) medical: unlikely to be fit to attend"),
    ("9(1)(k)", "(k) in custody for more than four months"),
    ("9(1)(l)", "(l) died"),
    ("9(1)(m)", "(m) will not be in the sixth form"),
    ("9(1)(n)", "(n) stopped attending a sixth form or nursery class"),
    ("9(1)(o)", "(o) permanently excluded"),
)


def deletion_form(urns: Sequence[str]) -> FormSpec:
    school = _school_fields(urns, "school_urn") if urns else [Field("school_urn", "School (URN)", width="10")]
    return FormSpec(
        "Tell us about a pupil leaving your roll (deletion return)",
        [
            Section("The school", school),
            child_section("The pupil"),
            address_section(),
            Section(
                "Why the pupil leaves the roll",
                [
                    Field(
                        "ground", "Ground for deletion (regulation 9(1))", "select", options=DELETION_GROUNDS
                    ),
                    Field("ground_met_on", "Date the ground was met", "date"),
                    Field(
                        "deleted_on",
                        "Date of deletion (optional)",
                        "date",
                        hint="Leave empty if not yet deleted.",
                    ),
                    Field("parent_notice_received_on", "Parent's written notice received (ground f)", "date"),
                    Field("leave_ended_on", "Leave ended (ground h)", "date"),
                    Field("absence_from", "First day of absence (ground i)", "date"),
                    Field("absence_to", "Last day of absence (ground i)", "date"),
                    Field("excluded_on", "Date of permanent exclusion (ground o)", "date"),
                ],
            ),
            Section(
                "A parent",
                [
                    Field("parents.0.name", "Parent's name"),
                    Field(
                        "parents.0.emergency_phone", "Parent's phone number", width="20", autocomplete="off"
                    ),
                ],
            ),
            Section(
                "Where the pupil is going (if known)",
                [
                    Field("destination.school_urn", "New school (URN)", width="10"),
                    Field("destination.school_name", "New school's name"),
                    Field("destination.la_code", "New local authority (code)", width="4"),
                    Field("destination.starting_on", "Starting date at the new school", "date"),
                ],
            ),
            Section(
                "Enquiries made (grounds g, i)",
                [
                    Field("enquiries.0.made_on", "Date of the enquiry", "date"),
                    Field(
                        "enquiries.0.by",
                        "Made by",
                        "radios",
                        options=(
                            ("school", "The school"),
                            ("local_authority", "The local authority"),
                            ("joint", "Jointly"),
                        ),
                    ),
                    Field(
                        "enquiries.0.method", "How", hint="For example, home visit, phone, other LA, police"
                    ),
                    Field("enquiries.0.outcome", "Outcome", "textarea"),
                ],
            ),
        ],
        submit="Send deletion return",
    )


def admission_form(urns: Sequence[str]) -> FormSpec:
    school = _school_fields(urns, "school_urn") if urns else [Field("school_urn", "School (URN)", width="10")]
    return FormSpec(
        "Tell us about a new pupil (admission return)",
        [
            Section("The school", school),
            child_section("The pupil"),
            address_section(),
            Section(
                "The admission",
                [
                    Field("entered_on", "Date entered on the admission register", "date"),
                    Field("starting_day", "First day at the school", "date"),
                    Field("year_group", "Year group", width="3", hint="For example, 6 or R"),
                    Field("previous_school_urn", "Previous school (URN), if known", width="10"),
                ],
            ),
        ],
        submit="Send admission return",
    )


def exclusion_form(urns: Sequence[str], reason_codes: Sequence[tuple[str, str]]) -> FormSpec:
    school = _school_fields(urns, "school_urn") if urns else [Field("school_urn", "School (URN)", width="10")]
    return FormSpec(
        "Notify a suspension or permanent exclusion",
        [
            Section(
                "The pupil",
                [*school, Field("upn", "Unique pupil number (UPN)", width="10", spellcheck=False)],
            ),
            Section(
                "The exclusion",
                [
                    Field(
                        "kind",
                        "Type",
                        "radios",
                        options=(
                            ("suspension", "Suspension (fixed period)"),
                            ("lunchtime", "Lunchtime suspension"),
                            ("permanent", "Permanent exclusion"),
                        ),
                    ),
                    Field("start_date", "First day", "date"),
                    Field(
                        "start_session",
                        "Starting session",
                        "radios",
                        options=(("AM", "Morning"), ("PM", "Afternoon")),
                    ),
                    Field(
                        "length_days",
                        "Length in school days",
                        "number",
                        width="4",
                        hint="Suspensions: for example, 2 or 1.5",
                    ),
                    Field(
                        "lunchtimes",
                        "Number of lunchtimes",
                        "integer",
                        width="4",
                        hint="Lunchtime suspensions only",
                    ),
                    Field("end_date", "Last day (optional)", "date"),
                    Field(
                        "reason_codes",
                        "Reasons",
                        "checkboxes",
                        options=reason_codes,
                        hint="Select all that apply.",
                    ),
                    Field(
                        "parents_notified_at",
                        "When the parents were told",
                        "datetime",
                        hint="Date, then time as 24-hour HH:MM",
                    ),
                    Field(
                        "misses_public_exam",
                        "Does the pupil miss a public examination?",
                        "yesno",
                        options=YES_NO,
                    ),
                ],
            ),
            Section(
                "About the pupil",
                [
                    Field(
                        "sen_provision",
                        "Special educational needs",
                        "radios",
                        options=(("N", "No SEN"), ("K", "SEN support"), ("E", "EHC plan")),
                    ),
                    Field("ehc_plan", "Has an EHC plan?", "yesno", options=YES_NO),
                    Field("fsm_eligible", "Eligible for free school meals?", "yesno", options=YES_NO),
                    Field("looked_after", "Looked after?", "yesno", options=YES_NO),
                    Field("child_in_need", "Child in need?", "yesno", options=YES_NO),
                    Field("child_protection_plan", "On a child protection plan?", "yesno", options=YES_NO),
                ],
            ),
        ],
        submit="Send notification",
    )


def part_time_form(urns: Sequence[str]) -> FormSpec:
    school = _school_fields(urns, "school_urn") if urns else [Field("school_urn", "School (URN)", width="10")]
    return FormSpec(
        "Notify a part-time timetable",
        [
            Section(
                "The pupil",
                [*school, Field("upn", "Unique pupil number (UPN)", width="10", spellcheck=False)],
            ),
            Section(
                "The timetable",
                [
                    Field("starts_on", "Start date", "date"),
                    Field("planned_end_on", "Planned end date", "date"),
                    Field("hours_per_week", "Hours in school each week", "number", width="4"),
                    Field("reason", "Why a part-time timetable", "textarea"),
                    Field("parent_agreed_on", "Date the parent agreed", "date"),
                    Field("review_dates.0", "First review date", "date"),
                    Field("review_dates.1", "Second review date (optional)", "date"),
                ],
            ),
        ],
        submit="Send notification",
    )


def penalty_request_form(urns: Sequence[str]) -> FormSpec:
    school = _school_fields(urns, "school_urn") if urns else [Field("school_urn", "School (URN)", width="10")]
    return FormSpec(
        "Request a penalty notice",
        [
            Section(
                "The pupil",
                [*school, Field("upn", "Unique pupil number (UPN)", width="10", spellcheck=False)],
            ),
            Section(
                "The offence",
                [
                    Field(
                        "offence_type",
                        "Offence",
                        "radios",
                        options=(
                            ("irregular_attendance", "Irregular attendance"),
                            ("leave_in_term_time", "Leave in term time"),
                        ),
                    ),
                    Field("period_start", "First day of the period", "date"),
                    Field("period_end", "Last day of the period", "date"),
                    Field("notice_to_improve_issued_on", "Notice to improve issued on (if any)", "date"),
                    Field(
                        "evidence.summary",
                        "Evidence",
                        "textarea",
                        hint="Meetings, letters and support offered.",
                    ),
                ],
            ),
            Section(
                "The parent liable",
                [
                    Field("parents.0.forename", "First name", autocomplete="off"),
                    Field("parents.0.surname", "Last name", autocomplete="off"),
                    Field(
                        "parents.0.relationship",
                        "Relationship to the pupil",
                        "radios",
                        options=(
                            ("mother", "Mother"),
                            ("father", "Father"),
                            ("carer", "Carer"),
                            ("other", "Other"),
                        ),
                    ),
                    Field("parents.0.address.line1", "Address line 1"),
                    Field("parents.0.address.town", "Town or city", width="20"),
                    Field("parents.0.address.postcode", "Postcode", width="10", autocomplete="off"),
                ],
            ),
        ],
        submit="Send request",
    )


TRIAGE_FORM = FormSpec(
    "Triage",
    [
        Section(
            None,
            [
                Field(
                    "decision",
                    "Decision",
                    "radios",
                    options=(
                        ("accepted", "Accept"),
                        ("redirected", "Redirect to another service"),
                        ("closed", "Close"),
                    ),
                ),
                Field("redirected_to", "Service it goes to (when redirecting)"),
                Field("reason", "Reason (when closing)", "textarea"),
            ],
        )
    ],
    submit="Record decision",
)

PENALTY_DECISION_FORM = FormSpec(
    "Decision",
    [
        Section(
            None,
            [
                Field(
                    "decline",
                    "Decision",
                    "yesno",
                    options=(("false", "Eligible: issue notices"), ("true", "Decline")),
                ),
                Field("reason", "Reason (when declining)", "textarea"),
                Field(
                    "offence_section",
                    "Offence section",
                    "radios",
                    options=(("s444(1)", "Section 444(1)"), ("s444(1A)", "Section 444(1A)")),
                ),
            ],
        )
    ],
    submit="Record decision",
)


# CME casework (cme-tracker) ----------------------------------------------------------------------

ENQUIRY_KINDS = (
    ("school", "The school"),
    ("family", "The family"),
    ("neighbours", "Neighbours"),
    ("health", "Health (GP, school nursing)"),
    ("housing", "Housing"),
    ("police", "Police"),
    ("other_las", "Other local authorities"),
    ("lost_pupils_search", "Lost pupils database (School to School)"),
    ("childrens_social_care", "Children's social care"),
)
ENQUIRY_RESULTS = (
    ("no_information", "No information"),
    ("information_found", "Information found"),
    ("child_found", "The child was found"),
    ("no_response", "No response"),
)
CLOSE_OUTCOMES = (
    ("moved_to_other_la", "Moved to another local authority"),
    ("moved_abroad", "Moved abroad"),
    ("electively_home_educated", "Now home educated (enters the EHE register)"),
    ("other_suitable_provision", "Other suitable provision"),
    ("deceased", "Died"),
    ("not_found_lost_pupils", "Not found after full enquiries (lost pupils database)"),
    ("duplicate", "A duplicate of another case"),
)
NOTES = Field("notes", "Notes (optional)", "textarea")


def enquiry_form(missing: Sequence[str] = ()) -> FormSpec:
    """``missing``: the checklist's enquiries not yet tried (named in the hint)."""
    labels = dict(ENQUIRY_KINDS)
    hint = "Not yet tried: " + ", ".join(labels.get(k, k).lower() for k in missing) + "." if missing else None
    return FormSpec(
        "Record an enquiry",
        [
            Section(
                None,
                [
                    Field("kind", "Who was asked", "radios", options=ENQUIRY_KINDS, hint=hint),
                    Field(
                        "made_by",
                        "Who made the enquiry",
                        hint="An officer or an agency, for example Maidstone school nursing team",
                    ),
                    Field("made_on", "Date of the enquiry", "date", hint="For example, 11 11 2025"),
                    Field("result", "Result", "radios", options=ENQUIRY_RESULTS),
                    NOTES,
                ],
            )
        ],
        submit="Record enquiry",
    )


LOCATE_FORM = FormSpec(
    "Record that the child is found",
    [Section(None, [Field("located_on", "Date the child was found", "date"), NOTES])],
    submit="Record child found",
)

CASE_REVIEW_FORM = FormSpec(
    "Record a review of the case",
    [Section(None, [Field("reviewed_on", "Date of the review", "date"), NOTES])],
    submit="Record review",
)

PLACEMENT_FORM = FormSpec(
    "Record a placement on a school roll",
    [
        Section(
            None,
            [
                Field("school_urn", "School (URN)", width="10", hint="6 digits, for example 118001"),
                Field("school_name", "School's name (optional)"),
                Field("la_code", "The school's local authority (code, optional)", width="4"),
                Field("district", "District (optional)", width="20"),
                Field("placed_on", "The child's first day at the school", "date"),
            ],
        )
    ],
    submit="Record placement",
)

CLOSE_FORM = FormSpec(
    "Close the case",
    [
        Section(
            None,
            [
                Field("outcome", "Outcome", "radios", options=CLOSE_OUTCOMES),
                Field("closed_on", "Date closed", "date"),
                Field(
                    "other_la_code",
                    "The other local authority (code)",
                    width="4",
                    hint="When moved to another LA",
                ),
                Field(
                    "duplicate_of",
                    "The case it duplicates",
                    width="20",
                    hint="When a duplicate, for example cme-1a2b",
                ),
                NOTES,
            ],
        )
    ],
    submit="Close case",
)


# The EHE register (cme-tracker) ------------------------------------------------------------------


def ehe_action_form(title: str, date_label: str, submit: str) -> FormSpec:
    return FormSpec(title, [Section(None, [Field("on", date_label, "date"), NOTES])], submit=submit)


EHE_ACTIONS: dict[str, FormSpec] = {
    "first-contact": ehe_action_form("Record first contact", "Date of first contact", "Record first contact"),
    "visit-offer": ehe_action_form(
        "Record the visit offered", "Date the visit was offered", "Record visit offer"
    ),
    "reviews": ehe_action_form("Record the yearly review", "Date of the review", "Record review"),
}

EHE_END_FORM = FormSpec(
    "End the registration",
    [
        Section(
            None,
            [
                Field("on", "Date it ended", "date"),
                Field(
                    "reason", "Why it ended", hint="For example, returned to school at Example High School"
                ),
            ],
        )
    ],
    submit="End registration",
)


# Exclusions: sixth-day provision and reviews (exclusions) ----------------------------------------

PROVISION_FORM = FormSpec(
    "Record full-time provision from the sixth day",
    [
        Section(
            None,
            [
                Field("provider", "Provider", hint="For example, East Kent Pupil Referral Unit"),
                Field("provider_urn", "Provider's URN (optional)", width="10"),
                Field("starts_on", "Date the provision starts", "date"),
            ],
        )
    ],
    submit="Record provision",
)

UPHELD_REINSTATED = (("upheld", "Upheld"), ("reinstated", "Reinstated"))

REVIEW_FORMS: dict[str, FormSpec] = {
    "representations": FormSpec(
        "Record the parents' representations",
        [Section(None, [Field("received_on", "Date the representations were received", "date")])],
        submit="Record representations",
        fixed={"stage": "representations"},
    ),
    "board": FormSpec(
        "Record the governing board's decision",
        [
            Section(
                None,
                [
                    Field("outcome", "Decision", "radios", options=UPHELD_REINSTATED),
                    Field("decided_on", "Date of the decision", "date"),
                    Field("parents_notice_sent_on", "Date the decision was sent to the parents", "date"),
                    Field(
                        "notice_posted",
                        "Was it sent by first-class post?",
                        "yesno",
                        options=YES_NO,
                        hint="A posted notice counts as given on the second working day after.",
                    ),
                    Field("reinstated_on", "Date of reinstatement (when reinstated)", "date"),
                ],
            )
        ],
        submit="Record decision",
        fixed={"stage": "board"},
    ),
    "independent_review": FormSpec(
        "Record the independent review panel's decision",
        [
            Section(
                None,
                [
                    Field("applied_on", "Date the parents applied", "date"),
                    Field(
                        "outcome",
                        "Decision",
                        "radios",
                        options=(
                            ("upheld", "Upheld"),
                            ("recommend_reconsideration", "Recommended that the board reconsider"),
                            ("quashed", "Quashed (the board must reconsider)"),
                        ),
                    ),
                    Field("decided_on", "Date of the decision", "date"),
                    Field("board_notified_on", "Date the board was told", "date"),
                ],
            )
        ],
        submit="Record decision",
        fixed={"stage": "independent_review"},
    ),
    "reconsideration": FormSpec(
        "Record the board's reconsideration",
        [
            Section(
                None,
                [
                    Field("outcome", "Decision", "radios", options=UPHELD_REINSTATED),
                    Field("decided_on", "Date of the decision", "date"),
                ],
            )
        ],
        submit="Record decision",
        fixed={"stage": "reconsideration"},
    ),
}


WITHDRAWAL_FORM = FormSpec(
    "Record that the head teacher withdrew it",
    [
        Section(
            None,
            [
                Field("withdrawn_on", "Date it was withdrawn", "date"),
                Field("reason", "Reason (optional)", "textarea"),
            ],
        )
    ],
    submit="Record withdrawal",
)

TIMETABLE_REVIEW_FORM = FormSpec(
    "Record a review of the part-time timetable",
    [
        Section(
            None,
            [
                Field("reviewed_on", "Date of the review", "date"),
                Field("new_planned_end_on", "New planned end date (if it changed)", "date"),
                Field("notes", "Notes (optional)", "textarea"),
            ],
        )
    ],
    submit="Record review",
)

TIMETABLE_END_FORM = FormSpec(
    "End the part-time timetable",
    [
        Section(
            None,
            [
                Field("ended_on", "Date it ended", "date"),
                Field(
                    "outcome",
                    "What happened next",
                    "radios",
                    options=(
                        ("full_time", "Back to full-time"),
                        ("alternative_provision", "Alternative provision"),
                        ("left_roll", "Left the school's roll"),
                        ("other", "Other"),
                    ),
                ),
            ],
        )
    ],
    submit="End timetable",
)
