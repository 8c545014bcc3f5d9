"""Metadata with a naming convention, and the plumbing tables every service owns.

Each service creates these tables in its own first Alembic migration (see
:func:`inclusion_kit.db.migrations.create_kit_tables`), so a service never shares a schema with
another. The ORM never maps these tables: the outbox writer, relay, inbox and audit helpers use
SQLAlchemy Core against them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; BIGINT elsewhere.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class KitTables:
    """The outbox, inbox, dead-letter, audit and idempotency-key tables, defined on a service's
    metadata."""

    def __init__(self, metadata: MetaData) -> None:
        self.metadata = metadata
        self.outbox = Table(
            "outbox",
            metadata,
            # seq orders sending only; progress is the published_at column, never "seq > last"
            # (a transaction that commits late can hold a lower seq than rows already sent).
            Column("seq", BigIntId, primary_key=True, autoincrement=True),
            Column("id", String(36), nullable=False, unique=True),  # = CloudEvents ce_id
            Column("topic", String(200), nullable=False),
            Column("key", String(64), nullable=False),
            Column("event_type", String(200), nullable=False),
            Column("source", String(100), nullable=False),
            Column("subject", String(64), nullable=True),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("payload", LargeBinary, nullable=False),
            Column("headers", JSON, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("published_at", DateTime(timezone=True), nullable=True),
            Column("attempts", Integer, nullable=False, server_default=text("0")),
            Column("last_error", Text, nullable=True),
        )
        Index(
            "ix_outbox_unpublished",
            self.outbox.c.seq,
            postgresql_where=self.outbox.c.published_at.is_(None),
            sqlite_where=self.outbox.c.published_at.is_(None),
        )
        self.inbox = Table(
            "inbox",
            metadata,
            Column("consumer", String(100), primary_key=True),
            Column("event_id", String(64), primary_key=True),
            Column("event_type", String(200), nullable=False),
            Column("topic", String(200), nullable=False),
            Column("partition", Integer, nullable=True),
            Column("offset", BigInteger, nullable=True),
            Column("processed_at", DateTime(timezone=True), nullable=False),
        )
        # Dead letters of the embedded bus (Kafka mode uses <topic>.<group>.dlt topics instead).
        self.dead_letters = Table(
            "dead_letters",
            metadata,
            Column("seq", BigIntId, primary_key=True, autoincrement=True),
            Column("consumer", String(100), nullable=False),
            Column("event_id", String(64), nullable=False),
            Column("topic", String(200), nullable=False),
            Column("key", String(64), nullable=False),
            Column("event_type", String(200), nullable=False),
            Column("payload", LargeBinary, nullable=False),
            Column("headers", JSON, nullable=False),
            Column("reason", String(20), nullable=False),
            Column("error", Text, nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("failed_at", DateTime(timezone=True), nullable=False),
            Column("replayed_at", DateTime(timezone=True), nullable=True),
        )
        self.audit_log = Table(
            "audit_log",
            metadata,
            Column("seq", BigIntId, primary_key=True, autoincrement=True),
            Column("at", DateTime(timezone=True), nullable=False),
            Column("actor", String(200), nullable=False),
            Column("actor_role", String(40), nullable=False),
            Column("action", String(40), nullable=False),
            Column("resource_type", String(60), nullable=False),
            Column("resource_id", String(64), nullable=False),
            Column("child_ref", String(64), nullable=True),
            Column("purpose", String(200), nullable=False),
            Column("correlation_id", String(64), nullable=True),
            Column("outcome", String(20), nullable=False),
        )
        Index("ix_audit_log_child_ref_at", self.audit_log.c.child_ref, self.audit_log.c.at)
        # Idempotency-Key answers of the service's REST writes (inclusion_kit.idempotency). A row is
        # inserted in the request's own transaction and completed with the response in it.
        self.idempotency_keys = Table(
            "idempotency_keys",
            metadata,
            Column("principal", String(255), primary_key=True),  # keys are scoped per caller
            Column("key", String(200), primary_key=True),
            Column("method", String(10), nullable=False),
            Column("path", String(2000), nullable=False),
            Column("request_hash", String(64), nullable=False),  # sha256 hex of the canonical body
            Column("status_code", Integer, nullable=True),
            Column("response_body", LargeBinary, nullable=True),
            Column("response_headers", JSON, nullable=True),  # Location and Content-Type only
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("completed", Boolean, nullable=False, server_default=text("false")),
        )
        Index("ix_idempotency_keys_created_at", self.idempotency_keys.c.created_at)
