"""deploy/kafka: the topic declaration agrees with the code, and apply_topics.py makes a real
broker match it (creates, raises partitions, aligns configs, never deletes or lowers).

The dead-letter topics are not listed by hand here: each service's composition root is asked
(ServiceKernel.dead_letter_topics()), so a service that adds a consumer group fails this test until
topics.yaml declares its dead-letter topics. The broker tests run against the real Kafka of the
environment (KAFKA_BOOTSTRAP_SERVERS), under a topic prefix of their own, and remove what they
created.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from inclusion_kit.contracts.topics import Topic, dead_letter_topic

ROOT = Path(__file__).resolve().parents[2]
TOPICS_FILE = ROOT / "deploy" / "kafka" / "topics.yaml"
SCRIPT = ROOT / "deploy" / "kafka" / "apply_topics.py"
# Each service's package (services/<name>/src/<package>) and its composition root.
SERVICE_PACKAGES = ("referral_api", "cme_tracker", "exclusions", "enforcement", "reporting")
STRAY = "inclusion.stray"  # a topic the drift test creates outside the declaration


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inclusion_apply_topics", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


apply_topics = load_script()


def kernel_dead_letter_topics() -> dict[str, list[str]]:
    """Service package -> the dead-letter topics its kernel reports (settings as in local mode)."""
    found: dict[str, list[str]] = {}
    for package in SERVICE_PACKAGES:
        bootstrap = importlib.import_module(f"{package}.bootstrap").bootstrap
        found[package] = list(bootstrap().dead_letter_topics())
    return found


# ---------------------------------------------------------------------------------------------
# The declaration
# ---------------------------------------------------------------------------------------------
def test_declares_the_five_event_topics_with_durable_settings() -> None:
    specs = apply_topics.load_declaration(TOPICS_FILE)
    events = {s.name: s for s in specs if not s.dead_letter}
    assert set(events) == {t.value for t in Topic}
    for spec in specs:
        assert spec.replication_factor == 3, spec
        assert spec.config["min.insync.replicas"] == "2", spec
        assert spec.config["cleanup.policy"] == "delete", spec
        assert spec.config["unclean.leader.election.enable"] == "false", spec
        # Events are the record read models are rebuilt from; dead letters wait for a replay.
        assert spec.config["retention.ms"] == "-1", spec
        assert spec.partitions >= 3, spec
    # The busiest topic has the most partitions (the cap on consuming workers).
    assert events[Topic.ATTENDANCE.value].partitions == max(s.partitions for s in events.values())


def test_single_node_profile_only_lowers_replication() -> None:
    production = {s.name: s for s in apply_topics.load_declaration(TOPICS_FILE)}
    local = {s.name: s for s in apply_topics.load_declaration(TOPICS_FILE, "single-node")}
    assert production.keys() == local.keys()
    for name, spec in local.items():
        assert spec.replication_factor == 1 and spec.config["min.insync.replicas"] == "1"
        assert spec.partitions == production[name].partitions
        assert {k: v for k, v in spec.config.items() if k != "min.insync.replicas"} == {
            k: v for k, v in production[name].config.items() if k != "min.insync.replicas"
        }


def test_declared_dead_letter_topics_are_exactly_those_the_services_report() -> None:
    reported = kernel_dead_letter_topics()
    expected = {topic for topics in reported.values() for topic in topics}
    declared = {s.name for s in apply_topics.load_declaration(TOPICS_FILE) if s.dead_letter}
    missing, extra = sorted(expected - declared), sorted(declared - expected)
    assert not missing and not extra, (
        f"deploy/kafka/topics.yaml dead_letter_topics: add {missing}, remove {extra} "
        f"(reported per service: {reported})"
    )
    for topic in expected:
        assert any(topic.startswith(t.value + ".") for t in Topic)
        assert topic.endswith(".dlt")


def test_every_topic_a_service_produces_or_consumes_is_declared() -> None:
    declared = {s.name for s in apply_topics.load_declaration(TOPICS_FILE)}
    for package in SERVICE_PACKAGES:
        kernel = importlib.import_module(f"{package}.bootstrap").bootstrap()
        used = set(kernel.registry.topics())
        for dispatcher in kernel.dispatchers():
            used.update(dispatcher.topics)
            used.update(dead_letter_topic(t, dispatcher.consumer) for t in dispatcher.topics)
        assert used <= declared, f"{package} uses undeclared topics {sorted(used - declared)}"


BASE_DECLARATION: dict[str, Any] = {
    "defaults": {"replication_factor": 3, "config": {"min.insync.replicas": "2"}},
    "profiles": {"single-node": {"replication_factor": 1, "config": {"min.insync.replicas": "1"}}},
    "topics": [{"name": "inclusion.cme", "partitions": 3}],
    "dead_letter_topics": [{"name": "inclusion.cme.some-group.dlt", "partitions": 1}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dead_letter_topics": [{"name": "inclusion.cme.dlt", "partitions": 1}]}, "<group>"),
        ({"dead_letter_topics": [{"name": "other.group.dlt", "partitions": 1}]}, "<declared topic>"),
        ({"dead_letter_topics": [{"name": "inclusion.cme.group", "partitions": 1}]}, ".dlt"),
        ({"topics": [{"name": "inclusion.cme", "partitions": 3}] * 2}, "more than once"),
        ({"topics": [{"name": "inclusion.cme", "partitions": 0}]}, "at least 1"),
        ({"topics": [{"name": "inclusion cme", "partitions": 3}]}, "valid Kafka topic name"),
        ({"topics": [{"name": "inclusion.cme", "partitions": 3, "replicas": 2}]}, "unknown keys"),
        ({"defaults": {"replication_factor": 1, "config": {"min.insync.replicas": "2"}}}, "min.insync"),
        ({"defaults": {"replication_factor": 3, "config": {"cleanup.policy": "forever"}}}, "cleanup.policy"),
        ({"retention": "forever"}, "unknown keys"),
    ],
)
def test_inconsistent_declarations_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump(BASE_DECLARATION | change), encoding="utf-8")
    with pytest.raises(apply_topics.DeclarationError, match=message):
        apply_topics.load_declaration(path)


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump(BASE_DECLARATION), encoding="utf-8")
    assert apply_topics.load_declaration(path, "single-node")[0].replication_factor == 1
    with pytest.raises(apply_topics.DeclarationError, match="no profile 'three-node'"):
        apply_topics.load_declaration(path, "three-node")


# ---------------------------------------------------------------------------------------------
# Against the real broker
# ---------------------------------------------------------------------------------------------
@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def prefix(admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    value = f"test-topics-{uuid.uuid4().hex[:10]}."
    try:
        yield value
    finally:
        # Listed, and named: a topic created a moment ago may not be in the metadata yet (a
        # delete of one that does not exist only reports an error code).
        named = {value + s.name for s in apply_topics.load_declaration(TOPICS_FILE)} | {value + STRAY}
        ours = {t for t in await admin.list_topics() if t.startswith(value)} | named
        await admin.delete_topics(sorted(ours))


async def topic_state(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    for entry in await admin.describe_topics(topics):
        assert entry["error_code"] == 0, entry
        partitions = entry["partitions"]
        state[entry["topic"]] = {
            "partitions": len(partitions),
            "replication": {len(p["replicas"]) for p in partitions},
        }
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    for response in responses:
        for resource in response.to_object()["resources"]:
            state[resource["resource_name"]]["config"] = {
                e["config_names"]: e["config_value"] for e in resource["config_entries"]
            }
    return state


async def settled(admin: AIOKafkaAdminClient, topic: str, key: str, value: str) -> None:
    """Wait until the broker describes the config as changed (metadata is applied asynchronously)."""
    for _ in range(60):
        if (await topic_state(admin, [topic]))[topic]["config"].get(key) == value:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{topic} {key} never became {value}")


def cli(kafka_bootstrap: str, prefix: str, *extra: str) -> Any:
    return apply_topics.parse_args(
        ["--bootstrap", kafka_bootstrap, "--profile", "single-node", "--topic-prefix", prefix, *extra]
    )


@pytest.mark.integration
async def test_apply_creates_every_declared_topic_and_is_idempotent(
    admin: AIOKafkaAdminClient, prefix: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = apply_topics.load_declaration(TOPICS_FILE, "single-node")
    names = [prefix + s.name for s in specs]

    assert await apply_topics.run(cli(kafka_bootstrap, prefix, "--dry-run")) == 0
    assert f"dry run: {len(specs)} change(s) not applied" in capsys.readouterr().out
    assert not [t for t in await admin.list_topics() if t.startswith(prefix)], "a dry run changed nothing"

    assert await apply_topics.run(cli(kafka_bootstrap, prefix)) == 0
    out = capsys.readouterr().out
    assert out.count("create ") == len(specs), out
    state = await topic_state(admin, names)
    for spec in specs:
        topic = state[prefix + spec.name]
        assert topic["partitions"] == spec.partitions
        assert topic["replication"] == {1}
        for key, value in spec.config.items():
            assert topic["config"][key] == value, (spec.name, key)
    assert state[prefix + "inclusion.attendance"]["config"]["retention.ms"] == "-1"

    assert await apply_topics.run(cli(kafka_bootstrap, prefix)) == 0
    out = capsys.readouterr().out
    assert "applied 0 change(s)" in out and out.count("ok ") == len(specs), out


@pytest.mark.integration
async def test_apply_repairs_drift_without_deleting_or_lowering(
    admin: AIOKafkaAdminClient,
    prefix: str,
    kafka_bootstrap: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await apply_topics.run(cli(kafka_bootstrap, prefix)) == 0
    cme = prefix + "inclusion.cme"
    dlt = prefix + "inclusion.referrals.cme-tracker.dlt"
    # Drift: someone shortened retention by hand and set a config the declaration does not have.
    await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, cme, {"retention.ms": "3600000", "segment.ms": "7200000"})]
    )
    await settled(admin, cme, "retention.ms", "3600000")
    # A topic under the prefix that is not declared (the command must leave it alone).
    stray = prefix + STRAY
    await admin.create_topics([NewTopic(stray, 1, 1)])
    # The declaration now wants more partitions for cme, and fewer for the dead-letter topic.
    document = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))
    for entry in document["topics"] + document["dead_letter_topics"]:
        if entry["name"] == "inclusion.cme":
            entry["partitions"] = 5
        if entry["name"] == "inclusion.referrals.cme-tracker.dlt":
            entry["partitions"] = 1
    changed = tmp_path / "topics.yaml"
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")
    capsys.readouterr()

    assert await apply_topics.run(cli(kafka_bootstrap, prefix, "--file", str(changed), "--dry-run")) == 1
    plan = capsys.readouterr().out
    assert f"partitions {cme}: 3 -> 5" in plan and f"{cme}: retention.ms: 3600000 -> -1" in plan, plan
    assert f"PROBLEM    {dlt} has 3 partitions, 1 declared" in plan, plan
    assert (await topic_state(admin, [cme]))[cme]["partitions"] == 3, "the dry run changed nothing"

    # Problems (a count cannot be lowered) exit 1, after everything else was applied.
    assert await apply_topics.run(cli(kafka_bootstrap, prefix, "--file", str(changed))) == 1
    state = await topic_state(admin, [cme, dlt, stray])
    assert state[cme]["partitions"] == 5
    assert state[cme]["config"]["retention.ms"] == "-1"
    assert state[cme]["config"]["segment.ms"] == "7200000", "configs it does not declare are kept"
    assert state[cme]["config"]["min.insync.replicas"] == "1"
    assert state[dlt]["partitions"] == 3, "never lowered"
    assert stray in await admin.list_topics(), "never deleted"

    # Applied again, only the problem remains.
    capsys.readouterr()
    assert await apply_topics.run(cli(kafka_bootstrap, prefix, "--file", str(changed))) == 1
    out = capsys.readouterr().out
    assert "applied 0 change(s)" in out and out.count("PROBLEM") == 1, out


@pytest.mark.integration
async def test_production_declaration_is_not_forced_onto_a_single_broker(
    admin: AIOKafkaAdminClient, prefix: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the single-node profile, existing replication-factor-1 topics are reported and their
    min.insync.replicas is not raised above what they can satisfy."""
    assert await apply_topics.run(cli(kafka_bootstrap, prefix)) == 0
    args = apply_topics.parse_args(["--bootstrap", kafka_bootstrap, "--topic-prefix", prefix])
    assert await apply_topics.run(args) == 1
    out = capsys.readouterr().out
    assert "replication factor 1, 3 declared" in out
    cme = prefix + "inclusion.cme"
    assert (await topic_state(admin, [cme]))[cme]["config"]["min.insync.replicas"] == "1"


@pytest.mark.integration
def test_the_command_line_dry_run(kafka_bootstrap: str) -> None:
    prefix = f"test-topics-{uuid.uuid4().hex[:10]}."
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *("--bootstrap", kafka_bootstrap, "--profile", "single-node"),
            *("--topic-prefix", prefix, "--dry-run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"create     {prefix}inclusion.referrals: partitions=6 replication=1" in result.stdout
    assert "dry run:" in result.stdout

    missing = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and "--bootstrap is required" in missing.stderr
