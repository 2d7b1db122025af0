"""Runs SERA's own post-processing and recall code on the inputs of this corpus and writes what
it produces, so that sera-rs can be checked against SERA byte for byte.

Upstream: allenai/SERA at commit 1ca8673bd527b164dc9eb89841c96416ec8ce1a7 (2026-05-25). The
expected outputs in expected/ were produced by running this script against that commit.

    python3 tests/data/sera-conformance/generate.py --sera PATH [--allow-other-commit]

PATH is a checkout of allenai/SERA or its bare git directory (e.g. the mirror the search tool's
`fetch github:allenai/SERA` returns); a bare directory is exported with `git archive HEAD` to a
temporary folder. Nothing of SERA is copied into this repository: its modules are imported from
PATH at run time.

What runs, unchanged, from SERA:
- `sera/datagen/data/postprocess/postprocess.py`: `format_and_save` (which calls
  `get_raw_trajectories`, `transform_traj_hermes`/`_xml`/`_raw`, `add_train_key`,
  `reformat_assistant_message` and `dump_jsonl`), with `sera/config_schema.py`'s
  `PostprocessConfig` and `sera/constants.py`'s prompts and tool schemas;
- `sera/datagen/data/eval/eval.py`: `compare_patch_recall`.

What is replaced: `sera/utils.py` imports API clients (anthropic, litellm, openai), networkx and
the Hugging Face filter module, none of which the code above touches. The script gives Python a
`sera.utils` module made of the real definitions of `dump_jsonl`, `load_yaml`,
`get_sweagent_patch`, `get_mini_sweagent_patch` and `ExperimentFolder`, taken from that file's
syntax tree and executed as written, without its imports. Needs: omegaconf, tqdm, jinja2, pyyaml.

How the outputs are read:
- Post-processing: every trajectory of inputs/trajectories.jsonl is laid out alone in a folder
  as `<id>/<id>.traj` and run through `format_and_save` under each configuration of CONFIGS.
  expected/postprocess.jsonl has one line per (configuration, trajectory): the row SERA wrote, or
  null when it wrote none. Where SERA raises (an assistant turn whose `tool_calls` is null or
  missing: `transform_traj_hermes` calls an undefined `convert_xml_hermes`, and a missing key is
  a KeyError), the whole SERA run would stop; `raised` records the exception, and the row is what
  SERA writes for the same trajectory with those `tool_calls` set to `[]` (the nearest input it
  accepts), which is what sera-rs is held to.
- Recall: `compare_patch_recall` returns only `recall >= threshold` (or None). The exact recall
  is recovered from it by bisection over the bit patterns of the threshold: the largest float
  threshold for which it answers True is m/n itself. expected/recall.jsonl also records its
  answers at thresholds 0, 0.5 and 1.
"""

import argparse
import ast
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
UPSTREAM_COMMIT = "1ca8673bd527b164dc9eb89841c96416ec8ce1a7"

# Configurations of SERA's `postprocess` section. Each starts from PostprocessConfig's defaults
# (tool_call_format hermes, add_think False, add_train_key True, include_tool_json True,
# reformat_assistant_message keep_only_think, enforce_submit True).
CONFIGS = {
    "hermes": {},
    "hermes-add-think": {"add_think": True},
    "hermes-keep-only-non-think": {"reformat_assistant_message": "keep_only_non_think"},
    "hermes-no-reformat": {"reformat_assistant_message": None},
    "hermes-any-exit": {"enforce_submit": False},
    "hermes-any-exit-add-think": {"enforce_submit": False, "add_think": True},
    "hermes-no-train-key-no-tool-json": {"add_train_key": False, "include_tool_json": False},
    "xml": {"tool_call_format": "xml"},
    "xml-add-think": {"tool_call_format": "xml", "add_think": True},
    "xml-any-exit": {"tool_call_format": "xml", "enforce_submit": False},
    "raw": {"tool_call_format": "raw"},
}

UTILS_NAMES = ["dump_jsonl", "load_yaml", "get_sweagent_patch", "get_mini_sweagent_patch",
               "ExperimentFolder"]


def sera_checkout(path: Path, scratch: Path) -> tuple[Path, str]:
    """The folder holding SERA's `sera` package, and the commit it is at."""
    if (path / "sera" / "constants.py").exists():
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "unknown (not a git checkout)"
        return path, commit
    commit = subprocess.run(["git", f"--git-dir={path}", "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", f"--git-dir={path}", "archive", "HEAD", "sera"], check=True,
                             capture_output=True).stdout
    out = scratch / "sera-src"
    out.mkdir()
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out, commit


def install_sera_utils(root: Path):
    """Registers `sera.utils` as the real definitions of UTILS_NAMES from sera/utils.py."""
    source = (root / "sera" / "utils.py").read_text()
    tree = ast.parse(source)
    wanted = [node for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in UTILS_NAMES]
    found = {node.name for node in wanted}
    missing = set(UTILS_NAMES) - found
    assert not missing, f"sera/utils.py no longer defines {missing}"
    module = types.ModuleType("sera.utils")
    module.__file__ = str(root / "sera" / "utils.py")
    import copy
    import dataclasses
    import datetime
    import yaml
    namespace = module.__dict__
    namespace.update(json=json, os=os, shutil=shutil, yaml=yaml, copy=copy, Path=Path,
                     dataclass=dataclasses.dataclass, datetime=datetime.datetime)
    exec(compile(ast.Module(body=wanted, type_ignores=[]), module.__file__, "exec"), namespace)
    sys.modules["sera.utils"] = module


