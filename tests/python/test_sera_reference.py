"""The SERA oracle's committed output (tests/data/trajectories/sera/expected-hermes.jsonl, read by
sera-dataset's import -> hermes equivalence test) is what sera_reference.py computes now."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sera_reference  # noqa: E402


def test_expected_hermes_rows_are_fresh():
    committed = [json.loads(line) for line in (sera_reference.DATA / "expected-hermes.jsonl").read_text().splitlines()]
    assert committed == sera_reference.expected_rows()


def test_sera_drops_the_row_whose_assistant_answers_without_a_tool_call():
    rows = sera_reference.expected_rows()
    assert rows[0]["messages"] is not None and rows[1]["messages"] is None
