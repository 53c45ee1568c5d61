"""ACWR as stored, and the rules every reader of stored snapshots applies.

The figures a snapshot holds for its day (:data:`VALUE_COLUMNS`), a team's settings as the
model's parameters (:func:`params_of`), when an athlete's stored snapshots answer as they
are (:func:`is_current`, else a read refreshes first) and the zones of stored points
(:func:`zones_of`). Shared by the writer (:mod:`app.services.acwr.engine`), the read of a
series (:mod:`app.services.acwr.reads`) and the roster, reports and alerts, which read the
latest snapshots themselves. No database access here.
"""

from collections.abc import Sequence
from datetime import date

import numpy as np

from app.models import Team
from app.services.acwr import model as acwr
from app.services.platform.days import team_zone, today

# A snapshot's figures for its day, in the order the series statements return them.
VALUE_COLUMNS = (
    "load",
    "acute_ewma",
    "chronic_ewma",
    "ratio",
    "ratio_coupled",
    "ratio_uncoupled",
    "coverage",
)


def params_of(team: Team) -> acwr.AcwrParams:
    """The team's ACWR settings as the model's parameters."""
    return acwr.AcwrParams(
        method=team.acwr_method.value,
        acute_days=team.acwr_acute_days,
        chronic_days=team.acwr_chronic_days,
        low=team.acwr_low,
        high=team.acwr_high,
        danger=team.acwr_danger,
    )


def is_current(team: Team, computed_through: date | None, dirty_from: date | None) -> bool:
    """Whether an athlete's stored snapshots answer as they are: computed through the
    team's today and not marked dirty by a write since (else a read refreshes first)."""
    return dirty_from is None and computed_through == today(team_zone(team))


def zones_of(
    params: acwr.AcwrParams,
    first_load_day: date | None,
    days: Sequence[date],
    ratios: Sequence[float | None],
    coverages: Sequence[float],
) -> list[str]:
    """Zones of stored points, by the one rule of :func:`app.services.acwr.model.zone`."""
    if first_load_day is None:
        since = np.zeros(len(days), dtype=np.int64)
    elif days and (days[-1] - days[0]).days == len(days) - 1:  # consecutive: a series
        since = np.arange(len(days), dtype=np.int64) + ((days[0] - first_load_day).days + 1)
    else:
        offsets = np.array(days, dtype="datetime64[D]") - np.datetime64(first_load_day, "D")
        since = offsets.astype(np.int64) + 1
    labels = acwr.zone(
        np.array(ratios, dtype=np.float64),  # None becomes NaN
        since,
        np.array(coverages, dtype=np.float64),
        params.chronic_days,
        params.low,
        params.high,
        params.danger,
    )
    zones: list[str] = labels.tolist()
    return zones
