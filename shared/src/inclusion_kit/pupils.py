"""Pupil and school identifiers: UPN, LA code, LAESTAB, URN (DOMAIN.md §6).

Reference data and format checks only; no business rules.

UPN (Unique Pupil Number), DfE UPN guide / GovTalk data standard v2.0:

* 13 characters: check letter + 11 digits + a final digit (permanent UPN) or a final letter
  (temporary UPN).
* The check letter is computed over characters 2-13 with position weights 2..13, sum mod 23,
  mapped through a 23-letter table without I, O and S. A temporary UPN's final letter enters the
  sum as its index in that same table (A=0, B=1, ..., H=7, J=8, ...), as the DfE guide says and
  as the worked example ``X00180001701A`` confirms.
* Characters 2-4 are the issuing school's LA number. DfE says no meaning should be read into the
  parts; :func:`upn_parts` exposes them for validation and diagnostics only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import AfterValidator, WithJsonSchema

__all__ = [
    "LAESTAB",
    "UPN",
    "UPN_CHECK_LETTERS",
    "UPN_EXAMPLE",
    "UPN_PATTERN",
    "URN",
    "InvalidIdentifier",
    "InvalidUPN",
    "LACode",
    "PermanentUPN",
    "UPNParts",
    "is_temporary_upn",
    "is_valid_upn",
    "upn_check_letter",
    "upn_la_code",
    "upn_parts",
    "validate_la_code",
    "validate_laestab",
    "validate_permanent_upn",
    "validate_upn",
    "validate_urn",
]

# Index = remainder (sum mod 23). I, O and S are left out so they cannot be confused with 1, 0, 5.
UPN_CHECK_LETTERS: Final = "ABCDEFGHJKLMNPQRTUVWXYZ"
UPN_PATTERN: Final = r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
UPN_EXAMPLE: Final = "B801200005001"
UPN_LENGTH: Final = 13

_UPN_RE: Final = re.compile(UPN_PATTERN)
_BODY_RE: Final = re.compile(r"^[0-9]{11}[0-9A-HJ-NP-RT-Z]$")
_LETTER_TEXT: Final = "a letter other than I, O or S"


class InvalidUPN(ValueError):
    """A UPN that fails the format or check-letter rules; the message says which."""


class InvalidIdentifier(ValueError):
    """An LA code, LAESTAB or URN with the wrong format."""


def upn_check_letter(body: str) -> str:
    """Return the check letter for the 12 characters that follow it (UPN characters 2-13).

    ``body`` must be 11 digits then a digit or a permitted letter (temporary UPN); it is not
    normalised. Example: ``upn_check_letter("801200005001") == "B"``.
    """
    if not _BODY_RE.fullmatch(body):
        raise InvalidUPN(f"UPN body must be 11 digits followed by a digit or {_LETTER_TEXT}; got {body!r}")
    total = 0
    for weight, char in enumerate(body, start=2):
        value = int(char) if char.isdigit() else UPN_CHECK_LETTERS.index(char)
        total += weight * value
    return UPN_CHECK_LETTERS[total % 23]


def validate_upn(value: str) -> str:
    """Normalise (strip surrounding whitespace, upper-case) and validate a UPN; return it.

    Raises :class:`InvalidUPN` with a message naming the problem: length, which part of the
    pattern, or the check letter expected.
    """
    if not isinstance(value, str):
        raise InvalidUPN(f"UPN must be a string; got {type(value).__name__}")
    upn = value.strip().upper()
    if len(upn) != UPN_LENGTH:
        raise InvalidUPN(f"UPN must be {UPN_LENGTH} characters; got {len(upn)}")
    if not _UPN_RE.fullmatch(upn):
        raise InvalidUPN(_pattern_problem(upn))
    expected = upn_check_letter(upn[1:])
    if upn[0] != expected:
        raise InvalidUPN(f"UPN check letter is wrong: expected {expected}, got {upn[0]}")
    return upn


def _pattern_problem(upn: str) -> str:
    """Say which part of a 13-character string breaks the UPN pattern."""
    if upn[0] not in UPN_CHECK_LETTERS:
        return f"UPN must start with a check letter ({_LETTER_TEXT}); got {upn[0]!r}"
    if not re.fullmatch(r"[0-9]{11}", upn[1:12]):
        return f"UPN characters 2-12 must be digits; got {upn[1:12]!r}"
    return f"UPN must end with a digit or {_LETTER_TEXT}; got {upn[12]!r}"


def is_valid_upn(value: object) -> bool:
    """True when ``value`` is a string that :func:`validate_upn` accepts."""
    if not isinstance(value, str):
        return False
    try:
        validate_upn(value)
    except InvalidUPN:
        return False
    return True


def is_temporary_upn(value: str) -> bool:
    """True for a valid temporary UPN (final character a letter); raises InvalidUPN if invalid."""
    return validate_upn(value)[-1].isalpha()


def validate_permanent_upn(value: str) -> str:
    """Like :func:`validate_upn` but also rejects temporary UPNs."""
    upn = validate_upn(value)
    if upn[-1].isalpha():
        raise InvalidUPN(f"UPN {upn} is a temporary UPN (ends with a letter); a permanent UPN is required")
    return upn


@dataclass(frozen=True, slots=True)
class UPNParts:
    """The parts of a UPN. DfE: read no meaning into them beyond validation."""

    check_letter: str
    la_code: str
    establishment_number: str
    year_of_issue: str
    serial: str
    temporary: bool


def upn_parts(value: str) -> UPNParts:
    """Split a valid UPN into its parts (raises InvalidUPN if invalid)."""
    upn = validate_upn(value)
    return UPNParts(
        check_letter=upn[0],
        la_code=upn[1:4],
        establishment_number=upn[4:8],
        year_of_issue=upn[8:10],
        serial=upn[10:13],
        temporary=upn[-1].isalpha(),
    )


def upn_la_code(value: str) -> str:
    """The issuing LA number (characters 2-4) of a valid UPN."""
    return validate_upn(value)[1:4]


# --- LA code, LAESTAB, URN (DOMAIN.md §6.3) -------------------------------------------------


def _digits(value: str, count: int, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(f"{what} must be a string of {count} digits; got {type(value).__name__}")
    text = value.strip()
    # [0-9], not \d: \d also matches non-ASCII digits.
    if not re.fullmatch(rf"[0-9]{{{count}}}", text):
        raise InvalidIdentifier(f"{what} must be {count} digits; got {value!r}")
    return text


def validate_la_code(value: str) -> str:
    """A 3-digit LA code (e.g. Kent = 886). Format only: the list of live LAs comes from GIAS."""
    return _digits(value, 3, "LA code")


def validate_urn(value: str) -> str:
    """A 6-digit GIAS unique reference number."""
    return _digits(value, 6, "URN")


def validate_laestab(value: str) -> str:
    """A DfE number: LA code + 4-digit establishment number, ``8861234`` or ``886/1234``.

    Normalised to the 7-digit form without the slash.
    """
    if isinstance(value, str) and re.fullmatch(r"[0-9]{3}/[0-9]{4}", value.strip()):
        value = value.strip().replace("/", "")
    return _digits(value, 7, "LAESTAB")


_UPN_DESCRIPTION: Final = (
    "Unique Pupil Number: check letter + 11 digits + digit (permanent) or letter (temporary). "
    "Surrounding whitespace is stripped and letters upper-cased before validation."
)

UPN = Annotated[
    str,
    AfterValidator(validate_upn),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": UPN_PATTERN,
            "minLength": UPN_LENGTH,
            "maxLength": UPN_LENGTH,
            "description": _UPN_DESCRIPTION,
            "examples": [UPN_EXAMPLE],
        }
    ),
]
"""A validated, normalised UPN (permanent or temporary) for pydantic models and FastAPI bodies."""

PermanentUPN = Annotated[
    str,
    AfterValidator(validate_permanent_upn),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[A-HJ-NP-RT-Z][0-9]{12}$",
            "minLength": UPN_LENGTH,
            "maxLength": UPN_LENGTH,
            "description": "Permanent Unique Pupil Number (check letter + 12 digits).",
            "examples": [UPN_EXAMPLE],
        }
    ),
]
"""A validated permanent UPN (temporary UPNs rejected)."""

LACode = Annotated[
    str,
    AfterValidator(validate_la_code),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{3}$", "description": "3-digit LA code", "examples": ["886"]}
    ),
]

URN = Annotated[
    str,
    AfterValidator(validate_urn),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{6}$",
            "description": "6-digit GIAS unique reference number",
            "examples": ["118000"],
        }
    ),
]

LAESTAB = Annotated[
    str,
    AfterValidator(validate_laestab),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{3}/?[0-9]{4}$",
            "description": "DfE number: LA code + 4-digit establishment number (normalised to 7 digits)",
            "examples": ["8862000"],
        }
    ),
]
