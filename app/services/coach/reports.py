"""Weekly coach reports: one ISO week of loads, ACWR, wellness and attendance per player.

:func:`weekly_data` reads everything in a fixed number of statements (one per kind of data
for the whole team), whatever the size of the squad; :func:`weekly_csv` and
:func:`weekly_pdf` render it. The PDF is laid out with reportlab's platypus and its charts
are drawn with reportlab's own graphics, so no plotting library is needed.
"""

import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.charts.legends import LineLegend  # type: ignore[import-untyped]
from reportlab.graphics.charts.lineplots import LinePlot  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing, Line, Rect, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import (
    AcwrSnapshot,
    AcwrState,
    Attendance,
    AttendanceStatus,
    DailyLoad,
    LoadSource,
    Team,
    TrainingSession,
    WellnessLog,
)
from app.services.acwr import snapshots as acwr_snapshots
from app.services.coach import roster
from app.services.loads.summary import iso_week_label
from app.services.platform.days import team_zone, today
from app.services.platform.spreadsheets import SafeCsvWriter
from app.services.wellness import scoring as wellness

CHART_DAYS = 28  # the per-player ACWR charts show the four weeks ending on the report's Sunday
PLAYERS_PER_PAGE = 3
_WEEK = re.compile(r"(\d{4})-W(\d{2})")

CSV_COLUMNS = (
    "date",
    "weekday",
    "membership_id",
    "player",
    "jersey_number",
    "sessions",
    "attended",
    "attendance",
    "internal_load_au",
    "external_load_pl",
    "acute_ewma",
    "chronic_ewma",
    "acwr",
    "acwr_zone",
    "wellness_total",
    "wellness_flag",
)


def parse_week(value: str | None, team: Team) -> tuple[int, int]:
    """``YYYY-Www`` as (ISO year, week); default the current ISO week in the team's zone."""
    if value is None:
        iso = today(team_zone(team)).isocalendar()
        return iso.year, iso.week
    match = _WEEK.fullmatch(value)
    problem = "'week' must be an ISO week YYYY-Www between 2000-W01 and 2100-W52"
    if match is None:
        raise Invalid(problem, field=("query", "week"))
    year, week = int(match[1]), int(match[2])
    if not 2000 <= year <= 2100:
        raise Invalid(problem, field=("query", "week"))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise Invalid(f"{year} has no ISO week {week}", field=("query", "week")) from None
    return year, week


@dataclass
class PlayerDay:
    date: date
    sessions: int = 0
    attendance: list[str] = field(default_factory=list)
    internal_load_au: int = 0
    external_load_pl: float = 0.0
    acute: float | None = None
    chronic: float | None = None
    ratio: float | None = None
    zone: str = ""
    wellness_total: int | None = None
    wellness_flag: str | None = None

    @property
    def attended(self) -> int:
        return sum(s in (AttendanceStatus.PRESENT, AttendanceStatus.LATE) for s in self.attendance)


@dataclass
class PlayerWeek:
    status: roster.PlayerStatus
    days: list[PlayerDay]
    chart: list[PlayerDay]  # CHART_DAYS days of ACWR, ending on the week's Sunday

    @property
    def name(self) -> str:
        return self.status.user.full_name


@dataclass
class WeeklyData:
    team: Team
    label: str
    monday: date
    days: list[date]
    today: date
    sessions_per_day: dict[date, int]
    players: list[PlayerWeek]

    @property
    def sunday(self) -> date:
        return self.days[-1]


