"""The weekly coach report as a printable A4 PDF: a cover, the roster with each player's
status in colour and availability, the team's daily load planned and done
(:mod:`app.services.coach.weekly_team_chart`), and per player the acute and
chronic load over four weeks with the ratio over the team's zone bands.

Laid out with reportlab's platypus; the charts are drawn with reportlab's own graphics, so
no plotting library is needed.
"""

import io
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

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

from app.services.coach.weekly_data import CHART_DAYS, PlayerWeek, WeeklyData, number_text
from app.services.coach.weekly_team_chart import team_load_chart

PLAYERS_PER_PAGE = 3
STATUS_COLOURS = {
    "red": colors.HexColor("#d64541"),
    "amber": colors.HexColor("#f0a030"),
    "green": colors.HexColor("#3aa757"),
    "no_data": colors.HexColor("#b0b0b0"),
}
# Availability is text, darker than the status fills so the two are not mistaken for each
# other; available stays in the table's ink.
AVAILABILITY_COLOURS = {
    "unavailable": colors.HexColor("#a93226"),
    "modified": colors.HexColor("#b9770e"),
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
        "why": ParagraphStyle(
            "why", parent=base["BodyText"], fontSize=7.5, leading=9, textColor=INK
        ),
    }


def _day_range(data: WeeklyData) -> str:
    return f"{data.monday:%a %d %b %Y} - {data.sunday:%a %d %b %Y}"


def _status_day(data: WeeklyData) -> date:
    """The day the roster's status and availability are of: the week's last begun day."""
    return min(data.sunday, max(data.today, data.monday))


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
            f"of ACWR, wellness and HRV on {_status_day(data):%d %b}"
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
        "Availability",
    ]
    rows: list[list[Any]] = [header]
    fills: list[tuple[Any, ...]] = []
    shades = [colors.white, colors.HexColor("#f3f5f7")]
    for n, player in enumerate(data.players):
        i = len(rows)
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
                number_text(latest.ratio) if latest else "",
                (latest.zone.replace("insufficient_data", "insufficient") if latest else ""),
                f"{sum(d.internal_load_au for d in player.days):,}",
                f"{sum(d.external_load_pl for d in player.days):,.0f}",
                f"{attended}/{recorded}" if recorded else "-",
                f"{sum(totals) / len(totals):.1f} ({len(totals)}d)" if totals else "-",
                status.availability,
            ]
        )
        fills.append(("BACKGROUND", (3, i), (3, i), STATUS_COLOURS[status.status]))
        if status.availability in AVAILABILITY_COLOURS:
            fills.append(("TEXTCOLOR", (10, i), (10, i), AVAILABILITY_COLOURS[status.availability]))
            fills.append(("FONT", (10, i), (10, i), "Helvetica-Bold", 8.5))
        shade = shades[n % 2]
        fills += [("BACKGROUND", (0, i), (2, i), shade), ("BACKGROUND", (4, i), (-1, i), shade)]
        if status.reasons:  # why, in a row spanning the table under the player's
            why = "; ".join(escape(reason.detail) for reason in status.reasons)
            rows.append(["", Paragraph(f"<b>Why:</b> {why}", styles["why"])] + [""] * 9)
            fills += [
                ("SPAN", (1, i + 1), (-1, i + 1)),
                ("BACKGROUND", (0, i + 1), (-1, i + 1), shade),
                ("LINEBELOW", (0, i), (-1, i), 0.25, shade),
            ]
    table = Table(
        rows,
        colWidths=[
            8 * mm,
            40 * mm,
            16 * mm,
            15 * mm,
            12 * mm,
            18.5 * mm,
            16.5 * mm,
            12 * mm,
            17 * mm,
            17.5 * mm,
            20.5 * mm,
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
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (3, 0), (3, -1), "CENTER"),
                ("ALIGN", (4, 0), (9, -1), "RIGHT"),
                ("FONT", (3, 1), (3, -1), "Helvetica-Bold", 8.5),
                ("TEXTCOLOR", (3, 1), (3, -1), colors.white),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d5da")),
                *fills,
            ]
        )
    )
    return table


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
        f"ACWR {number_text(latest.ratio)} ({latest.zone.replace('_', ' ')})"
        if latest
        else "no ACWR",
        f"week load {sum(d.internal_load_au for d in player.days):,} AU",
        f"{status.availability} on {_status_day(data):%d %b}",
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


def render(data: WeeklyData) -> bytes:
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
            "daily total (days logged), availability the player's on "
            f"{_status_day(data):%d %b} from their health problems (the most restrictive "
            "of those open that day). Under a player who is not green, why: each amber or red "
            "signal with its numbers and rule.",
            styles["small"],
        ),
        Spacer(1, 3 * mm),
        _roster_table(data, styles)
        if data.players
        else Paragraph("No active players.", styles["body"]),
        Spacer(1, 8 * mm),
        KeepTogether([Paragraph("Team daily load", styles["h1"]), team_load_chart(data)]),
    ]
    for i, player in enumerate(data.players):
        if i % PLAYERS_PER_PAGE == 0:
            story += [PageBreak(), Paragraph(f"Players - {data.label}", styles["h1"])]
        story.append(_player_block(data, player, styles))
    document.build(story, onFirstPage=_page_footer(data), onLaterPages=_page_footer(data))
    return out.getvalue()
