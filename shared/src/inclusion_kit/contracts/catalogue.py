"""The public event catalogue: generated JSON Schemas, examples and an AsyncAPI document.

The catalogue is generated from :data:`PUBLIC_EVENTS` and committed under ``shared/catalog/`` so
that every contract change shows up in a diff (STYLE.md lesson 8). CI runs two checks:

* ``check``: the committed files are exactly what ``build`` would write (no drift);
* ``compat``: the new schemas do not break consumers of a baseline catalogue (e.g. main's).

Layout of a catalogue directory::

    README.md                      what this folder is, and an index of event types
    asyncapi.yaml                  AsyncAPI 3.0.0: one channel per topic, one message per type
    schemas/<event_type>.json      JSON Schema 2020-12 of the payload (``x-pii`` marks personal data)
    examples/<event_type>.json     a valid example payload

What ``compat`` treats as breaking (per event type, after resolving local ``$ref``/``$defs`` so
nested models are compared too; see :func:`compat`):

* an event type removed (always, even when a newer major exists: retiring a type is a deliberate
  decision, taken with ``--allow-removed TYPE`` once no subscriber reads it);
* a property removed; a property newly required (existing or new); a required property made
  optional (readers may rely on it);
* a change of the JSON types a value may take, in either direction (narrowing breaks replays of old
  events, widening, e.g. becoming nullable, breaks old readers); union alternatives added/removed;
* an enum value removed, an enum constraint added or dropped; a ``const`` removed, changed or added;
* a constraint narrowed: ``minLength``/``minimum``/``minItems``... raised or added,
  ``maxLength``/``maximum``/``maxItems``... lowered or added, ``pattern``/``format``/``multipleOf``
  added or changed, ``uniqueItems`` turned on;
* ``additionalProperties`` tightened (to ``false`` or to a schema), an array's ``items`` newly
  constrained, a tuple's length changed; the topic changed.

Compatible: new optional properties, new enum values (readers are tolerant), new event types, a
``.v2`` beside a ``.v1``, loosened constraints, descriptions/titles/defaults/``x-pii`` changes.
Not covered (this is a structural comparison, not a prover): ``not``, ``if``/``then``/``else``,
``dependentSchemas``, ``patternProperties``, remote ``$ref``s and the semantics of ``allOf`` with
several members (compared member by member).
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from inclusion_kit.contracts.base import ContractError, IntegrationEvent
from inclusion_kit.contracts.envelope import CONTENT_TYPE, REQUIRED_HEADERS, SPEC_VERSION
from inclusion_kit.contracts.events import REGISTRY
from inclusion_kit.contracts.registry import EventRegistry

Json = dict[str, Any]

#: The project's public registry: what the committed catalogue must describe.
PUBLIC_EVENTS: EventRegistry = REGISTRY

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://inclusion-platform.example/schemas/"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
# The AsyncAPI document's own version; bump when the document's shape (not a contract) changes.
CATALOGUE_VERSION = "1.0.0"
HEADERS_SCHEMA_NAME = "CloudEventsKafkaHeaders"

SCHEMAS_DIR = "schemas"
EXAMPLES_DIR = "examples"
ASYNCAPI_FILE = "asyncapi.yaml"
README_FILE = "README.md"

# shared/src/inclusion_kit/contracts/catalogue.py -> shared/catalog
DEFAULT_CATALOGUE_DIR = Path(__file__).resolve().parents[3] / "catalog"
# Where the catalogue lives inside the repository, for baselines taken from a git ref.
CATALOGUE_PATH_IN_REPO = "shared/catalog"
CHECK_HINT = "run `inclusion-kit catalog build` and commit shared/catalog/"


class CatalogueError(ContractError):
    """The catalogue cannot be built or compared (bad example, tight schema, bad baseline...)."""


# -- generation ---------------------------------------------------------------------------------
def schema_id(event_type: str) -> str:
    return f"{SCHEMA_BASE_URL}{event_type}.json"


def event_schema(event: type[IntegrationEvent]) -> Json:
    """The JSON Schema 2020-12 of ``event``'s payload as it travels on the wire."""
    if not (event.__doc__ or "").strip():  # checked on the class itself, not inherited
        raise CatalogueError(f"{event.event_type}: a public event needs a docstring saying what it means")
    schema = event.model_json_schema(mode="serialization")
    schema.update(
        {
            "$schema": SCHEMA_DIALECT,
            "$id": schema_id(event.event_type),
            "title": event.event_type,
            "x-event-type": event.event_type,
            "x-topic": event.topic(),
        }
    )
    _sort_required(schema)
    for where in _closed_objects(schema, "#"):
        raise CatalogueError(
            f"{event.event_type}: {where} has additionalProperties false; public contracts stay open "
            "so producers can add fields (tolerant readers)"
        )
    Draft202012Validator.check_schema(schema)
    return schema


