//! `sera mutate`: the command-line contract of the mutation stage (output, summary, exit codes,
//! determinism).

use std::path::Path;

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// A copy of the fixture `tests/data/<name>` in a temporary directory.
fn fixture(name: &str) -> tempfile::TempDir {
    sera_test_support::fixture(name)
}

fn mutants(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn mutate_writes_mutants_and_a_summary() {
    let repo = fixture("rust-demo");
    let out = repo.path().join("out/mutants.jsonl");
    let output = sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--limit", "20", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let records = mutants(&out);
    assert_eq!(records.len(), 20);
    for record in &records {
        assert!(record["id"].as_str().unwrap().starts_with("m-"));
        assert!(record["patch"].as_str().unwrap().starts_with("diff --git a/src/"));
        assert!(!record["classes"].as_array().unwrap().is_empty());
    }
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("20 mutants from"), "{stderr}");
    assert!(stderr.contains("candidates by operator:"), "{stderr}");
}

#[test]
fn mutate_is_deterministic_for_a_seed() {
    let repo = fixture("py-demo");
    let run = |seed: &str, name: &str| {
        let out = repo.path().join(name);
        sera()
            .arg("mutate")
            .arg(repo.path())
            .args(["--seed", seed, "--limit", "15", "--per-function", "2", "--out"])
            .arg(&out)
            .assert()
            .success();
        std::fs::read(out).unwrap()
    };
    assert_eq!(run("5", "a.jsonl"), run("5", "b.jsonl"));
    assert_ne!(run("5", "a.jsonl"), run("6", "c.jsonl"));
}

#[test]
fn mutate_filters_by_operator_and_class() {
    let repo = fixture("py-demo");
    let out = repo.path().join("m.jsonl");
    sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--operators", "raise-to-pass,remove-guard", "--per-function", "0", "--out"])
        .arg(&out)
        .assert()
        .success();
    let records = mutants(&out);
    assert!(!records.is_empty());
    assert!(
        records.iter().all(|r| r["operator"] == "raise-to-pass" || r["operator"] == "remove-guard")
    );

    let class = "null-safety-and-optional-value-handling";
    sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--classes", class, "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(
        mutants(&out).iter().all(|r| r["classes"].as_array().unwrap().iter().any(|c| c == class))
    );
}

#[test]
fn unknown_operator_or_class_is_a_usage_error_and_a_missing_repo_bad_input() {
    let repo = fixture("py-demo");
    let out = repo.path().join("m.jsonl");
    let output = sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--operators", "nope", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown mutation operator `nope`"));
    sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--classes", "nope", "--out"])
        .arg(&out)
        .assert()
        .code(1);
    sera().arg("mutate").arg(repo.path().join("missing")).args(["--out", "-"]).assert().code(2);
    sera().arg("mutate").arg(repo.path()).assert().code(1);
}
