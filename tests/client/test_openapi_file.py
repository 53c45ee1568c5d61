"""docs/openapi.json, the document clients are generated from, is the app's live schema."""

import json
from pathlib import Path

from app.cli import main, openapi_document

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _differences(committed: dict[str, object], live: dict[str, object]) -> list[str]:
    """The paths and components that differ, so the failure says where the API moved."""
    names = []
    for section, key in (("paths", None), ("components", "schemas")):
        old, new = committed.get(section, {}), live.get(section, {})
        assert isinstance(old, dict) and isinstance(new, dict)
        if key is not None:
            old, new = old.get(key, {}), new.get(key, {})
        names += [
            f"{section} {name}"
            for name in sorted(old.keys() | new.keys())
            if old.get(name) != new.get(name)
        ]
    return names or ["formatting or top-level fields"]


def test_committed_document_is_the_live_schema() -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")
    live = openapi_document()
    if committed != live:
        changed = _differences(json.loads(committed), json.loads(live))
        raise AssertionError(
            "docs/openapi.json is stale: run `make openapi` and commit it. Changed: "
            + ", ".join(changed[:20])
        )


def test_export_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    main(["openapi", "--output", str(first)])
    main(["openapi", "--output", str(second)])
    text = first.read_text(encoding="utf-8")
    assert text == second.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
