"""The schools import: phase mapping, row validation, upsert counts, LAESTAB moves, streaming."""

from __future__ import annotations

import asyncio
import csv
import io
import tracemalloc
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.ext.asyncio import AsyncEngine

from inclusion_kit.contracts.events.common import Phase
from referral_api.adapters.orm import schools
from referral_api.bootstrap import bootstrap
from referral_api.config import Settings
from referral_api.entrypoints.schools_cli import import_schools_main
from referral_api.service_layer.schools import (
    ImportReport,
    Rejected,
    SchoolFileError,
    SchoolRow,
    Skipped,
    aparse_schools,
    import_csv_stream,
    import_schools,
    iter_lines,
    parse_schools,
    phase_of,
    upsert_statement,
)

# GIAS column order, with some of the columns we ignore in between.
HEADER = [
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (code)",
    "TypeOfEstablishment (name)",
    "EstablishmentStatus (code)",
    "EstablishmentStatus (name)",
    "PhaseOfEducation (code)",
    "PhaseOfEducation (name)",
    "DistrictAdministrative (code)",
    "DistrictAdministrative (name)",
]

T0 = datetime(2025, 10, 6, 8, 30, tzinfo=UTC)
T1 = datetime(2025, 11, 3, 8, 30, tzinfo=UTC)


def row(
    urn: str,
    number: str,
    name: str,
    *,
    kind: str = "Community school",
    status: str = "Open",
    phase: str = "Primary",
    district: str = "Maidstone",
    la: str = "886",
) -> list[str]:
    return [urn, la, "Kent", number, name, "1", kind, "1", status, "2", phase, "E07000110", district]


