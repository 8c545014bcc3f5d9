#!/usr/bin/env python3
"""Apply deploy/kafka/topics.yaml to a Kafka cluster, idempotently.

    python deploy/kafka/apply_topics.py --bootstrap kafka:9092 [--profile single-node]
                                        [--topic-prefix PREFIX] [--file topics.yaml] [--dry-run]

What it does, per declared topic (names prefixed with --topic-prefix, like the services'
KAFKA__TOPIC_PREFIX, so several environments can share one cluster):

* missing: creates it with the declared partitions, replication factor and configs;
* fewer partitions than declared: raises the count (see topics.yaml about key ordering);
* a declared config with another value: sets it, keeping every other topic-level config the topic
  already has (the AlterConfigs request replaces a topic's whole dynamic config set, so the
  command sends what is there plus what is declared).

It never deletes a topic, never lowers a partition count (Kafka cannot) and never changes a
replication factor (that needs a partition reassignment): those are reported as problems and make
the command exit 1 after applying everything else. After applying, it plans again and fails
unless nothing is left to do. ``--dry-run`` prints the plan and changes nothing.

Security options mirror the services' KAFKA__* settings; the SASL password is read from the
environment variable KAFKA_SASL_PASSWORD, never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import ssl
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

DEFAULT_FILE = Path(__file__).with_name("topics.yaml")
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete", "delete,compact"})
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
TOPIC_ALREADY_EXISTS = 36


class DeclarationError(ValueError):
    """topics.yaml is not a valid declaration."""


class ApplyError(RuntimeError):
    """The cluster refused a change."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]
    dead_letter: bool = False


@dataclass(frozen=True)
class Action:
    kind: str  # "create" | "partitions" | "config"
    topic: str  # the name on the cluster (prefixed)
    spec: TopicSpec
    detail: str
    configs: Mapping[str, str] = field(default_factory=dict)  # "config": the full set to send


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{a.kind:<10} {a.topic}: {a.detail}" for a in self.actions]
        out += [f"{'ok':<10} {topic}" for topic in self.unchanged]
        out += [f"{'PROBLEM':<10} {problem}" for problem in self.problems]
        return out


# ---------------------------------------------------------------------------------------------
# The declaration
# ---------------------------------------------------------------------------------------------
def _config(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DeclarationError(f"{where}: config must be a mapping")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int):
            out[str(key)] = str(item)
        else:
            raise DeclarationError(f"{where}: config {key} must be a string or a number")
    return out