async def weekly_data(session: AsyncSession, team: Team, week: str | None) -> WeeklyData:
    year, number = parse_week(week, team)
    monday = date.fromisocalendar(year, number, 1)
    days = [monday + timedelta(days=i) for i in range(7)]
    local_today = today(team_zone(team))
    chart_start = days[-1] - timedelta(days=CHART_DAYS - 1)
    # Status as of the week's last day that has begun (players, refresh, ACWR, wellness, HRV).
    status_day = max(min(days[-1], local_today), monday)
    statuses = await roster.player_statuses(session, team, status_day)
    ids = [s.membership.id for s in statuses]
    grid = {m: {d: PlayerDay(d) for d in days} for m in ids}
    chart = {
        m: {
            chart_start + timedelta(days=i): PlayerDay(chart_start + timedelta(days=i))
            for i in range(CHART_DAYS)
        }
        for m in ids
    }

    loads = await session.execute(
        select(
            DailyLoad.membership_id,
            DailyLoad.date,
            DailyLoad.internal_load_au,
            DailyLoad.external_load_pl,
        ).where(DailyLoad.team_id == team.id, DailyLoad.date >= monday, DailyLoad.date <= days[-1])
    )
    for member, day, internal, external in loads.all():
        if member in grid:
            grid[member][day].internal_load_au = int(internal)
            grid[member][day].external_load_pl = float(external)

    first_loads = dict(
        (
            await session.execute(
                select(AcwrState.membership_id, AcwrState.first_load_day).where(
                    AcwrState.team_id == team.id, AcwrState.source == LoadSource.INTERNAL
                )
            )
        ).all()
    )
    snapshots = await session.execute(
        select(
            AcwrSnapshot.membership_id,
            AcwrSnapshot.date,
            AcwrSnapshot.acute_ewma,
            AcwrSnapshot.chronic_ewma,
            AcwrSnapshot.ratio,
            AcwrSnapshot.coverage,
        ).where(
            AcwrSnapshot.team_id == team.id,
            AcwrSnapshot.source == LoadSource.INTERNAL,
            AcwrSnapshot.date >= chart_start,
            AcwrSnapshot.date <= days[-1],
        )
    )
    coverage: dict[int, dict[date, float]] = defaultdict(dict)
    for member, day, acute, chronic, ratio, share in snapshots.all():
        if member in chart:
            point = chart[member][day]
            point.acute, point.chronic, point.ratio = acute, chronic, ratio
            coverage[member][day] = share
    params = acwr_snapshots.params_of(team)
    for member, points in chart.items():
        past = [p for p in points.values() if p.date <= local_today]
        zones = acwr_snapshots.zones_of(
            params,
            first_loads.get(member),
            [p.date for p in past],
            [p.ratio for p in past],
            [coverage[member].get(p.date, 1.0) for p in past],
        )
        for point, zone in zip(past, zones, strict=True):
            point.zone = zone
        for day in days:
            source = points[day]
            target = grid[member][day]
            target.acute, target.chronic = source.acute, source.chronic
            target.ratio, target.zone = source.ratio, source.zone

    logs = await session.scalars(
        select(WellnessLog).where(
            WellnessLog.team_id == team.id, WellnessLog.date >= monday, WellnessLog.date <= days[-1]
        )
    )
    for log in logs:
        if log.membership_id in grid:
            total, flag = wellness.score_log(log)
            grid[log.membership_id][log.date].wellness_total = total
            grid[log.membership_id][log.date].wellness_flag = flag

    per_day = await session.execute(
        select(TrainingSession.day, func.count(TrainingSession.id))
        .where(
            TrainingSession.team_id == team.id,
            TrainingSession.day >= monday,
            TrainingSession.day <= days[-1],
        )
        .group_by(TrainingSession.day)
    )
    sessions_per_day: dict[date, int] = dict.fromkeys(days, 0)
    sessions_per_day.update(dict(per_day.all()))
    attendance = await session.execute(
        select(Attendance.membership_id, TrainingSession.day, Attendance.status)
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .where(
            Attendance.team_id == team.id,
            TrainingSession.day >= monday,
            TrainingSession.day <= days[-1],
        )
        .order_by(TrainingSession.start, TrainingSession.id)
    )
    for member, day, status in attendance.all():
        if member in grid:
            grid[member][day].attendance.append(AttendanceStatus(status).value)
    for member in ids:
        for day in days:
            grid[member][day].sessions = sessions_per_day[day]

    players = [
        PlayerWeek(
            s,
            list(grid[s.membership.id].values()),
            list(chart[s.membership.id].values()),
        )
        for s in statuses
    ]
    return WeeklyData(
        team, iso_week_label(monday), monday, days, local_today, sessions_per_day, players
    )


