//! `sera rollout`: the command-line contract of the rollout stage. Instances come from a real
//! `sera validate` run over the rust-demo fixture; the oracle must resolve them under hard
//! verification, and the openai teacher is driven by the scripted local server. Needs
//! bubblewrap and cargo.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sera_rollout::test_server::{Scripted, TestServer, request_text};
use serde_json::{Value, json};

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// A copy of `tests/data/rust-demo` with its manifest named `Cargo.toml`.
fn rust_demo() -> tempfile::TempDir {
    sera_test_support::fixture("rust-demo")
}

/// Validates one hand-written mutant of `stats::median` and returns the instances file.
fn instances(repo: &Path, work: &Path) -> PathBuf {
    let patch = "diff --git a/src/stats.rs b/src/stats.rs\n--- a/src/stats.rs\n+++ b/src/stats.rs\n\
                 @@ -19,1 +19,1 @@\n-    Some(sorted[(sorted.len() - 1) / 2])\n+    Some(sorted[sorted.len() / 2])\n";
    let mutant = json!({
        "id": "m-median", "repo": "ledger", "file": "src/stats.rs", "language": "rust",
        "entity": "stats::median", "entity_id": "f-1", "operator": "hand-written",
        "classes": ["off-by-one"], "description": "test", "span": {"start": 0, "end": 1},
        "patch": patch,
    });
    std::fs::write(work.join("mutants.jsonl"), format!("{mutant}\n")).expect("write");
    let out = work.join("instances.jsonl");
    let output = sera()
        .args(["validate", "--no-progress", "--mutants"])
        .arg(work.join("mutants.jsonl"))
        .arg("--out")
        .arg(&out)
        .arg("--cache-dir")
        .arg(work.join("cache"))
        .args(["--offline", "--env-cache"])
        .arg(work.join("envs"))
        .arg(repo)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    out
}