def event_example(event: type[IntegrationEvent], schema: Json | None = None) -> Json:
    """``event.example`` read through the model and dumped as JSON, checked against the schema."""
    if event.example is None:
        raise CatalogueError(f"{event.event_type}: {event.__qualname__} has no example")
    try:
        payload: Json = event.model_validate(event.example).model_dump(mode="json")
    except ValidationError as exc:
        raise CatalogueError(f"{event.event_type}: the example is not valid: {exc}") from exc
    validator = Draft202012Validator(
        schema if schema is not None else event_schema(event),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(payload), key=lambda error: list(error.path))
    if errors:
        raise CatalogueError(
            f"{event.event_type}: the dumped example does not match the schema: {errors[0].message}"
        )
    return payload


def _headers_schema() -> Json:
    def header(description: str, **extra: Any) -> Json:
        return {"type": "string", "description": description, **extra}

    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary content mode, plus tracing headers. "
        "Header values are UTF-8 bytes.",
        "required": sorted({*REQUIRED_HEADERS, "ce_time", "content-type"}),
        "properties": {
            "ce_id": header(
                "Event id (the producer's outbox row id): stable across re-sends, so "
                "consumers deduplicate on it."
            ),
            "ce_type": header("The contract: inclusion.<context>.<subject>.<action>.v<major>."),
            "ce_source": header("The producing service."),
            "ce_time": header("When the change happened (RFC 3339, UTC).", format="date-time"),
            "ce_subject": header("Id of the record that changed (the payload's aggregate_id)."),
            "ce_specversion": header("CloudEvents version.", const=SPEC_VERSION),
            "content-type": header("Media type of the record value.", const=CONTENT_TYPE),
            "traceparent": header("W3C trace context of the change that caused the event."),
            "correlation_id": header("Id shared by everything done for one originating request."),
            "causation_id": header("Id of the command or event that caused this one."),
        },
    }


def _summary(event: type[IntegrationEvent]) -> str:
    return inspect.cleandoc(event.__doc__ or "").splitlines()[0]


def _message(event: type[IntegrationEvent], example: Json) -> Json:
    return {
        "name": event.event_type,
        "title": event.event_type,
        "summary": _summary(event),
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA_NAME}"},
                {"type": "object", "properties": {"ce_type": {"type": "string", "const": event.event_type}}},
            ]
        },
        "payload": {"$ref": f"./{SCHEMAS_DIR}/{event.event_type}.json"},
        "correlationId": {
            "description": "Correlates everything done for one originating request.",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": "The payload's child_ref, so one child's events stay in order.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [{"name": "example", "payload": example}],
    }


def asyncapi_document(registry: EventRegistry, examples: dict[str, Json] | None = None) -> Json:
    """The AsyncAPI 3.0.0 document: a channel and a ``send`` operation per topic."""
    if examples is None:
        examples = {event.event_type: event_example(event) for event in registry}
    by_topic: dict[str, list[type[IntegrationEvent]]] = {}
    for event in registry:  # sorted by type string
        by_topic.setdefault(event.topic(), []).append(event)
    channels: Json = {}
    operations: Json = {}
    messages: Json = {}
    for topic in sorted(by_topic):
        events = by_topic[topic]
        channel = _pointer_token(topic)
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": "Kafka topic; the record key is the child's reference (child_ref) and the "
            "value the event's JSON (CloudEvents binary mode).",
            "messages": {
                event.event_type: {"$ref": f"#/components/messages/{_pointer_token(event.event_type)}"}
                for event in events
            },
        }
        operations[f"send-{topic}"] = {
            "action": "send",
            "title": f"Publish to {topic}",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{_pointer_token(event.event_type)}"}
                for event in events
            ],
        }
        for event in events:
            messages[event.event_type] = _message(event, examples[event.event_type])
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Inclusion and Attendance Service: public events",
            "version": CATALOGUE_VERSION,
            "description": "Integration events other services and partner systems may subscribe to. "
            "Generated by `inclusion-kit catalog build`; do not edit by hand.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": {HEADERS_SCHEMA_NAME: _headers_schema()}, "messages": messages},
    }