def fill_tool_calls(traj):
    """The same trajectory with every null or missing assistant `tool_calls` set to []."""
    traj = json.loads(json.dumps(traj))
    for message in traj.get("history", traj.get("messages", [])):
        if message["role"] == "assistant" and message.get("tool_calls") is None:
            message["tool_calls"] = []
    return traj


def run_postprocess(postprocess, config_schema, cases, scratch: Path, harness="sweagent"):
    """Every case under every configuration; `harness` is SERA's `agent_harness` (mini-swe-agent
    trajectories are laid out as `<id>/<id>.traj.json`)."""
    suffix = ".traj.json" if harness == "mini-swe-agent" else ".traj"
    rows = []
    for name, overrides in CONFIGS.items():
        config = config_schema.PostprocessConfig(**overrides)
        for case in cases:
            instance = case["instance_id"]

            def attempt(traj):
                run = Path(tempfile.mkdtemp(dir=scratch))
                traj_dir = run / "trajs"
                (traj_dir / instance).mkdir(parents=True)
                with open(traj_dir / instance / f"{instance}{suffix}", "w") as f:
                    json.dump(traj, f)
                out = run / "out"
                out.mkdir()
                saved = postprocess.format_and_save(config=config, traj_dir=traj_dir,
                                                    report_path=None, out_dir=out,
                                                    agent_harness=harness)
                lines = Path(saved).read_text().splitlines()
                assert len(lines) <= 1
                return json.loads(lines[0]) if lines else None

            raised = None
            try:
                row = attempt(case["traj"])
            except Exception as err:  # SERA's own failure, recorded as data
                raised = f"{type(err).__name__}: {err}"
                row = attempt(fill_tool_calls(case["traj"]))
            rows.append({"config": name, "instance_id": instance, "raised": raised, "row": row})
    return rows


def float_bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def bits_float(b: int) -> float:
    return struct.unpack("<d", struct.pack("<q", b))[0]


def exact_recall(compare, target, candidate):
    """m/n recovered from compare_patch_recall's answers alone, or None when undefined."""
    if compare(target, candidate, 0.0) is None:
        return None
    lo, hi = float_bits(0.0), float_bits(1.0)
    if compare(target, candidate, 1.0):
        return 1.0
    # Invariant: the answer at bits_float(lo) is True and at bits_float(hi) is False.
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if compare(target, candidate, bits_float(mid)):
            lo = mid
        else:
            hi = mid
    return bits_float(lo)


def run_recall(compare, pairs):
    rows = []
    for pair in pairs:
        target, candidate = pair["target"], pair["candidate"]
        value = exact_recall(compare, target, candidate)
        answers = {str(t): compare(target, candidate, t) for t in (0.0, 0.5, 1.0)}
        rows.append({"id": pair["id"], "recall": None if value is None else repr(value),
                     "answers": answers})
    return rows


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sera", type=Path, required=True,
                        help="a checkout of allenai/SERA or its bare git directory")
    parser.add_argument("--allow-other-commit", action="store_true",
                        help=f"run against a commit other than {UPSTREAM_COMMIT}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        root, commit = sera_checkout(args.sera.resolve(), scratch)
        if commit != UPSTREAM_COMMIT and not args.allow_other_commit:
            sys.exit(f"{args.sera} is at {commit}, not {UPSTREAM_COMMIT}; pass "
                     "--allow-other-commit and update UPSTREAM_COMMIT and the docstring")
        sys.path.insert(0, str(root))
        install_sera_utils(root)
        from sera import config_schema
        from sera.datagen.data.postprocess import postprocess
        from sera.datagen.data.eval.eval import compare_patch_recall

        # SERA prints progress (and tqdm bars) for every call; keep the terminal for this script's summary.
        real_stdout, real_stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = open(os.devnull, "w")
        try:
            trajectories = read_jsonl(HERE / "inputs" / "trajectories.jsonl")
            post = run_postprocess(postprocess, config_schema, trajectories, scratch)
            minis = read_jsonl(HERE / "inputs" / "mini-trajectories.jsonl")
            post_mini = run_postprocess(postprocess, config_schema, minis, scratch, "mini-swe-agent")
            recall = run_recall(compare_patch_recall, read_jsonl(HERE / "inputs" / "recall-pairs.jsonl"))
        finally:
            sys.stdout.close()
            sys.stdout, sys.stderr = real_stdout, real_stderr
        configs = {name: {**json.loads(json.dumps(config_schema.PostprocessConfig().__dict__)), **o}
                   for name, o in CONFIGS.items()}
        meta = {"upstream": "allenai/SERA", "commit": commit, "configs": configs}
        (HERE / "expected").mkdir(exist_ok=True)
        with open(HERE / "expected" / "meta.json", "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        write_jsonl(HERE / "expected" / "postprocess.jsonl", post)
        write_jsonl(HERE / "expected" / "postprocess-mini.jsonl", post_mini)
        write_jsonl(HERE / "expected" / "recall.jsonl", recall)
        kept = sum(r["row"] is not None for r in post)
        raised = sum(r["raised"] is not None for r in post)
        print(f"SERA {commit}: {len(post)} post-processing runs ({kept} rows written, "
              f"{raised} raised), {len(post_mini)} on mini-swe-agent trajectories "
              f"({sum(r['row'] is not None for r in post_mini)} rows), {len(recall)} recall pairs")


if __name__ == "__main__":
    main()