/// `sera ARGS --instances I --repo R --out O` with the work folder's baseline cache and an
/// offline environment.
fn offline(
    args: &[&str],
    instances: &Path,
    repo: &Path,
    work: &Path,
    out: &Path,
) -> std::process::Output {
    sera()
        .args(args)
        .arg("--instances")
        .arg(instances)
        .arg("--repo")
        .arg(repo)
        .arg("--cache-dir")
        .arg(work.join("cache"))
        .args(["--offline", "--env-cache"])
        .arg(work.join("envs"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs")
}

fn trajectories(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON trajectory"))
        .collect()
}

#[test]
fn oracle_rollouts_of_validated_instances_are_resolved_and_recalled() {
    let repo = rust_demo();
    let work = tempfile::tempdir().expect("tempdir");
    let instances = instances(repo.path(), work.path());
    // The same instance twice under two ids, run two at a time: output stays in input order.
    let line = std::fs::read_to_string(&instances).expect("read");
    let mut twin: Value = serde_json::from_str(line.trim()).expect("instance");
    let first_id = twin["id"].clone();
    twin["id"] = json!("i-twin");
    std::fs::write(&instances, format!("{}\n{twin}\n", line.trim())).expect("write");
    let out = work.path().join("trajectories.jsonl");
    let args = ["rollout", "--teacher", "oracle", "--seed", "3", "--concurrency", "2"];
    let output = offline(&args, &instances, repo.path(), work.path(), &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("rollouts 2 · submitted 2 · resolved 2 · mean recall 1.000"),
        "{stderr}"
    );
    let records = trajectories(&out);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["instance_id"], first_id);
    assert_eq!(records[1]["instance_id"], json!("i-twin"));
    let t = &records[0];
    assert_eq!(t["exit_status"], json!("submitted"));
    assert_eq!(t["resolved"], json!(true));
    assert_eq!(t["recall"], json!(1.0));
    assert_eq!(t["teacher"], json!("oracle"));
    assert_eq!(t["tools"].as_array().map(Vec::len), Some(3));
    let observations: Vec<&str> = t["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(observations.iter().all(|o| o.starts_with("OBSERVATION:\n")));
    assert!(
        observations.iter().any(|o| o.contains("panicked")),
        "the reproduction shows the real failure"
    );
}

#[test]
fn openai_rollouts_talk_to_the_server_and_grade_an_empty_submission_as_unresolved() {
    let repo = rust_demo();
    let work = tempfile::tempdir().expect("tempdir");
    let instances = instances(repo.path(), work.path());
    let server =
        TestServer::start(|_, _| Scripted::tool_call("submit", json!({}))).expect("server");
    let out = work.path().join("trajectories.jsonl");
    let output = sera()
        .args(["rollout", "--teacher", "openai", "--model", "scripted", "--base-url"])
        .arg(server.base_url())
        .arg("--instances")
        .arg(&instances)
        .arg("--repo")
        .arg(repo.path())
        .args(["--offline", "--env-cache"])
        .arg(work.path().join("envs"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let t = &trajectories(&out)[0];
    assert_eq!(t["teacher"], json!("openai:scripted"));
    assert_eq!(t["exit_status"], json!("submitted"));
    assert_eq!(t["resolved"], json!(false));
    assert_eq!(t["recall"], json!(0.0));
    assert_eq!(t["usage"]["prompt_tokens"], json!(200));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.requests()[0].body["model"], json!("scripted"));
}

#[test]
fn an_instance_whose_repository_cannot_be_found_is_a_usage_error() {
    let work = tempfile::tempdir().expect("tempdir");
    let instance = json!({
        "id": "i-1", "repo": "no-such-repo", "mutant_id": "m", "file": "a.py", "entity": "f",
        "operator": "x", "classes": [], "bug_patch": "", "gold_patch": "", "fail_to_pass": [],
        "pass_to_pass": [], "problem_statement": "p", "test_command": ["pytest"],
    });
    std::fs::write(work.path().join("i.jsonl"), format!("{instance}\n")).expect("write");
    let output = sera()
        .current_dir(work.path())
        .args(["rollout", "--instances", "i.jsonl", "--out", "t.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("i.jsonl:1: instance i-1 names repository `no-such-repo`"), "{stderr}");
}

/// A copy of `tests/data/py-demo` and its index, as `sera index` writes it.
fn py_demo_with_index(work: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = sera_test_support::fixture("py-demo");
    let functions = work.join("functions.jsonl");
    let output =
        sera().arg("index").arg(dir.path()).arg("--out").arg(&functions).output().expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (dir, functions)
}

#[test]
fn svg_mode_with_the_oracle_is_refused_with_a_clear_message() {
    let work = tempfile::tempdir().expect("tempdir");
    let (repo, functions) = py_demo_with_index(work.path());
    let output = sera()
        .args(["rollout", "--teacher", "oracle", "--functions"])
        .arg(&functions)
        .arg("--repo")
        .arg(repo.path())
        .arg("--out")
        .arg(work.path().join("t.jsonl"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the oracle teacher cannot do SVG rollout 1"), "{stderr}");
}

#[test]
fn svg_mode_keeps_an_accepted_t1_and_a_recalled_t2() {
    const ISSUE: &str =
        "Adding zero units of an item is accepted in some code paths and rejected in others.";
    let work = tempfile::tempdir().expect("tempdir");
    let (repo, functions) = py_demo_with_index(work.path());
    let server = TestServer::svg_teacher(
        json!({"command": "str_replace", "path": "/testbed/inventory/core.py",
               "old_str": "        if quantity <= 0:\n            raise ValueError",
               "new_str": "        if quantity < 1:\n            raise ValueError"}),
        ISSUE,
    )
    .expect("server");
    // The demonstration pool comes from the repository's own closed issues (as
    // `gh issue list --json title,body,state,url` prints them): the open one and the pull
    // request are left out, so the issue writer must see the closed issue.
    let export = work.path().join("issues.json");
    std::fs::write(
        &export,
        r#"[{"title":"Stock goes negative","body":"Removing more than we have leaves -3 in stock.\r\nExpected an error.","state":"CLOSED","url":"https://github.com/o/inventory/issues/2"},
{"title":"Add CSV export","body":"would be nice","state":"OPEN","url":"https://github.com/o/inventory/issues/3"},
{"title":"Fix stock","body":"Fixes #2","state":"MERGED","url":"https://github.com/o/inventory/pull/4"}]"#,
    )
    .expect("write export");
    let demos = work.path().join("demos.json");
    let built = sera().arg("demos").arg(&export).arg("--out").arg(&demos).output().expect("runs");
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "kept 1 of 3 records; left out: 1 still open (--state any keeps them), 1 pull requests"
        ),
        "{stderr}"
    );
    let pool: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&demos).expect("pool")).expect("a JSON list");
    assert_eq!(
        pool,
        vec![
            "Stock goes negative\nRemoving more than we have leaves -3 in stock.\r\nExpected an error."
        ]
    );

    let out = work.path().join("svg.jsonl");
    let output = sera()
        .args([
            "rollout",
            "--teacher",
            "openai",
            "--starts",
            "1",
            "--threshold",
            "0.5",
            "--base-url",
        ])
        .arg(server.base_url())
        .arg("--demonstrations")
        .arg(&demos)
        .arg("--functions")
        .arg(&functions)
        .arg("--repo")
        .arg(repo.path())
        .args(["--offline", "--env-cache"])
        .arg(work.path().join("envs"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("accepted 1")
            && stderr.contains("kept T1 1 · kept T2 1 · mean recall 1.000"),
        "{stderr}"
    );
    let kept = trajectories(&out);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0]["kind"], json!("svg_first"));
    assert_eq!(kept[1]["kind"], json!("svg_second"));
    assert_eq!(kept[1]["recall"], json!(1.0));
    assert_eq!(kept[1]["metadata"]["problem_statement"], json!(ISSUE));
    let writer = server
        .requests()
        .into_iter()
        .map(|request| request_text(&request.body))
        .find(|text| text.contains("<demonstration_issue>"))
        .expect("the issue writer was asked");
    assert!(
        writer.contains(&format!("<demonstration_issue>\n{}\n</demonstration_issue>", pool[0]))
    );

    // SERA's eval stage: the finished run scored again at other thresholds, no new rollouts.
    let rescored = sera()
        .arg("rescore")
        .arg(&out)
        .arg(work.path().join("svg-discarded.jsonl"))
        .args(["--thresholds", "0,1"])
        .output()
        .expect("runs");
    assert!(rescored.status.success(), "{}", String::from_utf8_lossy(&rescored.stderr));
    assert_eq!(
        String::from_utf8_lossy(&rescored.stdout),
        "threshold\tkept T2\tof\n0\t1\t1\n1\t1\t1\n"
    );
    let bad = sera().arg("rescore").arg(&out).args(["--thresholds", "1.5"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("threshold 1.5 does not lie in 0..=1"));
}

#[test]
fn demos_from_an_export_that_is_not_json_name_the_file_and_line() {
    let work = tempfile::tempdir().expect("tempdir");
    let export = work.path().join("issues.jsonl");
    std::fs::write(&export, "{\"title\": \"a\", \"body\": \"b\"}\n{\"title\": \"c\", body}\n")
        .expect("write");
    let out = work.path().join("demos.json");
    let output = sera().arg("demos").arg(&export).arg("--out").arg(&out).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&format!("{}:2: not JSON", export.display())), "{stderr}");
    assert!(!out.exists(), "nothing is written on an error");
}

