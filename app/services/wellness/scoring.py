"""Morning wellness scoring, pure: items 1 to 5 where 5 is best; the flag turns on the
worst item. No database and no service here, so the roster, the reports and the alerts
score an entry the same way."""

from typing import Literal

from app.models import WellnessLog

ITEMS = ("sleep_quality", "mood", "soreness", "stress", "fatigue")
Flag = Literal["red", "amber", "green"]


def score(values: list[int | None]) -> tuple[int, Flag]:
    """Total of the items given, and the flag: red if any is 1, amber if any is 2, else green."""
    given = [v for v in values if v is not None]
    if 1 in given:
        return sum(given), "red"
    if 2 in given:
        return sum(given), "amber"
    return sum(given), "green"


def score_log(log: WellnessLog) -> tuple[int, Flag]:
    """:func:`score` of a stored entry's items."""
    return score([getattr(log, item) for item in ITEMS])
