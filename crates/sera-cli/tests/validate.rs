//! `sera validate`: the command-line contract of the validate stage (outputs, funnel summary,
//! exit codes). Needs bubblewrap and cargo.

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// A copy of `tests/data/rust-demo` with its manifest named `Cargo.toml`.
fn rust_demo() -> tempfile::TempDir {
    sera_test_support::fixture("rust-demo")
}

fn mutant(id: &str, line: usize, old: &str, new: &str) -> serde_json::Value {
    let patch = format!(
        "diff --git a/src/stats.rs b/src/stats.rs\n--- a/src/stats.rs\n+++ b/src/stats.rs\n\
         @@ -{line},1 +{line},1 @@\n-{old}\n+{new}\n"
    );
    serde_json::json!({
        "id": id, "repo": "ledger", "file": "src/stats.rs", "language": "rust",
        "entity": "stats::f", "entity_id": "f-1", "operator": "hand-written",
        "classes": ["off-by-one"], "description": "test", "span": {"start": 0, "end": 1},
        "patch": patch,
    })
}

#[test]
fn validate_writes_kept_instances_rejections_and_a_funnel() {
    let repo = rust_demo();
    let work = tempfile::tempdir().unwrap();
    let mutants = [
        mutant(
            "m-median",
            19,
            "    Some(sorted[(sorted.len() - 1) / 2])",
            "    Some(sorted[sorted.len() / 2])",
        ),
        mutant("m-clamp", 26, "    } else if value > high {", "    } else if value >= high {"),
        mutant(
            "m-mean",
            9,
            "    Some(sum as f64 / values.len() as f64)",
            "    Some(sum / values.len())",
        ),
    ];
    let lines: Vec<String> = mutants.iter().map(|m| m.to_string()).collect();
    std::fs::write(work.path().join("mutants.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = work.path().join("run/instances.jsonl");
    let output = sera()
        .args(["validate", "--no-progress", "--jobs", "2", "--mutants"])
        .arg(work.path().join("mutants.jsonl"))
        .arg("--out")
        .arg(&out)
        .arg("--cache-dir")
        .arg(work.path().join("cache"))
        .args(["--offline", "--env-cache"])
        .arg(work.path().join("envs"))
        .arg(repo.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("funnel: candidates 3 · unviable 1 · not caught 1 · timeout 0 · kept 1"),
        "{stderr}"
    );
    let instances: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["mutant_id"], "m-median");
    assert_eq!(instances[0]["fail_to_pass"], serde_json::json!(["integration::mean_and_median"]));
    let rejected = std::fs::read_to_string(work.path().join("run/rejected.jsonl")).unwrap();
    let reasons: Vec<String> = rejected
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(reasons, ["not_caught", "unviable"]);
}

#[test]
fn missing_bubblewrap_exits_3_and_says_what_to_do() {
    let repo = rust_demo();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("m.jsonl"), "").unwrap();
    let output = sera()
        .env("PATH", "/nonexistent")
        .args(["validate", "--no-progress", "--mutants"])
        .arg(work.path().join("m.jsonl"))
        .args(["--out", "-"])
        .arg(repo.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("apt-get install bubblewrap") && stderr.contains("--isolation none"),
        "{stderr}"
    );
}