#[test]
fn eval_with_the_oracle_resolves_every_held_out_instance_and_compares_with_a_weaker_agent() {
    let repo = rust_demo();
    let work = tempfile::tempdir().expect("tempdir");
    let instances = instances(repo.path(), work.path());
    let out = work.path().join("eval");
    let args = ["eval", "--teacher", "oracle", "--held-out", "1", "--seeds", "0,1"];
    let output = offline(&args, &instances, repo.path(), work.path(), &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("eval oracle: 1 held-out instances of 1 x 2 seeds: resolved 2/2 = 100.0%"),
        "{stderr}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).expect("eval.json"))
            .expect("JSON");
    assert_eq!(report["overall"]["resolved"], json!(2));
    assert_eq!(report["overall"]["rate"], json!(1.0));
    assert!(report["overall"]["low"].as_f64().expect("low") > 0.3);
    assert_eq!(report["by_class"]["off-by-one"]["attempted"], json!(2));
    assert_eq!(report["by_operator"]["hand-written"]["resolved"], json!(2));
    assert_eq!(report["failures"], json!({}));
    for seed in [0, 1] {
        let t = trajectories(&out.join(format!("trajectories-seed-{seed}.jsonl")));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0]["resolved"], json!(true));
    }
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .expect("report.html")
            .contains("2/2 = 100.0%")
    );

    // A weaker agent (the oracle held to one step) against the oracle, side by side.
    let weak = work.path().join("eval-weak");
    let args =
        ["eval", "--teacher", "oracle", "--held-out", "1", "--seeds", "0,1", "--step-limit", "1"];
    let output = offline(&args, &instances, repo.path(), work.path(), &weak);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let compared = work.path().join("compared");
    let compare = |into: &Path| {
        sera()
            .args(["eval", "compare"])
            .arg(&out)
            .arg(&weak)
            .arg("--out")
            .arg(into)
            .output()
            .expect("runs")
    };
    let output = compare(&compared);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("eval-weak - eval: -100.0 points"), "{stderr}");
    let comparison: Value = serde_json::from_str(
        &std::fs::read_to_string(compared.join("eval.json")).expect("eval.json"),
    )
    .expect("JSON");
    assert_eq!(comparison["baseline"], "eval");
    assert_eq!(comparison["agents"][1]["failures"], json!({"step_limit": 2}));
    assert_eq!(comparison["paired"][0]["instances"], json!(1), "paired by instance, not rollout");
    let page = std::fs::read_to_string(compared.join("report.html")).expect("report.html");
    assert!(page.contains("href=\"../eval-weak/trajectories-seed-1.jsonl\""), "{page}");
    // The same evaluations compare to the same bytes.
    let again = work.path().join("compared-again");
    assert!(compare(&again).status.success());
    for file in ["eval.json", "report.html"] {
        assert_eq!(
            std::fs::read(compared.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap()
        );
    }
    // Evaluations of different instances are not set side by side.
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(weak.join("eval.json")).unwrap()).unwrap();
    for outcome in other["outcomes"].as_array_mut().unwrap() {
        outcome["instance_id"] = json!("elsewhere");
    }
    std::fs::write(weak.join("eval.json"), other.to_string()).unwrap();
    let output = compare(&work.path().join("refused"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("evaluated different instances (elsewhere is in one only)"),
        "{stderr}"
    );

    // The default fraction holds out about 5%: a lone instance is in training, said clearly.
    let output = sera()
        .args(["eval", "--teacher", "oracle", "--no-env", "--instances"])
        .arg(&instances)
        .arg("--repo")
        .arg(repo.path())
        .arg("--out")
        .arg(work.path().join("eval-default"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("none of its 1 instances is held out at fraction 0.05"), "{stderr}");
}
