"""The event contracts match their committed snapshots (run `make snapshots` after a reviewed
change), and no snapshot is left without its contract."""

import pytest

from tests.contract.snapshots import SNAPSHOTS, current_schemas, render

SCHEMAS = current_schemas()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_schema_matches_its_committed_snapshot(name: str) -> None:
    path = SNAPSHOTS / f"{name}.json"
    assert path.exists(), f"no snapshot for {name}: run `make snapshots` and commit it"
    assert path.read_text() == render(SCHEMAS[name]), (
        f"the contract {name} changed. If the change is additive, run `make snapshots`; if it "
        "breaks consumers, register a new versioned type instead"
    )


def test_every_snapshot_still_has_a_contract() -> None:
    orphans = {p.stem for p in SNAPSHOTS.glob("*.json")} - set(SCHEMAS)
    assert not orphans, f"snapshots without a contract (a removed event type?): {orphans}"