def _readme(registry: EventRegistry) -> str:
    lines = [
        "# Event catalogue (generated)",
        "",
        "This folder is generated by `inclusion-kit catalog build` from the public event registry",
        "(`inclusion_kit.contracts.events`). Do not edit it by hand: change the event models, run the",
        "build and commit the result with the change. CI fails when it differs from the code",
        "(`inclusion-kit catalog check`) and when a schema breaks compatibility with main",
        "(`inclusion-kit catalog compat --baseline origin/main`).",
        "",
        "- `schemas/<event type>.json`: JSON Schema 2020-12 of the payload; `x-pii: true` marks",
        "  fields holding personal data.",
        "- `examples/<event type>.json`: a valid example payload.",
        "- `asyncapi.yaml`: AsyncAPI 3.0.0; one channel per topic, CloudEvents Kafka headers, key =",
        "  `child_ref`.",
        "",
        "## Event types",
        "",
    ]
    if len(registry) == 0:
        lines.append("None yet.")
    else:
        lines += ["| event type | topic | meaning |", "| --- | --- | --- |"]
        lines += [f"| `{e.event_type}` | `{e.topic()}` | {_summary(e)} |" for e in registry]
    return "\n".join(lines) + "\n"


def _dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_catalogue(registry: EventRegistry) -> dict[str, str]:
    """Every catalogue file as ``{relative posix path: text}``, deterministic."""
    files: dict[str, str] = {}
    examples: dict[str, Json] = {}
    for event in registry:
        schema = event_schema(event)
        files[f"{SCHEMAS_DIR}/{event.event_type}.json"] = _dump_json(schema)
        examples[event.event_type] = event_example(event, schema)
        files[f"{EXAMPLES_DIR}/{event.event_type}.json"] = _dump_json(examples[event.event_type])
    header = (
        "# Generated by `inclusion-kit catalog build` from inclusion_kit.contracts.events: do not edit.\n"
    )
    document = yaml.safe_dump(
        asyncapi_document(registry, examples),
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )
    files[ASYNCAPI_FILE] = header + document
    files[README_FILE] = _readme(registry)
    return dict(sorted(files.items()))


def build_catalogue(registry: EventRegistry, out_dir: Path | str) -> list[str]:
    """Write the catalogue into ``out_dir``; return the relative paths written or removed."""
    out = Path(out_dir)
    files = render_catalogue(registry)
    changed: list[str] = []
    for relative, text in files.items():
        path = out / relative
        if path.is_file() and _read(path) == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        changed.append(relative)
    # Remove schemas/examples of types no longer registered; anything else is left to a human
    # (and reported by check), so a wrong --out never deletes unrelated files.
    for folder in (SCHEMAS_DIR, EXAMPLES_DIR):
        for path in sorted((out / folder).glob("*.json")):
            relative = path.relative_to(out).as_posix()
            if relative not in files:
                path.unlink()
                changed.append(relative)
    return sorted(changed)


def check_catalogue(registry: EventRegistry, out_dir: Path | str) -> list[str]:
    """Differences between what ``build`` would write and ``out_dir``; empty means clean."""
    out = Path(out_dir)
    expected = render_catalogue(registry)
    actual = set(_catalogue_files(out))
    problems: list[str] = []
    for relative in sorted(expected.keys() | actual):
        if relative not in actual:
            problems.append(f"missing {relative}")
        elif relative not in expected:
            problems.append(f"extra {relative} (not produced by the registry)")
        elif _read(out / relative) != expected[relative]:
            problems.append(f"changed {relative}")
    return problems


def _catalogue_files(out: Path) -> Iterator[str]:
    if not out.is_dir():
        return
    for path in out.rglob("*"):
        relative = path.relative_to(out)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield relative.as_posix()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _sort_required(node: Any) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("required"), list):
            node["required"] = sorted(node["required"])
        for value in node.values():
            _sort_required(value)
    elif isinstance(node, list):
        for item in node:
            _sort_required(item)


