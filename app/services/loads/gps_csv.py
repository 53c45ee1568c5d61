"""CSV imports of GPS load: Catapult OpenField, STATSports and plain-column exports.

An import reads what an export means, never guesses it: an athlete is found by
external_ref, then jersey number, then full name (``app.services.loads.athletes``); a date
is ``YYYY-MM-DD`` or ``DD/MM/YYYY``; a row that cannot be read is reported with its line
and the rest is stored as external load (``app.services.loads.external``), all in the
caller's transaction.
"""

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid, TooLarge
from app.models import ExternalLoadSource, Team
from app.schemas.external_loads import MAX_DISTANCE_M, MAX_PLAYER_LOAD, MAX_SPRINTS
from app.services.loads import athletes, external
from app.services.loads.external import NewLoad
from app.services.platform.days import team_zone, today

if TYPE_CHECKING:
    from _csv import Reader

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
HEADER_SEARCH_RECORDS = 100


# --- CSV import: the header -----------------------------------------------------------

# Normalised header names (lower case, letters and digits only) per field, in order of
# preference. STATSports has no PlayerLoad: "Total Loading" (its accelerometer load) is
# taken, else "Dynamic Stress Load".
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "ref": ("athleteref", "externalref", "playerid", "athleteid"),
    "jersey": ("jersey", "jerseynumber", "shirtnumber", "squadnumber", "number"),
    "name": ("playername", "athletename", "playerdisplayname", "name", "athlete", "player"),
    "date": ("date", "sessiondate", "activitydate", "drilldate"),
    "player_load": ("playerload", "totalplayerload", "totalloading", "dynamicstressload"),
    "distance_m": ("distancem", "totaldistance", "totaldistancem", "distance"),
    "hsr_m": (
        "hsrm",
        "highspeedrunningabsolute",
        "hsrdistance",
        "highspeedrunning",
        "highspeeddistance",
        "hsr",
    ),
    "sprints": ("sprints", "sprintefforts", "sprintcount", "numberofsprints"),
    "split": ("periodname", "drilltitle", "drillname", "splitname", "period"),
}
ATHLETE_FIELDS = ("ref", "jersey", "name")
# A period or drill named like this is the whole session; its parts are then not added.
WHOLE_SESSION = frozenset(
    {"session", "entiresession", "fullsession", "wholesession", "sessiontotal", "total", "all"}
)


def normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


@dataclass(frozen=True)
class Column:
    index: int
    header: str


@dataclass
class Table:
    """The export's data records, numbered with the header as line 1."""

    columns: dict[str, Column]
    records: list[tuple[int, list[str]]] = field(default_factory=list)
    default_date: str = ""
    decimal_comma: bool = False

    def cell(self, cells: list[str], name: str) -> str:
        column = self.columns.get(name)
        if column is None or column.index >= len(cells):
            return ""
        return cells[column.index].strip()


def map_columns(cells: list[str]) -> dict[str, Column]:
    """Each field's column: the first header matching its most preferred alias."""
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        positions.setdefault(normalise(cell), index)
    columns: dict[str, Column] = {}
    for name, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            if alias in positions:
                columns[name] = Column(positions[alias], cells[positions[alias]].strip())
                break
    return columns


def read_table(content: bytes) -> Table:
    """Decode, find the header (after OpenField's metadata block, if any) and read rows."""
    text = _decode(content)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        table, header_line = _find_header(reader)
        table.decimal_comma = delimiter != ","
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(table.records) >= MAX_IMPORT_ROWS:
                raise TooLarge(f"A file may hold at most {MAX_IMPORT_ROWS} rows")
            table.records.append((reader.line_num - header_line + 1, cells))
    except csv.Error as exc:
        raise Invalid(f"The file is not a readable CSV: {exc}", field=("body", "file")) from None
    return table


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 as Excel writes it."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise Invalid("The file is not valid UTF-16", field=("body", "file")) from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            return content.decode("latin-1")


def _delimiter(text: str) -> str:
    """The separator used most on one line among the first lines: ',', ';' or tab."""
    lines = text.splitlines()[:HEADER_SEARCH_RECORDS]
    counts = {sep: max((line.count(sep) for line in lines), default=0) for sep in ",;\t"}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _find_header(reader: "Reader") -> tuple[Table, int]:
    default_date = ""
    for records_read, cells in enumerate(reader, start=1):
        columns = map_columns(cells)
        if "player_load" in columns and any(name in columns for name in ATHLETE_FIELDS):
            if "date" not in columns and not default_date:
                raise Invalid(
                    "The header has no date column (Date or Session Date)", field=("body", "file")
                )
            return Table(columns, default_date=default_date), reader.line_num
        if len(cells) > 1 and normalise(cells[0]) == "date" and cells[1].strip():
            default_date = cells[1].strip()  # OpenField's metadata line "Date:,03/11/2026"
        if records_read >= HEADER_SEARCH_RECORDS:
            break
    raise Invalid(
        "No header found: expected athlete_ref,date,player_load[,distance_m,hsr_m,sprints] "
        "or a Catapult OpenField or STATSports export (a player and a player load column)",
        field=("body", "file"),
    )


