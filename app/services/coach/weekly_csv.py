"""The weekly coach report as CSV: one row per active player and day of the week.

``availability`` is the player's availability of that day (available, modified or
unavailable, from their health problems), empty for the days after today. ``planned_au``
beside ``internal_load_au`` is the day's planned load (planned RPE x minutes) of the
sessions the player was not marked absent or excused for, empty when none had a plan.

Cells go through :class:`app.services.platform.spreadsheets.SafeCsvWriter`, so a name a
spreadsheet would run as a formula is written as text.
"""

import io

from app.services.coach.weekly_data import WeeklyData, number_text
from app.services.platform.spreadsheets import SafeCsvWriter

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
    "planned_au",
    "external_load_pl",
    "acute_ewma",
    "chronic_ewma",
    "acwr",
    "acwr_zone",
    "wellness_total",
    "wellness_flag",
    "availability",
)


def render(data: WeeklyData) -> str:
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
                    "" if day.planned_au is None else day.planned_au,
                    number_text(day.external_load_pl, 1),
                    number_text(day.acute, 1),
                    number_text(day.chronic, 1),
                    number_text(day.ratio),
                    day.zone,
                    "" if day.wellness_total is None else day.wellness_total,
                    day.wellness_flag or "",
                    day.availability,
                )
            )
    return out.getvalue()