def _closed_objects(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            yield where
        for key, value in node.items():
            yield from _closed_objects(value, f"{where}/{_pointer_token(key)}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _closed_objects(item, f"{where}/{index}")


def _pointer_token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


# -- compatibility ------------------------------------------------------------------------------
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_EXACT_CONSTRAINTS = ("pattern", "format", "multipleOf")


def compat(
    old_dir: Path | str,
    new: EventRegistry | Path | str,
    *,
    allow_removed: Iterable[str] = (),
) -> list[str]:
    """Breaking changes from the catalogue in ``old_dir`` to ``new`` (a registry or a catalogue dir).

    Each message starts with the event type. The rules are in this module's docstring. An old
    catalogue without a ``schemas/`` folder has nothing to break.
    """
    old_schemas = load_schemas(old_dir)
    if isinstance(new, EventRegistry):
        new_schemas = {event.event_type: event_schema(event) for event in new}
    else:
        new_schemas = load_schemas(new)
    allowed = set(allow_removed)
    problems: list[str] = []
    for event_type, old_schema in old_schemas.items():
        new_schema = new_schemas.get(event_type)
        if new_schema is None:
            if event_type not in allowed:
                problems.append(_removed_type_message(event_type, new_schemas))
            continue
        problems += _SchemaComparison(event_type, old_schema, new_schema).run()
    return problems


def load_schemas(catalogue_dir: Path | str) -> dict[str, Json]:
    """``{event type: schema}`` read from a catalogue directory's ``schemas/`` folder."""
    folder = Path(catalogue_dir) / SCHEMAS_DIR
    schemas: dict[str, Json] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogueError(f"{path}: not a readable JSON schema: {exc}") from exc
        if not isinstance(value, dict):
            raise CatalogueError(f"{path}: not a JSON object")
        schemas[path.name.removesuffix(".json")] = value
    return schemas


def _removed_type_message(event_type: str, new_schemas: dict[str, Json]) -> str:
    stem, _, _major = event_type.rpartition(".v")
    successors = sorted(t for t in new_schemas if t.rpartition(".v")[0] == stem)
    still = f"{' and '.join(successors)} exists, but " if successors else ""
    return (
        f"{event_type}: event type removed ({still}removal is breaking; once no subscriber reads it, "
        "retire it deliberately with --allow-removed)"
    )


class _SchemaComparison:
    """Compares one event type's old and new schema, node by node."""

    def __init__(self, event_type: str, old: Json, new: Json) -> None:
        self.event_type = event_type
        self.old_root = old
        self.new_root = new
        self.problems: list[str] = []
        self._active: set[tuple[str, str]] = set()

    def run(self) -> list[str]:
        if self.old_root.get("x-topic") != self.new_root.get("x-topic"):
            self._report(
                [], f"topic changed from {self.old_root.get('x-topic')} to {self.new_root.get('x-topic')}"
            )
        self._node(self.old_root, self.new_root, [])
        return list(dict.fromkeys(self.problems))

    # -- helpers
    def _report(self, path: list[str], message: str) -> None:
        where = "".join(path).lstrip(".") or "payload"
        self.problems.append(f"{self.event_type}: '{where}' {message}")

    def _resolve(self, node: Any, root: Json) -> tuple[Json, str | None]:
        """Follow local ``$ref``s (siblings override the target) and unwrap a one-member allOf."""
        if not isinstance(node, dict):
            # true/false schemas: true accepts anything; false nothing (treated as "any" too).
            return {}, None
        ref: str | None = None
        for _ in range(100):
            if "$ref" in node:
                target = node["$ref"]
                if not isinstance(target, str) or not target.startswith("#"):
                    raise CatalogueError(f"{self.event_type}: only local $refs are supported ({target!r})")
                ref = target
                siblings = {key: value for key, value in node.items() if key != "$ref"}
                node = {**_pointer(root, target[1:], self.event_type), **siblings}
            elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
                member = node["allOf"][0]
                rest = {key: value for key, value in node.items() if key != "allOf"}
                node = {**(member if isinstance(member, dict) else {}), **rest}
            else:
                return node, ref
        raise CatalogueError(f"{self.event_type}: $ref cycle at {ref}")

    def _branches(self, node: Json, root: Json) -> list[tuple[Json, str | None]]:
        for keyword in ("anyOf", "oneOf"):
            members = node.get(keyword)
            if isinstance(members, list) and members:
                branches: list[tuple[Json, str | None]] = []
                for member in members:
                    resolved, ref = self._resolve(member, root)
                    nested = self._branches(resolved, root)
                    branches += [(nested[0][0], ref)] if len(nested) == 1 and ref else nested
                return branches
        types = node.get("type")
        if isinstance(types, list) and len(types) > 1:
            return [({**node, "type": kind}, None) for kind in types]
        return [(node, None)]

    # -- comparison
    def _node(self, old: Any, new: Any, path: list[str]) -> None:
        old_node, old_ref = self._resolve(old, self.old_root)
        new_node, new_ref = self._resolve(new, self.new_root)
        pair = (old_ref or "", new_ref or "")
        if old_ref and new_ref:
            if pair in self._active:  # a recursive model: already being compared further up
                return
            self._active.add(pair)
        try:
            self._union(old_node, new_node, path)
        finally:
            self._active.discard(pair)

    def _union(self, old: Json, new: Json, path: list[str]) -> None:
        old_groups = _group(self._branches(old, self.old_root))
        new_groups = _group(self._branches(new, self.new_root))
        old_kinds, new_kinds = set(old_groups), set(new_groups)
        if old_kinds != new_kinds:
            non_null = (old_kinds ^ new_kinds) - {"null"}
            if not non_null:
                self._report(path, "is now nullable" if "null" in new_kinds else "is no longer nullable")
            else:
                self._report(
                    path, f"type changed from {'|'.join(sorted(old_kinds))} to {'|'.join(sorted(new_kinds))}"
                )
        for kind in sorted(old_kinds & new_kinds):
            old_members, new_members = old_groups[kind], new_groups[kind]
            if len(old_members) == 1 and len(new_members) == 1:
                self._single(old_members[0][1], new_members[0][1], path, kind)
                continue
            old_labelled = {label: node for label, node in old_members}
            new_labelled = {label: node for label, node in new_members}
            for label in old_labelled.keys() - new_labelled.keys():
                self._report(path, f"alternative {kind} {label} removed")
            for label in new_labelled.keys() - old_labelled.keys():
                self._report(path, f"alternative {kind} {label} added")
            for label in sorted(old_labelled.keys() & new_labelled.keys()):
                self._single(old_labelled[label], new_labelled[label], [*path, f"<{label}>"], kind)

    def _single(self, old: Json, new: Json, path: list[str], kind: str) -> None:
        self._values(old, new, path)
        self._constraints(old, new, path)
        if "object" in kind.split("|"):
            self._object(old, new, path)
        if "array" in kind.split("|"):
            self._array(old, new, path)

    def _values(self, old: Json, new: Json, path: list[str]) -> None:
        if "const" in old:
            if "const" not in new:
                self._report(path, f"const {old['const']!r} removed")
            elif old["const"] != new["const"]:
                self._report(path, f"const changed from {old['const']!r} to {new['const']!r}")
        elif "const" in new:
            self._report(path, f"now const {new['const']!r} (narrowed)")
        old_enum, new_enum = old.get("enum"), new.get("enum")
        if isinstance(old_enum, list):
            if isinstance(new_enum, list):
                removed = [value for value in old_enum if value not in new_enum]
                if removed:
                    self._report(path, f"enum value(s) {', '.join(map(repr, removed))} removed")
            elif "const" not in new:
                self._report(path, "enum constraint removed (values old readers never saw may appear)")
        elif isinstance(new_enum, list) and "const" not in old:
            self._report(path, f"now restricted to enum {new_enum!r} (narrowed)")

    def _constraints(self, old: Json, new: Json, path: list[str]) -> None:
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or _gt(new[keyword], old[keyword])):
                self._report(path, f"{keyword} narrowed from {old.get(keyword)!r} to {new[keyword]!r}")
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or _gt(old[keyword], new[keyword])):
                self._report(path, f"{keyword} narrowed from {old.get(keyword)!r} to {new[keyword]!r}")
        for keyword in _EXACT_CONSTRAINTS:
            if keyword in new and old.get(keyword) != new[keyword]:
                self._report(path, f"{keyword} changed from {old.get(keyword)!r} to {new[keyword]!r}")
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self._report(path, "uniqueItems now required")

    def _object(self, old: Json, new: Json, path: list[str]) -> None:
        old_props: Json = old.get("properties") or {}
        new_props: Json = new.get("properties") or {}
        old_required = set(old.get("required") or ())
        new_required = set(new.get("required") or ())
        for name in sorted(old_props):
            child = [*path, f".{name}"]
            if name not in new_props:
                self._report(child, "property removed")
                continue
            if name in new_required and name not in old_required:
                self._report(child, "property is now required")
            elif name in old_required and name not in new_required:
                self._report(child, "property is no longer required (readers may rely on it)")
            self._node(old_props[name], new_props[name], child)
        for name in sorted(new_props.keys() - old_props.keys()):
            if name in new_required:
                self._report([*path, f".{name}"], "new property is required (old events lack it)")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self._report(path, "additionalProperties tightened to false")
        elif isinstance(new_extra, dict) and old_extra is True:
            self._report(path, "additionalProperties tightened to a schema")
        elif isinstance(new_extra, dict) and isinstance(old_extra, dict):
            self._node(old_extra, new_extra, [*path, "{}"])

    def _array(self, old: Json, new: Json, path: list[str]) -> None:
        old_prefix, new_prefix = old.get("prefixItems"), new.get("prefixItems")
        if isinstance(old_prefix, list) or isinstance(new_prefix, list):
            old_items, new_items = old_prefix or [], new_prefix or []
            if len(old_items) != len(new_items):
                self._report(path, f"tuple length changed from {len(old_items)} to {len(new_items)}")
            for index, (old_item, new_item) in enumerate(zip(old_items, new_items, strict=False)):
                self._node(old_item, new_item, [*path, f"[{index}]"])
        old_item_schema, new_item_schema = old.get("items"), new.get("items")
        if isinstance(new_item_schema, dict | bool) and old_item_schema is None:
            if new_item_schema is not True:
                self._report(path, "items newly constrained")
        elif old_item_schema is not None and new_item_schema is not None:
            self._node(old_item_schema, new_item_schema, [*path, "[]"])