def gias(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


MIXED = gias(
    [
        row("118000", "2000", "Example Primary School"),  # line 2
        row("11800X", "2001", "Bad Urn Primary"),  # line 3: rejected
        row("118002", "2002", ""),  # line 4: rejected (no name)
        row("118003", "2003", "Old Closed Infant School", status="Closed", district="Dover"),  # line 5
        row(
            "118004",
            "7001",
            "Example Special School",
            kind="Community special school",
            phase="Not applicable",
            district="Swale",
        ),  # line 6
        row(
            "118005",
            "1100",
            "Example Pupil Referral Unit",
            kind="Pupil referral unit",
            phase="Secondary",
            district="Thanet",
        ),  # line 7
        row("137000", "4005", "Example Academy", kind="Academy converter", phase="Secondary"),  # line 8
    ]
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    kernel = bootstrap(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'schools.db'}"))
    await kernel.migrate()
    try:
        yield kernel.engine
    finally:
        await kernel.dispose()


async def stored(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(schools).order_by(schools.c.urn))
        return {r["urn"]: dict(r) for r in result.mappings()}


async def load(engine: AsyncEngine, text: str, **kwargs: Any) -> ImportReport:
    la_code = kwargs.pop("la_code", None)
    return await import_schools(engine, parse_schools(lines(text), la_code=la_code), **kwargs)


# -- phase mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "kind", "expected"),
    [
        ("Nursery", "LA nursery school", Phase.NURSERY),
        ("Primary", "Community school", Phase.PRIMARY),
        ("Middle deemed primary", "Voluntary aided school", Phase.MIDDLE),
        ("Middle deemed secondary", "Foundation school", Phase.MIDDLE),
        ("Secondary", "Academy converter", Phase.SECONDARY),
        ("16 plus", "Academy 16-19 converter", Phase.SIXTEEN_PLUS),
        ("All-through", "Free schools", Phase.ALL_THROUGH),
        ("Not applicable", "Further education", Phase.UNKNOWN),
        ("", "Community school", Phase.UNKNOWN),
        ("Something new", "Community school", Phase.UNKNOWN),
        ("  secondary ", "community school", Phase.SECONDARY),  # case and spaces do not matter
        # The type of establishment wins over the phase.
        ("Not applicable", "Community special school", Phase.SPECIAL),
        ("Secondary", "Foundation special school", Phase.SPECIAL),
        ("All-through", "Academy special converter", Phase.SPECIAL),
        ("Not applicable", "Academy special sponsor led", Phase.SPECIAL),
        ("Not applicable", "Non-maintained special school", Phase.SPECIAL),
        ("Not applicable", "Free schools special", Phase.SPECIAL),
        ("16 plus", "Special post 16 institution", Phase.SPECIAL),
        ("Not applicable", "Other independent special school", Phase.SPECIAL),
        ("Secondary", "Pupil referral unit", Phase.PRU),
        ("Not applicable", "Academy alternative provision converter", Phase.PRU),
        ("Not applicable", "Academy alternative provision sponsor led", Phase.PRU),
        ("Primary", "Free schools alternative provision", Phase.PRU),
    ],
)
def test_phase_mapping(phase: str, kind: str, expected: Phase) -> None:
    assert phase_of(phase, kind) is expected


# -- parsing ---------------------------------------------------------------------------------------


def test_parse_keeps_good_rows_and_reports_bad_ones_by_line() -> None:
    results = list(parse_schools(lines(MIXED)))
    good = {r.urn: r for r in results if isinstance(r, SchoolRow)}
    rejected = [(r.line, r.reason) for r in results if isinstance(r, Rejected)]
    assert rejected == [(3, "URN must be 6 digits"), (4, "EstablishmentName is missing")]
    assert set(good) == {"118000", "118003", "118004", "118005", "137000"}
    assert good["118000"] == SchoolRow(
        line=2,
        urn="118000",
        laestab="8862000",
        la_code="886",
        name="Example Primary School",
        phase=Phase.PRIMARY,
        district="Maidstone",
        is_open=True,
    )
    assert good["118003"].is_open is False
    assert good["118004"].phase is Phase.SPECIAL and good["118004"].laestab == "8867001"
    assert good["118005"].phase is Phase.PRU and good["118005"].laestab == "8861100"


def test_row_validation_reasons_never_echo_the_row() -> None:
    text = gias(
        [
            row("118000", "20", "Short Number School"),  # est. number zero-padded
            row("118001", "", "No Number School"),  # no est. number: no LAESTAB
            row("118002", "20000", "Long Number School"),
            row("118003", "2003", "Bad La School", la="88"),
            row("118004", "2004", "Odd Status School", status="Suspended"),
            row("118000", "2005", "Duplicate Urn School"),
            ["118006", "886"],
            row("1180077", "ABCD", "", la="8866", status=""),
            row("118008", "2008", "X" * 201),
        ]
    )
    results = list(parse_schools(lines(text)))
    good = {r.urn: r for r in results if isinstance(r, SchoolRow)}
    assert good["118000"].laestab == "8860020"
    assert good["118001"].laestab is None
    reasons = {r.line: r.reason for r in results if isinstance(r, Rejected)}
    assert reasons == {
        4: "EstablishmentNumber must be 1 to 4 digits",
        5: "LA (code) must be 3 digits",
        6: "EstablishmentStatus (name) is not one of: Open; Open, but proposed to close; "
        "Closed; Proposed to open",
        7: "the URN appears on an earlier line of the file",
        8: "the row has fewer fields than the header",
        9: "URN must be 6 digits; LA (code) must be 3 digits; EstablishmentNumber must be 1 to 4 "
        "digits; EstablishmentName is missing; EstablishmentStatus (name) is not one of: Open; "
        "Open, but proposed to close; Closed; Proposed to open",
        10: "EstablishmentName is longer than 200 characters",
    }
    for reason in reasons.values():
        assert "Short" not in reason and "1180077" not in reason and "ABCD" not in reason


def test_header_is_found_by_name_in_any_order_and_case() -> None:
    header = [h.upper() for h in reversed(HEADER)]
    header[header.index("DISTRICTADMINISTRATIVE (NAME)")] = "District"
    text = gias([list(reversed(row("118000", "2000", "Example Primary School")))], header=header)
    (result,) = parse_schools(lines("\ufeff" + text))
    assert isinstance(result, SchoolRow) and result.district == "Maidstone" and result.laestab == "8862000"


def test_a_file_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(SchoolFileError, match="EstablishmentNumber") as info:
        list(parse_schools(lines(gias([], header=[h for h in HEADER if h != "EstablishmentNumber"]))))
    assert "DistrictAdministrative" not in str(info.value)
    with pytest.raises(SchoolFileError, match="empty"):
        list(parse_schools([]))
    with pytest.raises(SchoolFileError, match="lacks"):
        list(parse_schools(['{"not": "a csv"}\n']))


def test_la_filter_skips_other_las() -> None:
    text = gias(
        [
            row("118000", "2000", "Kent Primary"),
            row("100000", "3614", "Camden Primary", la="202"),
            row("100001", "3615", "", la="202"),  # invalid, but another LA's: skipped, not rejected
        ]
    )
    results = list(parse_schools(lines(text), la_code="886"))
    assert [type(r) for r in results] == [SchoolRow, Skipped, Skipped]
    with pytest.raises(ValueError, match="3 digits"):
        list(parse_schools(lines(text), la_code="88"))


def test_quoted_line_breaks_and_line_numbers() -> None:
    text = gias(
        [
            row("118000", "2000", 'St Mary\'s "Star"\nof the Sea, Primary'),  # lines 2-3
            row("1180", "2001", "Bad"),  # line 4
        ]
    )
    results = list(parse_schools(lines(text)))
    assert isinstance(results[0], SchoolRow) and results[0].name == 'St Mary\'s "Star" of the Sea, Primary'
    assert results[1] == Rejected(4, "URN must be 6 digits")


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
    yield b""  # as Starlette's request.stream() ends


@pytest.mark.parametrize("size", [1, 7, 64, 65_536])
async def test_the_async_stream_gives_what_the_file_gives(size: int) -> None:
    text = gias(
        [
            row("118000", "2000", "Quoted\r\nline, break"),
            *[row(f"1181{i:02d}", f"{2100 + i}", f"School {i}") for i in range(30)],
            row("11", "2999", "Bad"),
        ]
    )
    expected = list(parse_schools(lines(text)))
    got = [r async for r in aparse_schools(chunked(text.encode(), size))]
    assert got == expected
    assert got[-1] == Rejected(34, "URN must be 6 digits")


async def test_encodings_utf8_with_bom_and_windows_1252() -> None:
    name = "École Française \u2013 St Thérèse"  # the dash is 0x96 in Windows-1252, not Latin-1
    text = gias([row("118000", "2000", name)])
    for data in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp1252")):
        (result,) = [r async for r in aparse_schools(chunked(data, 3))]
        assert isinstance(result, SchoolRow) and result.name == name
    with pytest.raises(SchoolFileError, match="not valid utf-8"):
        [r async for r in aparse_schools(chunked(text.encode("cp1252"), 64), encoding="utf-8")]
    assert list(iter_lines([text.encode("cp1252")]))[1].startswith("118000")


# -- importing -------------------------------------------------------------------------------------


async def test_import_inserts_good_rows_and_reports_rejections(engine: AsyncEngine) -> None:
    report = await load(engine, MIXED, now=T0)
    assert (report.inserted, report.updated, report.unchanged) == (5, 0, 0)
    assert report.rejected == [(3, "URN must be 6 digits"), (4, "EstablishmentName is missing")]
    assert report.rejected_total == 2
    rows = await stored(engine)
    assert set(rows) == {"118000", "118003", "118004", "118005", "137000"}
    assert rows["118004"]["phase"] == "special" and rows["118004"]["district"] == "Swale"
    assert rows["118005"]["phase"] == "pru"
    assert rows["118003"]["is_open"] is False
    assert rows["137000"] | {"updated_at": None} == {
        "urn": "137000",
        "laestab": "8864005",
        "la_code": "886",
        "name": "Example Academy",
        "phase": "secondary",
        "district": "Maidstone",
        "is_open": True,
        "updated_at": None,
    }


async def test_reimport_is_idempotent(engine: AsyncEngine) -> None:
    await load(engine, MIXED, now=T0, batch_size=2)
    before = await stored(engine)
    report = await load(engine, MIXED, now=T1, batch_size=3)
    assert (report.inserted, report.updated, report.unchanged, report.rejected_total) == (0, 0, 5, 2)
    assert await stored(engine) == before  # updated_at untouched too


async def test_renamed_school_is_updated_and_absent_schools_are_kept(engine: AsyncEngine) -> None:
    await load(engine, MIXED, now=T0)
    renamed = gias(
        [
            row("118000", "2000", "Example Church of England Primary School"),
            row("118003", "2003", "Old Closed Infant School", status="Closed", district="Dover"),
        ]
    )
    report = await load(engine, renamed, now=T1)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    rows = await stored(engine)
    assert rows["118000"]["name"] == "Example Church of England Primary School"
    assert rows["118000"]["updated_at"].replace(tzinfo=UTC) == T1
    assert rows["118003"]["updated_at"].replace(tzinfo=UTC) == T0
    assert set(rows) == {"118000", "118003", "118004", "118005", "137000"}  # nothing deleted


async def test_la_filter_imports_one_la(engine: AsyncEngine) -> None:
    text = gias([row("118000", "2000", "Kent Primary"), row("100000", "3614", "Camden Primary", la="202")])
    report = await load(engine, text, la_code="886")
    assert (report.inserted, report.skipped) == (1, 1)
    assert set(await stored(engine)) == {"118000"}


async def test_academy_conversion_moves_the_laestab_to_the_open_school(engine: AsyncEngine) -> None:
    predecessor = row("118010", "4001", "Example High School", status="Closed", phase="Secondary")
    academy = row("140010", "4001", "Example High Academy", kind="Academy converter", phase="Secondary")
    # In one file (predecessor first, as GIAS orders by URN), then across files and batches.
    report = await load(engine, gias([predecessor, academy]), batch_size=1)
    rows = await stored(engine)
    assert rows["140010"]["laestab"] == "8864001" and rows["118010"]["laestab"] is None
    assert report.laestabs_released == 1 and report.warnings == []
    again = await load(engine, gias([predecessor, academy]))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    again = await load(engine, gias([academy, predecessor]), batch_size=1)
    assert (again.updated, again.unchanged) == (0, 2)


async def test_two_open_schools_with_one_laestab_keep_the_first(engine: AsyncEngine) -> None:
    text = gias([row("118020", "2020", "First Primary"), row("118021", "2020", "Second Primary")])
    report = await load(engine, text)
    rows = await stored(engine)
    assert rows["118020"]["laestab"] == "8862020" and rows["118021"]["laestab"] is None
    assert report.inserted == 2
    assert report.warnings == [(3, "another open school has this LAESTAB: stored without a LAESTAB")]
    assert (await load(engine, text)).unchanged == 2


async def test_a_school_may_take_a_laestab_another_gives_up_in_the_same_batch(engine: AsyncEngine) -> None:
    await load(engine, gias([row("118030", "2030", "A"), row("118031", "2031", "B")]))
    swapped = gias([row("118030", "2031", "A"), row("118031", "2030", "B")])
    report = await load(engine, swapped)
    rows = await stored(engine)
    assert (rows["118030"]["laestab"], rows["118031"]["laestab"]) == ("8862031", "8862030")
    assert report.updated == 2 and report.warnings == []


async def test_import_from_an_async_stream(engine: AsyncEngine) -> None:
    report = await import_csv_stream(engine, chunked(MIXED.encode("cp1252"), 100), la_code="886", now=T0)
    assert (report.inserted, report.rejected_total) == (5, 2)


def test_upsert_statements_for_postgresql_and_sqlite() -> None:
    pg = str(upsert_statement("postgresql").compile(dialect=PGDialect()))  # type: ignore[no-untyped-call]
    lite = str(upsert_statement("sqlite").compile(dialect=SQLiteDialect()))
    for sql in (pg, lite):
        assert "ON CONFLICT (urn) DO UPDATE SET laestab = excluded.laestab" in sql
        assert "updated_at = excluded.updated_at" in sql
    with pytest.raises(NotImplementedError):
        upsert_statement("mssql")


# -- streaming -------------------------------------------------------------------------------------


def generated(count: int, consumed: list[int]) -> Iterator[str]:
    yield ",".join(HEADER) + "\r\n"
    for i in range(count):
        consumed[0] += 1
        urn = f"{100000 + i}"
        yield (
            f'{urn},886,Kent,{i % 10000:04d},"School number {i}, Kent",1,Community school,1,Open,2,'
            f"Primary,E07000110,Maidstone\r\n"
        )


def test_parser_streams_a_national_sized_file_in_constant_memory() -> None:
    consumed = [0]
    results = parse_schools(generated(50_000, consumed))
    first = next(results)
    assert isinstance(first, SchoolRow) and first.line == 2
    assert consumed[0] < 1000  # it yields long before the file is read

    consumed = [0]
    tracemalloc.start()
    try:
        count = sum(1 for r in parse_schools(generated(50_000, consumed)) if isinstance(r, SchoolRow))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000 and consumed[0] == 50_000
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"  # 50,000 rows held would be ~25 MB


async def test_import_of_many_rows_in_batches(engine: AsyncEngine) -> None:
    report = await import_schools(engine, parse_schools(generated(5_000, [0])), batch_size=500)
    assert report.inserted == 5_000 and report.warnings == []


# -- the command -----------------------------------------------------------------------------------


def test_import_schools_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("REFERRAL_DATABASE_URL", url)
    monkeypatch.setenv("REFERRAL_LOG_JSON", "false")
    path = tmp_path / "edubasealldata.csv"
    path.write_bytes(
        gias(
            [
                *[list(r) for r in csv.reader(io.StringIO(MIXED))][1:],
                row("100000", "3614", "Camden Primary", la="202"),
            ]
        ).encode("cp1252")
    )
    # Not migrated yet: refuses.
    assert import_schools_main([str(path)]) == 1
    kernel = bootstrap(Settings(database_url=url))
    asyncio.run(kernel.migrate())
    asyncio.run(kernel.dispose())

    assert import_schools_main([str(path), "--la", "886"]) == 0
    out, err = capsys.readouterr()
    assert "inserted 5, updated 0, unchanged 0, skipped 1 (other LAs), rejected 2" in out
    assert f"{path}:3: rejected: URN must be 6 digits" in err

    assert import_schools_main([str(path), "--la", "886"]) == 0
    assert "inserted 0, updated 0, unchanged 5" in capsys.readouterr().out

    path.write_text("not,a,gias,file\n")
    assert import_schools_main([str(path)]) == 2
    assert "lacks the column(s)" in capsys.readouterr().err
    for bad in (["--la", "88", str(path)], [str(tmp_path / "missing.csv")]):
        with pytest.raises(SystemExit) as exit_info:
            import_schools_main(bad)
        assert exit_info.value.code == 2
