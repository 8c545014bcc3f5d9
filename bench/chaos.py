"""Chaos: SIGKILL the services' processes, restart the broker and the database, under a steady
load of writes; then reconcile every acknowledged write and every event, end to end.

    schools' MIS --HTTP--> referral-api api --outbox--> referral-api worker (relay) --> Kafka
        --> cme-tracker worker (inbox; cases; outbox; relay) ----------------------+
        --> enforcement worker (inbox; positions; outbox; relay) ------------------+--> Kafka
        --> reporting worker (inbox; read models)  <-------------------------------+

Everything runs on infrastructure of its own, never the shared one: a PostgreSQL cluster made
with ``initdb`` in a temporary directory (port ``--pg-port``, default 55433) and a single-node
KRaft Kafka broker started from the jars ``deploy/local/kafka.sh install`` caches (ports
``--kafka-port``/``--kafka-controller-port``, default 19092/19093; 0 takes a free port), data in
the same temporary directory. Both, every service process and the directory are removed at the
end, also on Ctrl-C (``--keep`` keeps the directory: data and each process's log). The cluster
commits synchronously (``--synchronous-commit off`` is what deploy/local runs with).

Load (for ``--minutes``): school registers (NDJSON marks; some of them corrections of earlier
registers) and CME referrals (JSON, each with its own ``Idempotency-Key``) posted to a real
``referral-api api``. A request that fails with a connection error, a 5xx, 408, 409 or 429 is
sent again unchanged (same body, same key) until ``--retry-deadline`` seconds have passed; and a
share (``--resend-ratio``) of acknowledged writes is sent once more, which must change nothing.

Chaos (meanwhile, one action at a time, at random moments): ``kill -9`` of the process group of
``referral-api api`` and of each service's ``worker`` (the worker runs the outbox relay and the
consumers), restarted after a random pause; one Kafka restart (SIGKILL) and one PostgreSQL
restart (``pg_ctl stop -m immediate``: a crash as far as the database is concerned). A process
that exits by itself is restarted too (as Kubernetes would) and counted as a crash. Recovery time
is measured from each action to (a) the process answering again and (b) the backlog that existed
at the moment of the action being cleared: outbox rows relayed, consumer groups past the end
offsets of that moment.

At the end the load stops, everything drains, the services stop, and the reconciliation checks:
every 2xx write stored exactly once by the producer (referrals, marks with the last code sent,
stored answers, audit rows, nothing half-written); every event the producer committed on Kafka
(``attendance_versions`` / referrals / cases against the distinct ``ce_id`` seen on the topics);
every consumer's inbox holding exactly the topic's events of the types it handles, and its
projections equal to what the producer holds (cases per referral, enforcement's marks and
position counters, reporting's rows and attendance counters); outboxes empty, consumer lag 0,
dead letters 0; every process stopped cleanly by SIGTERM. It prints a table and exits 1 on any
mismatch. What it found is in bench/README.md.

    uv run python bench/chaos.py                      # smoke: 1.5 minutes
    uv run python bench/chaos.py --minutes 5 --seed 7 --registers-per-second 2 --referrals-per-second 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attendance_ingest as ingest  # the sibling bench's roll seeding and code mix

from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import load_calendar, london_today
from inclusion_kit.contracts.events import attendance as attendance_contracts
from inclusion_kit.contracts.events import cme as cme_contracts
from inclusion_kit.contracts.events import enforcement as enforcement_contracts
from inclusion_kit.contracts.events import referrals as referral_contracts
from inclusion_kit.contracts.events import roll as roll_contracts
from inclusion_kit.contracts.topics import dead_letter_topic
from inclusion_kit.messaging.relay import advisory_lock_key
from inclusion_kit.pupils import upn_check_letter
from inclusion_kit.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-only-secret-" + "0" * 32
DB_USER = "inclusion"
DB_PASSWORD = "inclusion"
ON_ROLL_FROM = date(2025, 9, 1)  # attendance_ingest.seed puts every pupil on roll from this day

RECEIVED = referral_contracts.ReferralReceived.event_type
ATTENDANCE = attendance_contracts.AttendanceRecorded.event_type
CASE_OPENED = cme_contracts.CmeCaseOpened.event_type
PA_IDENTIFIED = enforcement_contracts.PersistentAbsenceIdentified.event_type
TOPICS = ["inclusion.referrals", "inclusion.attendance", "inclusion.cme", "inclusion.enforcement"]


@dataclass(frozen=True)
class ServiceDef:
    name: str  # as in the process names: "referral-api"
    module: str
    prefix: str  # settings' env prefix
    db: str
    api: bool = False


SERVICES = [
    ServiceDef("referral-api", "referral_api.entrypoints.cli", "REFERRAL_", "referral", api=True),
    ServiceDef("cme-tracker", "cme_tracker.entrypoints.cli", "CME_", "cme"),
    ServiceDef("enforcement", "enforcement.entrypoints.cli", "ENFORCEMENT_", "enforcement"),
    ServiceDef("reporting", "reporting.entrypoints.cli", "REPORTING_", "reporting"),
]


def _consumer_types() -> dict[str, tuple[str, set[str]]]:
    """Consumer group -> (its service's database, the event types it handles)."""
    from reporting.service_layer.projections import PROJECTED_TYPES

    return {
        "cme-tracker": (
            "cme",
            {
                RECEIVED,
                roll_contracts.PupilRemovedFromRoll.event_type,
                roll_contracts.PupilAddedToRoll.event_type,
                roll_contracts.PupilEnrolmentRecorded.event_type,
            },
        ),
        "enforcement.positions": ("enforcement", {ATTENDANCE}),
        "reporting": ("reporting", set(PROJECTED_TYPES)),
    }


class ChaosError(RuntimeError):
    """The bench could not set up or keep its infrastructure running."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- infrastructure of our own -------------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise ChaosError("PostgreSQL is not installed: run deploy/local/postgres.sh install")
    return found[-1]


def _as_pg(args: list[str]) -> list[str]:
    # initdb and the postmaster refuse to run as root: run them as the `postgres` user then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Postgres:
    """A throw-away cluster: initdb into ``base``, listen on 127.0.0.1:port and a private socket."""

    def __init__(self, base: Path, port: int, synchronous_commit: str) -> None:
        self.bin = _pg_bin()
        self.base = base
        self.data = base / "data"
        self.sock = base / "run"
        self.logfile = base / "postgres.log"
        self.port = port
        self.synchronous_commit = synchronous_commit
        self.started = False

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_pg(args), cwd="/", capture_output=True, text=True, timeout=timeout, check=False
        )

    def init(self) -> None:
        self.base.mkdir(parents=True)
        self.sock.mkdir()
        if os.geteuid() == 0:
            for p in (self.base, self.sock):
                shutil.chown(p, "postgres", "postgres")
        self.base.chmod(0o700)
        done = self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        if done.returncode:
            raise ChaosError(f"initdb failed: {done.stderr[-2000:]}")
        conf = (
            "\n# bench/chaos.py\n"
            "listen_addresses = '127.0.0.1'\n"
            "max_connections = 200\n"
            "shared_buffers = 64MB\n"
            "fsync = on\n"
            f"synchronous_commit = {self.synchronous_commit}\n"
            "logging_collector = off\n"
            "log_min_messages = warning\n"
            "timezone = 'UTC'\n"
        )
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)

    def start(self) -> None:
        done = self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "120",
                "-o",
                f"-p {self.port} -k {self.sock}",
                "start",
            ],
            timeout=180,
        )
        if done.returncode:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise ChaosError(f"pg_ctl start failed: {done.stderr[-1000:]}\n{tail}")
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        if not self.started:
            return
        pg_ctl = str(self.bin / "pg_ctl")
        done = self._run([pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])
        if done.returncode and mode != "immediate":
            self._run([pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        self.started = False

    def psql(self, sql: str, database: str = "postgres") -> None:
        done = self._run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.sock),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]
        )
        if done.returncode:
            raise ChaosError(f"psql failed: {done.stderr[-1000:]}")

    def create_databases(self, names: Iterable[str]) -> None:
        self.psql(f"CREATE ROLE {DB_USER} LOGIN CREATEDB PASSWORD '{DB_PASSWORD}'")
        for name in names:
            self.psql(f"CREATE DATABASE {name} OWNER {DB_USER}")

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{database}"


def _kafka_libs() -> Path:
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    version = pom.split("<kafka.version>", 1)[1].split("</kafka.version>", 1)[0].strip()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inclusion"
    libs = cache / f"kafka-{version}" / "libs"
    if not (libs / ".complete").exists():
        # Resolving the jars into the shared cache touches no running broker.
        log(f"resolving the Kafka {version} jars (deploy/local/kafka.sh install)")
        subprocess.run(["bash", str(ROOT / "deploy/local/kafka.sh"), "install"], check=True)
    return libs


class Kafka:
    """A single-node KRaft broker (broker + controller in one JVM) with its own data directory."""

    def __init__(self, base: Path, port: int, controller_port: int, heap: str) -> None:
        self.base = base
        self.data = base / "data"
        self.config = base / "server.properties"
        self.logfile = base / "kafka.log"
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.libs = _kafka_libs()
        self.java = shutil.which("java") or "java"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def init(self) -> None:
        self.base.mkdir(parents=True)
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    "controller.listener.names=CONTROLLER",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        done = subprocess.run(
            [
                self.java,
                "-Xmx256m",
                f"-Dlog4j2.configurationFile={ROOT / 'deploy/local/kafka/log4j2.properties'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise ChaosError(f"Kafka storage format failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")

    def start(self) -> None:
        self._log = open(self.logfile, "a")
        self.process = subprocess.Popen(
            [
                self.java,
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={ROOT / 'deploy/local/kafka/log4j2.properties'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(self.config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise ChaosError(f"Kafka exited: {self.logfile.read_text()[-2000:]}")
            if port_taken(self.port):
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                try:
                    await asyncio.wait_for(admin.start(), 10)
                    await asyncio.wait_for(admin.describe_cluster(), 10)
                    return time.monotonic() - started
                except Exception:
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        await admin.close()
            await asyncio.sleep(0.5)
        raise ChaosError(f"Kafka not ready after {timeout:.0f} s: {self.logfile.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


# -- the services' processes ---------------------------------------------------------------------


class Proc:
    """One service process in its own process group (uvicorn may fork): killed as a group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logfile: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.logfile = logfile
        self.popen: subprocess.Popen[bytes] | None = None
        self.held = False  # deliberately down (killed, waiting to be restarted)
        self.kills = 0
        self.crashes: list[tuple[float, int | None, str]] = []
        self.starts = 0

    def start(self) -> None:
        with open(self.logfile, "ab") as out:
            out.write(f"===== {time.strftime('%H:%M:%S')} start\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.held = False

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        self.held = True
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self.kills += 1

    def terminate(self, grace: float = 20, *, signalled: bool = False) -> None:
        """SIGTERM (unless ``signalled`` already: a second one may kill a process that is already
        shutting down, with its handlers gone), then SIGKILL after ``grace`` seconds."""
        self.held = True
        if self.popen is None or self.popen.poll() is not None:
            return
        if not signalled:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def service_env(svc: ServiceDef, pg: Postgres, bootstrap: str) -> dict[str, str]:
    prefixes = (*(s.prefix for s in SERVICES), "EXCLUSIONS_", "PORTAL_")
    base = {
        k: v
        for k, v in os.environ.items()
        # Nothing may point at the shared infrastructure.
        if not k.startswith(prefixes) and k not in ("KAFKA_BOOTSTRAP_SERVERS", "INCLUSION_POSTGRES_URL")
    }
    p = svc.prefix
    return {
        **base,
        f"{p}DATABASE_URL": pg.url(svc.db, "postgresql+asyncpg"),
        f"{p}DATABASE_POOL_SIZE": "5",
        f"{p}BUS": "kafka",
        f"{p}MODE": "test",
        f"{p}KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        f"{p}AUTH__JWT_SECRET": SECRET,
        f"{p}HTTP__RATE_LIMIT_PER_MINUTE": "0",
        f"{p}LOG_LEVEL": "WARNING",
        f"{p}RELAY__POLL_INTERVAL_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- probes: outbox, consumer groups, readiness --------------------------------------------------


async def pg_fetchval(url: str, sql: str, *args: Any, timeout: float = 5) -> Any:
    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        return await conn.fetchval(sql, *args, timeout=timeout)
    finally:
        await conn.close()


class KafkaProbe:
    """Committed offsets of consumer groups and end offsets of topics; reconnects after errors."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin: AIOKafkaAdminClient | None = None
        self.reader: AIOKafkaConsumer | None = None

    async def _ensure(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self.admin is None or self.reader is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await asyncio.wait_for(admin.start(), 10)
                await asyncio.wait_for(reader.start(), 10)
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                with contextlib.suppress(Exception):
                    await reader.stop()
                raise
            self.admin, self.reader = admin, reader
        return self.admin, self.reader

    async def close(self) -> None:
        admin, reader, self.admin, self.reader = self.admin, self.reader, None, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.stop()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        _, reader = await self._ensure()
        found = reader.partitions_for_topic(topic)
        if not found:
            await reader._client.force_metadata_update()
            found = reader.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(found)]

    async def end_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        try:
            _, reader = await self._ensure()
            tps = [tp for t in topics for tp in await self.partitions(t)]
            return dict(await asyncio.wait_for(reader.end_offsets(tps), 10)) if tps else {}
        except Exception:
            await self.close()
            raise

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        try:
            admin, _ = await self._ensure()
            offsets = await asyncio.wait_for(admin.list_consumer_group_offsets(group), 10)
            return {tp: meta.offset for tp, meta in offsets.items() if meta is not None and meta.offset >= 0}
        except Exception:
            await self.close()
            raise

    async def lag(self, group: str, topics: Iterable[str]) -> int:
        ends = await self.end_offsets(topics)
        done = await self.committed(group)
        _, reader = await self._ensure()
        starts = await asyncio.wait_for(reader.beginning_offsets(list(ends)), 10) if ends else {}
        return sum(max(0, end - max(done.get(tp, starts[tp]), starts[tp])) for tp, end in ends.items())


# -- the load ------------------------------------------------------------------------------------


@dataclass
class LoadStats:
    referrals_sent: int = 0
    referrals_acked: int = 0
    referrals_replayed: int = 0  # answered with Idempotent-Replayed: true (a retry after a commit)
    referrals_abandoned: int = 0
    referrals_rejected: int = 0  # 4xx other than the retried ones: a bug in this bench or the API
    registers_sent: int = 0
    registers_acked: int = 0
    corrections_acked: int = 0
    registers_abandoned: int = 0
    registers_rejected: int = 0
    marks_acked: int = 0  # marks in acknowledged submissions
    marks_rejected: int = 0
    # Acknowledged writes sent once more, unchanged (a client that never saw the answer): a
    # referral must come back as the stored answer, a register must change nothing.
    resent: int = 0
    resent_wrong: list[str] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    last_ack: float = 0.0


def _referral_upn(serial: int) -> str:
    # An establishment range the seeded roll never uses: every referral is a different child.
    body = f"886{5000 + serial // 1000:04d}26{serial % 1000:03d}"
    return upn_check_letter(body) + body


class Load:
    def __init__(
        self,
        base_url: str,
        roll: list[tuple[str, list[str]]],
        days: list[date],
        stats: LoadStats,
        rng: random.Random,
        retry_deadline: float,
        correction_ratio: float,
        resend_ratio: float = 0.0,
    ) -> None:
        self.base_url = base_url
        self.roll = roll
        self.days = days
        self.stats = stats
        self.rng = rng
        self.retry_deadline = retry_deadline
        self.correction_ratio = correction_ratio
        self.resend_ratio = resend_ratio
        self.auth = AuthSettings(jwt_secret=SECRET)
        # What the producer must hold at the end: the last acknowledged code of every mark.
        self.expected_marks: dict[tuple[str, str, date, str], str] = {}
        self.ambiguous_marks: set[tuple[str, str, date, str]] = set()
        self.acked_referrals: dict[str, str] = {}  # referral id -> idempotency key
        self.abandoned_keys: set[str] = set()
        self.referral_serial = 0

    def token(self, urn: str) -> str:
        return mint_token(self.auth, subject=f"mis-{urn}", roles=[Role.SCHOOL], urns=[urn])

    async def post(
        self,
        client: httpx.AsyncClient,
        path: str,
        *,
        content: bytes,
        headers: dict[str, str],
        deadline: float,
    ) -> httpx.Response | None:
        """POST until a final answer (2xx or a 4xx that is not worth retrying) or the deadline."""
        delay = 0.2
        while True:
            started = time.monotonic()
            try:
                response = await client.post(path, content=content, headers=headers)
                if response.status_code < 500 and response.status_code not in (408, 409, 429):
                    self.stats.latencies.append(time.monotonic() - started)
                    return response
                reason = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            self.stats.retries[reason] += 1
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def referral(self, client: httpx.AsyncClient) -> None:
        self.referral_serial += 1
        serial = self.referral_serial
        urn = self.roll[serial % len(self.roll)][0]
        key = str(uuid.uuid4())
        body = {
            "kind": "child_missing_education",
            "child": {
                "upn": _referral_upn(serial),
                "forename": "Chaos",
                "surname": f"Child{serial}",
                "date_of_birth": "2013-04-01",
            },
            "referrer": {"school_urn": urn},
            "missing_education": {"last_attended_on": "2025-10-17"},
        }
        self.stats.referrals_sent += 1
        response = await self.post(
            client,
            "/referrals",
            content=json.dumps(body).encode(),
            headers={
                "content-type": "application/json",
                "authorization": f"Bearer {self.token(urn)}",
                "idempotency-key": key,
            },
            deadline=time.monotonic() + self.retry_deadline,
        )
        if response is None:
            self.stats.referrals_abandoned += 1
            self.abandoned_keys.add(key)
            return
        if response.status_code != 201:
            self.stats.referrals_rejected += 1
            log(f"referral rejected: {response.status_code} {response.text[:300]}")
            return
        self.stats.referrals_acked += 1
        self.stats.last_ack = time.monotonic()
        if response.headers.get("idempotent-replayed") == "true":
            self.stats.referrals_replayed += 1
        referral_id = response.json()["id"]
        self.acked_referrals[referral_id] = key
        if self.rng.random() < self.resend_ratio:
            again = await self.post(
                client,
                "/referrals",
                content=json.dumps(body).encode(),
                headers={
                    "content-type": "application/json",
                    "authorization": f"Bearer {self.token(urn)}",
                    "idempotency-key": key,
                },
                deadline=time.monotonic() + self.retry_deadline,
            )
            if again is None:
                return
            self.stats.resent += 1
            if (
                again.status_code != 201
                or again.headers.get("idempotent-replayed") != "true"
                or again.json().get("id") != referral_id
            ):
                self.stats.resent_wrong.append(
                    f"referral {referral_id}: {again.status_code} {again.text[:200]}"
                )

    def _register(self, urn: str, upns: list[str], day: date, session: str) -> list[tuple[str, str]]:
        codes, weights = zip(*ingest.CODE_MIX, strict=True)
        return [(upn, self.rng.choices(codes, weights)[0]) for upn in upns]

    def _correction(
        self, urn: str, sent: list[tuple[date, str]], upns: list[str]
    ) -> tuple[date, str, list[tuple[str, str]]]:
        day, session = self.rng.choice(sent)
        codes = [c for c, _ in ingest.CODE_MIX]
        changed = []
        for upn in self.rng.sample(upns, max(1, len(upns) // 5)):
            current = self.expected_marks.get((urn, upn, day, session))
            changed.append((upn, self.rng.choice([c for c in codes if c != current])))
        return day, session, changed

    async def school(self, client: httpx.AsyncClient, index: int, every: float, until: float) -> None:
        urn, upns = self.roll[index]
        registers = [(d, s) for d in self.days for s in ("AM", "PM")]
        self.rng.shuffle(registers)
        sent: list[tuple[date, str]] = []
        next_at = time.monotonic() + self.rng.random() * every
        while True:
            now = time.monotonic()
            if now >= until:
                return
            if next_at > now:
                await asyncio.sleep(min(next_at - now, until - now))
                continue
            next_at += every
            correction = bool(sent) and (not registers or self.rng.random() < self.correction_ratio)
            if correction:
                day, session, marks = self._correction(urn, sent, upns)
            else:
                day, session = registers.pop()
                marks = self._register(urn, upns, day, session)
            lines = []
            for upn, code in marks:
                mark: dict[str, Any] = {"upn": upn, "date": day.isoformat(), "session": session, "code": code}
                if code == "L":
                    mark["minutes_late"] = 5
                lines.append(json.dumps(mark))
            self.stats.registers_sent += 1
            response = await self.post(
                client,
                f"/attendance/schools/{urn}/marks",
                content=("\n".join(lines) + "\n").encode(),
                headers={
                    "content-type": "application/x-ndjson",
                    "authorization": f"Bearer {self.token(urn)}",
                },
                deadline=time.monotonic() + self.retry_deadline,
            )
            keys = [(urn, upn, day, session) for upn, _ in marks]
            if response is None:
                self.stats.registers_abandoned += 1
                self.ambiguous_marks.update(keys)
                continue
            if response.status_code != 200:
                self.stats.registers_rejected += 1
                log(f"register rejected: {response.status_code} {response.text[:300]}")
                self.ambiguous_marks.update(keys)
                continue
            result = response.json()
            rejected_lines = {r["line"] for r in result.get("rejections", [])}
            if result["rejected"]:
                self.stats.marks_rejected += result["rejected"]
                log(f"{result['rejected']} marks rejected, e.g. {result['rejections'][:2]}")
            for line_no, ((_upn, code), key) in enumerate(zip(marks, keys, strict=True), start=1):
                if line_no not in rejected_lines:
                    self.expected_marks[key] = code
            self.stats.registers_acked += 1
            self.stats.corrections_acked += int(correction)
            self.stats.marks_acked += len(marks) - len(rejected_lines)
            self.stats.last_ack = time.monotonic()
            if not correction:
                sent.append((day, session))
            if not rejected_lines and self.rng.random() < self.resend_ratio:
                again = await self.post(
                    client,
                    f"/attendance/schools/{urn}/marks",
                    content=("\n".join(lines) + "\n").encode(),
                    headers={
                        "content-type": "application/x-ndjson",
                        "authorization": f"Bearer {self.token(urn)}",
                    },
                    deadline=time.monotonic() + self.retry_deadline,
                )
                if again is None:
                    continue
                self.stats.resent += 1
                answer = again.json() if again.status_code == 200 else {}
                if (
                    again.status_code != 200
                    or answer.get("unchanged") != len(marks)
                    or answer.get("pupils_evented")
                ):
                    self.stats.resent_wrong.append(f"register {urn} {day} {session}: {again.text[:200]}")

    async def referrals(self, client: httpx.AsyncClient, rate: float, until: float) -> None:
        pending: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(8)
        started = time.monotonic()
        i = 0
        while (now := time.monotonic()) < until:
            due = started + i / rate
            if due > now:
                await asyncio.sleep(min(due - now, until - now))
                continue
            i += 1
            await slots.acquire()

            async def one() -> None:
                try:
                    await self.referral(client)
                finally:
                    slots.release()

            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)


# -- the chaos -----------------------------------------------------------------------------------


@dataclass
class Action:
    at: float  # seconds since the load started
    what: str  # "kill -9", "restart"
    target: str
    down_for: float = 0.0  # from the kill until the restart
    ready_after: float | None = None  # from the kill until the process (or server) answered
    caught_up_after: float | None = None  # from the kill until the backlog of that moment cleared
    note: str = ""


class Cluster:
    def __init__(self, args: argparse.Namespace, base: Path) -> None:
        for option in ("pg_port", "kafka_port", "kafka_controller_port"):
            if getattr(args, option) == 0:  # 0: any free port
                setattr(args, option, free_port())
        self.args = args
        self.base = base
        self.pg = Postgres(base / "pg", args.pg_port, args.synchronous_commit)
        self.kafka = Kafka(base / "kafka", args.kafka_port, args.kafka_controller_port, args.kafka_heap)
        self.logs = base / "logs"
        self.procs: dict[str, Proc] = {}
        self.api_port = free_port()
        self.probe = KafkaProbe(self.kafka.bootstrap)
        self.actions: list[Action] = []
        self.supervising = True
        self.paused = False  # PostgreSQL or Kafka deliberately down: crashes then are expected
        self.consumers = _consumer_types()
        self.rng = random.Random(args.seed)

    def db_url(self, db: str) -> str:
        return self.pg.url(db)

    # -- set-up ------------------------------------------------------------------------------
    async def start_infrastructure(self) -> None:
        for port in (self.args.pg_port, self.args.kafka_port, self.args.kafka_controller_port):
            if port_taken(port):
                raise ChaosError(f"port {port} is taken: choose another (--pg-port/--kafka-port/...)")
        self.logs.mkdir(parents=True)
        t = time.monotonic()
        self.pg.init()
        self.pg.start()
        self.pg.create_databases(s.db for s in SERVICES)
        log(
            f"PostgreSQL {self.pg.bin.parent.name} on 127.0.0.1:{self.pg.port} ({time.monotonic() - t:.1f} s)"
        )
        t = time.monotonic()
        self.kafka.init()
        self.kafka.start()
        await self.kafka.wait_ready()
        log(f"Kafka on {self.kafka.bootstrap} ({time.monotonic() - t:.1f} s)")

    async def start_services(self) -> None:
        async def migrate(svc: ServiceDef) -> None:
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", svc.module, "migrate"],
                env=service_env(svc, self.pg, self.kafka.bootstrap),
                cwd=ROOT,
                capture_output=True,
                check=False,
            )
            if done.returncode:
                raise ChaosError(f"{svc.name} migrate failed: {done.stderr.decode()[-2000:]}")

        await asyncio.gather(*(migrate(svc) for svc in SERVICES))
        for svc in SERVICES:
            env = service_env(svc, self.pg, self.kafka.bootstrap)
            if svc.api:
                name = f"{svc.name} api"
                args = [
                    sys.executable,
                    "-m",
                    svc.module,
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.api_port),
                ]
                self.procs[name] = Proc(name, args, env, self.logs / f"{svc.name}-api.log")
            name = f"{svc.name} worker"
            self.procs[name] = Proc(
                name, [sys.executable, "-m", svc.module, "worker"], env, self.logs / f"{svc.name}-worker.log"
            )
        for proc in self.procs.values():
            proc.start()
        await self.wait_api()
        for svc in SERVICES:
            await self.wait_relay(svc.name)

    async def wait_api(self, timeout: float = 120) -> float:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}", timeout=5) as client:
            while time.monotonic() - started < timeout:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.2)
        raise ChaosError("referral-api api did not become ready")

    async def relay_active(self, service: str) -> bool:
        """The service's outbox relay holds its advisory lock (its worker is up and relaying)."""
        key = advisory_lock_key(f"inclusion/{service}") & 0xFFFFFFFFFFFFFFFF
        db = next(s.db for s in SERVICES if s.name == service)
        try:
            held = await pg_fetchval(
                self.db_url(db),
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = $1 AND objid = $2 AND objsubid = 1",
                key >> 32,
                key & 0xFFFFFFFF,
            )
        except Exception:
            return False
        return bool(held)

    async def wait_relay(self, service: str, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await self.relay_active(service):
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        raise ChaosError(f"{service}'s relay did not become active")

    # -- supervision -------------------------------------------------------------------------
    async def supervise(self) -> None:
        """Restart a process that exited by itself (after a second), as an orchestrator would."""
        while self.supervising:
            for proc in self.procs.values():
                if proc.held or proc.popen is None or proc.alive():
                    continue
                code = proc.popen.returncode
                proc.crashes.append((time.monotonic(), code, proc.tail(6)))
                expected = " (infrastructure down)" if self.paused else ""
                log(f"{proc.name} exited with {code}{expected}; restarting in 1 s")
                proc.held = True

                async def restart(p: Proc = proc) -> None:
                    await asyncio.sleep(1)
                    if self.supervising and p.held and not p.alive():
                        p.start()

                asyncio.create_task(restart())  # noqa: RUF006 - short-lived, awaited by nothing on purpose
            await asyncio.sleep(0.3)

    # -- backlog snapshots -------------------------------------------------------------------
    def groups_of(self, service: str | None) -> dict[str, list[str]]:
        """Consumer group -> topics it reads, for one service (None: all)."""
        db_of = {
            "referral-api": "referral",
            "cme-tracker": "cme",
            "enforcement": "enforcement",
            "reporting": "reporting",
        }
        out: dict[str, list[str]] = {}
        for group, (db, types) in self.consumers.items():
            if service is not None and db_of[service] != db:
                continue
            topics = sorted({t for t in TOPICS if _types_on(t) & types})
            out[group] = topics
        return out

    async def snapshot(self, service: str | None) -> dict[str, Any]:
        """What exists now: the newest outbox row of each database, the topics' end offsets."""
        snap: dict[str, Any] = {"outbox": {}, "ends": {}}
        for svc in SERVICES:
            if service is not None and svc.name != service:
                continue
            sql = "SELECT coalesce(max(seq), 0) FROM outbox"
            snap["outbox"][svc.db] = await _retry(functools.partial(pg_fetchval, self.db_url(svc.db), sql))
        for group, topics in self.groups_of(service).items():
            snap["ends"][group] = await _retry(functools.partial(self.probe.end_offsets, topics))
        return snap

    async def caught_up(self, snap: dict[str, Any]) -> bool:
        try:
            for db, seq in snap["outbox"].items():
                left = await pg_fetchval(self.db_url(db), "SELECT count(*) FROM outbox WHERE seq <= $1", seq)
                if left:
                    return False
            for group, ends in snap["ends"].items():
                done = await self.probe.committed(group)
                if any(done.get(tp, 0) < end for tp, end in ends.items()):
                    return False
            return True
        except Exception:
            return False

    async def wait_caught_up(self, snap: dict[str, Any], since: float, timeout: float) -> float | None:
        while time.monotonic() - since < timeout:
            if await self.caught_up(snap):
                return time.monotonic() - since
            await asyncio.sleep(0.5)
        return None

    # -- actions -----------------------------------------------------------------------------
    async def kill_process(self, name: str, begun: float) -> Action:
        proc = self.procs[name]
        service = name.split()[0]
        snap = await self.snapshot(service)
        killed = time.monotonic()
        proc.kill9()
        action = Action(killed - begun, "kill -9", name)
        pause = self.rng.uniform(0.0, self.args.max_down)
        await asyncio.sleep(pause)
        proc.start()
        action.down_for = time.monotonic() - killed
        if name.endswith(" api"):
            await self.wait_api()
        else:
            await self.wait_relay(service, self.args.recovery_timeout)
        action.ready_after = time.monotonic() - killed
        action.caught_up_after = await self.wait_caught_up(snap, killed, self.args.recovery_timeout)
        return action

    async def restart_kafka(self, begun: float) -> Action:
        snap = await self.snapshot(None)
        self.paused = True
        killed = time.monotonic()
        self.kafka.kill()
        action = Action(killed - begun, "kill -9 + restart", "Kafka broker")
        await asyncio.sleep(self.rng.uniform(1.0, self.args.max_down + 1.0))
        self.kafka.start()
        action.down_for = time.monotonic() - killed
        await self.kafka.wait_ready()
        await self.probe.close()
        action.ready_after = time.monotonic() - killed
        self.paused = False
        action.caught_up_after = await self.wait_caught_up(snap, killed, self.args.recovery_timeout)
        return action

    async def restart_postgres(self, begun: float) -> Action:
        snap = await self.snapshot(None)
        self.paused = True
        stopped = time.monotonic()
        await asyncio.to_thread(self.pg.stop, self.args.pg_stop_mode)
        action = Action(stopped - begun, f"stop -m {self.args.pg_stop_mode} + start", "PostgreSQL")
        await asyncio.sleep(self.rng.uniform(1.0, self.args.max_down + 1.0))
        await asyncio.to_thread(self.pg.start)
        action.down_for = time.monotonic() - stopped
        await self.wait_api()
        action.ready_after = time.monotonic() - stopped
        self.paused = False
        action.caught_up_after = await self.wait_caught_up(snap, stopped, self.args.recovery_timeout)
        return action

    async def chaos(self, begun: float, duration: float) -> None:
        rng = self.rng
        kafka_at = rng.uniform(0.25, 0.4) * duration
        pg_at = rng.uniform(0.55, 0.7) * duration
        infra = sorted([(kafka_at, "kafka"), (pg_at, "postgres")])
        targets: list[str] = []
        next_kill = rng.uniform(0.3, 1.0) * self.args.kill_interval
        while (elapsed := time.monotonic() - begun) < duration - 5:
            if infra and infra[0][0] <= elapsed:
                _, which = infra.pop(0)
                log(f"chaos: restarting {which}")
                action = await (
                    self.restart_kafka(begun) if which == "kafka" else self.restart_postgres(begun)
                )
            elif next_kill <= elapsed:
                if not targets:
                    targets = list(self.procs)
                    rng.shuffle(targets)
                target = targets.pop()
                log(f"chaos: kill -9 {target}")
                action = await self.kill_process(target, begun)
                next_kill = time.monotonic() - begun + rng.expovariate(1 / self.args.kill_interval)
            else:
                await asyncio.sleep(0.2)
                continue
            self.record(action)
        for _, which in infra:  # a run too short to reach them still restarts each once
            log(f"chaos: restarting {which} (late)")
            self.record(
                await (self.restart_kafka(begun) if which == "kafka" else self.restart_postgres(begun))
            )

    def record(self, action: Action) -> None:
        self.actions.append(action)
        log(
            f"chaos: {action.target}: down {action.down_for:.1f} s, answering after "
            f"{_fmt(action.ready_after)}, backlog cleared after {_fmt(action.caught_up_after)}"
        )

    # -- drain ------------------------------------------------------------------------------
    async def drained(self) -> tuple[bool, str]:
        parts = []
        ok = True
        try:
            for svc in SERVICES:
                n = await pg_fetchval(
                    self.db_url(svc.db), "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
                parts.append(f"{svc.db} outbox {n}")
                ok &= n == 0
            for group, topics in self.groups_of(None).items():
                lag = await self.probe.lag(group, topics)
                parts.append(f"{group} lag {lag}")
                ok &= lag == 0
            # Every process fully up (a worker holds its relay's lock), so that the SIGTERM at the
            # end meets its signal handlers rather than a process still importing.
            for svc in SERVICES:
                ok &= await self.relay_active(svc.name)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}", timeout=5) as client:
                ok &= (await client.get("/readyz")).status_code == 200
        except Exception as exc:
            return False, f"not measurable ({type(exc).__name__})"
        return ok, ", ".join(parts)

    async def drain(self, timeout: float) -> float | None:
        started = time.monotonic()
        streak = 0
        last = ""
        while time.monotonic() - started < timeout:
            ok, last = await self.drained()
            if ok and all(p.alive() for p in self.procs.values()):
                streak += 1
                if streak >= 3:  # stable: nothing new appears (consumers emit events of their own)
                    return time.monotonic() - started
            else:
                streak = 0
            await asyncio.sleep(1)
        log(f"not drained after {timeout:.0f} s: {last}")
        return None

    async def stop_all(self) -> None:
        self.supervising = False
        for proc in self.procs.values():
            proc.held = True
            if proc.alive():
                assert proc.popen is not None
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in self.procs.values():
            await asyncio.to_thread(proc.terminate, signalled=True)
        await self.probe.close()

    def stop_infrastructure(self) -> None:
        self.kafka.stop()
        self.pg.stop("fast")


def _types_on(topic: str) -> set[str]:
    from inclusion_kit.contracts.catalogue import PUBLIC_EVENTS

    return {t for t in PUBLIC_EVENTS.types() if PUBLIC_EVENTS[t].topic() == topic}


async def _retry(make: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    started = time.monotonic()
    while True:
        try:
            return await make()
        except Exception:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.5)


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


# -- reconciliation ------------------------------------------------------------------------------


@dataclass
class Check:
    area: str
    what: str
    expected: Any
    actual: Any
    ok: bool


@dataclass
class TopicScan:
    records: int = 0
    ids: dict[str, set[str]] = field(default_factory=dict)  # type -> distinct ce_id

    def distinct(self, event_type: str) -> set[str]:
        return self.ids.get(event_type, set())


async def scan(bootstrap: str, topics: list[str]) -> dict[str, TopicScan]:
    """Every record on the topics from the beginning: counts and distinct ce_id per type."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
    await consumer.start()
    out = {t: TopicScan() for t in topics}
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while True:
            remaining = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not remaining:
                break
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                result = out[tp.topic]
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    headers = dict(r.headers or ())
                    result.records += 1
                    ce_type = headers.get("ce_type", b"").decode()
                    result.ids.setdefault(ce_type, set()).add(headers.get("ce_id", b"").decode())
    finally:
        await consumer.stop()
    return out


async def reconcile(cluster: Cluster, load: Load) -> list[Check]:
    from reporting.adapters.orm import COUNTERS
    from reporting.domain.model import mark_counters

    checks: list[Check] = []

    def check(area: str, what: str, expected: Any, actual: Any, ok: bool | None = None) -> None:
        checks.append(Check(area, what, expected, actual, expected == actual if ok is None else ok))

    conns = {svc.db: await asyncpg.connect(cluster.db_url(svc.db)) for svc in SERVICES}
    try:
        ref, cme, enf, rep = conns["referral"], conns["cme"], conns["enforcement"], conns["reporting"]

        # -- the producer: every acknowledged write stored exactly once --------------------------
        rows = await ref.fetch("SELECT id, kind, child, child_ref FROM referrals")
        stored = {r["id"] for r in rows}
        acked = set(load.acked_referrals)
        check("referral-api", "referrals acknowledged (201) and stored", len(acked), len(acked & stored))
        extra = stored - acked
        check(
            "referral-api",
            "referrals stored but never acknowledged (<= abandoned requests)",
            f"<= {load.stats.referrals_abandoned}",
            len(extra),
            len(extra) <= load.stats.referrals_abandoned,
        )
        upns = Counter(
            json.loads(r["child"])["upn"] if isinstance(r["child"], str) else r["child"]["upn"] for r in rows
        )
        check(
            "referral-api",
            f"acknowledged writes sent again ({load.stats.resent}) that changed anything",
            0,
            len(load.stats.resent_wrong),
        )
        for detail in load.stats.resent_wrong[:5]:
            log(f"sent again, not answered as before: {detail}")
        check(
            "referral-api",
            "children referred twice (a retry stored again)",
            0,
            sum(1 for n in upns.values() if n > 1),
        )
        keys = await ref.fetch("SELECT key, completed FROM idempotency_keys")
        check(
            "referral-api",
            "idempotency claims without their answer",
            0,
            sum(1 for k in keys if not k["completed"]),
        )
        check(
            "referral-api", "stored answers = referrals", len(stored), sum(1 for k in keys if k["completed"])
        )
        audited = await ref.fetchval(
            "SELECT count(DISTINCT resource_id) FROM audit_log "
            "WHERE resource_type = 'referral' AND action = 'create'"
        )
        check("referral-api", "referrals with their audit row", len(stored), audited)
        marks = await ref.fetch(
            "SELECT school_urn, upn, date, session, child_ref, code, regime FROM attendance_marks"
        )
        held = {(m["school_urn"], m["upn"], m["date"], m["session"]): m for m in marks}
        certain = {k: v for k, v in load.expected_marks.items() if k not in load.ambiguous_marks}
        missing = [k for k in certain if k not in held]
        wrong = [k for k, code in certain.items() if k in held and held[k]["code"] != code]
        unexpected = [k for k in held if k not in load.expected_marks and k not in load.ambiguous_marks]
        check("referral-api", "marks acknowledged and stored", len(certain), len(certain) - len(missing))
        check("referral-api", "marks whose stored code is not the last one acknowledged", 0, len(wrong))
        check("referral-api", "marks stored that were never sent", 0, len(unexpected))
        versions = await ref.fetchval("SELECT coalesce(sum(version), 0) FROM attendance_versions")

        # -- the events: what the producers committed is on Kafka ----------------------------
        dlts = sorted(
            {dead_letter_topic(t, g) for g, topics in cluster.groups_of(None).items() for t in topics}
        )
        scans = await scan(cluster.kafka.bootstrap, TOPICS + dlts)
        everything: dict[str, set[str]] = {}
        records = 0
        for t in TOPICS:
            records += scans[t].records
            for event_type, ids in scans[t].ids.items():
                everything.setdefault(event_type, set()).update(ids)
        distinct = sum(len(ids) for ids in everything.values())
        received = everything.get(RECEIVED, set())
        check(
            "kafka",
            "ReferralReceived on the topic (distinct ce_id) = referrals stored",
            len(stored),
            len(received),
        )
        check(
            "kafka",
            "AttendanceRecorded on the topic = events committed (sum of versions)",
            versions,
            len(everything.get(ATTENDANCE, set())),
        )
        cases = await cme.fetch("SELECT id, source, source_id FROM cme_cases")
        check(
            "kafka",
            "CmeCaseOpened on the topic = cases opened",
            len(cases),
            len(everything.get(CASE_OPENED, set())),
        )
        check(
            "kafka",
            "records on the topics (re-sends after a crash carry the same ce_id)",
            f">= {distinct} distinct",
            f"{records} ({records - distinct} re-sent)",
            records >= distinct,
        )
        for t in dlts:
            check("kafka", f"dead letters on {t}", 0, scans[t].records)

        # -- every consumer: its inbox holds the topic's events it handles, once -------------
        for group, (db, types) in cluster.consumers.items():
            conn = conns[db]
            inbox = await conn.fetch("SELECT event_id, event_type FROM inbox WHERE consumer = $1", group)
            inbox_ids = {r["event_id"] for r in inbox}
            wanted = set().union(*(everything.get(t, set()) for t in types))
            check(
                group, "events on the topics it handles, in its inbox", len(wanted), len(wanted & inbox_ids)
            )
            check(group, "inbox rows for events not on the topics", 0, len(inbox_ids - wanted))
            check(
                group,
                "dead letters in its table",
                0,
                await conn.fetchval("SELECT count(*) FROM dead_letters"),
            )

        # -- the consumers' projections equal the producers' facts -------------------------
        cme_referrals = {r["id"] for r in rows if r["kind"] == "child_missing_education"}
        by_source = Counter(c["source_id"] for c in cases if c["source"] == "referral")
        check(
            "cme-tracker",
            "cases opened from referrals = CME referrals stored",
            len(cme_referrals),
            len(by_source),
        )
        check(
            "cme-tracker", "referrals that opened two cases", 0, sum(1 for n in by_source.values() if n > 1)
        )
        check("cme-tracker", "referrals with no case", 0, len(cme_referrals - set(by_source)))
        sources = await cme.fetchval("SELECT count(*) FROM cme_case_sources WHERE source = 'referral'")
        check("cme-tracker", "sources taken = CME referrals", len(cme_referrals), sources)

        enf_marks = await enf.fetch(
            "SELECT school_urn, child_ref, date, session, code, category FROM attendance_marks"
        )
        producer = {(m["school_urn"], m["child_ref"], m["date"], m["session"]): m["code"] for m in marks}
        consumer = {(m["school_urn"], m["child_ref"], m["date"], m["session"]): m["code"] for m in enf_marks}
        check("enforcement", "marks held = marks the producer holds", len(producer), len(consumer))
        check(
            "enforcement",
            "marks whose code differs from the producer's",
            0,
            sum(1 for k, c in producer.items() if consumer.get(k) != c),
        )
        cats = Counter(m["category"] for m in enf_marks)
        per_mark = {
            "possible": sum(n for c, n in cats.items() if c != "NC"),
            "present": cats["PRESENT"],
            "aea": cats["AEA"],
            "authorised": cats["AUTH"],
            "unauthorised": cats["UNAUTH"],
        }
        for table in ("attendance_positions", "attendance_terms", "attendance_weeks"):
            sums = await enf.fetchrow(
                f"SELECT coalesce(sum(possible), 0) AS possible, coalesce(sum(present), 0) AS present, "
                f"coalesce(sum(aea), 0) AS aea, coalesce(sum(authorised), 0) AS authorised, "
                f"coalesce(sum(unauthorised), 0) AS unauthorised FROM {table}"
            )
            assert sums is not None
            check(
                "enforcement",
                f"{table} counters = its marks (possible/present/aea/auth/unauth)",
                per_mark,
                {k: int(v) for k, v in sums.items()},
            )

        generation = await rep.fetchval(
            "SELECT generation FROM projection_generations WHERE status = 'active'"
        )
        schema = f"reporting_g{generation}"
        n_ref = await rep.fetchval(f"SELECT count(*) FROM {schema}.referrals")
        check("reporting", "referrals in the read model = referrals stored", len(stored), n_ref)
        n_cases = await rep.fetchval(f"SELECT count(*) FROM {schema}.cme_cases")
        check("reporting", "CME cases in the read model = cases opened", len(cases), n_cases)
        expected_counts = [0] * len(COUNTERS)
        for m in marks:
            for i, v in enumerate(mark_counters(m["code"], m["regime"])):
                expected_counts[i] += v
        want = dict(zip(COUNTERS, expected_counts, strict=True))
        sums_sql = ", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in COUNTERS)
        for table in ("attendance_enrolment", "attendance_school"):
            # The academic-year periods ("2026/27") count every mark once; terms and half terms
            # are finer cuts of the same marks.
            got = await rep.fetchrow(f"SELECT {sums_sql} FROM {schema}.{table} WHERE period NOT LIKE '%:%'")
            assert got is not None
            got_counts = {k: int(v) for k, v in got.items()}
            check("reporting", f"{table} counters (academic years) = the producer's marks", want, got_counts)
        applied = await rep.fetchval(f"SELECT count(*) FROM {schema}.applied")
        rep_inbox = await rep.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'reporting'")
        check("reporting", "events applied to the read models = its inbox", rep_inbox, applied)
        identified = await rep.fetchval(f"SELECT count(*) FROM {schema}.absence_identified")
        check(
            "reporting",
            "persistent absence rows <= PersistentAbsenceIdentified events",
            f"<= {len(everything.get(PA_IDENTIFIED, set()))}",
            identified,
            identified <= len(everything.get(PA_IDENTIFIED, set())),
        )

        # -- nothing left behind ---------------------------------------------------------------
        for proc in cluster.procs.values():
            code = proc.popen.returncode if proc.popen is not None else None
            # uvicorn re-raises the signal once it has shut down gracefully: -15 is a clean stop.
            clean = {0, -signal.SIGTERM} if proc.name.endswith(" api") else {0}
            check(
                "processes",
                f"{proc.name}: stopped cleanly on SIGTERM",
                " or ".join(map(str, clean)),
                code,
                code in clean,
            )
        for svc in SERVICES:
            left = await conns[svc.db].fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            check("lag", f"{svc.db} outbox rows not yet published", 0, left)
        for group, topics in cluster.groups_of(None).items():
            check("lag", f"consumer group {group} lag", 0, await cluster.probe.lag(group, topics))
    finally:
        for conn in conns.values():
            await conn.close()
        await cluster.probe.close()
    return checks


# -- the report ----------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    stats: LoadStats,
    load: Load,
    cluster: Cluster,
    sent_for: float,
    drained_in: float | None,
    checks: list[Check],
) -> bool:
    print()
    print(f"== load ({sent_for:.0f} s)")
    lat = sorted(stats.latencies)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0

    print(
        f"  referrals: {stats.referrals_sent} sent, {stats.referrals_acked} acknowledged "
        f"({stats.referrals_replayed} answered from the stored answer), "
        f"{stats.referrals_abandoned} abandoned, "
        f"{stats.referrals_rejected} rejected"
    )
    print(
        f"  registers: {stats.registers_sent} sent, {stats.registers_acked} acknowledged "
        f"({stats.corrections_acked} corrections), {stats.registers_abandoned} abandoned, "
        f"{stats.registers_rejected} rejected; {stats.marks_acked:,} marks acknowledged, "
        f"{len(load.expected_marks):,} distinct, {stats.marks_rejected} rejected"
    )
    retried = ", ".join(f"{reason} x{n}" for reason, n in stats.retries.most_common()) or "none"
    print(f"  retried with the same body and key: {retried}")
    print(
        f"  acknowledged writes sent once more, unchanged: {stats.resent} "
        f"({len(stats.resent_wrong)} answered differently or changed something)"
    )
    print(f"  latency of answered requests: p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms")
    print()
    print("== chaos")
    print(f"  {'t (s)':>6}  {'action':<26} {'target':<22} {'down':>7} {'answering':>10} {'caught up':>10}")
    for a in cluster.actions:
        print(
            f"  {a.at:6.0f}  {a.what:<26} {a.target:<22} {a.down_for:6.1f}s {_fmt(a.ready_after):>10} "
            f"{_fmt(a.caught_up_after):>10}"
        )
    kills = sum(1 for a in cluster.actions if a.what == "kill -9")
    print(f"  {kills} process kills, {len(cluster.actions) - kills} infrastructure restarts")
    recovered = [a.caught_up_after for a in cluster.actions if a.caught_up_after is not None]
    if recovered:
        print(
            f"  backlog cleared after: median {sorted(recovered)[len(recovered) // 2]:.1f} s, "
            f"max {max(recovered):.1f} s; not within {args.recovery_timeout:.0f} s: "
            f"{sum(1 for a in cluster.actions if a.caught_up_after is None)}"
        )
    for proc in cluster.procs.values():
        if proc.crashes:
            codes = Counter(code for _, code, _ in proc.crashes)
            print(
                f"  {proc.name}: exited by itself {len(proc.crashes)} time(s) "
                f"(exit codes {dict(codes)}), restarted"
            )
    print(f"  drained {_fmt(drained_in)} after the load stopped")
    print()
    print("== reconciliation")
    width = max(len(c.what) for c in checks) if checks else 10
    for c in checks:
        mark = "ok " if c.ok else "FAIL"
        print(f"  {mark} {c.area:<22} {c.what:<{width}}  expected {c.expected}  got {c.actual}")
    failed = [c for c in checks if not c.ok]
    print()
    ok = not failed and drained_in is not None
    print(f"== {'PASS' if ok else 'FAIL'}: {len(checks) - len(failed)}/{len(checks)} checks")
    return ok


# -- main ----------------------------------------------------------------------------------------


def school_days(count: int) -> list[date]:
    calendar = load_calendar("886")
    days: list[date] = []
    day = london_today()
    while len(days) < count and day > ON_ROLL_FROM:
        if calendar.is_school_day(day):
            days.append(day)
        day = date.fromordinal(day.toordinal() - 1)
    return days


async def run(args: argparse.Namespace, base: Path) -> int:
    cluster = Cluster(args, base)
    rng = random.Random(args.seed + 1)
    supervisor: asyncio.Task[None] | None = None
    try:
        await cluster.start_infrastructure()
        await cluster.start_services()
        roll = await ingest.seed(cluster.pg.url("referral"), args.schools, args.schools * args.pupils)
        log(
            f"services up: {', '.join(cluster.procs)}; {args.schools} schools x {args.pupils} pupils seeded; "
            f"api on 127.0.0.1:{cluster.api_port}"
        )
        supervisor = asyncio.create_task(cluster.supervise())
        stats = LoadStats()
        load = Load(
            f"http://127.0.0.1:{cluster.api_port}",
            roll,
            school_days(400),
            stats,
            rng,
            args.retry_deadline,
            args.correction_ratio,
            args.resend_ratio,
        )
        duration = args.minutes * 60
        every = args.schools / args.registers_per_second
        log(
            f"load for {duration:.0f} s: {args.registers_per_second:g} registers/s "
            f"({args.pupils} marks each), {args.referrals_per_second:g} CME referrals/s; "
            f"a kill every ~{args.kill_interval:g} s, Kafka and PostgreSQL restarted once"
        )
        begun = time.monotonic()
        until = begun + duration
        async with httpx.AsyncClient(base_url=load.base_url, timeout=30) as client:
            workers = [asyncio.create_task(load.school(client, i, every, until)) for i in range(len(roll))]
            workers.append(asyncio.create_task(load.referrals(client, args.referrals_per_second, until)))
            chaos = asyncio.create_task(cluster.chaos(begun, duration))
            try:
                await asyncio.gather(*workers)
                sent_for = time.monotonic() - begun
                log(f"load stopped after {sent_for:.0f} s; waiting for the chaos to finish its last action")
                await chaos
            finally:
                for task in (*workers, chaos):
                    task.cancel()
                await asyncio.gather(*workers, chaos, return_exceptions=True)
        log("draining")
        drained_in = await cluster.drain(args.drain_timeout)
        cluster.supervising = False
        await supervisor
        supervisor = None
        log("stopping the services; reconciling")
        await cluster.stop_all()
        checks = await reconcile(cluster, load)
        ok = report(args, stats, load, cluster, sent_for, drained_in, checks)
        if not ok:
            for proc in cluster.procs.values():
                errors = [
                    line
                    for line in proc.logfile.read_text(errors="replace").splitlines()
                    if "ERROR" in line or "Traceback" in line or "Error" in line
                ]
                if errors:
                    print(f"--- {proc.name}: last error lines of {proc.logfile}")
                    print("\n".join(line[:400] for line in errors[-8:]))
        return 0 if ok else 1
    finally:
        cluster.supervising = False
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(BaseException):
                await supervisor
        for proc in cluster.procs.values():
            proc.terminate(grace=10)
        with contextlib.suppress(BaseException):
            await cluster.probe.close()
        cluster.stop_infrastructure()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.5, help="length of the load (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
    parser.add_argument("--schools", type=int, default=4)
    parser.add_argument("--pupils", type=int, default=30, help="pupils per school = marks per register")
    parser.add_argument("--registers-per-second", type=float, default=1.0)
    parser.add_argument("--referrals-per-second", type=float, default=2.0)
    parser.add_argument(
        "--correction-ratio", type=float, default=0.2, help="share of registers that correct an earlier one"
    )
    parser.add_argument(
        "--resend-ratio",
        type=float,
        default=0.05,
        help="share of acknowledged writes sent once more unchanged (same key): nothing may change",
    )
    parser.add_argument(
        "--kill-interval", type=float, default=10.0, help="mean seconds between process kills"
    )
    parser.add_argument("--max-down", type=float, default=3.0, help="longest pause before a restart (s)")
    parser.add_argument("--recovery-timeout", type=float, default=120.0)
    parser.add_argument(
        "--retry-deadline", type=float, default=120.0, help="a client gives up a request after (s)"
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--pg-port", type=int, default=55433, help="0: any free port (also below)")
    parser.add_argument("--pg-stop-mode", choices=["immediate", "fast"], default="immediate")
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="of the chaos cluster (deploy/local runs with off: a crash may then lose the last commits)",
    )
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--kafka-controller-port", type=int, default=19093)
    parser.add_argument("--kafka-heap", default="512m")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data and logs)")
    args = parser.parse_args()
    # The bench's own Kafka clients would print every refused connection while the broker is down.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    log(f"bench/chaos.py --minutes {args.minutes:g} --seed {args.seed}")
    # Under /var/tmp: the `postgres` OS user must reach the cluster's directory when run as root.
    base = Path(tempfile.mkdtemp(prefix="inclusion-chaos-", dir="/var/tmp"))
    base.chmod(0o755)
    loop = asyncio.new_event_loop()
    main_task = loop.create_task(run(args, base))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    try:
        return loop.run_until_complete(main_task)
    except ChaosError as exc:
        log(f"error: {exc}")
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        main_task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(main_task)
        log("interrupted")
        return 130
    finally:
        loop.close()
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
