"""What an export holds: every file, and every column or field of it, described once.

The CSV headers are these column names (the readers of :mod:`app.services.privacy.export`
yield their cells in this order) and ``README.txt`` is written from the same text, so the
description an athlete reads is the one of the file they got.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFile:
    name: str
    about: str
    columns: tuple[tuple[str, str], ...]  # (column or field, what it holds)

    @property
    def header(self) -> list[str]:
        return [name for name, _ in self.columns]


PROFILE = ExportFile(
    "profile.json",
    "The account and the memberships exported (JSON).",
    (
        ("exported_at", "When this export was made (UTC, RFC 3339)."),
        ("user.id", "The account's id."),
        ("user.email", "The account's email address."),
        ("user.full_name", "The name on the account."),
        ("user.is_admin", "Whether the account administers the service."),
        ("user.created_at", "When the account was created."),
        ("memberships[].id", "The membership's id (a person's place in one team)."),
        ("memberships[].team_id", "The team's id."),
        ("memberships[].team_name", "The team's name."),
        ("memberships[].role", "PLAYER, COACH, MEDICAL or OWNER."),
        ("memberships[].active", "false once the member left the team or was erased."),
        ("memberships[].primary_position", "The position given by staff, e.g. Winger."),
        ("memberships[].jersey_number", "The jersey number given by staff."),
        ("memberships[].external_ref", "The athlete's id in the team's GPS system."),
        ("memberships[].created_at", "When the membership was created."),
        ("memberships[].folder", "The folder of this export holding that membership's files."),
    ),
)

README = ExportFile("README.txt", "This file: what every file and column of the export holds.", ())

SESSION_DAY = "The session's calendar day in the team's time zone."

MEMBER_FILES = (
    ExportFile(
        "wellness.csv",
        "Morning wellness check-ins, one row per day with an entry. Items 1 to 5, 5 best.",
        (
            ("id", "The entry's id."),
            ("date", "The day the entry is for (YYYY-MM-DD)."),
            ("sleep_quality", "Sleep quality, 1 to 5 (5 best)."),
            ("mood", "Mood, 1 to 5 (5 best)."),
            ("soreness", "Muscle soreness, 1 to 5 (5 means no soreness)."),
            ("stress", "Stress, 1 to 5 (5 means very relaxed); empty when not given."),
            ("fatigue", "Fatigue, 1 to 5 (5 best); empty when not given."),
            ("notes", "The athlete's free-text notes."),
            ("total", "Sum of the items given."),
            (
                "flag",
                "red if any item is 1, else amber if any is 2, else green; raised (never "
                "lowered) by the athlete's own 28-day baseline: an item 2 SD or more below "
                "its mean makes it red, 1 SD amber (at least 14 entries in the 28 days).",
            ),
            ("flag_reason", "Which item and rule set a flag that is not green; empty when green."),
        ),
    ),
    ExportFile(
        "srpe.csv",
        "Session ratings of perceived exertion (sRPE), one row per rated session.",
        (
            ("id", "The rating's id."),
            ("session_id", "The training session's id."),
            ("session_day", SESSION_DAY),
            ("session_title", "The session's title."),
            ("rpe_0_10", "Perceived exertion, 0.0 to 10.0 (CR-10 scale)."),
            ("duration_min", "Minutes the rating counts for."),
            ("load_au", "Internal load in arbitrary units: round(rpe_0_10 x duration_min)."),
        ),
    ),
    ExportFile(
        "attendance.csv",
        "Attendance recorded by staff, one row per session.",
        (
            ("session_id", "The training session's id."),
            ("session_day", SESSION_DAY),
            ("session_title", "The session's title."),
            ("status", "PRESENT, ABSENT, EXCUSED or LATE."),
            ("minutes_participated", "Minutes taken part (0 when not recorded)."),
        ),
    ),
    ExportFile(
        "daily_loads.csv",
        "Daily load totals, one row per day that has any (other days count as 0).",
        (
            ("date", "The day (YYYY-MM-DD)."),
            ("internal_load_au", "Sum of the day's sRPE loads (arbitrary units)."),
            ("external_load_pl", "Sum of the day's GPS PlayerLoad."),
        ),
    ),
    ExportFile(
        "external_loads.csv",
        "GPS summaries pushed by the team's GPS system or imported by staff, as stored.",
        (
            ("id", "The summary's id."),
            ("date", "The day it counts on."),
            ("source", "WEBHOOK (pushed by a GPS bridge) or CSV (imported by staff)."),
            ("player_load", "PlayerLoad."),
            ("distance_m", "Distance in metres; empty when not given."),
            ("hsr_m", "High-speed running in metres; empty when not given."),
            ("sprints", "Number of sprints; empty when not given."),
        ),
    ),
    ExportFile(
        "acwr.csv",
        "Acute:chronic workload ratio per day (EWMA), from the first day with activity. "
        "Zones describe load spikes; they are not injury predictions.",
        (
            ("source", "INTERNAL (from sRPE) or EXTERNAL (from GPS load)."),
            ("date", "The day."),
            ("load", "The day's load."),
            ("acute_ewma", "Acute exponentially weighted moving average of the load."),
            ("chronic_ewma", "Chronic exponentially weighted moving average of the load."),
            ("ratio", "acute_ewma / chronic_ewma."),
            ("ratio_coupled", "Mean of the acute window / mean of the chronic window."),
            ("ratio_uncoupled", "Mean of the acute window / mean of the days before it."),
            ("coverage", "Share of attended sessions of the chronic window with an sRPE."),
            ("zone", "insufficient_data, low, optimal, high or danger, by the team's settings."),
        ),
    ),
    ExportFile(
        "hrv.csv",
        "Heart-rate variability, one row per day with a value.",
        (
            ("date", "The day."),
            ("rmssd_ms", "rMSSD in milliseconds that counts for the day (a device over MANUAL)."),
            ("ln_rmssd", "Natural logarithm of rmssd_ms."),
            ("rolling7_ln_mean", "Mean ln rMSSD of the 7 days ending on the day."),
            ("baseline_ln_mean", "Mean ln rMSSD of the 60 days before the day."),
            ("baseline_ln_sd", "Sample SD of ln rMSSD of the 60 days before the day."),
            ("flag", "below, normal or above: the rolling mean against the baseline."),
        ),
    ),
    ExportFile(
        "ostrc.csv",
        "Weekly OSTRC-H2 questionnaire answers (answers as indices, see the questionnaire).",
        (
            ("id", "The answer's id."),
            ("week", "The ISO week answered for (YYYY-Www)."),
            ("q1", "Participation, 0 to 3."),
            ("q2", "Training volume reduced, 0 to 4."),
            ("q3", "Performance affected, 0 to 4."),
            ("q4", "Symptoms, 0 to 3."),
            ("severity", "Sum of the four scores, 0 to 100."),
            ("substantial", "True when q2 >= 2, q3 >= 2 or q1 = 3."),
            ("problem_id", "The health problem the answer is about; empty for none."),
        ),
    ),
    ExportFile(
        "health_problems.json",
        "Injuries and illnesses (JSON array), with their clinical fields: it is the "
        "athlete's own data.",
        (
            ("id", "The problem's id."),
            ("membership_id", "This membership."),
            ("kind", "INJURY or ILLNESS."),
            ("onset_date", "The day it began."),
            ("context", "TRAINING, MATCH or OTHER."),
            ("session_id", "The session it happened in, if any."),
            ("body_area", "Where (e.g. THIGH)."),
            ("side", "LEFT, RIGHT, BOTH or NONE."),
            ("mechanism", "ACUTE or GRADUAL."),
            ("summary", "The text meant for the coaches."),
            ("expected_return", "The expected day of return."),
            ("resolved_on", "The day it was resolved."),
            ("stages", "Availability from each day on: [{from, availability}]."),
            ("availability_today", "Availability on the day of the export."),
            ("days_lost", "Days with availability UNAVAILABLE or MODIFIED."),
            ("reported_by", "The user id of whoever recorded it."),
            ("created_at", "When it was recorded."),
            ("updated_at", "When it last changed."),
            ("diagnosis", "The diagnosis (clinical, written by medical staff)."),
            ("osiics_code", "The OSIICS code (clinical)."),
            ("clinical_notes", "Clinical notes (clinical)."),
        ),
    ),
    ExportFile(
        "devices.json",
        "Linked wearable accounts (JSON array); their access tokens are never exported.",
        (
            ("id", "The link's id."),
            ("provider", "WHOOP or OURA."),
            ("external_user_id", "The athlete's user id at the vendor."),
            ("status", "active, reauth_required or revoked."),
            ("linked_at", "When it was linked."),
        ),
    ),
    ExportFile(
        "audit.csv",
        "Who read or changed this membership's health data, and every export and erasure.",
        (
            ("id", "The entry's id."),
            ("at", "When (UTC, RFC 3339)."),
            ("actor_user_id", "The user who did it; empty for the service's own jobs."),
            ("action", "read, create, update, delete, export or erase."),
            ("resource", "health_problem, ostrc, wellness, hrv or member."),
            ("team_id", "The team."),
            ("membership_id", "This membership."),
            ("resource_id", "The record concerned (e.g. the health problem's id), if any."),
            ("request_id", "The request's id (X-Request-ID), to match the service's logs."),
        ),
    ),
)


def folder_of(team_id: int, membership_id: int) -> str:
    return f"team-{team_id}-membership-{membership_id}"


def readme() -> str:
    """``README.txt``: every file and, for each, every column (or JSON field) described."""
    lines = [
        "Loadline data export",
        "====================",
        "",
        "profile.json describes the account; each membership (a place in one team) has a",
        "folder team-<team id>-membership-<membership id>/ with the files below. CSV files",
        "are UTF-8 with a header row; a text cell that would start like a spreadsheet",
        "formula (= + - @) is prefixed with an apostrophe. Dates are YYYY-MM-DD in the",
        "team's time zone, times are UTC (RFC 3339).",
        "",
    ]
    for file in (README, PROFILE, *MEMBER_FILES):
        where = "" if file in (README, PROFILE) else "<folder>/"
        lines += [f"{where}{file.name}", f"  {file.about}"]
        lines += [f"  - {name}: {about}" for name, about in file.columns]
        lines.append("")
    return "\n".join(lines)
