"""`sera export-instances` writes tasks that the published `swebench` package reads and grades.

A copy of each fixture repository (tests/data/py-demo, tests/data/rust-demo) becomes a git
repository; `sera mutate` and `sera validate` make real test-verified instances of it, and
`sera export-instances` writes them as SWE-bench and SWE-smith rows with their bug commits.
Then, as SWE-bench's harness does for each row: check out `base_commit`, run the tests, read the
log with the harness's own parser (`PARSER_REGISTRY`), apply `patch` with the harness's first
apply command (`git apply --verbose`), run the tests again and grade with the harness's
`get_eval_tests_report` and `get_resolution_status`. The code with the bug must grade
RESOLVED_NO and the fixed code RESOLVED_FULL. Rows are loaded with
`swebench.harness.utils.load_swebench_dataset`, and by `datasets.load_dataset` on a folder, the
call mini-swe-agent's batch runner makes. The mutated code runs in bubblewrap, without network.

Needs: swebench==5.0.2, datasets, git, bubblewrap, and `target/debug/sera` (cargo test builds it).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
SERA = ROOT / "target" / "debug" / "sera"
FIXED_GIT = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "fixture",
    "GIT_AUTHOR_EMAIL": "fixture@example.com",
    "GIT_AUTHOR_DATE": "@1714564800 +0000",
    "GIT_COMMITTER_NAME": "fixture",
    "GIT_COMMITTER_EMAIL": "fixture@example.com",
    "GIT_COMMITTER_DATE": "@1714564800 +0000",
}

pytestmark = [
    pytest.mark.skipif(not SERA.exists(), reason="target/debug/sera is not built (cargo test builds it)"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]


def run(args, cwd, check=True, env=None):
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **FIXED_GIT, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def git(cwd, *args):
    return run(["git", *args], cwd).stdout.strip()


def boxed(command, work, cache):
    """`command` in `work` under bubblewrap: the host read-only, no network, only `work` and
    `cache` writable, as sera-rs runs mutated code."""
    return [
        "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--bind", work, work, "--bind", cache, cache, "--unshare-all", "--die-with-parent",
        "--chdir", work, *command,
    ]


def make_tasks(tmp: Path, fixture: str, manifest_rename: bool, limit: int):
    repo = tmp / fixture
    shutil.copytree(ROOT / "tests" / "data" / fixture, repo)
    if manifest_rename:
        (repo / "Cargo_test.toml").rename(repo / "Cargo.toml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fixture")
    run([SERA, "mutate", ".", "--limit", str(limit), "--out", tmp / "mutants.jsonl"], repo)
    run(
        [SERA, "validate", ".", "--mutants", tmp / "mutants.jsonl", "--out", tmp / "instances.jsonl",
         "--offline", "--cache-dir", tmp / "cache", "--env-cache", tmp / "envs"],
        repo,
    )
    instances = [json.loads(line) for line in (tmp / "instances.jsonl").read_text().splitlines()]
    assert instances, "validation kept no instance"
    out = {}
    for fmt, name in [("swe-bench", "swe-bench.jsonl"), ("swe-smith", "swe-smith.json")]:
        run(
            [SERA, "export-instances", "--instances", tmp / "instances.jsonl", "--repo", ".",
             "--format", fmt, "--repo-name", f"acme/{fixture}", "--out", tmp / name],
            repo,
        )
        out[fmt] = tmp / name
    return repo, instances, out


@pytest.fixture(scope="module")
def python_tasks(tmp_path_factory):
    return make_tasks(tmp_path_factory.mktemp("py"), "py-demo", False, 10)


@pytest.fixture(scope="module")
def rust_tasks(tmp_path_factory):
    return make_tasks(tmp_path_factory.mktemp("rs"), "rust-demo", True, 6)


def grade(repo: Path, row: dict, parser_name: str, test_command: list, tmp: Path):
    """SWE-bench's evaluation of `row`'s own `patch`: the resolution before and after it."""
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status
    from swebench.harness.log_parsers import PARSER_REGISTRY

    parser = PARSER_REGISTRY[parser_name]
    work = tmp / row["instance_id"]
    cache = tmp / "cache"
    cache.mkdir(exist_ok=True)
    git(repo, "worktree", "add", "-q", "--detach", str(work), row["base_commit"])
    gold = {
        "FAIL_TO_PASS": json.loads(row["FAIL_TO_PASS"]),
        "PASS_TO_PASS": json.loads(row["PASS_TO_PASS"]),
    }
    env = {"CARGO_TARGET_DIR": str(cache / "target"), "PYTHONDONTWRITEBYTECODE": "1"}
    statuses = []
    for step in ["bug", "fixed"]:
        if step == "fixed":
            (work / "fix.patch").write_text(row["patch"])
            run(["git", "apply", "--verbose", "fix.patch"], work)
            (work / "fix.patch").unlink()
        log = run(boxed(test_command, work, cache), work, check=False, env=env)
        status_map = parser(log.stdout + log.stderr, None)
        report = get_eval_tests_report(status_map, gold)
        statuses.append(get_resolution_status(report))
    return statuses


def test_swe_bench_loader_reads_every_field(python_tasks):
    from swebench.harness.utils import load_swebench_dataset
    from swebench.types import SWEbenchInstance

    _, instances, out = python_tasks
    rows = load_swebench_dataset(str(out["swe-bench"]))
    assert len(rows) == len(instances)
    for row in rows:
        assert list(row) == list(SWEbenchInstance.__annotations__)
        assert json.loads(row["FAIL_TO_PASS"]) and json.loads(row["PASS_TO_PASS"])
        assert row["test_patch"] == "" and row["repo"] == "acme/py-demo"
    one = rows[0]["instance_id"]
    assert [r["instance_id"] for r in load_swebench_dataset(str(out["swe-bench"]), instance_ids=[one])] == [one]


def test_mini_swe_agent_style_folder_loading(python_tasks, tmp_path):
    import datasets

    _, instances, out = python_tasks
    (tmp_path / "test.jsonl").write_text(out["swe-bench"].read_text())
    rows = list(datasets.load_dataset(str(tmp_path), split="test"))
    assert [r["instance_id"] for r in rows] == [json.loads(l)["instance_id"] for l in out["swe-bench"].read_text().splitlines()]


def test_harness_grades_pytest_tasks_unresolved_with_the_bug_and_resolved_with_the_fix(python_tasks, tmp_path):
    repo, instances, out = python_tasks
    by_commit = {}
    for row in (json.loads(l) for l in out["swe-bench"].read_text().splitlines()):
        command = next(i["test_command"] for i in instances if row["instance_id"].endswith(i["id"][2:]))
        by_commit[row["instance_id"]] = grade(repo, row, "parse_log_pytest", command, tmp_path)
    assert by_commit and all(s == ["RESOLVED_NO", "RESOLVED_FULL"] for s in by_commit.values()), by_commit


def test_harness_grades_cargo_tasks_unresolved_with_the_bug_and_resolved_with_the_fix(rust_tasks, tmp_path):
    repo, instances, out = rust_tasks
    results = {}
    for row in (json.loads(l) for l in out["swe-bench"].read_text().splitlines()):
        command = next(i["test_command"] for i in instances if row["instance_id"].endswith(i["id"][2:]))
        results[row["instance_id"]] = grade(repo, row, "parse_log_cargo", command, tmp_path)
        instance = next(i for i in instances if row["instance_id"].endswith(i["id"][2:]))
        # cargo's keys lose their test binary, as `parse_log_cargo` names tests.
        assert json.loads(row["FAIL_TO_PASS"]) == sorted({k.split("::", 1)[1] for k in instance["fail_to_pass"]})
    assert results and all(s == ["RESOLVED_NO", "RESOLVED_FULL"] for s in results.values()), results


def test_swe_smith_rows_are_the_bug_on_its_branch(python_tasks, tmp_path):
    repo, instances, out = python_tasks
    rows = json.loads(out["swe-smith"].read_text())
    assert len(rows) == len(instances)
    for row in rows:
        assert list(row) == [
            "instance_id", "patch", "FAIL_TO_PASS", "PASS_TO_PASS", "created_at", "image_name",
            "repo", "base_commit", "problem_statement",
        ]
        assert isinstance(row["FAIL_TO_PASS"], list) and isinstance(row["PASS_TO_PASS"], list)
        # SWE-agent's SWE-smith loader checks out the branch named after the instance.
        assert git(repo, "rev-parse", row["instance_id"]) == row["base_commit"]
        # The bug patch on the clean commit gives exactly the bug commit's tree.
        work = tmp_path / row["instance_id"]
        git(repo, "worktree", "add", "-q", "--detach", str(work), row["base_commit"] + "^")
        (tmp_path / "bug.patch").write_text(row["patch"])
        run(["git", "apply", "--verbose", str(tmp_path / "bug.patch")], work)
        assert run(["git", "diff", "--quiet", row["base_commit"]], work, check=False).returncode == 0
