"""The schools reference list: read a GIAS-style CSV as a stream and upsert it into ``schools``.

The file is a "Get Information about Schools" extract (``edubasealldata*.csv``): about 600 rows for
one county, about 50,000 for England. It is read as a stream: the ``csv`` module works over an
iterator of lines, rows are validated one at a time and written in batches of ``batch_size``
(one transaction per batch), so memory stays flat whatever the file's size.

Columns (found by header name, case-insensitively; other columns are ignored)
    ``URN``, ``LA (code)``, ``EstablishmentNumber``, ``EstablishmentName``,
    ``PhaseOfEducation (name)``, ``TypeOfEstablishment (name)``, ``EstablishmentStatus (name)``
    and the district: ``DistrictAdministrative (name)`` (GIAS) or ``District``.

Phase (``PhaseOfEducation (name)`` -> :class:`~inclusion_kit.contracts.events.common.Phase`)

    ============================================  =================
    GIAS value                                    Phase
    ============================================  =================
    Nursery                                       ``nursery``
    Primary                                       ``primary``
    Middle deemed primary                         ``middle``
    Middle deemed secondary                       ``middle``
    Secondary                                     ``secondary``
    16 plus                                       ``sixteen_plus``
    All-through                                   ``all_through``
    Not applicable, empty, anything else          ``unknown``
    ============================================  =================

    The type of establishment takes precedence over the phase (a special secondary school
    reports as special): a ``TypeOfEstablishment (name)`` containing "pupil referral unit" or
    "alternative provision" (Pupil referral unit, Academy alternative provision converter /
    sponsor led, Free schools alternative provision) gives ``pru``; one containing "special"
    (Community / Foundation / Non-maintained / Other independent special school, Academy special
    converter / sponsor led, Free schools special, Special post 16 institution) gives ``special``.

Status (``EstablishmentStatus (name)`` -> ``is_open``)
    Open and "Open, but proposed to close" are open; Closed and "Proposed to open" are not.
    Any other value rejects the row (rather than guessing).

Identifiers (DOMAIN.md §6)
    URN: 6 digits. LA code: 3 digits. LAESTAB = LA code + the establishment number zero-padded
    to 4 digits; a blank establishment number (GIAS has some) gives no LAESTAB.

Rows
    A bad row is rejected and reported by its line number (the header is line 1; a quoted field
    may span lines) with reasons that never repeat the row's content; good rows are kept. A URN
    seen earlier in the same file is rejected. With ``la_code``, rows of other LAs are skipped
    (counted, not rejected).

Writing
    New URNs are inserted, changed ones updated, identical ones left alone (their
    ``updated_at`` unchanged). Schools missing from the file are NOT deleted or closed: GIAS
    extracts may be partial (one LA, open schools only, a filtered download), so absence means
    nothing. A school that closes arrives as a row with status Closed.

    ``schools.laestab`` is unique, but GIAS can give one LAESTAB to two URNs (a school that
    converts to an academy gets a new URN and sometimes keeps its DfE number, DOMAIN.md §6).
    The rule: an open school takes the LAESTAB from a closed one (whose LAESTAB is cleared); a
    closed school whose LAESTAB another school holds is stored without one; two open schools
    with one LAESTAB: the one stored first keeps it and the other is stored without, with a
    warning. The result is the same on every re-import of the same file.

    Batches already committed stay committed if a later part of the file fails (a file-level
    error such as an encoding error or an over-long line): importing again is safe and
    idempotent. Run one import at a time.

Encoding
    With no encoding given: UTF-8 (a byte-order mark is dropped), switching to Windows-1252 at
    the first byte sequence that is not UTF-8. GIAS downloads are Windows-1252.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inclusion_kit.contracts.events.common import Phase
from referral_api.adapters.orm import schools

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_REPORTED",
    "ImportReport",
    "ParseResult",
    "Rejected",
    "SchoolFileError",
    "SchoolRow",
    "Skipped",
    "aparse_schools",
    "import_csv_stream",
    "import_schools",
    "iter_lines",
    "parse_schools",
    "phase_of",
    "upsert_statement",
]

DEFAULT_BATCH_SIZE: Final = 500
# Rejections and warnings kept in the report (the totals count them all): a bad national file
# must not grow the report without bound.
MAX_REPORTED: Final = 1000
# A GIAS row is about 2 KB; a "line" longer than this is not a GIAS extract.
MAX_LINE_CHARS: Final = 1_048_576

GIAS_PHASES: Final[Mapping[str, Phase]] = {
    "nursery": Phase.NURSERY,
    "primary": Phase.PRIMARY,
    "middle deemed primary": Phase.MIDDLE,
    "middle deemed secondary": Phase.MIDDLE,
    "secondary": Phase.SECONDARY,
    "16 plus": Phase.SIXTEEN_PLUS,
    "all-through": Phase.ALL_THROUGH,
    "all through": Phase.ALL_THROUGH,
    "not applicable": Phase.UNKNOWN,
}
GIAS_STATUSES: Final[Mapping[str, bool]] = {
    "open": True,
    "open, but proposed to close": True,
    "closed": False,
    "proposed to open": False,
}

# Our field -> header names accepted for it (compared case-insensitively).
COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "urn": ("URN",),
    "la_code": ("LA (code)",),
    "establishment_number": ("EstablishmentNumber",),
    "name": ("EstablishmentName",),
    "phase": ("PhaseOfEducation (name)",),
    "type": ("TypeOfEstablishment (name)",),
    "status": ("EstablishmentStatus (name)",),
    "district": ("DistrictAdministrative (name)", "District"),
}

_URN: Final = re.compile(r"[0-9]{6}")
_LA: Final = re.compile(r"[0-9]{3}")
_EST: Final = re.compile(r"[0-9]{1,4}")
_SPACES: Final = re.compile(r"\s+")
_NAME_MAX: Final = 200  # schools.name
_DISTRICT_MAX: Final = 100  # schools.district


class SchoolFileError(ValueError):
    """The file as a whole cannot be read (no header, missing columns, bad encoding...)."""


@dataclass(frozen=True, slots=True)
class SchoolRow:
    line: int
    urn: str
    laestab: str | None
    la_code: str
    name: str
    phase: Phase
    district: str | None
    is_open: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A valid-looking row of another LA than the one asked for."""

    line: int