def _group(branches: list[tuple[Json, str | None]]) -> dict[str, list[tuple[str, Json]]]:
    """Union branches by JSON type; a label tells apart several branches of one type."""
    groups: dict[str, list[tuple[str, Json]]] = {}
    for index, (node, ref) in enumerate(branches):
        kind = "|".join(sorted(_json_types(node)))
        if ref is not None:
            label = ref.rsplit("/", 1)[-1]
        elif "const" in node:
            label = repr(node["const"])
        else:
            label = str(node.get("title") or f"#{index}")
        groups.setdefault(kind, []).append((label, node))
    return groups


def _json_types(node: Json) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list) and declared:
        return {str(kind) for kind in declared}
    if "const" in node:
        return {_json_type_of(node["const"])}
    if isinstance(node.get("enum"), list) and node["enum"]:
        return {_json_type_of(value) for value in node["enum"]}
    if "properties" in node or "additionalProperties" in node:
        return {"object"}
    if "items" in node or "prefixItems" in node:
        return {"array"}
    return {"any"}


def _json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _gt(left: Any, right: Any) -> bool:
    try:
        return bool(left > right)
    except TypeError:
        return bool(left != right)


def _pointer(root: Json, pointer: str, event_type: str) -> Json:
    node: Any = root
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise CatalogueError(f"{event_type}: unresolvable $ref #{pointer}")
    if not isinstance(node, dict):
        raise CatalogueError(f"{event_type}: $ref #{pointer} is not a schema object")
    return node


