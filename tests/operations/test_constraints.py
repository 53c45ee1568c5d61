"""constraints.txt pins every package the suite runs with, so an image built next month
installs what was tested, not whatever is newest (``make lock`` re-resolves it)."""

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[_name(name)] = version
    return pins


def test_every_dependency_of_the_project_is_pinned() -> None:
    pins = _pins()
    wanted = {_name(Requirement(r).name) for r in metadata.requires("loadline") or []}
    assert wanted - set(pins) == set(), "a dependency is not in constraints.txt: run make lock"


def test_the_suite_runs_on_the_pinned_versions() -> None:
    installed = {_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differing = {
        name: (pinned, installed[name])
        for name, pinned in _pins().items()
        if name in installed and installed[name] != pinned
    }
    assert differing == {}, "installed versions differ from constraints.txt (pinned, installed)"