ParseResult = SchoolRow | Rejected | Skipped


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows of other LAs (with an LA filter)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), first MAX_REPORTED
    rejected_total: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)  # stored, but with a caveat
    laestabs_released: int = 0  # closed schools outside the file's batch whose LAESTAB moved on

    def reject(self, line: int, reason: str) -> None:
        self.rejected_total += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append((line, reason))

    def warn(self, line: int, reason: str) -> None:
        if len(self.warnings) < MAX_REPORTED:
            self.warnings.append((line, reason))

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "rejected_total": self.rejected_total,
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
            "warnings": [{"line": line, "reason": reason} for line, reason in self.warnings],
            "laestabs_released": self.laestabs_released,
        }


def _norm(value: str) -> str:
    return _SPACES.sub(" ", value).strip().casefold()


def phase_of(phase_name: str, type_name: str = "") -> Phase:
    """The platform's phase for a GIAS phase and type of establishment (see the module's table)."""
    kind = _norm(type_name)
    if "pupil referral unit" in kind or "alternative provision" in kind:
        return Phase.PRU
    if "special" in kind:
        return Phase.SPECIAL
    return GIAS_PHASES.get(_norm(phase_name), Phase.UNKNOWN)


# -- bytes -> lines -------------------------------------------------------------------------------


