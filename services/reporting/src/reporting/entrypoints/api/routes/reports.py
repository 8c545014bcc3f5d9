"""Reports: the indicator board and the breakdowns (JSON), and their CSV/XLSX exports.

Who may read: officers (limited to their districts when their token says so), managers and admins.
Exports are audited; an export without small-number suppression (not for publication) needs a
manager or an admin. Reports hold aggregates only, never a child's record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from inclusion_kit.audit import record_access
from inclusion_kit.auth import Principal, Role, ensure_in_district, require_roles
from inclusion_kit.calendar import AcademicYear, london_date
from inclusion_kit.problems import PROBLEM_RESPONSES, FieldProblem, ProblemError
from reporting.adapters.orm import LAYOUT
from reporting.adapters.repository import Generations
from reporting.domain.errors import InvalidPeriod
from reporting.domain.model import Period, period_of
from reporting.entrypoints.api.dependencies import Runtime, runtime
from reporting.entrypoints.api.schemas import Board, GenerationOut, PeriodOut, Report
from reporting.entrypoints.exports import to_csv, to_xlsx
from reporting.views import Filters, Reports, Scope, suppress

router = APIRouter(tags=["reports"], responses=PROBLEM_RESPONSES)
READERS = require_roles(Role.OFFICER, Role.MANAGER, Role.ADMIN)
PUBLISHERS = (Role.MANAGER, Role.ADMIN)

ReportName = Literal["attendance", "exclusions", "cme", "enforcement", "referrals"]
By = Literal["la", "area", "district", "phase", "school", "year_group", "group", "reason"]
ALLOWED_BY: dict[str, tuple[str, ...]] = {
    "attendance": ("la", "area", "district", "phase", "school", "year_group", "group"),
    "exclusions": ("la", "area", "district", "phase", "school", "reason"),
    "cme": ("la", "area", "district"),
    "enforcement": ("la", "area", "district", "phase", "school"),
    "referrals": ("la", "area", "district", "phase", "school"),
}
TITLES = {
    "indicators": "Indicators against floors and targets",
    "attendance": "Attendance and absence (DfE methodology: enrolments)",
    "exclusions": "Suspensions and permanent exclusions",
    "cme": "Children missing education and elective home education",
    "enforcement": "Attendance enforcement",
    "referrals": "Referrals through the front door",
}


class PeriodQuery:
    def __init__(
        self,
        academic_year: Annotated[
            str | None, Query(description="e.g. 2025/26; the current academic year when omitted")
        ] = None,
        term: Annotated[str | None, Query(description="autumn, spring or summer")] = None,
        half_term: Annotated[str | None, Query(description="autumn-1 ... summer-2")] = None,
    ) -> None:
        self.academic_year = academic_year
        self.term = term
        self.half_term = half_term

    def resolve(self, rt: Runtime) -> Period:
        year = self.academic_year or AcademicYear.containing(london_date(rt.clock.now())).label
        try:
            return period_of(rt.calendar, year, self.term, self.half_term)
        except InvalidPeriod as exc:
            raise ProblemError(
                422,
                "The period is not one of the LA's calendar.",
                errors=[
                    FieldProblem(pointer=f"query/{exc.parameter}", code="invalid_period", detail=exc.message)
                ],
            ) from None


class FilterQuery:
    def __init__(
        self,
        phase: Annotated[str | None, Query(max_length=20)] = None,
        district: Annotated[str | None, Query(max_length=100)] = None,
        area: Annotated[str | None, Query(max_length=100)] = None,
        school_urn: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    ) -> None:
        self.filters = Filters(phase=phase, district=district, area=area, school_urn=school_urn)


def _scope(principal: Principal, filters: Filters) -> Scope:
    if filters.district is not None:
        ensure_in_district(principal, filters.district)  # another district's figures: 404
    if Role.ADMIN in principal.roles or not principal.districts:
        return Scope(None)
    return Scope(frozenset(d.casefold() for d in principal.districts))


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(
        key=period.key, kind=period.kind.value, start=period.start.isoformat(), end=period.end.isoformat()
    )


async def _with_reports(rt: Runtime, work: Callable[[Reports], Awaitable[Any]]) -> tuple[int | None, Any]:
    async with rt.kernel.uow() as uow:
        generations = Generations(uow.session)
        active = await generations.active()
        if active is None:
            return None, None
        reports = Reports(
            uow.session,
            generations.tables(active),
            rt.calendar,
            rt.areas,
            found_within_days=rt.settings.cme_found_within_days,
            today=london_date(rt.clock.now()),
        )
        return active, await work(reports)


async def build_report(
    rt: Runtime, principal: Principal, name: str, period: Period, by: str, filters: Filters, suppressed: bool
) -> Report:
    if by not in ALLOWED_BY[name]:
        raise ProblemError(
            422,
            f"The {name} report is not broken down by {by}.",
            errors=[
                FieldProblem(
                    pointer="query/by",
                    code="unsupported_breakdown",
                    detail=f"one of {', '.join(ALLOWED_BY[name])}",
                )
            ],
        )
    scope = _scope(principal, filters)
    generation, rows = await _with_reports(rt, lambda r: getattr(r, name)(period, by, scope, filters))
    rows = rows or []
    threshold = rt.settings.suppression_threshold
    if suppressed:
        rows = [suppress(row, threshold) for row in rows]
    return Report(
        report=name,
        period=_period_out(period),
        by=by,
        generation=generation,
        districts=sorted(scope.districts) if scope.districts is not None else None,
        suppression_threshold=threshold if suppressed else None,
        rows=rows,
    )


async def build_board(rt: Runtime, principal: Principal, period: Period) -> Board:
    scope = _scope(principal, Filters())
    generation, items = await _with_reports(rt, lambda r: r.board(rt.indicators, period, scope))
    return Board.model_validate(
        {
            "period": _period_out(period),
            "generation": generation,
            "districts": sorted(scope.districts) if scope.districts is not None else None,
            "indicators": items or [],
        }
    )


@router.get(
    "/reports/indicators", response_model=Board, summary="The indicator board: RAG and direction of travel"
)
async def indicators(
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    period: Annotated[PeriodQuery, Depends()],
) -> Board:
    return await build_board(rt, principal, period.resolve(rt))


def _report_route(name: str) -> None:
    async def endpoint(
        principal: Annotated[Principal, Depends(READERS)],
        rt: Annotated[Runtime, Depends(runtime)],
        period: Annotated[PeriodQuery, Depends()],
        filters: Annotated[FilterQuery, Depends()],
        by: By = "la",
        suppress: Annotated[bool, Query(description="withhold small numbers (published figures)")] = False,
    ) -> Report:
        return await build_report(rt, principal, name, period.resolve(rt), by, filters.filters, suppress)

    endpoint.__name__ = f"{name}_report"
    router.add_api_route(
        f"/reports/{name}",
        endpoint,
        methods=["GET"],
        response_model=Report,
        summary=TITLES[name],
        description=f"Breakdowns: {', '.join(ALLOWED_BY[name])}.",
    )


for _name in ALLOWED_BY:
    _report_route(_name)


@router.get(
    "/exports/{report}",
    summary="A report as CSV or XLSX (audited; suppressed unless a manager asks otherwise)",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
async def export(
    report: Literal["indicators", "attendance", "exclusions", "cme", "enforcement", "referrals"],
    principal: Annotated[Principal, Depends(READERS)],
    rt: Annotated[Runtime, Depends(runtime)],
    period: Annotated[PeriodQuery, Depends()],
    filters: Annotated[FilterQuery, Depends()],
    format: Literal["csv", "xlsx"] = "csv",
    by: By = "la",
    suppress: Annotated[bool, Query(description="withhold small numbers; false needs a manager")] = True,
) -> Response:
    if not suppress and not principal.has_role(*PUBLISHERS):
        raise ProblemError(
            403, "Figures without small-number suppression are for managers.", slug="suppression-required"
        )
    resolved = period.resolve(rt)
    if report == "indicators":
        board = await build_board(rt, principal, resolved)
        rows = [_flat_indicator(i.model_dump()) for i in board.indicators]
        generation, threshold = board.generation, None
    else:
        built = await build_report(rt, principal, report, resolved, by, filters.filters, suppress)
        rows, generation, threshold = built.rows, built.generation, built.suppression_threshold
    meta = {
        "title": TITLES[report],
        "period": resolved.key,
        "breakdown": by if report != "indicators" else "indicator",
        "generated": rt.clock.now().isoformat(timespec="seconds"),
        "read models": f"generation {generation}" if generation is not None else "none yet",
        "suppression": f"counts 1-{threshold - 1} shown as c" if threshold else "none (not for publication)",
    }
    async with rt.kernel.uow() as uow:
        await record_access(
            uow.session,
            uow.tables,
            principal,
            action="export",
            resource_type=f"report.{report}",
            resource_id=f"{resolved.key}:{by}:{format}"[:64],
            purpose="published-figures" if suppress else "management-information",
        )
        await uow.commit()
    filename = f"{report}-{resolved.key.replace('/', '-').replace(':', '-')}-{by}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    if format == "csv":
        return Response(to_csv(rows, meta), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(
        to_xlsx(rows, meta, sheet=report),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


def _flat_indicator(item: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in item.items() if k not in ("trend", "outturn")}
    outturn = item.get("outturn")
    flat["outturn"] = f"{outturn['value']} ({outturn['label']})" if outturn else None
    flat["trend"] = "; ".join(
        f"{t['period']}: {t['value'] if t['value'] is not None else '-'}" for t in item["trend"]
    )
    return flat


@router.get(
    "/reports/generations",
    response_model=list[GenerationOut],
    summary="The read models' generations (which one readers use; rebuilds in progress)",
)
async def generations(
    _principal: Annotated[Principal, Depends(require_roles(*PUBLISHERS))],
    rt: Annotated[Runtime, Depends(runtime)],
) -> list[GenerationOut]:
    async with rt.kernel.uow() as uow:
        rows = await Generations(uow.session).all()
    return [
        GenerationOut(
            generation=g.generation,
            status=g.status,
            layout=g.layout,
            current_layout=g.layout == LAYOUT,
            source=g.source,
            created_at=g.created_at.isoformat(),
            activated_at=g.activated_at.isoformat() if g.activated_at else None,
            retired_at=g.retired_at.isoformat() if g.retired_at else None,
        )
        for g in rows
    ]