# -- baselines from git -------------------------------------------------------------------------
def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise CatalogueError("git is not installed; pass --baseline a directory instead")
    # A fixed git command line (no shell); the ref is passed as one argument after validation.
    return subprocess.run([git, *args], cwd=cwd, capture_output=True, check=False)  # noqa: S603


@contextmanager
def baseline_from_git(ref: str, catalogue_path: str, *, cwd: Path) -> Iterator[Path | None]:
    """Extract ``catalogue_path`` at git ``ref`` into a temporary directory (None: not there)."""
    if ref.startswith("-"):
        raise CatalogueError(f"not a git ref: {ref!r}")
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd).returncode != 0:
        raise CatalogueError(f"unknown git ref {ref!r} (and no such directory)")
    listing = _git("ls-tree", "-r", "-z", "--full-tree", "--name-only", ref, "--", catalogue_path, cwd=cwd)
    if listing.returncode != 0:
        raise CatalogueError(f"git ls-tree failed: {listing.stderr.decode(errors='replace').strip()}")
    names = [name for name in listing.stdout.decode().split("\0") if name]
    if not names:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="catalogue-baseline-") as tmp:
        root = Path(tmp)
        prefix = catalogue_path.rstrip("/") + "/"
        for name in names:
            blob = _git("cat-file", "blob", f"{ref}:{name}", cwd=cwd)
            if blob.returncode != 0:
                raise CatalogueError(f"cannot read {name} at {ref}")
            target = root / name.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob.stdout)
        yield root