# --- CSV import: values --------------------------------------------------------------

_MISSING = frozenset({"", "na", "n/a", "-", "--", "null", "none", "nan"})
_POINT_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_COMMA_NUMBER = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})")
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")


def read_number(text: str, decimal_comma: bool) -> float | None:
    """A plain decimal (a comma as decimal mark only in ';' or tab files); None if empty.

    Thousands separators are refused: "1,234" could mean either, so it is not guessed.
    """
    if text.casefold() in _MISSING:
        return None
    if _POINT_NUMBER.fullmatch(text):
        return float(text)
    if decimal_comma and _COMMA_NUMBER.fullmatch(text):
        return float(text.replace(",", "."))
    raise ValueError(f"unreadable number {text!r}")


def _calendar(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _slash_readings(text: str) -> tuple[date | None, date | None] | None:
    """A slashed date read day-first and month-first; None when it is not one."""
    match = _SLASH_DATE.fullmatch(_TIME_SUFFIX.sub("", text.strip()))
    if match is None or len(match.group(3)) != 4:
        return None
    first, second, year = match.groups()
    return _calendar(year, second, first), _calendar(year, first, second)


def is_month_first_only(text: str) -> bool:
    """A date only readable as MM/DD/YYYY (e.g. 11/25/2026): the file is month-first."""
    readings = _slash_readings(text)
    return readings is not None and readings[0] is None and readings[1] is not None


def read_date(text: str, month_first_file: bool) -> date:
    """ISO ``YYYY-MM-DD``, or ``DD/MM/YYYY`` (also with '.' or '-'); a time after it is ignored.

    A slashed date with one possible reading is taken; with two (04/11/2026) it is read
    day-first, unless the same file has a month-first-only date, which makes it ambiguous:
    reported, not guessed. Two-digit years are ambiguous too.
    """
    core = _TIME_SUFFIX.sub("", text.strip())
    if match := _ISO_DATE.fullmatch(core):
        iso = _calendar(*match.groups())
        if iso is None:
            raise ValueError(f"not a calendar date: {text!r}")
        return iso
    match = _SLASH_DATE.fullmatch(core)
    if match is None:
        raise ValueError(f"unreadable date {text!r}: use YYYY-MM-DD or DD/MM/YYYY")
    if len(match.group(3)) == 2:
        raise ValueError(f"ambiguous date {text!r}: two-digit year; use YYYY-MM-DD")
    day_first, month_first = _slash_readings(core) or (None, None)
    if day_first and month_first and day_first != month_first and month_first_file:
        raise ValueError(
            f"ambiguous date {text!r}: this file also has month-first (MM/DD/YYYY) dates; "
            "use YYYY-MM-DD"
        )
    result = day_first or month_first
    if result is None:
        raise ValueError(f"not a calendar date: {text!r}")
    return result


# --- CSV import: rows ----------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True)
class CsvRow:
    """One data row, its values read; the athlete is still as written in the file."""

    line: int
    ref: str
    jersey: str
    name: str
    day: date
    split: str
    player_load: float
    distance_m: float | None
    hsr_m: float | None
    sprints: int | None


@dataclass(frozen=True)
class ImportOutcome:
    rows: int
    imported: int
    skipped: int
    errors: list[RowError]


def read_rows(table: Table, local_today: date) -> tuple[list[CsvRow], list[RowError]]:
    """Read every row's date and numbers; each unreadable row is one error with its reasons."""
    month_first = any(
        is_month_first_only(table.cell(cells, "date") or table.default_date)
        for _, cells in table.records
    )
    rows: list[CsvRow] = []
    errors: list[RowError] = []
    for line, cells in table.records:
        row = _read_row(table, line, cells, month_first, local_today)
        if isinstance(row, CsvRow):
            rows.append(row)
        else:
            errors.append(RowError(line, row))
    return rows, errors


_VALUE_LIMITS = {
    "player_load": MAX_PLAYER_LOAD,
    "distance_m": MAX_DISTANCE_M,
    "hsr_m": MAX_DISTANCE_M,
    "sprints": float(MAX_SPRINTS),
}


def _read_row(
    table: Table, line: int, cells: list[str], month_first: bool, local_today: date
) -> CsvRow | str:
    """The row's values, or every reason it cannot be read, joined."""
    day = _row_day(table.cell(cells, "date") or table.default_date, month_first, local_today)
    problems = [day] if isinstance(day, str) else []
    values: dict[str, float | None] = {}
    for name, limit in _VALUE_LIMITS.items():
        value = _row_value(table, cells, name, limit)
        if isinstance(value, str):
            problems.append(value)
        else:
            values[name] = value
    if "player_load" in values and values["player_load"] is None:
        problems.append(f"{table.columns['player_load'].header}: missing")
    if not any(table.cell(cells, name) for name in ATHLETE_FIELDS):
        problems.append("no athlete given")
    load, sprints = values.get("player_load"), values.get("sprints")
    if problems or isinstance(day, str) or load is None:
        return "; ".join(problems)
    return CsvRow(
        line=line,
        ref=table.cell(cells, "ref"),
        jersey=table.cell(cells, "jersey"),
        name=table.cell(cells, "name"),
        day=day,
        split=table.cell(cells, "split"),
        player_load=load,
        distance_m=values.get("distance_m"),
        hsr_m=values.get("hsr_m"),
        sprints=None if sprints is None else int(sprints),
    )


def _row_day(text: str, month_first: bool, local_today: date) -> date | str:
    if not text:
        return "date: missing"
    try:
        day = read_date(text, month_first)
    except ValueError as exc:
        return f"date: {exc}"
    return external.day_problem(day, local_today) or day


def _row_value(table: Table, cells: list[str], name: str, limit: float) -> float | str | None:
    """The column's number, None when absent, or why it cannot be read."""
    column = table.columns.get(name)
    if column is None:
        return None
    try:
        value = read_number(table.cell(cells, name), table.decimal_comma)
    except ValueError as exc:
        return f"{column.header}: {exc}"
    if value is None:
        return None
    if not 0 <= value <= limit:
        return f"{column.header}: {value:g} is outside 0 to {limit:g}"
    if name == "sprints" and not value.is_integer():
        return f"{column.header}: {value:g} is not a whole number"
    return value


# --- CSV import: the whole file --------------------------------------------------------


async def import_csv(db: AsyncSession, team: Team, content: bytes) -> ImportOutcome:
    """Import an export's rows; unreadable rows are reported, the rest stored in this
    transaction. Each row's event_key is the file's hash and the row's line, so importing
    the same file again stores nothing new (those rows count as skipped)."""
    if not content.strip():
        raise Invalid("The file is empty", field=("body", "file"))
    table = read_table(content)
    rows, errors = read_rows(table, today(team_zone(team)))
    roster = await athletes.load_roster(db, team.id)
    identified: list[tuple[CsvRow, int]] = []
    for row in rows:
        found = roster.identify(row.ref, row.jersey, row.name)
        if isinstance(found, str):
            errors.append(RowError(row.line, found))
        else:
            identified.append((row, found))
    digest = hashlib.sha256(content).hexdigest()
    loads = [_csv_load(row, member, digest) for row, member in whole_sessions_only(identified)]
    stored = await external.store_loads(db, team.id, ExternalLoadSource.CSV, loads)
    await external.recompute_touched(db, team.id, stored)
    return ImportOutcome(
        rows=len(table.records),
        imported=len(stored),
        skipped=len(identified) - len(stored),
        errors=sorted(errors, key=lambda error: error.line),
    )


def _csv_load(row: CsvRow, membership_id: int, digest: str) -> NewLoad:
    return NewLoad(
        membership_id=membership_id,
        day=row.day,
        event_key=f"csv:{digest}:{row.line}",
        player_load=row.player_load,
        distance_m=row.distance_m,
        hsr_m=row.hsr_m,
        sprints=row.sprints,
    )


def whole_sessions_only(identified: list[tuple[CsvRow, int]]) -> list[tuple[CsvRow, int]]:
    """Drop period or drill rows of an athlete's day that has a whole-session row.

    OpenField ("Period Name") and STATSports ("Drill Title") can export a session's total
    beside its parts; adding both would double the load. Without a total row the parts
    are the only record of the day, and they add up.
    """

    def is_part(row: CsvRow) -> bool:
        split = normalise(row.split)
        return bool(split) and split not in WHOLE_SESSION

    whole = {(member, row.day) for row, member in identified if not is_part(row)}
    return [
        (row, member)
        for row, member in identified
        if not (is_part(row) and (member, row.day) in whole)
    ]