class _Decoder:
    """Incremental decoding: the given encoding (strict), or UTF-8 falling back to Windows-1252."""

    def __init__(self, encoding: str | None) -> None:
        self._auto = encoding is None
        try:
            name = codecs.lookup(encoding or "utf-8-sig").name
        except LookupError:
            raise SchoolFileError(f"unknown encoding {encoding!r}") from None
        self._name = "utf-8-sig" if name == "utf-8" else name  # drop a byte-order mark
        self._decoder = codecs.getincrementaldecoder(self._name)("strict")

    def decode(self, data: bytes, final: bool = False) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            if not self._auto:
                raise SchoolFileError(f"the file is not valid {self._name}") from None
        # Not UTF-8: Windows-1252 from here on, starting with the bytes held back so far.
        held = self._decoder.getstate()[0]
        self._auto = False
        self._name = "cp1252"
        self._decoder = codecs.getincrementaldecoder("cp1252")("replace")
        return self._decoder.decode(held + data, final)


class _LineSplitter:
    """Text chunks in, complete lines (with their ``\\n``) out; only ``\\n`` ends a line, as in
    a file opened with ``newline=""``, so quoted line breaks reach the csv module intact."""

    def __init__(self, encoding: str | None) -> None:
        self._decoder = _Decoder(encoding)
        self._partial: list[str] = []
        self._partial_chars = 0

    def feed(self, chunk: bytes | str) -> list[str]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        parts = text.split("\n")
        if len(parts) == 1:
            self._hold(text)
            return []
        first = "".join(self._partial) + parts[0] + "\n"
        self._partial = []
        self._partial_chars = 0
        lines = [first]
        lines.extend(part + "\n" for part in parts[1:-1])
        for line in lines:
            if len(line) > MAX_LINE_CHARS:
                raise SchoolFileError(f"a line is longer than {MAX_LINE_CHARS} characters")
        if parts[-1]:
            self._hold(parts[-1])
        return lines

    def _hold(self, text: str) -> None:
        self._partial.append(text)
        self._partial_chars += len(text)
        if self._partial_chars > MAX_LINE_CHARS:
            raise SchoolFileError(f"a line is longer than {MAX_LINE_CHARS} characters")

    def close(self) -> list[str]:
        tail = self._decoder.decode(b"", final=True)
        lines = self.feed(tail) if tail else []
        rest = "".join(self._partial)
        self._partial = []
        return [*lines, rest] if rest else lines


def iter_lines(chunks: Iterable[bytes | str], *, encoding: str | None = None) -> Iterator[str]:
    """Lines (with their line breaks) from chunks of bytes or text of any size, e.g. a binary
    file read in blocks."""
    splitter = _LineSplitter(encoding)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.close()


# -- lines -> CSV records -------------------------------------------------------------------------


class _NeedMore(Exception):
    """The csv reader asked for a line that has not arrived yet."""


class _CsvFeed:
    """A csv.reader fed by pushed lines, handing out complete records with their first line.

    csv.reader pulls lines from this object. When a record needs a line that has not been
    pushed yet (a quoted field spanning a chunk boundary), ``__next__`` raises :class:`_NeedMore`,
    the record's lines are put back and parsed again once more have arrived (csv.reader starts
    every record from a clean state). Only complete records come out, so the result is the one
    ``csv.reader`` gives over the whole file.
    """

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._taken: list[str] = []
        self._closed = False
        self._reader = csv.reader(self)
        self._line_count = 0  # physical lines of the records handed out

    def __iter__(self) -> _CsvFeed:
        return self

    def __next__(self) -> str:
        if self._lines:
            line = self._lines.popleft()
            self._taken.append(line)
            return line
        if self._closed:
            raise StopIteration
        raise _NeedMore

    @property
    def waiting(self) -> int:
        return len(self._lines)

    def push(self, lines: Iterable[str]) -> None:
        self._lines.extend(lines)

    def close(self) -> None:
        self._closed = True

    def records(self) -> Iterator[tuple[int, list[str] | None]]:
        """(first line number, fields) of each complete record; fields are None when the csv
        module could not read the record."""
        while self._lines:
            start = self._line_count + 1
            fields: list[str] | None
            try:
                fields = next(self._reader)
            except _NeedMore:
                self._lines.extendleft(reversed(self._taken))
                self._taken.clear()
                return
            except StopIteration:  # pragma: no cover - only once every line is consumed
                return
            except csv.Error:
                fields = None
            self._line_count += len(self._taken)
            self._taken.clear()
            yield start, fields