def filename(data: WeeklyData, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", data.team.name).strip("-") or f"team-{data.team.id}"
    return f"{slug}-{data.label}.{extension}"


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def weekly_csv(data: WeeklyData) -> str:
    """One row per active player and day of the week (seven rows each), after a header."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(CSV_COLUMNS)
    for player in data.players:
        membership = player.status.membership
        for day in player.days:
            writer.writerow(
                (
                    day.date.isoformat(),
                    day.date.strftime("%a"),
                    membership.id,
                    player.name,
                    "" if membership.jersey_number is None else membership.jersey_number,
                    day.sessions,
                    day.attended,
                    ";".join(day.attendance),
                    day.internal_load_au,
                    _number(day.external_load_pl, 1),
                    _number(day.acute, 1),
                    _number(day.chronic, 1),
                    _number(day.ratio),
                    day.zone,
                    "" if day.wellness_total is None else day.wellness_total,
                    day.wellness_flag or "",
                )
            )
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------

STATUS_COLOURS = {
    "red": colors.HexColor("#d64541"),
    "amber": colors.HexColor("#f0a030"),
    "green": colors.HexColor("#3aa757"),
    "no_data": colors.HexColor("#b0b0b0"),
}
# Zone bands behind the ratio panel: light, so the ratio line stays readable.
BAND_COLOURS = {
    "low": colors.HexColor("#dce9f7"),
    "optimal": colors.HexColor("#d7f0dc"),
    "high": colors.HexColor("#fde7c4"),
    "danger": colors.HexColor("#f8d0ce"),
}
ACUTE_COLOUR = colors.HexColor("#1f5f9f")
CHRONIC_COLOUR = colors.HexColor("#8a8a8a")
RATIO_COLOUR = colors.HexColor("#222222")
INK = colors.HexColor("#1d2a38")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle(
            "title", parent=base["Title"], fontSize=30, leading=36, textColor=INK
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base["Heading2"], alignment=1, textColor=INK, fontSize=18
        ),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], textColor=INK, fontSize=16),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], textColor=INK, fontSize=12),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=9.5, leading=12),
        "centre": ParagraphStyle(
            "centre", parent=base["BodyText"], alignment=1, fontSize=10, leading=14
        ),
        "small": ParagraphStyle(
            "small", parent=base["BodyText"], fontSize=8, leading=10, textColor=colors.grey
        ),
    }


def _day_range(data: WeeklyData) -> str:
    return f"{data.monday:%a %d %b %Y} - {data.sunday:%a %d %b %Y}"


def _cover(data: WeeklyData, styles: dict[str, ParagraphStyle]) -> list[Any]:
    team = data.team
    counts = dict.fromkeys(STATUS_COLOURS, 0)
    for player in data.players:
        counts[player.status.status] += 1
    total_load = sum(d.internal_load_au for p in data.players for d in p.days)
    summary = Table(
        [
            ["Players", "Sessions", "Team load (AU)", "Red", "Amber", "Green", "No data"],
            [
                str(len(data.players)),
                str(sum(data.sessions_per_day.values())),
                f"{total_load:,}",
                str(counts["red"]),
                str(counts["amber"]),
                str(counts["green"]),
                str(counts["no_data"]),
            ],
        ],
        colWidths=[24 * mm] * 7,
    )
    summary.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica", 8),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.grey),
                ("FONT", (0, 1), (-1, 1), "Helvetica-Bold", 16),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("TOPPADDING", (0, 1), (-1, 1), 6),
                ("LINEBELOW", (0, 1), (-1, 1), 0.5, colors.lightgrey),
                ("TEXTCOLOR", (3, 1), (3, 1), STATUS_COLOURS["red"]),
                ("TEXTCOLOR", (4, 1), (4, 1), STATUS_COLOURS["amber"]),
                ("TEXTCOLOR", (5, 1), (5, 1), STATUS_COLOURS["green"]),
                ("TEXTCOLOR", (6, 1), (6, 1), STATUS_COLOURS["no_data"]),
            ]
        )
    )
    return [
        Spacer(1, 55 * mm),
        Paragraph("Weekly load report", styles["title"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(team.name), styles["subtitle"]),
        Paragraph(f"ISO week {data.label}", styles["subtitle"]),
        Spacer(1, 4 * mm),
        Paragraph(_day_range(data), styles["centre"]),
        Spacer(1, 18 * mm),
        summary,
        Spacer(1, 18 * mm),
        Paragraph(
            f"ACWR: {team.acwr_method.value.replace('_', ' ')} EWMA, acute "
            f"{team.acwr_acute_days} days, chronic {team.acwr_chronic_days} days. Zones: low "
            f"below {team.acwr_low:g}, optimal {team.acwr_low:g}-{team.acwr_high:g}, high "
            f"above {team.acwr_high:g}, danger above {team.acwr_danger:g}. Status is the worst "
            f"of ACWR, wellness and HRV on {min(data.sunday, max(data.today, data.monday)):%d %b}"
            "; a zone flags a change in load, not an injury prediction.",
            styles["centre"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            f"Time zone {escape(team.timezone)}. Generated {data.today:%d %b %Y} by Loadline.",
            styles["small"],
        ),
        PageBreak(),
    ]


def _roster_table(data: WeeklyData, styles: dict[str, ParagraphStyle]) -> Table:
    header = [
        "#",
        "Player",
        "Position",
        "Status",
        "ACWR",
        "Zone",
        "Load AU",
        "PL",
        "Attended",
        "Wellness",
    ]
    rows: list[list[Any]] = [header]
    fills = []
    for i, player in enumerate(data.players, start=1):
        status = player.status
        membership = status.membership
        latest = status.latest_acwr
        recorded = sum(len(d.attendance) for d in player.days)
        attended = sum(d.attended for d in player.days)
        totals = [d.wellness_total for d in player.days if d.wellness_total is not None]
        rows.append(
            [
                "" if membership.jersey_number is None else str(membership.jersey_number),
                Paragraph(escape(player.name), styles["body"]),
                escape(membership.primary_position or ""),
                status.status.replace("_", " "),
                _number(latest.ratio) if latest else "",
                (latest.zone.replace("insufficient_data", "insufficient") if latest else ""),
                f"{sum(d.internal_load_au for d in player.days):,}",
                f"{sum(d.external_load_pl for d in player.days):,.0f}",
                f"{attended}/{recorded}" if recorded else "-",
                f"{sum(totals) / len(totals):.1f} ({len(totals)}d)" if totals else "-",
            ]
        )
        fills.append(("BACKGROUND", (3, i), (3, i), STATUS_COLOURS[status.status]))
    table = Table(
        rows,
        colWidths=[
            9 * mm,
            44 * mm,
            22 * mm,
            17 * mm,
            13 * mm,
            21 * mm,
            17 * mm,
            14 * mm,
            16 * mm,
            20 * mm,
        ],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), INK),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f5f7")]),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (3, 0), (3, -1), "CENTER"),
                ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
                ("FONT", (3, 1), (3, -1), "Helvetica-Bold", 8.5),
                ("TEXTCOLOR", (3, 1), (3, -1), colors.white),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d5da")),
                *fills,
            ]
        )
    )
    return table


def _team_load_chart(data: WeeklyData) -> Drawing:
    width, height = 170 * mm, 70 * mm
    drawing = Drawing(width, height)
    totals = [sum(p.days[i].internal_load_au for p in data.players) for i in range(7)]
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = (
        14 * mm,
        10 * mm,
        width - 20 * mm,
        height - 18 * mm,
    )
    chart.data = [totals]
    chart.categoryAxis.categoryNames = [f"{d:%a %d}" for d in data.days]
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(100, max(totals) * 1.15)
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e3e6ea")
    chart.bars[0].fillColor = ACUTE_COLOUR
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%d"
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    drawing.add(chart)
    drawing.add(String(0, height - 6, "Team internal load per day (AU, sum of sRPE)", fontSize=9))
    return drawing


def _scale(value: float, low: float, high: float, y: float, height: float) -> float:
    return y + (min(max(value, low), high) - low) / (high - low) * height


def _points(player: PlayerWeek, attribute: str) -> list[tuple[int, float]]:
    return [
        (i, float(value))
        for i, day in enumerate(player.chart)
        if (value := getattr(day, attribute)) is not None
    ]


def _player_chart(data: WeeklyData, player: PlayerWeek) -> Drawing:
    """Acute and chronic load on top; the ratio below, over the team's zone bands."""
    team = data.team
    width, height = 170 * mm, 56 * mm
    drawing = Drawing(width, height)
    left, plot_width = 14 * mm, width - 34 * mm
    labels = {i: f"{d.date:%d %b}" for i, d in enumerate(player.chart)}
    week_start = CHART_DAYS - 7

    def axis(plot: Any, last: bool) -> None:
        plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, CHART_DAYS - 1
        plot.xValueAxis.valueSteps = [*range(0, CHART_DAYS, 7), CHART_DAYS - 1]
        plot.xValueAxis.labels.fontSize = 7
        plot.xValueAxis.labelTextFormat = lambda v: labels.get(int(v), "")
        plot.xValueAxis.visibleLabels = last
        plot.yValueAxis.labels.fontSize = 7
        plot.yValueAxis.visibleGrid = True
        plot.yValueAxis.gridStrokeColor = colors.HexColor("#e3e6ea")

    # Top panel: acute and chronic EWMA.
    top_y, top_h = 32 * mm, 20 * mm
    loads = _points(player, "acute") + _points(player, "chronic")
    peak = max([v for _, v in loads], default=0.0)
    step = plot_width / (CHART_DAYS - 1)
    drawing.add(
        Rect(
            left + (week_start - 0.5) * step,
            top_y,
            6.5 * step,
            top_h,
            fillColor=colors.HexColor("#f1f3f5"),
            strokeColor=None,
        )
    )
    drawing.add(
        String(
            left + (week_start - 0.5) * step + 2,
            top_y + top_h - 7,
            data.label,
            fontSize=6.5,
            fillColor=colors.grey,
        )
    )
    series = [s for s in (_points(player, "acute"), _points(player, "chronic")) if s]
    if series:
        top = LinePlot()
        top.x, top.y, top.width, top.height = left, top_y, plot_width, top_h
        top.data = series
        for i, colour in enumerate((ACUTE_COLOUR, CHRONIC_COLOUR)[: len(series)]):
            top.lines[i].strokeColor = colour
            top.lines[i].strokeWidth = 1.6 if i == 0 else 1.2
        top.yValueAxis.valueMin = 0
        top.yValueAxis.valueMax = max(50.0, peak * 1.15)
        axis(top, last=False)
        drawing.add(top)
    else:
        drawing.add(
            String(
                left + plot_width / 2,
                top_y + top_h / 2,
                "No load recorded",
                fontSize=8,
                fillColor=colors.grey,
                textAnchor="middle",
            )
        )
    legend = LineLegend()
    legend.x, legend.y = left + plot_width + 3 * mm, top_y + top_h - 2
    legend.fontSize = 7
    legend.dx, legend.dy, legend.deltay = 10, 0, 10
    legend.colorNamePairs = [(ACUTE_COLOUR, "acute"), (CHRONIC_COLOUR, "chronic")]
    drawing.add(legend)

    # Bottom panel: the ratio over the zone bands.
    bottom_y, bottom_h = 8 * mm, 20 * mm
    ratios = _points(player, "ratio")
    low_v, high_v = 0.0, max(2.0, team.acwr_danger + 0.4, *(min(v, 3.0) for _, v in ratios))
    bands = [
        ("low", 0.0, team.acwr_low),
        ("optimal", team.acwr_low, team.acwr_high),
        ("high", team.acwr_high, team.acwr_danger),
        ("danger", team.acwr_danger, high_v),
    ]
    for name, start, end in bands:
        y0 = _scale(start, low_v, high_v, bottom_y, bottom_h)
        y1 = _scale(end, low_v, high_v, bottom_y, bottom_h)
        drawing.add(
            Rect(
                left,
                y0,
                plot_width,
                max(y1 - y0, 0.01),
                fillColor=BAND_COLOURS[name],
                strokeColor=None,
            )
        )
        drawing.add(
            String(
                left + plot_width + 3 * mm,
                (y0 + y1) / 2 - 2.5,
                name,
                fontSize=7,
                fillColor=colors.HexColor("#555555"),
            )
        )
    bottom = LinePlot()
    bottom.x, bottom.y, bottom.width, bottom.height = left, bottom_y, plot_width, bottom_h
    ratios = [(i, min(v, high_v)) for i, v in ratios]  # a spike off the scale stays on top
    bottom.data = [ratios] if ratios else [[(0, -1.0)]]
    bottom.lines[0].strokeColor = RATIO_COLOUR if ratios else None
    bottom.lines[0].strokeWidth = 1.4
    bottom.yValueAxis.valueMin, bottom.yValueAxis.valueMax = low_v, high_v
    bottom.yValueAxis.valueStep = 0.5
    axis(bottom, last=True)
    bottom.yValueAxis.visibleGrid = False
    drawing.add(bottom)
    drawing.add(
        Line(
            left + week_start * step - step / 2,
            bottom_y,
            left + week_start * step - step / 2,
            top_y + top_h,
            strokeColor=colors.HexColor("#9aa3ad"),
            strokeDashArray=[2, 2],
            strokeWidth=0.6,
        )
    )
    drawing.add(String(0, top_y + top_h + 1 * mm, "load (AU)", fontSize=7, fillColor=colors.grey))
    drawing.add(String(0, bottom_y + bottom_h + 1 * mm, "ACWR", fontSize=7, fillColor=colors.grey))
    return drawing


def _player_block(
    data: WeeklyData, player: PlayerWeek, styles: dict[str, ParagraphStyle]
) -> KeepTogether:
    status = player.status
    membership = status.membership
    jersey = f"#{membership.jersey_number} " if membership.jersey_number is not None else ""
    latest = status.latest_acwr
    facts = [
        f"status <font color='{STATUS_COLOURS[status.status].hexval().replace('0x', '#')}'>"
        f"<b>{status.status.replace('_', ' ')}</b></font>",
        f"ACWR {_number(latest.ratio)} ({latest.zone.replace('_', ' ')})" if latest else "no ACWR",
        f"week load {sum(d.internal_load_au for d in player.days):,} AU",
    ]
    return KeepTogether(
        [
            Paragraph(f"{jersey}{escape(player.name)}", styles["h2"]),
            Paragraph(" &middot; ".join(facts), styles["body"]),
            _player_chart(data, player),
            Spacer(1, 3 * mm),
        ]
    )


def _page_footer(data: WeeklyData) -> Any:
    def draw(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(18 * mm, 10 * mm, f"{data.team.name} - {data.label}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    return draw


def weekly_pdf(data: WeeklyData) -> bytes:
    """A4: a cover, the roster with coloured status and the team's daily load, then
    ``PLAYERS_PER_PAGE`` players a page, each with their ACWR chart over the zone bands."""
    styles = _styles()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{data.team.name} - weekly report {data.label}",
        author="Loadline",
    )
    story: list[Any] = _cover(data, styles)
    story += [
        Paragraph(f"Roster - {data.label}", styles["h1"]),
        Paragraph(
            f"Active players, {_day_range(data)}. Load AU is the week's sRPE load, PL the GPS "
            "PlayerLoad, attended the sessions attended of those recorded, wellness the mean "
            "daily total (days logged).",
            styles["small"],
        ),
        Spacer(1, 3 * mm),
        _roster_table(data, styles)
        if data.players
        else Paragraph("No active players.", styles["body"]),
        Spacer(1, 8 * mm),
        KeepTogether([Paragraph("Team daily load", styles["h1"]), _team_load_chart(data)]),
    ]
    for i, player in enumerate(data.players):
        if i % PLAYERS_PER_PAGE == 0:
            story += [PageBreak(), Paragraph(f"Players - {data.label}", styles["h1"])]
        story.append(_player_block(data, player, styles))
    document.build(story, onFirstPage=_page_footer(data), onLaterPages=_page_footer(data))
    return out.getvalue()