def _only(mapping: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise DeclarationError(f"{where}: unknown keys {unknown}")


def _positive(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DeclarationError(f"{where} must be a whole number of at least 1")
    return value


def load_declaration(path: Path = DEFAULT_FILE, profile: str | None = None) -> list[TopicSpec]:
    """The declared topics, with defaults and the profile applied, checked for consistency."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise DeclarationError(f"{path}: not a mapping")
    _only(document, ("defaults", "profiles", "topics", "dead_letter_topics"), str(path))
    defaults = document.get("defaults") or {}
    _only(defaults, ("replication_factor", "config"), "defaults")
    profiles = document.get("profiles") or {}
    if profile is not None and profile not in profiles:
        raise DeclarationError(f"no profile {profile!r} (declared: {sorted(profiles)})")
    chosen = (profiles.get(profile) or {}) if profile else {}
    _only(chosen, ("replication_factor", "config"), f"profile {profile}")
    replication = _positive(
        chosen.get("replication_factor", defaults.get("replication_factor", 1)), "replication_factor"
    )
    base_config = _config(defaults.get("config"), "defaults") | _config(chosen.get("config"), "profile")

    specs: list[TopicSpec] = []
    for section, dead_letter in (("topics", False), ("dead_letter_topics", True)):
        entries = document.get(section) or []
        if not isinstance(entries, list):
            raise DeclarationError(f"{section} must be a list")
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                raise DeclarationError(f"{section}: every entry needs a name")
            name = str(entry["name"])
            _only(entry, ("name", "partitions", "config"), name)
            if not TOPIC_NAME.match(name):
                raise DeclarationError(f"{name}: not a valid Kafka topic name")
            config = base_config | _config(entry.get("config"), name)
            specs.append(
                TopicSpec(
                    name,
                    _positive(entry.get("partitions"), f"{name}: partitions"),
                    replication,
                    config,
                    dead_letter,
                )
            )

    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DeclarationError(f"declared more than once: {duplicates}")
    event_topics = {s.name for s in specs if not s.dead_letter}
    for spec in specs:
        if spec.dead_letter:
            # <topic>.<group>.dlt, for a declared event topic and a non-empty group.
            owner = next((t for t in event_topics if spec.name.startswith(t + ".")), None)
            group = spec.name[len(owner) + 1 : -len(".dlt")] if owner else ""
            if owner is None or not spec.name.endswith(".dlt") or not group:
                raise DeclarationError(f"{spec.name}: a dead-letter topic is <declared topic>.<group>.dlt")
        policy = spec.config.get("cleanup.policy", "delete")
        if policy not in CLEANUP_POLICIES:
            raise DeclarationError(
                f"{spec.name}: cleanup.policy {policy!r} is not one of {sorted(CLEANUP_POLICIES)}"
            )
        isr = int(spec.config.get("min.insync.replicas", "1"))
        if not 1 <= isr <= spec.replication_factor:
            raise DeclarationError(
                f"{spec.name}: min.insync.replicas {isr} must be between 1 and the replication factor "
                f"{spec.replication_factor}"
            )
    return specs


# ---------------------------------------------------------------------------------------------
# Plan and apply
# ---------------------------------------------------------------------------------------------
async def describe(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> tuple[dict[str, tuple[int, int]], dict[str, dict[str, tuple[str | None, int]]]]:
    """(topic -> (partitions, replication factor), topic -> config name -> (value, source))."""
    if not topics:
        return {}, {}
    shape: dict[str, tuple[int, int]] = {}
    for entry in await admin.describe_topics(list(topics)):
        if entry["error_code"]:
            raise ApplyError(f"cannot describe {entry['topic']}: {for_code(entry['error_code']).__name__}")
        partitions = entry["partitions"]
        shape[entry["topic"]] = (len(partitions), min((len(p["replicas"]) for p in partitions), default=0))
    configs: dict[str, dict[str, tuple[str | None, int]]] = {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise ApplyError(
                    f"cannot describe the configs of {resource['resource_name']}: "
                    f"{resource['error_message'] or for_code(resource['error_code']).__name__}"
                )
            configs[resource["resource_name"]] = {
                e["config_names"]: (e["config_value"], e["config_source"]) for e in resource["config_entries"]
            }
    return shape, configs


async def plan_topics(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], prefix: str = "") -> Plan:
    plan = Plan()
    existing = set(await admin.list_topics())
    present = [prefix + s.name for s in specs if prefix + s.name in existing]
    shape, configs = await describe(admin, present)
    for spec in specs:
        topic = prefix + spec.name
        if topic not in existing:
            settings = ", ".join(f"{k}={v}" for k, v in sorted(spec.config.items()))
            plan.actions.append(
                Action(
                    "create",
                    topic,
                    spec,
                    f"partitions={spec.partitions} replication={spec.replication_factor} {settings}",
                )
            )
            continue
        partitions, replication = shape[topic]
        changed = False
        if partitions < spec.partitions:
            plan.actions.append(Action("partitions", topic, spec, f"{partitions} -> {spec.partitions}"))
            changed = True
        elif partitions > spec.partitions:
            changed = True  # not "ok": reported as a problem
            plan.problems.append(
                f"{topic} has {partitions} partitions, {spec.partitions} declared: a count cannot be "
                "lowered; declare the current count"
            )
        if replication != spec.replication_factor:
            # Its configs are left alone too: min.insync.replicas above the actual replication
            # factor would make every acks=all write to the topic fail.
            plan.problems.append(
                f"{topic} has replication factor {replication}, {spec.replication_factor} declared: "
                "change it with a partition reassignment (kafka-reassign-partitions.sh), not this "
                "command; its configs are not changed until then"
            )
            continue
        current = configs.get(topic, {})
        different = {key: want for key, want in spec.config.items() if current.get(key, (None, 0))[0] != want}
        if different:
            kept = {key: value for key, (value, source) in current.items() if source == DYNAMIC_TOPIC_CONFIG}
            full = {key: value for key, value in kept.items() if value is not None} | dict(spec.config)
            detail = ", ".join(
                f"{key}: {current.get(key, (None, 0))[0]} -> {want}"
                for key, want in sorted(different.items())
            )
            plan.actions.append(Action("config", topic, spec, detail, full))
            changed = True
        if not changed:
            plan.unchanged.append(topic)
    return plan


async def apply_plan(admin: AIOKafkaAdminClient, plan: Plan) -> None:
    creates = [a for a in plan.actions if a.kind == "create"]
    if creates:
        response = await admin.create_topics(
            [
                NewTopic(
                    name=a.topic,
                    num_partitions=a.spec.partitions,
                    replication_factor=a.spec.replication_factor,
                    topic_configs=dict(a.spec.config),
                )
                for a in creates
            ]
        )
        failures = [
            f"{e['topic']}: {e['error_message'] or for_code(e['error_code']).__name__}"
            for e in response.to_object()["topic_errors"]
            # Created meanwhile by someone else: the verification pass reports any difference.
            if e["error_code"] not in (0, TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise ApplyError("could not create " + "; ".join(failures))
    raises = {a.topic: NewPartitions(a.spec.partitions) for a in plan.actions if a.kind == "partitions"}
    if raises:
        await admin.create_partitions(raises)  # raises on any topic's error
    alters = [a for a in plan.actions if a.kind == "config"]
    if alters:
        responses = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, a.topic, dict(a.configs)) for a in alters]
        )
        failures = [
            f"{r['resource_name']}: {r['error_message'] or for_code(r['error_code']).__name__}"
            for response in responses
            for r in response.to_object()["resources"]
            if r["error_code"]
        ]
        if failures:
            raise ApplyError("could not alter configs of " + "; ".join(failures))


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def admin_client(args: argparse.Namespace) -> AIOKafkaAdminClient:
    options: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=args.ssl_cafile)
    if args.sasl_mechanism:
        options["sasl_mechanism"] = args.sasl_mechanism
        options["sasl_plain_username"] = args.sasl_username
        options["sasl_plain_password"] = os.environ.get("KAFKA_SASL_PASSWORD")
    return AIOKafkaAdminClient(
        bootstrap_servers=args.bootstrap,
        client_id="inclusion-apply-topics",
        request_timeout_ms=args.timeout_ms,
        **options,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="apply_topics.py", description="Create or update the platform's Kafka topics (never deletes)."
    )
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        help="host:port[,host:port] (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the declaration (topics.yaml)")
    parser.add_argument("--profile", default=None, help="a profile of the declaration, e.g. single-node")
    parser.add_argument(
        "--topic-prefix", default="", help="prepended to every topic name (KAFKA__TOPIC_PREFIX)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--security-protocol", default="PLAINTEXT", choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    )
    parser.add_argument("--sasl-mechanism", choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))
    parser.add_argument("--sasl-username")
    parser.add_argument("--ssl-cafile")
    parser.add_argument("--timeout-ms", type=int, default=30_000)
    parser.add_argument(
        "--settle-seconds", type=float, default=30.0, help="how long the check after applying waits"
    )
    args = parser.parse_args(argv)
    if not args.bootstrap:
        parser.error("--bootstrap is required (or set KAFKA_BOOTSTRAP_SERVERS)")
    return args


async def run(args: argparse.Namespace) -> int:
    specs = load_declaration(args.file, args.profile)
    admin = admin_client(args)
    await admin.start()
    try:
        plan = await plan_topics(admin, specs, args.topic_prefix)
        for line in plan.lines():
            print(line)
        if args.dry_run:
            print(f"dry run: {len(plan.actions)} change(s) not applied")
            return 1 if plan.problems else 0
        await apply_plan(admin, plan)
        # The brokers apply metadata changes asynchronously (KRaft): a describe right after a
        # change may still show the old state, so the check waits a little for it to settle.
        after = await plan_topics(admin, specs, args.topic_prefix)
        deadline = asyncio.get_running_loop().time() + args.settle_seconds
        while after.actions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
            after = await plan_topics(admin, specs, args.topic_prefix)
        if after.actions:
            for line in after.lines():
                print(f"after apply: {line}", file=sys.stderr)
            raise ApplyError("the cluster still differs from the declaration after applying")
        print(f"applied {len(plan.actions)} change(s); {len(specs)} topics as declared")
        return 1 if after.problems else 0
    finally:
        await admin.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (DeclarationError, ApplyError) as exc:
        print(f"apply_topics: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
