"""UPN and school identifier checks (DOMAIN.md §6)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from inclusion_kit.pupils import (
    LAESTAB,
    UPN,
    UPN_PATTERN,
    URN,
    InvalidIdentifier,
    InvalidUPN,
    LACode,
    PermanentUPN,
    is_temporary_upn,
    is_valid_upn,
    upn_check_letter,
    upn_la_code,
    upn_parts,
    validate_la_code,
    validate_laestab,
    validate_permanent_upn,
    validate_upn,
    validate_urn,
)


@pytest.mark.parametrize(
    ("body", "letter"),
    [
        ("801200005001", "B"),  # DOMAIN §6.2 worked example: sum 93, mod 23 = 1
        ("886200024001", "H"),  # sum 145, mod 23 = 7
        ("886400023012", "K"),  # sum 170, mod 23 = 9
        ("00180001701A", "X"),  # temporary: final A counts 0; sum 135, mod 23 = 20
        ("000000000000", "A"),
        # A temporary UPN's final letter takes its index in the 23-letter table (I, O, S left out):
        # J = 8 -> 104 mod 23 = 12 -> N (a plain alphabet, J = 9, would give C).
        ("00000000000J", "N"),
        # Z = 22 -> 286 mod 23 = 10 -> L (a plain alphabet, Z = 25, would give D).
        ("00000000000Z", "L"),
    ],
)
def test_check_letter(body: str, letter: str) -> None:
    assert upn_check_letter(body) == letter


@pytest.mark.parametrize("body", ["80120000500", "8012000050011", "80120000500I", "A01200005001", ""])
def test_check_letter_rejects_bad_body(body: str) -> None:
    with pytest.raises(InvalidUPN):
        upn_check_letter(body)


@pytest.mark.parametrize(
    ("raw", "normalised", "temporary", "la_code"),
    [
        ("B801200005001", "B801200005001", False, "801"),
        ("H886200024001", "H886200024001", False, "886"),
        ("K886400023012", "K886400023012", False, "886"),
        ("X00180001701A", "X00180001701A", True, "001"),
        ("  b801200005001 ", "B801200005001", False, "801"),  # surrounding whitespace, lower case
        ("x00180001701a", "X00180001701A", True, "001"),
        ("\tH886200024001\n", "H886200024001", False, "886"),
    ],
)
def test_valid_upns(raw: str, normalised: str, temporary: bool, la_code: str) -> None:
    assert validate_upn(raw) == normalised
    assert is_valid_upn(raw)
    assert is_temporary_upn(raw) is temporary
    assert upn_la_code(raw) == la_code


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("A801200005001", "check letter is wrong: expected B, got A"),  # python-stdnum's bad example
        ("C886200024001", "expected H, got C"),
        ("B80120000500", "must be 13 characters; got 12"),
        ("B8012000050011", "must be 13 characters; got 14"),
        ("", "must be 13 characters; got 0"),
        ("B 801200005001", "must be 13 characters; got 14"),  # inner spaces are not removed
        ("I801200005001", "must start with a check letter"),
        ("O801200005001", "must start with a check letter"),
        ("S801200005001", "must start with a check letter"),
        ("1801200005001", "must start with a check letter"),
        ("B8012000A5001", "characters 2-12 must be digits"),
        ("X00180001701I", "must end with a digit or a letter other than I, O or S"),
        ("X00180001701O", "must end with a digit or a letter other than I, O or S"),
        ("X00180001701S", "must end with a digit or a letter other than I, O or S"),
        ("B80120000500-", "must end with a digit"),
    ],
)
def test_invalid_upns(raw: str, message: str) -> None:
    with pytest.raises(InvalidUPN, match=message):
        validate_upn(raw)
    assert not is_valid_upn(raw)


def test_invalid_upn_is_a_value_error_and_non_strings_are_invalid() -> None:
    assert issubclass(InvalidUPN, ValueError)
    assert not is_valid_upn(None)
    assert not is_valid_upn(801200005001)


def test_is_temporary_upn_raises_on_invalid() -> None:
    with pytest.raises(InvalidUPN):
        is_temporary_upn("A801200005001")


def test_upn_parts() -> None:
    parts = upn_parts("h886200024001")
    assert (parts.check_letter, parts.la_code, parts.establishment_number) == ("H", "886", "2000")
    assert (parts.year_of_issue, parts.serial, parts.temporary) == ("24", "001", False)
    assert upn_parts("X00180001701A").serial == "01A"


def test_permanent_upn() -> None:
    assert validate_permanent_upn("B801200005001") == "B801200005001"
    with pytest.raises(InvalidUPN, match="temporary"):
        validate_permanent_upn("X00180001701A")


class _Pupil(BaseModel):
    upn: UPN


class _PermanentPupil(BaseModel):
    upn: PermanentUPN


def test_pydantic_upn_normalises() -> None:
    assert _Pupil(upn=" k886400023012 ").upn == "K886400023012"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("A801200005001", "UPN check letter is wrong: expected B, got A"),
        ("B80120000500", "UPN must be 13 characters; got 12"),
    ],
)
def test_pydantic_upn_error_message(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _Pupil(upn=raw)
    errors = info.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == ("upn",)
    assert message in errors[0]["msg"]


def test_pydantic_permanent_upn_rejects_temporary() -> None:
    with pytest.raises(ValidationError, match="temporary"):
        _PermanentPupil(upn="X00180001701A")


def test_pydantic_upn_rejects_non_string() -> None:
    with pytest.raises(ValidationError):
        _Pupil.model_validate({"upn": 801200005001})


def test_upn_json_schema() -> None:
    schema = _Pupil.model_json_schema()["properties"]["upn"]
    assert schema["type"] == "string"
    assert schema["pattern"] == UPN_PATTERN
    assert schema["examples"] == ["B801200005001"]
    assert (schema["minLength"], schema["maxLength"]) == (13, 13)


@pytest.mark.parametrize(
    ("validator", "raw", "expected"),
    [
        (validate_la_code, "886", "886"),
        (validate_la_code, " 201 ", "201"),
        (validate_urn, "118000", "118000"),
        (validate_laestab, "8862000", "8862000"),
        (validate_laestab, "886/2000", "8862000"),
    ],
)
def test_identifier_valid(validator: object, raw: str, expected: str) -> None:
    assert callable(validator)
    assert validator(raw) == expected


@pytest.mark.parametrize(
    ("validator", "raw"),
    [
        (validate_la_code, "88"),
        (validate_la_code, "8866"),
        (validate_la_code, "88a"),
        (validate_la_code, "٨٨٦"),  # Arabic-Indic digits: \d would accept them
        (validate_urn, "11800"),
        (validate_urn, "1180000"),
        (validate_laestab, "886200"),
        (validate_laestab, "886/200"),
        (validate_laestab, "88/62000"),
    ],
)
def test_identifier_invalid(validator: object, raw: str) -> None:
    assert callable(validator)
    with pytest.raises(InvalidIdentifier):
        validator(raw)


def test_identifier_annotated_types() -> None:
    assert TypeAdapter(LACode).validate_python("886") == "886"
    assert TypeAdapter(URN).validate_python("118000") == "118000"
    assert TypeAdapter(LAESTAB).validate_python("886/2000") == "8862000"
    with pytest.raises(ValidationError, match="URN must be 6 digits"):
        TypeAdapter(URN).validate_python("12345")
    with pytest.raises(ValidationError, match="LA code must be 3 digits"):
        TypeAdapter(LACode).validate_python("8860")
