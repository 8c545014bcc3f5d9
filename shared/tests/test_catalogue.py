"""The event catalogue: generation, drift check and compatibility check (ARCHITECTURE.md §3)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from inclusion_kit.contracts import IntegrationEvent, TolerantEnum, x_pii
from inclusion_kit.contracts.catalogue import (
    ASYNCAPI_FILE,
    CHECK_HINT,
    DEFAULT_CATALOGUE_DIR,
    PUBLIC_EVENTS,
    SCHEMA_BASE_URL,
    SCHEMA_DIALECT,
    CatalogueError,
    build_catalogue,
    catalogue_main,
    check_catalogue,
    compat,
    render_catalogue,
)
from inclusion_kit.contracts.registry import EventRegistry

THING = "inclusion.referrals.test-thing.happened.v1"
THING_V2 = "inclusion.referrals.test-thing.happened.v2"
MARK = "inclusion.attendance.test-mark.recorded.v1"
OTHER = "inclusion.referrals.test-other.noted.v1"

COMMON: dict[str, Any] = {
    "child_ref": "C-0001",
    "aggregate_id": "R-0001",
    "aggregate_version": 2,
    "occurred_at": "2025-01-15T09:30:00+00:00",
}


# -- test contracts ------------------------------------------------------------------------------
class Colour(TolerantEnum):
    RED = "red"
    GREEN = "green"
    UNKNOWN = "unknown"


class ColourWithoutGreen(TolerantEnum):
    RED = "red"
    UNKNOWN = "unknown"


class ColourWithBlue(TolerantEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
    UNKNOWN = "unknown"


class Detail(BaseModel):
    """A nested part of the test event."""

    note: str = Field(max_length=200, **x_pii("Free text about the child."))
    score: int | None = None


class DetailWithoutScore(BaseModel):
    """Detail with ``score`` removed."""

    note: str = Field(max_length=200, **x_pii("Free text about the child."))


class DetailShorterNote(BaseModel):
    """Detail with a tighter ``note``."""

    note: str = Field(max_length=100, **x_pii("Free text about the child."))
    score: int | None = None


class DetailLongerNote(BaseModel):
    """Detail with a looser ``note``."""

    note: str = Field(max_length=300, **x_pii("Free text about the child."))
    score: int | None = None


class ClosedDetail(BaseModel):
    """A nested model that forbids extra fields (not allowed in a public contract)."""

    model_config = ConfigDict(extra="forbid")
    note: str


class ThingHappened(IntegrationEvent):
    """A test thing happened to a child."""

    event_type = THING
    example: ClassVar[dict[str, Any] | None] = {
        **COMMON,
        "colour": "green",
        "detail": {"note": "Seen by the team.", "score": 3},
        "pupil_name": "Alex Example",
    }

    colour: Colour
    detail: Detail
    pupil_name: str = Field(**x_pii("The child's name."))
    count: int = 0


class MarkRecorded(IntegrationEvent):
    """A test attendance mark was recorded."""

    event_type = MARK
    example: ClassVar[dict[str, Any] | None] = {**COMMON, "mark": "/"}

    mark: str


# Variants of ThingHappened under the same type string: what a later commit might do.
class ThingWithOptionalField(ThingHappened):
    """A test thing happened to a child (with an added optional field)."""

    reason: str | None = None


class ThingWithoutPupilName(IntegrationEvent):
    """A test thing happened to a child (pupil_name removed)."""

    event_type = THING
    example: ClassVar[dict[str, Any] | None] = {**COMMON, "colour": "red", "detail": {"note": "n"}}

    colour: Colour
    detail: Detail
    count: int = 0


class ThingWithoutNestedScore(ThingHappened):
    """A test thing happened to a child (detail.score removed)."""

    detail: DetailWithoutScore  # type: ignore[assignment]


class ThingCountRequired(ThingHappened):
    """A test thing happened to a child (count now required)."""

    count: int


class ThingWithRequiredNewField(ThingHappened):
    """A test thing happened to a child (a new required field)."""

    school_urn: str


class ThingCountIsText(ThingHappened):
    """A test thing happened to a child (count became text)."""

    count: str = "0"  # type: ignore[assignment]


class ThingCountNullable(ThingHappened):
    """A test thing happened to a child (count may be null)."""

    count: int | None = 0  # type: ignore[assignment]


class ThingWithoutGreen(ThingHappened):
    """A test thing happened to a child (colour lost GREEN)."""

    colour: ColourWithoutGreen  # type: ignore[assignment]


class ThingWithBlue(ThingHappened):
    """A test thing happened to a child (colour gained BLUE)."""

    colour: ColourWithBlue  # type: ignore[assignment]


class ThingShorterNote(ThingHappened):
    """A test thing happened to a child (detail.note shorter)."""

    detail: DetailShorterNote  # type: ignore[assignment]


class ThingLongerNote(ThingHappened):
    """A test thing happened to a child (detail.note longer)."""

    detail: DetailLongerNote  # type: ignore[assignment]


class ThingHappenedV2(IntegrationEvent):
    """A test thing happened to a child (second major: colour became a free label)."""

    event_type = THING_V2
    example: ClassVar[dict[str, Any] | None] = {**COMMON, "label": "green"}

    label: str


class OtherNoted(IntegrationEvent):
    """Another test fact was noted."""

    event_type = OTHER
    example: ClassVar[dict[str, Any] | None] = {**COMMON}


class TreeNode(BaseModel):
    """A recursive structure."""

    label: str
    children: list[TreeNode] = []


class TreeNodeWithoutLabel(BaseModel):
    """The recursive structure without its label."""

    children: list[TreeNodeWithoutLabel] = []


class TreeGrown(IntegrationEvent):
    """A test tree grew."""

    event_type = "inclusion.cme.test-tree.grown.v1"
    example: ClassVar[dict[str, Any] | None] = {**COMMON, "tree": {"label": "root", "children": []}}

    tree: TreeNode


class TreeGrownUnlabelled(TreeGrown):
    """A test tree grew (labels removed)."""

    tree: TreeNodeWithoutLabel  # type: ignore[assignment]


def registry(*events: type[IntegrationEvent]) -> EventRegistry:
    return EventRegistry(events)


BASE = (ThingHappened, MarkRecorded)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    out = tmp_path / "catalog"
    build_catalogue(registry(*BASE), out)
    return out


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _find(node: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                found.append(value)
            found += _find(value, key)
    elif isinstance(node, list):
        for item in node:
            found += _find(item, key)
    return found


# -- build --------------------------------------------------------------------------------------
def test_build_writes_a_schema_and_an_example_per_type(built: Path) -> None:
    assert sorted(p.name for p in (built / "schemas").iterdir()) == [f"{MARK}.json", f"{THING}.json"]
    assert sorted(p.name for p in (built / "examples").iterdir()) == [f"{MARK}.json", f"{THING}.json"]
    assert (built / ASYNCAPI_FILE).is_file()
    assert "inclusion-kit catalog build" in (built / "README.md").read_text()


def test_schemas_are_2020_12_and_examples_validate(built: Path) -> None:
    for event_type in (THING, MARK):
        schema = _json(built / "schemas" / f"{event_type}.json")
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == SCHEMA_DIALECT == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"{SCHEMA_BASE_URL}{event_type}.json"
        assert schema["title"] == schema["x-event-type"] == event_type
        example = _json(built / "examples" / f"{event_type}.json")
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert list(validator.iter_errors(example)) == []


def test_schema_metadata_pii_and_openness(built: Path) -> None:
    schema = _json(built / "schemas" / f"{THING}.json")
    assert schema["x-topic"] == "inclusion.referrals"
    assert schema["properties"]["pupil_name"]["x-pii"] is True
    assert "x-pii" not in schema["properties"]["child_ref"]
    detail = schema["$defs"]["Detail"]
    assert detail["properties"]["note"]["x-pii"] is True
    assert schema["$defs"]["Colour"]["enum"] == ["red", "green", "unknown"]
    assert False not in _find(schema, "additionalProperties")
    # The example went through the model: the default is filled in and the time normalised to UTC.
    example = _json(built / "examples" / f"{THING}.json")
    assert example["count"] == 0
    assert example["occurred_at"] == "2025-01-15T09:30:00Z"


def test_build_is_deterministic(tmp_path: Path) -> None:
    build_catalogue(registry(*BASE), tmp_path / "a")
    build_catalogue(registry(MarkRecorded, ThingHappened), tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for relative in files_a:
        text = (tmp_path / "a" / relative).read_text()
        assert text == (tmp_path / "b" / relative).read_text()
        assert text.endswith("\n") and not text.endswith("\n\n")
    schema_text = (tmp_path / "a" / "schemas" / f"{THING}.json").read_text()
    assert json.dumps(json.loads(schema_text), indent=2, sort_keys=True) + "\n" == schema_text


def test_asyncapi_document(built: Path) -> None:
    doc = yaml.safe_load((built / ASYNCAPI_FILE).read_text())
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert set(doc["channels"]) == {"inclusion.referrals", "inclusion.attendance"}
    referrals = doc["channels"]["inclusion.referrals"]
    assert referrals["address"] == "inclusion.referrals"
    assert list(referrals["messages"]) == [THING]
    assert list(doc["channels"]["inclusion.attendance"]["messages"]) == [MARK]
    assert set(doc["components"]["messages"]) == {THING, MARK}

    operation = doc["operations"]["send-inclusion.referrals"]
    assert operation["action"] == "send"
    assert operation["channel"] == {"$ref": "#/channels/inclusion.referrals"}
    assert operation["messages"] == [{"$ref": f"#/channels/inclusion.referrals/messages/{THING}"}]

    message = doc["components"]["messages"][THING]
    assert message["payload"] == {"$ref": f"./schemas/{THING}.json"}
    assert (built / message["payload"]["$ref"]).is_file()
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    assert "child_ref" in message["bindings"]["kafka"]["key"]["description"]
    assert message["examples"][0]["payload"] == _json(built / "examples" / f"{THING}.json")
    headers = doc["components"]["schemas"]["CloudEventsKafkaHeaders"]
    Draft7Validator.check_schema(headers)  # AsyncAPI's schema format is a draft-07 superset
    assert set(headers["properties"]) == {
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "ce_subject",
        "ce_specversion",
        "content-type",
        "traceparent",
        "correlation_id",
        "causation_id",
    }
    assert message["headers"]["allOf"][1]["properties"]["ce_type"]["const"] == THING

    # Every local reference in the document resolves.
    for ref in _find(doc, "$ref"):
        if ref.startswith("#/"):
            node = doc
            for token in ref[2:].split("/"):
                node = node[token]
            assert isinstance(node, dict), ref


def test_empty_registry_gives_a_valid_skeleton(tmp_path: Path) -> None:
    build_catalogue(registry(), tmp_path)
    doc = yaml.safe_load((tmp_path / ASYNCAPI_FILE).read_text())
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"]
    assert doc["channels"] == {} and doc["operations"] == {} and doc["components"]["messages"] == {}
    assert check_catalogue(registry(), tmp_path) == []


def test_an_event_without_example_is_an_error(tmp_path: Path) -> None:
    class NoExample(IntegrationEvent):
        """No example given."""

        event_type = "inclusion.referrals.test-bare.happened.v1"

    with pytest.raises(CatalogueError, match="no example"):
        build_catalogue(registry(NoExample), tmp_path)


def test_an_invalid_example_is_an_error(tmp_path: Path) -> None:
    class BadExample(IntegrationEvent):
        """The example misses a field."""

        event_type = "inclusion.referrals.test-bad.happened.v1"
        example: ClassVar[dict[str, Any] | None] = {**COMMON}
        mark: str

    with pytest.raises(CatalogueError, match="example is not valid"):
        build_catalogue(registry(BadExample), tmp_path)


def test_closed_objects_and_undocumented_events_are_refused(tmp_path: Path) -> None:
    class Closed(IntegrationEvent):
        """Carries a closed nested model."""

        event_type = "inclusion.referrals.test-closed.happened.v1"
        example: ClassVar[dict[str, Any] | None] = {**COMMON, "detail": {"note": "x"}}
        detail: ClosedDetail

    class Undocumented(IntegrationEvent):
        event_type = "inclusion.referrals.test-undocumented.happened.v1"
        example: ClassVar[dict[str, Any] | None] = {**COMMON}

    with pytest.raises(CatalogueError, match="additionalProperties false"):
        render_catalogue(registry(Closed))
    with pytest.raises(CatalogueError, match="docstring"):
        render_catalogue(registry(Undocumented))


# -- check --------------------------------------------------------------------------------------
def test_check_is_clean_after_build(built: Path) -> None:
    assert check_catalogue(registry(*BASE), built) == []


def test_check_fails_when_a_contract_changes_without_build(built: Path) -> None:
    problems = check_catalogue(registry(ThingWithOptionalField, MarkRecorded), built)
    assert f"changed schemas/{THING}.json" in problems
    assert f"changed schemas/{MARK}.json" not in problems
    assert "changed asyncapi.yaml" in problems  # the inline example gained the field


def test_check_fails_on_missing_extra_and_edited_files(built: Path) -> None:
    (built / "examples" / f"{MARK}.json").unlink()
    (built / "schemas" / "inclusion.referrals.stray.v1.json").write_text("{}\n")
    asyncapi = built / ASYNCAPI_FILE
    asyncapi.write_text(asyncapi.read_text() + "# hand edit\n")
    assert check_catalogue(registry(*BASE), built) == [
        "changed asyncapi.yaml",
        f"missing examples/{MARK}.json",
        "extra schemas/inclusion.referrals.stray.v1.json (not produced by the registry)",
    ]


def test_check_reports_a_new_event_until_built(built: Path) -> None:
    problems = check_catalogue(registry(*BASE, OtherNoted), built)
    assert f"missing schemas/{OTHER}.json" in problems
    assert f"missing examples/{OTHER}.json" in problems


def test_build_removes_files_of_unregistered_types(built: Path) -> None:
    changed = build_catalogue(registry(ThingHappened), built)
    assert f"schemas/{MARK}.json" in changed and f"examples/{MARK}.json" in changed
    assert not (built / "schemas" / f"{MARK}.json").exists()
    assert check_catalogue(registry(ThingHappened), built) == []
    assert build_catalogue(registry(ThingHappened), built) == []  # nothing to do the second time


def test_check_cli_fails_with_hint(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalogue_main(["check", "--out", str(built)], registry=registry(*BASE)) == 0
    code = catalogue_main(
        ["check", "--out", str(built)], registry=registry(ThingWithOptionalField, MarkRecorded)
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"changed schemas/{THING}.json" in out
    assert '+    "reason": {' in out  # the diff shows the new property
    assert CHECK_HINT in out and "inclusion-kit catalog build" in out


def test_build_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalogue_main(["build", "--out", str(tmp_path)], registry=registry(*BASE)) == 0
    assert "2 event type(s)" in capsys.readouterr().out
    assert check_catalogue(registry(*BASE), tmp_path) == []
    assert catalogue_main(["bogus"]) == 2


def test_committed_catalogue_matches_public_events() -> None:
    """The drift check CI relies on: shared/catalog/ is exactly what build writes."""
    assert DEFAULT_CATALOGUE_DIR == Path(__file__).resolve().parents[1] / "catalog"
    problems = check_catalogue(PUBLIC_EVENTS, DEFAULT_CATALOGUE_DIR)
    assert problems == [], f"{problems}: {CHECK_HINT}"


# -- compat -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            (ThingWithoutPupilName, MarkRecorded),
            [f"{THING}: 'pupil_name' property removed"],
            id="removed-field",
        ),
        pytest.param(
            (ThingWithoutNestedScore, MarkRecorded),
            [f"{THING}: 'detail.score' property removed"],
            id="removed-nested-field",
        ),
        pytest.param(
            (ThingCountRequired, MarkRecorded),
            [f"{THING}: 'count' property is now required"],
            id="newly-required",
        ),
        pytest.param(
            (ThingWithRequiredNewField, MarkRecorded),
            [f"{THING}: 'school_urn' new property is required (old events lack it)"],
            id="new-required-field",
        ),
        pytest.param(
            (ThingCountIsText, MarkRecorded),
            [f"{THING}: 'count' type changed from integer to string"],
            id="type-change",
        ),
        pytest.param(
            (ThingCountNullable, MarkRecorded),
            [f"{THING}: 'count' is now nullable"],
            id="now-nullable",
        ),
        pytest.param(
            (ThingWithoutGreen, MarkRecorded),
            [f"{THING}: 'colour' enum value(s) 'green' removed"],
            id="removed-enum-value",
        ),
        pytest.param(
            (ThingShorterNote, MarkRecorded),
            [f"{THING}: 'detail.note' maxLength narrowed from 200 to 100"],
            id="narrowed-constraint",
        ),
        pytest.param(
            (ThingHappened,),
            [
                f"{MARK}: event type removed (removal is breaking; once no subscriber reads it, "
                "retire it deliberately with --allow-removed)"
            ],
            id="removed-event-type",
        ),
        pytest.param(
            (ThingHappenedV2, MarkRecorded),
            [f"{THING}: event type removed ({THING_V2} exists, but removal is breaking"],
            id="v1-replaced-by-v2",
        ),
    ],
)
def test_compat_fails_on_breaking_changes(
    built: Path, events: tuple[type[IntegrationEvent], ...], expected: list[str]
) -> None:
    problems = compat(built, registry(*events))
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problems


@pytest.mark.parametrize(
    "events",
    [
        pytest.param((ThingHappened, MarkRecorded), id="unchanged"),
        pytest.param((ThingWithOptionalField, MarkRecorded), id="added-optional-field"),
        pytest.param((ThingWithBlue, MarkRecorded), id="added-enum-value"),
        pytest.param((ThingLongerNote, MarkRecorded), id="loosened-constraint"),
        pytest.param((ThingHappened, MarkRecorded, OtherNoted), id="added-event-type"),
        pytest.param((ThingHappened, ThingHappenedV2, MarkRecorded), id="v2-beside-v1"),
    ],
)
def test_compat_passes_additive_changes(built: Path, events: tuple[type[IntegrationEvent], ...]) -> None:
    assert compat(built, registry(*events)) == []


def test_compat_against_a_catalogue_directory(built: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    build_catalogue(registry(ThingWithoutPupilName, MarkRecorded), new)
    assert compat(built, new) == [f"{THING}: 'pupil_name' property removed"]


def test_compat_adding_back_a_required_field_is_breaking(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    build_catalogue(registry(ThingWithoutPupilName), old)
    build_catalogue(registry(ThingHappened), new)
    assert compat(old, new) == [f"{THING}: 'pupil_name' new property is required (old events lack it)"]


def test_compat_allows_a_deliberate_retirement(built: Path) -> None:
    assert compat(built, registry(ThingHappened), allow_removed=[MARK]) == []


def test_compat_follows_recursive_models(tmp_path: Path) -> None:
    build_catalogue(registry(TreeGrown), tmp_path)
    assert compat(tmp_path, registry(TreeGrown)) == []
    problems = compat(tmp_path, registry(TreeGrownUnlabelled))
    assert problems == ["inclusion.cme.test-tree.grown.v1: 'tree.label' property removed"]


def test_compat_with_no_baseline_catalogue_passes(tmp_path: Path) -> None:
    assert compat(tmp_path / "nothing-here", registry(*BASE)) == []


def test_compat_cli_on_a_directory(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalogue_main(["compat", "--baseline", str(built)], registry=registry(*BASE)) == 0
    code = catalogue_main(["compat", "--baseline", str(built)], registry=registry(ThingCountIsText))
    out = capsys.readouterr().out
    assert code == 1
    assert f"{THING}: 'count' type changed from integer to string" in out
    assert f"{MARK}: event type removed" in out


def test_compat_cli_on_a_git_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "README").write_text("x\n")
    git("add", "README")
    git("commit", "-q", "-m", "no catalogue yet")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # ref paths are taken from the repository root

    assert catalogue_main(["compat", "--baseline", "HEAD"], registry=registry(*BASE)) == 0
    assert "has no catalogue at shared/catalog yet" in capsys.readouterr().out

    build_catalogue(registry(*BASE), tmp_path / "shared" / "catalog")
    git("add", "shared")
    git("commit", "-q", "-m", "catalogue")
    assert (
        catalogue_main(["compat", "--baseline", "HEAD"], registry=registry(ThingWithBlue, MarkRecorded)) == 0
    )
    assert (
        catalogue_main(["compat", "--baseline", "HEAD"], registry=registry(ThingWithoutGreen, MarkRecorded))
        == 1
    )
    assert f"{THING}: 'colour' enum value(s) 'green' removed" in capsys.readouterr().out
    assert catalogue_main(["compat", "--baseline", "no-such-ref"], registry=registry(*BASE)) == 2
    assert "unknown git ref" in capsys.readouterr().err


def _write_schema(folder: Path, event_type: str, schema: dict[str, Any]) -> Path:
    (folder / "schemas").mkdir(parents=True, exist_ok=True)
    (folder / "schemas" / f"{event_type}.json").write_text(json.dumps(schema))
    return folder


def test_compat_on_hand_written_schemas(tmp_path: Path) -> None:
    """Keywords pydantic models rarely produce: const, closed objects, maps, allOf wrappers."""
    old: dict[str, Any] = {
        "type": "object",
        "properties": {
            "kind": {"const": "a", "type": "string"},
            "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
            "open": {"type": "object"},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
        },
        "$defs": {"Tag": {"type": "string", "enum": ["x", "y"]}},
    }
    new: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "kind": {"const": "b", "type": "string"},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
            "open": {"type": "object", "additionalProperties": False},
            "tags": {"type": "array", "items": {"allOf": [{"$ref": "#/$defs/Label"}]}},
        },
        "$defs": {"Label": {"type": "string", "enum": ["x"]}},
    }
    _write_schema(tmp_path / "old", OTHER, old)
    _write_schema(tmp_path / "new", OTHER, new)
    assert compat(tmp_path / "old", tmp_path / "new") == [
        f"{OTHER}: 'kind' const changed from 'a' to 'b'",
        f"{OTHER}: 'meta{{}}' type changed from integer to string",
        f"{OTHER}: 'open' additionalProperties tightened to false",
        f"{OTHER}: 'tags[]' enum value(s) 'y' removed",
        f"{OTHER}: 'payload' additionalProperties tightened to false",
    ]
    _write_schema(
        tmp_path / "dropped", OTHER, {**old, "properties": {**old["properties"], "kind": {"type": "string"}}}
    )
    assert compat(tmp_path / "old", tmp_path / "dropped") == [f"{OTHER}: 'kind' const 'a' removed"]
