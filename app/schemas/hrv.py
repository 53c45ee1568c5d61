"""Heart-rate variability: manual rMSSD entries and the per-day series."""

import datetime as dt
from typing import Literal

from pydantic import Field

from app.models import HrvSource
from app.schemas.base import Day, Schema

RMSSD_DESCRIPTION = "Morning rMSSD in milliseconds, above 0 and at most 300."


class HrvCreate(Schema):
    date: Day = Field(description="The day of the measurement; not in the future (team's zone).")
    rmssd_ms: float = Field(
        gt=0, le=300, strict=True, allow_inf_nan=False, description=RMSSD_DESCRIPTION
    )
    source: Literal["MANUAL"] = Field(
        "MANUAL",
        description="Only MANUAL is accepted here; linked devices (WHOOP, OURA) write their "
        "own values.",
    )


class Hrv(Schema):
    date: dt.date
    rmssd_ms: float
    ln_rmssd: float = Field(description="Natural logarithm of rmssd_ms.")
    source: HrvSource


class HrvDay(Schema):
    date: dt.date
    rmssd_ms: float | None = Field(
        description="The value that counts for the day: a device's (WHOOP, OURA) wins over "
        "MANUAL; of two devices, the most recently updated. Null on a day without a value."
    )
    ln_rmssd: float | None = Field(description="Natural logarithm of rmssd_ms.")
    rolling7_ln_mean: float | None = Field(
        description="Mean ln rMSSD of the 7 days ending on this day; null with fewer than 3 values."
    )
    baseline_ln_mean: float | None = Field(
        description="Mean ln rMSSD of the 60 days before this day (this day excluded); null "
        "with fewer than 14 values."
    )
    baseline_ln_sd: float | None = Field(
        description="Sample SD (n - 1) of the same 60 days' ln rMSSD; null with fewer than 14 "
        "values."
    )
    flag: Literal["below", "normal", "above"] | None = Field(
        description="below when rolling7_ln_mean < baseline_ln_mean - 0.5 x baseline_ln_sd "
        "(the smallest worthwhile change, Plews et al.), above when > baseline_ln_mean + "
        "0.5 x baseline_ln_sd, else normal (the band edges are normal); null when the rolling "
        "mean or the baseline is null."
    )
