"""The SERA conformance corpus (tests/data/sera-conformance/) is what its scripts produce.

- Its inputs are what make_inputs.py writes now, so an edit to the cases cannot be forgotten.
- With SERA_SOURCE set to a checkout of allenai/SERA or its bare git directory, generate.py is
  rerun against it and its outputs must equal the committed ones: the expected files are SERA's
  real outputs, not hand edits. Without SERA_SOURCE that test is skipped (CI has no copy of
  SERA; the Rust tests read the committed outputs).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "sera-conformance"


def load(name):
    spec = importlib.util.spec_from_file_location(name, CORPUS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed(path):
    return (CORPUS / path).read_text().splitlines()


def test_committed_inputs_are_what_make_inputs_writes():
    make_inputs = load("make_inputs")
    assert committed("inputs/trajectories.jsonl") == [json.dumps(c) for c in make_inputs.trajectories()]
    assert committed("inputs/recall-pairs.jsonl") == [json.dumps(p) for p in make_inputs.pairs()]
    assert committed("inputs/mini-trajectories.jsonl") == [json.dumps(c) for c in make_inputs.mini_trajectories()]


def test_the_corpus_is_as_large_as_the_quality_bar_asks():
    assert len(committed("inputs/trajectories.jsonl")) >= 60
    assert len(committed("inputs/recall-pairs.jsonl")) >= 300
    expected = [json.loads(line) for line in committed("expected/postprocess.jsonl")]
    assert {row["config"] for row in expected} >= {"hermes", "xml", "raw"}
    assert any(row["raised"] for row in expected) and any(row["row"] is None for row in expected)
    mini = [json.loads(line) for line in committed("expected/postprocess-mini.jsonl")]
    assert len(committed("inputs/mini-trajectories.jsonl")) >= 20 and len(mini) >= 200


@pytest.mark.skipif(not os.environ.get("SERA_SOURCE"), reason="SERA_SOURCE (a copy of allenai/SERA) is not set")
def test_expected_outputs_are_what_sera_produces(tmp_path):
    copy = tmp_path / "sera-conformance"
    shutil.copytree(CORPUS, copy)
    subprocess.run([sys.executable, str(copy / "generate.py"), "--sera", os.environ["SERA_SOURCE"]],
                   check=True, capture_output=True)
    for name in ["meta.json", "postprocess.jsonl", "postprocess-mini.jsonl", "recall.jsonl"]:
        assert (copy / "expected" / name).read_text() == (CORPUS / "expected" / name).read_text(), name