# -- command line -------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inclusion-kit catalog",
        description="Generate and check the public event catalogue (JSON Schemas, examples, AsyncAPI).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("build", "write the catalogue for the public registry"),
        ("check", "fail if the committed catalogue differs from what build would write"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--out", type=Path, default=DEFAULT_CATALOGUE_DIR, help="catalogue folder")
    compat_cmd = commands.add_parser(
        "compat",
        help="fail on breaking changes against a baseline catalogue",
        description="Compare the public registry's schemas with a baseline catalogue.",
    )
    compat_cmd.add_argument(
        "--baseline", required=True, help="a catalogue folder, or a git ref (origin/main, HEAD...)"
    )
    compat_cmd.add_argument(
        "--path",
        default=CATALOGUE_PATH_IN_REPO,
        help=f"the catalogue's path inside the git ref (default {CATALOGUE_PATH_IN_REPO})",
    )
    compat_cmd.add_argument(
        "--allow-removed",
        action="append",
        default=[],
        metavar="EVENT_TYPE",
        help="an event type deliberately retired (repeatable)",
    )
    return parser


def catalogue_main(argv: Sequence[str] | None = None, *, registry: EventRegistry | None = None) -> int:
    """``inclusion-kit catalog {build,check,compat}``; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    events = PUBLIC_EVENTS if registry is None else registry
    try:
        if args.command == "build":
            changed = build_catalogue(events, args.out)
            print(f"catalogue: {len(events)} event type(s) in {args.out}; {len(changed)} file(s) updated")
            for relative in changed:
                print(f"  {relative}")
            return 0
        if args.command == "check":
            return _check(events, args.out)
        return _compat(events, args.baseline, args.path, args.allow_removed)
    except ContractError as exc:
        print(f"catalogue error: {exc}", file=sys.stderr)
        return 2


def _check(events: EventRegistry, out: Path) -> int:
    problems = check_catalogue(events, out)
    if not problems:
        print(f"catalogue up to date: {out}")
        return 0
    print(f"catalogue in {out} differs from the code:")
    expected = render_catalogue(events)
    for problem in problems:
        print(f"  - {problem}")
    for problem in problems:
        if problem.startswith("changed "):
            relative = problem.removeprefix("changed ")
            diff = difflib.unified_diff(
                (_read(out / relative) or "").splitlines(),
                expected[relative].splitlines(),
                f"committed/{relative}",
                f"built/{relative}",
                lineterm="",
            )
            lines = list(diff)
            print(
                "\n".join(
                    lines[:60] + ([f"... ({len(lines) - 60} more diff lines)"] if len(lines) > 60 else [])
                )
            )
    print(f"hint: {CHECK_HINT}")
    return 1


def _compat(events: EventRegistry, baseline: str, catalogue_path: str, allow_removed: list[str]) -> int:
    if Path(baseline).is_dir():
        return _report_compat(compat(baseline, events, allow_removed=allow_removed), baseline)
    with baseline_from_git(baseline, catalogue_path, cwd=Path.cwd()) as extracted:
        if extracted is None:
            print(f"baseline {baseline} has no catalogue at {catalogue_path} yet: nothing to break")
            return 0
        return _report_compat(compat(extracted, events, allow_removed=allow_removed), baseline)


def _report_compat(problems: list[str], baseline: str) -> int:
    if not problems:
        print(f"no breaking changes against {baseline}")
        return 0
    print(f"breaking changes against {baseline}:")
    for problem in problems:
        print(f"  - {problem}")
    print(
        "hint: make the change additive (optional fields with defaults) or publish a new .vN beside the old"
    )
    return 1
