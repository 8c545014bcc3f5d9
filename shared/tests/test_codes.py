"""Attendance codes of both regimes (DOMAIN.md §1.2, §1.3, §9, §11)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from inclusion_kit.codes import (
    REGIME_2024_START,
    CodeTable,
    Lateness,
    Regime,
    RegisterGroup,
    StatCategory,
    UnknownAttendanceCode,
    all_codes,
    default_code_table,
    lookup,
    regime_for,
    trend_mapping,
)

P, AEA, AUTH, UNAUTH, NC = (
    StatCategory.PRESENT,
    StatCategory.AEA,
    StatCategory.AUTH,
    StatCategory.UNAUTH,
    StatCategory.NC,
)

# DOMAIN §1.2 table, with §11's confirmations (K, B AEA; C1, C2, J1 AUTH; X, Y1-Y7, D NC; Q NC).
STAT_2024 = {
    "/": P, "\\": P, "L": P,
    "K": AEA, "V": AEA, "P": AEA, "W": AEA, "B": AEA,
    "D": NC,
    "C1": AUTH, "M": AUTH, "J1": AUTH, "S": AUTH, "C2": AUTH, "C": AUTH,
    "T": AUTH, "R": AUTH, "I": AUTH, "E": AUTH,
    "X": NC, "Q": NC,
    "Y1": NC, "Y2": NC, "Y3": NC, "Y4": NC, "Y5": NC, "Y6": NC, "Y7": NC,
    "G": UNAUTH, "N": UNAUTH, "O": UNAUTH, "U": UNAUTH,
    "Z": NC, "#": NC,
}  # fmt: skip

# DOMAIN §1.3 table.
STAT_2006 = {
    "/": P, "\\": P, "L": P,
    "B": AEA, "D": NC, "J": AEA, "P": AEA, "V": AEA, "W": AEA,
    "C": AUTH, "E": AUTH, "F": AUTH, "H": AUTH, "I": AUTH, "M": AUTH, "R": AUTH, "S": AUTH, "T": AUTH,
    "G": UNAUTH, "N": UNAUTH, "O": UNAUTH, "U": UNAUTH,
    "X": NC, "Y": NC, "Z": NC, "#": NC,
}  # fmt: skip


def test_2024_code_set_is_exactly_the_domain_table() -> None:
    assert sorted(c.code for c in all_codes(Regime.R2024)) == sorted(STAT_2024)


def test_2006_code_set_is_exactly_the_domain_table() -> None:
    assert sorted(c.code for c in all_codes(Regime.R2006)) == sorted(STAT_2006)


@pytest.mark.parametrize(("code", "stat"), STAT_2024.items())
def test_2024_stat_category(code: str, stat: StatCategory) -> None:
    item = lookup(code, Regime.R2024)
    assert item.stat_category is stat
    assert item.regime is Regime.R2024
    assert item.possible_session is (stat is not NC)


@pytest.mark.parametrize(("code", "stat"), STAT_2006.items())
def test_2006_stat_category(code: str, stat: StatCategory) -> None:
    item = lookup(code, Regime.R2006)
    assert item.stat_category is stat
    assert item.possible_session is (stat is not NC)


@pytest.mark.parametrize(
    ("code", "regime", "group", "stat"),
    [
        # D: register group and statistical treatment differ (DOMAIN §9.2).
        ("D", Regime.R2006, RegisterGroup.APPROVED_EDUCATIONAL_ACTIVITY, NC),
        ("D", Regime.R2024, RegisterGroup.ATTENDING_ANOTHER_SCHOOL, NC),
        ("X", Regime.R2024, RegisterGroup.LEAVE_OF_ABSENCE, NC),
        ("K", Regime.R2024, RegisterGroup.ATTENDING_OTHER_PLACE, AEA),
        ("Q", Regime.R2024, RegisterGroup.UNABLE_TO_ATTEND, NC),
        ("U", Regime.R2024, RegisterGroup.UNAUTHORISED, UNAUTH),
        ("L", Regime.R2024, RegisterGroup.PRESENT, P),
    ],
)
def test_register_group_is_separate_from_stat(
    code: str, regime: Regime, group: RegisterGroup, stat: StatCategory
) -> None:
    item = lookup(code, regime)
    assert (item.register_group, item.stat_category) == (group, stat)


def test_j_2006_is_attendance_but_j1_is_authorised_absence() -> None:
    assert lookup("J", Regime.R2006).stat_category is AEA
    assert lookup("J1", Regime.R2024).stat_category is AUTH


@pytest.mark.parametrize("regime", list(Regime))
def test_penalty_threshold_codes_are_g_n_o_u(regime: Regime) -> None:
    assert {c.code for c in all_codes(regime) if c.counts_toward_penalty_threshold} == {"G", "N", "O", "U"}


@pytest.mark.parametrize("regime", list(Regime))
def test_deletion_ground_9_1_i_codes_are_g_n_o(regime: Regime) -> None:
    assert {c.code for c in all_codes(regime) if c.valid_for_deletion_ground_9_1_i} == {"G", "N", "O"}


@pytest.mark.parametrize("regime", list(Regime))
def test_lateness(regime: Regime) -> None:
    assert {c.code for c in all_codes(regime) if c.is_late} == {"L", "U"}
    assert lookup("L", regime).lateness is Lateness.BEFORE_CLOSE
    assert lookup("U", regime).lateness is Lateness.AFTER_CLOSE
    assert lookup("/", regime).is_late is False


@pytest.mark.parametrize(
    ("day", "regime"),
    [
        (date(2006, 9, 1), Regime.R2006),
        (date(2024, 7, 31), Regime.R2006),
        (date(2024, 8, 18), Regime.R2006),
        (date(2024, 8, 19), Regime.R2024),
        (date(2025, 1, 6), Regime.R2024),
    ],
)
def test_regime_for(day: date, regime: Regime) -> None:
    assert regime_for(day) is regime
    assert REGIME_2024_START == date(2024, 8, 19)


@pytest.mark.parametrize(
    ("code", "regime"),
    [
        ("H", Regime.R2024),  # withdrawn in 2024
        ("J", Regime.R2024),  # replaced by J1
        ("Y", Regime.R2024),  # replaced by Y1-Y7
        ("F", Regime.R2024),
        ("J1", Regime.R2006),  # new in 2024
        ("K", Regime.R2006),
        ("C1", Regime.R2006),
        ("Q", Regime.R2006),
        ("g", Regime.R2024),  # codes are upper case
        ("", Regime.R2024),
        ("AB", Regime.R2024),
    ],
)
def test_unknown_code_raises(code: str, regime: Regime) -> None:
    with pytest.raises(UnknownAttendanceCode, match="unknown attendance code"):
        lookup(code, regime)


def test_unknown_code_is_value_error_and_whitespace_is_stripped() -> None:
    assert issubclass(UnknownAttendanceCode, ValueError)
    assert lookup(" G ", Regime.R2024).code == "G"


@pytest.mark.parametrize(
    ("code_2006", "code_2024"),
    [
        ("H", "C"),
        ("J", "J1"),
        ("Y", "Y7"),
        ("F", "C"),
        ("C", "C"),
        ("G", "G"),
        ("D", "D"),
        ("X", "X"),
        ("/", "/"),
        ("\\", "\\"),
        ("#", "#"),
    ],
)
def test_trend_mapping(code_2006: str, code_2024: str) -> None:
    assert trend_mapping(code_2006) == code_2024


def test_every_2006_code_maps_to_a_2024_code() -> None:
    codes_2024 = {c.code for c in all_codes(Regime.R2024)}
    for item in all_codes(Regime.R2006):
        assert trend_mapping(item.code) in codes_2024


def test_trend_mapping_does_not_touch_history() -> None:
    # Mapping J for a trend report leaves the stored 2006 J as attendance.
    assert trend_mapping("J") == "J1"
    assert lookup("J", Regime.R2006).stat_category is AEA


def test_trend_mapping_rejects_2024_only_codes() -> None:
    with pytest.raises(UnknownAttendanceCode):
        trend_mapping("J1")


def test_codes_are_frozen() -> None:
    item = lookup("G", Regime.R2024)
    with pytest.raises(AttributeError):
        item.stat_category = AUTH  # type: ignore[misc]


def test_la_can_load_its_own_table(tmp_path: Path) -> None:
    packaged = Path(__file__).parents[1] / "src" / "inclusion_kit" / "data" / "attendance_codes.csv"
    text = packaged.read_text(encoding="utf-8").replace(
        "Q,2024,Unable to attend: lack of access arrangements,unable_to_attend,NC,",
        "Q,2024,Unable to attend: lack of access arrangements,unable_to_attend,AUTH,",
    )
    path = tmp_path / "codes.csv"
    path.write_text(text, encoding="utf-8")
    table = CodeTable.from_csv(path)
    assert table.lookup("Q", Regime.R2024).stat_category is AUTH
    assert default_code_table().lookup("Q", Regime.R2024).stat_category is NC


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("G,2024,x,unauthorised,UNAUTH,yes,true,,,", "line 2: counts_toward_penalty_threshold"),
        ("G,2024,x,unauthorised,ABSENT,true,true,,,", "line 2: .*ABSENT"),
        ("G,2030,x,unauthorised,UNAUTH,true,true,,,", "line 2: .*2030"),
        ("G,2024,x,unauthorised,UNAUTH,true,true,,", "line 2: expected 10 fields"),
    ],
)
def test_bad_csv_rows_are_reported_with_line(row: str, message: str) -> None:
    header = (
        "code,regime,meaning,register_group,stat_category,counts_toward_penalty_threshold,"
        "valid_for_deletion_ground_9_1_i,lateness,trend_code_2024,notes"
    )
    with pytest.raises(ValueError, match=message):
        CodeTable.from_csv_text(f"{header}\n{row}\n")


def test_duplicate_and_dangling_mapping_rejected() -> None:
    header = (
        "code,regime,meaning,register_group,stat_category,counts_toward_penalty_threshold,"
        "valid_for_deletion_ground_9_1_i,lateness,trend_code_2024,notes"
    )
    row = "G,2024,x,unauthorised,UNAUTH,true,true,,,"
    with pytest.raises(ValueError, match="duplicate"):
        CodeTable.from_csv_text(f"{header}\n{row}\n{row}\n")
    with pytest.raises(ValueError, match="unknown 2024 code"):
        CodeTable.from_csv_text(f"{header}\nH,2006,x,authorised,AUTH,false,false,,C,\n")
