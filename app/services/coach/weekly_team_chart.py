"""The weekly PDF's team chart: per day, the load the squad was planned to do beside the load
it did (sums over the active players, in AU), so a coach sees at a glance where a session
came out harder or lighter than planned."""

from reportlab.graphics.charts.barcharts import VerticalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.charts.legends import Legend  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]

from app.services.coach.weekly_data import WeeklyData

TITLE = "Team load per day: planned vs actual (AU)"
PLANNED_COLOUR = colors.HexColor("#a9c7e8")
ACTUAL_COLOUR = colors.HexColor("#1f5f9f")  # weekly_pdf's acute-load blue


def team_load_chart(data: WeeklyData) -> Drawing:
    """Planned (sum of planned RPE x minutes of the sessions each player was due at) and
    actual (sum of sRPE loads) bars per day of the week."""
    width, height = 170 * mm, 70 * mm
    drawing = Drawing(width, height)
    actual = [sum(p.days[i].internal_load_au for p in data.players) for i in range(7)]
    planned = [sum(p.days[i].planned_au or 0 for p in data.players) for i in range(7)]
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = (
        14 * mm,
        10 * mm,
        width - 20 * mm,
        height - 22 * mm,
    )
    chart.data = [planned, actual]
    chart.categoryAxis.categoryNames = [f"{d:%a %d}" for d in data.days]
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(100, max(planned + actual) * 1.15)
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e3e6ea")
    chart.groupSpacing = 8
    chart.barSpacing = 1
    for index, colour in enumerate((PLANNED_COLOUR, ACTUAL_COLOUR)):
        chart.bars[index].fillColor = colour
        chart.bars[index].strokeColor = None
    chart.barLabelFormat = "%d"
    chart.barLabels.fontSize = 6
    chart.barLabels.nudge = 5
    drawing.add(chart)
    drawing.add(String(0, height - 6, TITLE, fontSize=9))
    legend = Legend()
    legend.x, legend.y = width - 62 * mm, height - 3
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontSize = 7.5
    legend.dx, legend.dy, legend.deltax = 7, 7, 60
    legend.colorNamePairs = [(PLANNED_COLOUR, "planned"), (ACTUAL_COLOUR, "actual (sRPE)")]
    drawing.add(legend)
    return drawing
