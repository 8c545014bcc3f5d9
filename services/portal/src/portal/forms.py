"""Form definitions, the conversion of a submitted form to an API body, and the mapping of the
API's problems back onto the form's fields.

A field's ``name`` is its path in the API body, dotted (``child.upn``, ``parents.0.name``): the
API's JSON pointers (``/child/upn``) map back onto it, so the service's own validation is what the
user sees, next to the field and in the error summary. The portal validates nothing the API
validates; it only turns form text into JSON types (a date's three boxes into an ISO date, yes/no
into booleans) and leaves out what was left empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from inclusion_kit.calendar import LONDON

Kind = Literal[
    "text", "textarea", "date", "datetime", "select", "radios", "checkboxes", "yesno", "number", "integer"
]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Kind = "text"
    hint: str | None = None
    options: Sequence[tuple[str, str]] = ()
    width: str | None = None  # govuk-input--width-N
    autocomplete: str | None = None
    spellcheck: bool | None = None

    @property
    def id(self) -> str:
        return self.name.replace(".", "-").replace("_", "-")

    @property
    def pointer(self) -> str:
        return "/" + self.name.replace(".", "/")


@dataclass(frozen=True)
class Section:
    title: str | None
    fields: Sequence[Field]


@dataclass(frozen=True)
class FormSpec:
    title: str
    sections: Sequence[Section]
    submit: str = "Submit"
    fixed: Mapping[str, Any] = field(default_factory=dict)  # values the form always sends
    copies: Mapping[str, str] = field(default_factory=dict)  # body path <- another field's value

    @property
    def fields(self) -> list[Field]:
        return [f for s in self.sections for f in s.fields]


@dataclass
class FieldError:
    field_id: str | None  # None: the error concerns the whole form
    label: str
    message: str


@dataclass
class FormState:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    def error_for(self, f: Field) -> str | None:
        messages = [e.message for e in self.errors if e.field_id == f.id]
        return " ".join(messages) if messages else None


YES_NO = (("true", "Yes"), ("false", "No"))
_BLANK = re.compile(r"^\s*$")


def _date(values: Mapping[str, str], name: str) -> str | None:
    day, month, year = (values.get(f"{name}.{part}", "").strip() for part in ("day", "month", "year"))
    if not (day or month or year):
        return None
    # Sent as typed (zero-padded): an impossible date is the API's to reject, with its pointer.
    return f"{year.zfill(4)}-{month.zfill(2)}-{day.zfill(2)}"


def _datetime(values: Mapping[str, str], name: str) -> str | None:
    day = _date(values, name)
    time = values.get(f"{name}.time", "").strip()
    if day is None and not time:
        return None
    try:
        naive = datetime.fromisoformat(f"{day}T{time or '00:00'}")
    except (TypeError, ValueError):
        return f"{day}T{time}"  # the API reports it as an invalid datetime at this field
    return naive.replace(tzinfo=LONDON).isoformat()


def _number(raw: str) -> Any:
    text = raw.strip().replace(",", "")
    try:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    except ValueError:
        return raw.strip()  # let the API say it is not a number


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = body
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        following = None if last else parts[index + 1]
        if isinstance(node, list):
            position = int(part)
            while len(node) <= position:
                node.append({} if following is None or not following.isdigit() else [])
            if last:
                node[position] = value
            else:
                node = node[position]
        else:
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if following is not None and following.isdigit() else {})


def _prune(value: Any) -> Any:
    """Drop empty objects and list entries (an address nobody filled in is not sent)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        items = [_prune(v) for v in value]
        return [v for v in items if v not in ({}, None)]
    return value


def form_values(spec: FormSpec, form: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """What the user typed, keyed by field name (to show the form again)."""
    values: dict[str, Any] = {}
    for f in spec.fields:
        if f.kind in ("date", "datetime"):
            for part in ("day", "month", "year", "time"):
                key = f"{f.name}.{part}"
                if key in form:
                    values[key] = form[key]
        elif f.kind == "checkboxes":
            values[f.name] = list(lists.get(f.name, []))
        elif f.name in form:
            values[f.name] = form[f.name]
    return values


def to_body(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The API body from the form's values (empty fields left out)."""
    body: dict[str, Any] = {}
    for f in spec.fields:
        value: Any
        if f.kind == "date":
            value = _date(values, f.name)
        elif f.kind == "datetime":
            value = _datetime(values, f.name)
        elif f.kind == "checkboxes":
            value = [v for v in values.get(f.name, []) if v] or None
        else:
            raw = values.get(f.name)
            if raw is None or _BLANK.match(str(raw)):
                value = None
            elif f.kind == "yesno":
                value = {"true": True, "false": False}.get(str(raw), raw)
            elif f.kind in ("number", "integer"):
                value = _number(str(raw))
            else:
                value = str(raw).strip()
        if value is not None:
            _put(body, f.name, value)
    for name, value in spec.fixed.items():
        _put(body, name, value)
    by_name = {f.name: f for f in spec.fields}
    for target, source in spec.copies.items():
        raw = values.get(source)
        if source in by_name and raw is not None and not _BLANK.match(str(raw)):
            _put(body, target, str(raw).strip())
    return dict(_prune(body))


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def map_errors(
    spec: FormSpec, errors: Iterable[Mapping[str, str]], fallback: str | None = None
) -> list[FieldError]:
    """The API's per-field problems placed on the form's fields.

    A pointer to a field (``/child/upn``) goes to that field; a pointer to an object (``/child``,
    a rule across its fields) goes to the object's first field; anything else is shown in the
    error summary only. Messages are the API's own.
    """
    by_path = {f.name: f for f in spec.fields}
    placed: list[FieldError] = []
    for error in errors:
        pointer = error.get("pointer", "")
        message = error.get("detail") or "This is not valid."
        message = message[:1].upper() + message[1:]
        path = ".".join(_unescape(p) for p in pointer.split("/")[1:]) if pointer.startswith("/") else ""
        target = by_path.get(path)
        if target is None and path:
            target = next((f for f in spec.fields if f.name.startswith(path + ".")), None)
        if target is None and path:
            # a pointer below a field (a list item of checkboxes, /reason_codes/0)
            target = next((f for f in spec.fields if path.startswith(f.name + ".")), None)
        if target is not None:
            placed.append(FieldError(target.id, target.label, message))
        else:
            placed.append(FieldError(None, "", message if not fallback else f"{fallback}: {message}"))
    return placed
