"""Form text to API bodies, and the API's JSON-pointer problems back onto the fields."""

from __future__ import annotations

from portal import catalogue
from portal.forms import Field, FormSpec, Section, map_errors, to_body


def test_a_school_referral_becomes_the_api_body() -> None:
    spec = catalogue.referral_form("child_missing_education", ["118000"])
    body = to_body(
        spec,
        {
            "child.upn": " H886200024001 ",
            "child.forename": "Alex",
            "child.surname": "Example",
            "child.date_of_birth.day": "2",
            "child.date_of_birth.month": "3",
            "child.date_of_birth.year": "2014",
            "child.address.line1": "",
            "school_urn": "118000",
            "missing_education.last_attended_on.day": "22",
            "missing_education.last_attended_on.month": "9",
            "missing_education.last_attended_on.year": "2025",
            "summary": "  ",
        },
    )
    assert body == {
        "kind": "child_missing_education",
        "child": {
            "upn": "H886200024001",
            "forename": "Alex",
            "surname": "Example",
            "date_of_birth": "2014-03-02",
        },
        "school_urn": "118000",
        "referrer": {"school_urn": "118000"},
        "missing_education": {"last_attended_on": "2025-09-22"},
    }


def test_types_lists_and_datetimes() -> None:
    spec = FormSpec(
        "t",
        [
            Section(
                None,
                [
                    Field("n", "n", "number"),
                    Field("i", "i", "integer"),
                    Field("yes", "yes", "yesno"),
                    Field("codes", "codes", "checkboxes"),
                    Field("parents.0.name", "p"),
                    Field("review_dates.0", "r", "date"),
                    Field("at", "at", "datetime"),
                ],
            )
        ],
    )
    body = to_body(
        spec,
        {
            "n": "81.5",
            "i": "9",
            "yes": "false",
            "codes": ["BU", "DB"],
            "parents.0.name": "Jo",
            "review_dates.0.day": "1",
            "review_dates.0.month": "12",
            "review_dates.0.year": "2025",
            "at.day": "1",
            "at.month": "7",
            "at.year": "2025",
            "at.time": "09:30",
        },
    )
    assert body == {
        "n": 81.5,
        "i": 9,
        "yes": False,
        "codes": ["BU", "DB"],
        "parents": [{"name": "Jo"}],
        "review_dates": ["2025-12-01"],
        "at": "2025-07-01T09:30:00+01:00",  # British Summer Time
    }
    # Not a number: sent as typed, for the API to report at its pointer.
    assert to_body(spec, {"n": "lots"}) == {"n": "lots"}


def test_problems_land_on_fields_objects_and_the_summary() -> None:
    spec = catalogue.referral_form("child_missing_education", ["118000"])
    errors = map_errors(
        spec,
        [
            {"pointer": "/child/upn", "code": "invalid_upn", "detail": "UPN check letter is wrong"},
            {"pointer": "/child", "code": "value_error", "detail": "give the address"},
            {"pointer": "/referrer/school_urn", "code": "x", "detail": "not yours"},
            {"pointer": "header/idempotency-key", "code": "x", "detail": "bad key"},
        ],
    )
    assert [(e.field_id, e.message) for e in errors] == [
        ("child-upn", "UPN check letter is wrong"),
        ("child-upn", "Give the address"),  # an object's rule: its first field
        (None, "Not yours"),  # no such field on the form: summary only
        (None, "Bad key"),
    ]
