"""A real OpenAI-compatible server, not ours: `transformers serve` (PyPI `transformers[serving]`)
serves a model `sera train` made and `sera export-model` wrote, on localhost, and sera-rs uses
it as the agent of `sera eval` and as the teacher of an SVG run (`sera rollout --functions`).

A model trained for two steps answers nonsense, so this checks the protocol and the bookkeeping,
not quality: every request reaches the server and is answered, every rollout ends with an exit
status that says why, the runs carry on to their reports, and nothing is resolved or kept.

Needs: transformers[serving] (fastapi, uvicorn, torch), git, bubblewrap, pytest, and
`target/debug/sera` (cargo test builds it).
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
SERA = ROOT / "target" / "debug" / "sera"
DATA = Path(__file__).resolve().parent / "data" / "hermes.jsonl"

pytestmark = [
    pytest.mark.skipif(not SERA.exists(), reason="target/debug/sera is not built (cargo test builds it)"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
    pytest.mark.skipif(shutil.which("transformers") is None, reason="needs the `transformers` command"),
]


def sera(*args, cwd=None):
    result = subprocess.run([str(SERA), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, f"sera {args}: {result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    sera("train", "--data", DATA, "--steps", 2, "--out", tmp / "run")
    sera("export-model", "--checkpoint", tmp / "run", "--out", tmp / "model")
    port = free_port()
    log = open(tmp / "server.log", "w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
    process = subprocess.Popen(
        ["transformers", "serve", str(tmp / "model"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=5) as reply:
                models = json.load(reply)
            break
        except OSError:
            assert process.poll() is None, (tmp / "server.log").read_text()
            assert time.time() < deadline, "transformers serve did not start"
            time.sleep(1)
    yield {"base": base, "model": str(tmp / "model"), "log": tmp / "server.log", "models": models}
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("repo")
    repo = tmp / "py-demo"
    shutil.copytree(ROOT / "tests" / "data" / "py-demo", repo)
    sera("mutate", ".", "--limit", 4, "--out", tmp / "mutants.jsonl", cwd=repo)
    sera("validate", ".", "--mutants", tmp / "mutants.jsonl", "--out", tmp / "instances.jsonl",
         "--offline", "--cache-dir", tmp / "cache", "--env-cache", tmp / "envs", cwd=repo)
    sera("index", ".", "--out", tmp / "functions.jsonl", cwd=repo)
    return {"path": repo, "tmp": tmp}


def requests_answered(log: Path) -> int:
    return sum('"POST /v1/chat/completions HTTP/1.1" 200' in line for line in log.read_text().splitlines())


def test_the_server_lists_the_exported_model(server):
    assert [m["id"] for m in server["models"]["data"]] == [server["model"]]


def test_sera_eval_with_a_served_model_classifies_every_failure(server, repo, tmp_path):
    before = requests_answered(server["log"])
    sera("eval", "--instances", repo["tmp"] / "instances.jsonl", "--repo", repo["path"],
         "--teacher", "openai", "--base-url", server["base"], "--model", server["model"],
         "--max-tokens", 48, "--step-limit", 3, "--held-out", 1, "--seeds", "0,1",
         "--env-cache", repo["tmp"] / "envs", "--cache-dir", repo["tmp"] / "cache", "--offline",
         "--out", tmp_path / "eval")
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    instances = len((repo["tmp"] / "instances.jsonl").read_text().splitlines())
    assert report["overall"]["attempted"] == 2 * instances
    assert report["overall"]["resolved"] == 0
    failures = sum(report["failures"].values())
    assert failures == 2 * instances, report["failures"]
    for seed in (0, 1):
        for line in (tmp_path / "eval" / f"trajectories-seed-{seed}.jsonl").read_text().splitlines():
            trajectory = json.loads(line)
            assert trajectory["exit_status"], trajectory["id"]
            assert trajectory["teacher"] == f"openai:{server['model']}"
    assert requests_answered(server["log"]) > before

    # Side by side with the oracle as the baseline: paired by instance, worse on every one.
    sera("eval", "--instances", repo["tmp"] / "instances.jsonl", "--repo", repo["path"],
         "--teacher", "oracle", "--held-out", 1, "--seeds", "0,1",
         "--env-cache", repo["tmp"] / "envs", "--cache-dir", repo["tmp"] / "cache", "--offline",
         "--out", tmp_path / "oracle")
    sera("eval", "compare", tmp_path / "oracle", tmp_path / "eval", "--out", tmp_path / "compare")
    comparison = json.loads((tmp_path / "compare" / "eval.json").read_text())
    assert [a["agent"] for a in comparison["agents"]] == ["oracle", f"openai:{server['model']}"]
    paired = comparison["paired"][0]
    assert (paired["instances"], paired["worse"], paired["difference"]) == (instances, instances, -1.0)
    assert "Against oracle" in (tmp_path / "compare" / "report.html").read_text()


def test_an_svg_run_with_a_served_teacher_records_each_failed_attempt_and_finishes(server, repo, tmp_path):
    before = requests_answered(server["log"])
    out = tmp_path / "svg.jsonl"
    result = sera("rollout", "--functions", repo["tmp"] / "functions.jsonl", "--repo", repo["path"],
                  "--teacher", "openai", "--base-url", server["base"], "--model", server["model"],
                  "--max-tokens", 48, "--step-limit", 3, "--starts", 2, "--attempts", 2,
                  "--env-cache", repo["tmp"] / "envs", "--cache-dir", repo["tmp"] / "cache",
                  "--offline", "--out", out)
    assert "svg: starts 2" in result.stderr, result.stderr
    assert out.read_text() == "", "nothing a nonsense teacher wrote is kept"
    discarded = [json.loads(l) for l in (tmp_path / "svg-discarded.jsonl").read_text().splitlines()]
    assert len(discarded) == 4, [d["exit_status"] for d in discarded]  # 2 starts x 2 attempts
    assert all(d["kind"] == "svg_first" and d["exit_status"] for d in discarded)
    assert requests_answered(server["log"]) >= before + 4
