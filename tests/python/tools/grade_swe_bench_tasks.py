"""Grades the tasks `sera export-instances --format swe-bench` wrote for a real repository, the way
SWE-bench's harness grades a prediction, with the `swebench` package's own log parser and
grading: for each row, check out `base_commit` in a git worktree, run the test command under
bubblewrap (no network, only the worktree writable), apply the row's `patch` with
`git apply --verbose` and run it again. A faithful task reads RESOLVED_NO, then RESOLVED_FULL.

    python3 grade_swe_bench_tasks.py REPO TASKS.jsonl PARSER -- COMMAND...

PARSER is a name in `swebench.harness.log_parsers.PARSER_REGISTRY` (`parse_log_pytest`,
`parse_log_cargo`); COMMAND runs in the worktree, e.g. `env PYTHONPATH=. VENV/bin/python -m
pytest -rA -p no:cacheprovider` or `cargo test --offline --no-fail-fast`. Prints one line per
task and exits 1 if any task grades otherwise.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from swebench.harness.grading import get_eval_tests_report, get_resolution_status
from swebench.harness.log_parsers import PARSER_REGISTRY


def main() -> int:
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    repo, tasks, parser = Path(sys.argv[1]), Path(sys.argv[2]), PARSER_REGISTRY[sys.argv[3]]
    command = sys.argv[5:]
    tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    cache = tmp / "cache"
    cache.mkdir()
    wrong = 0
    for row in map(json.loads, tasks.read_text().splitlines()):
        work = tmp / row["instance_id"]
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(work), row["base_commit"]], cwd=repo, check=True)
        gold = {"FAIL_TO_PASS": json.loads(row["FAIL_TO_PASS"]), "PASS_TO_PASS": json.loads(row["PASS_TO_PASS"])}
        statuses = []
        for step in ["bug", "fixed"]:
            if step == "fixed":
                (work / "fix.patch").write_text(row["patch"])
                subprocess.run(["git", "apply", "--verbose", "fix.patch"], cwd=work, check=True, capture_output=True)
                (work / "fix.patch").unlink()
            boxed = [
                "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                "--bind", str(work), str(work), "--bind", str(cache), str(cache), "--unshare-all",
                "--die-with-parent", "--chdir", str(work),
                "env", f"CARGO_TARGET_DIR={cache / 'target'}", *command,
            ]
            log = subprocess.run(boxed, capture_output=True, text=True)
            status_map = parser(log.stdout + log.stderr, None)
            statuses.append(get_resolution_status(get_eval_tests_report(status_map, gold)))
        wrong += statuses != ["RESOLVED_NO", "RESOLVED_FULL"]
        print(row["instance_id"], f"F2P={len(gold['FAIL_TO_PASS'])}", f"P2P={len(gold['PASS_TO_PASS'])}", *statuses)
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=repo, check=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