# -- CSV records -> school rows -------------------------------------------------------------------


class _RowParser:
    def __init__(self, la_code: str | None) -> None:
        if la_code is not None and not _LA.fullmatch(la_code):
            raise ValueError("la_code must be 3 digits")
        self._la_code = la_code
        self._index: dict[str, int] | None = None
        self._width = 0
        self._seen = bytearray(1_000_000 // 8)  # one bit per possible URN: duplicates in the file

    def handle(self, line: int, fields: list[str] | None) -> ParseResult | None:
        if self._index is None:
            if fields is None:
                raise SchoolFileError("the header row is not valid CSV")
            if not any(f.strip() for f in fields):
                return None
            self._header(fields)
            return None
        if fields is None:
            return Rejected(line, "the record is not valid CSV")
        if not any(f.strip() for f in fields):
            return None  # a blank line
        return self._row(line, fields)

    def finish(self) -> None:
        if self._index is None:
            raise SchoolFileError("the file is empty: no header row")

    def _header(self, fields: list[str]) -> None:
        positions = {_norm(name.lstrip("\ufeff")): i for i, name in reversed(list(enumerate(fields)))}
        index: dict[str, int] = {}
        missing: list[str] = []
        for key, names in COLUMNS.items():
            found = next((positions[_norm(n)] for n in names if _norm(n) in positions), None)
            if found is None:
                missing.append(" or ".join(names))
            else:
                index[key] = found
        if missing:
            raise SchoolFileError("the header lacks the column(s): " + "; ".join(missing))
        self._index = index
        self._width = max(index.values()) + 1

    def _row(self, line: int, fields: list[str]) -> ParseResult:
        assert self._index is not None
        if len(fields) < self._width:
            return Rejected(line, "the row has fewer fields than the header")

        def get(key: str) -> str:
            assert self._index is not None
            return fields[self._index[key]].strip()

        la_code = get("la_code")
        la_ok = bool(_LA.fullmatch(la_code))
        if self._la_code is not None and la_ok and la_code != self._la_code:
            return Skipped(line)
        reasons: list[str] = []
        urn = get("urn")
        if not _URN.fullmatch(urn):
            reasons.append("URN must be 6 digits")
        if not la_ok:
            reasons.append("LA (code) must be 3 digits")
        number = get("establishment_number")
        if number and not _EST.fullmatch(number):
            reasons.append("EstablishmentNumber must be 1 to 4 digits")
        name = _SPACES.sub(" ", get("name"))
        if not name:
            reasons.append("EstablishmentName is missing")
        elif len(name) > _NAME_MAX:
            reasons.append(f"EstablishmentName is longer than {_NAME_MAX} characters")
        is_open = GIAS_STATUSES.get(_norm(get("status")))
        if is_open is None:
            reasons.append(
                "EstablishmentStatus (name) is not one of: Open; Open, but proposed to close; "
                "Closed; Proposed to open"
            )
        district = _SPACES.sub(" ", get("district")) or None
        if district is not None and len(district) > _DISTRICT_MAX:
            reasons.append(f"the district is longer than {_DISTRICT_MAX} characters")
        if not reasons and self._seen_before(int(urn)):
            reasons.append("the URN appears on an earlier line of the file")
        if reasons:
            return Rejected(line, "; ".join(reasons))
        assert is_open is not None
        return SchoolRow(
            line=line,
            urn=urn,
            laestab=la_code + number.zfill(4) if number else None,
            la_code=la_code,
            name=name,
            phase=phase_of(get("phase"), get("type")),
            district=district,
            is_open=is_open,
        )

    def _seen_before(self, urn: int) -> bool:
        byte, bit = divmod(urn, 8)
        mask = 1 << bit
        seen = bool(self._seen[byte] & mask)
        self._seen[byte] |= mask
        return seen


_DRAIN_EVERY: Final = 256  # lines


def parse_schools(lines: Iterable[str], *, la_code: str | None = None) -> Iterator[ParseResult]:
    """Validate a GIAS-style CSV given as lines (as from a file opened with ``newline=""``, or
    :func:`iter_lines`), yielding one result per data row. Lazy: never holds the file.

    Raises :class:`SchoolFileError` for a file-level problem (no header, missing columns).
    """
    parser = _RowParser(la_code)
    feed = _CsvFeed()
    for line in lines:
        feed.push((line,))
        if feed.waiting >= _DRAIN_EVERY:
            yield from _results(parser, feed)
    feed.close()
    yield from _results(parser, feed)
    parser.finish()


async def aparse_schools(
    chunks: AsyncIterable[bytes | str], *, la_code: str | None = None, encoding: str | None = None
) -> AsyncIterator[ParseResult]:
    """:func:`parse_schools` over an asynchronous stream of byte (or text) chunks of any size,
    e.g. an HTTP request body; decoded incrementally (see the module's "Encoding")."""
    parser = _RowParser(la_code)
    splitter = _LineSplitter(encoding)
    feed = _CsvFeed()
    async for chunk in chunks:
        feed.push(splitter.feed(chunk))
        for result in _results(parser, feed):
            yield result
    feed.push(splitter.close())
    feed.close()
    for result in _results(parser, feed):
        yield result
    parser.finish()


def _results(parser: _RowParser, feed: _CsvFeed) -> Iterator[ParseResult]:
    for line, fields in feed.records():
        result = parser.handle(line, fields)
        if result is not None:
            yield result


# -- upsert ---------------------------------------------------------------------------------------

_WRITTEN: Final = ("laestab", "la_code", "name", "phase", "district", "is_open", "updated_at")
_COMPARED: Final = ("laestab", "la_code", "name", "phase", "district", "is_open")


def upsert_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT (urn) DO UPDATE for PostgreSQL or SQLite (execute with a list of
    row dicts: ``urn`` and every column of ``_WRITTEN``)."""
    if dialect_name == "postgresql":
        pg = postgresql.insert(schools)
        return pg.on_conflict_do_update(
            index_elements=[schools.c.urn], set_={name: pg.excluded[name] for name in _WRITTEN}
        )
    if dialect_name == "sqlite":
        lite = sqlite.insert(schools)
        return lite.on_conflict_do_update(
            index_elements=[schools.c.urn], set_={name: lite.excluded[name] for name in _WRITTEN}
        )
    raise NotImplementedError(f"schools import: no upsert for the {dialect_name} dialect")


async def _write_batch(
    conn: AsyncConnection, batch: list[SchoolRow], now: datetime, report: ImportReport
) -> None:
    batch_urns = {row.urn for row in batch}
    existing = {
        row["urn"]: row
        for row in (await conn.execute(select(schools).where(schools.c.urn.in_(batch_urns)))).mappings()
    }
    wanted = {row.laestab for row in batch if row.laestab}
    holder: dict[str, str] = {}  # LAESTAB -> URN holding it, as this batch goes
    is_open: dict[str, bool] = {}
    if wanted:
        held = await conn.execute(
            select(schools.c.laestab, schools.c.urn, schools.c.is_open).where(schools.c.laestab.in_(wanted))
        )
        for laestab, urn, open_ in held:
            holder[laestab] = urn
            is_open[urn] = bool(open_)
    for row in batch:
        is_open[row.urn] = row.is_open  # the file's status wins over the stored one
        old = existing[row.urn]["laestab"] if row.urn in existing else None
        if old and old != row.laestab and holder.get(old) == row.urn:
            del holder[old]  # this school gives its old LAESTAB up

    final: dict[str, str | None] = {}
    released: set[str] = set()  # holders outside this batch that lose their LAESTAB
    for row in batch:
        laestab = row.laestab
        current = holder.get(laestab) if laestab else None
        if laestab and current is not None and current != row.urn:
            if row.is_open and not is_open[current]:
                if current in final:
                    final[current] = None
                elif current not in batch_urns:
                    released.add(current)
                holder[laestab] = row.urn
            else:
                if row.is_open:
                    report.warn(
                        row.line,
                        "another open school has this LAESTAB: stored without a LAESTAB",
                    )
                laestab = None
        elif laestab:
            holder[laestab] = row.urn
        final[row.urn] = laestab

    writes: list[dict[str, Any]] = []
    clear = set(released)
    for row in batch:
        values: dict[str, Any] = {
            "urn": row.urn,
            "laestab": final[row.urn],
            "la_code": row.la_code,
            "name": row.name,
            "phase": row.phase.value,
            "district": row.district,
            "is_open": row.is_open,
        }
        old_row = existing.get(row.urn)
        if old_row is None:
            report.inserted += 1
        elif any(old_row[name] != values[name] for name in _COMPARED):
            report.updated += 1
            if old_row["laestab"] and old_row["laestab"] != values["laestab"]:
                clear.add(row.urn)
        else:
            report.unchanged += 1
            continue
        writes.append({**values, "updated_at": now})
    if clear:
        # First free every LAESTAB that moves, so the upsert never meets the unique constraint.
        await conn.execute(
            update(schools).where(schools.c.urn.in_(clear)).values(laestab=None, updated_at=now)
        )
    if writes:
        await conn.execute(upsert_statement(conn.dialect.name), writes)
    report.laestabs_released += len(released)


class _Statistics:
    """Keeps PostgreSQL's planner statistics of ``schools`` current while an import grows it.

    A first import fills an empty table faster than autovacuum analyses it: the planner, still
    believing the table tiny, looks up each batch's URNs and LAESTABs by sequential scan, and a
    national file then takes minutes instead of seconds. ANALYZE whenever the rows inserted by
    this import have doubled (a handful of times for 50,000 rows, each a few milliseconds).
    """

    def __init__(self, engine: AsyncEngine, first: int) -> None:
        self._engine = engine
        self._next = first

    async def refresh(self, inserted: int) -> None:
        if inserted < self._next or self._engine.dialect.name != "postgresql":
            return
        self._next = inserted * 2
        async with self._engine.begin() as conn:
            await conn.execute(text("ANALYZE " + conn.dialect.identifier_preparer.format_table(schools)))


async def _aiter(items: Iterable[ParseResult] | AsyncIterable[ParseResult]) -> AsyncIterator[ParseResult]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def import_schools(
    engine: AsyncEngine,
    results: Iterable[ParseResult] | AsyncIterable[ParseResult],
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportReport:
    """Upsert parsed rows (from :func:`parse_schools` or :func:`aparse_schools`) into ``schools``
    in batches of ``batch_size``, one transaction per batch, and report the counts."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stamp = now or datetime.now(UTC)
    report = ImportReport()
    batch: list[SchoolRow] = []
    statistics = _Statistics(engine, batch_size)
    async for item in _aiter(results):
        if isinstance(item, SchoolRow):
            batch.append(item)
            if len(batch) >= batch_size:
                async with engine.begin() as conn:
                    await _write_batch(conn, batch, stamp, report)
                await statistics.refresh(report.inserted)
                batch = []
        elif isinstance(item, Rejected):
            report.reject(item.line, item.reason)
        else:
            report.skipped += 1
    if batch:
        async with engine.begin() as conn:
            await _write_batch(conn, batch, stamp, report)
        await statistics.refresh(report.inserted)
    return report


async def import_csv_stream(
    engine: AsyncEngine,
    chunks: AsyncIterable[bytes | str],
    *,
    la_code: str | None = None,
    encoding: str | None = None,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportReport:
    """Parse and import a GIAS-style CSV arriving as a stream of chunks (an HTTP body)."""
    return await import_schools(
        engine,
        aparse_schools(chunks, la_code=la_code, encoding=encoding),
        now=now,
        batch_size=batch_size,
    )
