//! `sera index`: the command-line contract of the index stage (output, summary, exit codes).

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// A copy of the fixture `tests/data/<name>` in a temporary directory.
fn fixture(name: &str) -> tempfile::TempDir {
    sera_test_support::fixture(name)
}

#[test]
fn index_writes_one_function_per_line_to_stdout_and_a_summary_to_stderr() {
    let repo = fixture("rust-demo");
    let output = sera().arg("index").arg(repo.path()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let records: Vec<serde_json::Value> =
        stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(records.len(), 41);
    assert!(records.iter().any(|r| r["qualified_name"] == "account::Ledger::transfer"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("indexed 5 files"), "{stderr}");
}

#[test]
fn index_writes_to_the_out_file() {
    let repo = fixture("py-demo");
    let out = repo.path().join("run/functions.jsonl");
    sera().arg("index").arg(repo.path()).arg("--out").arg(&out).assert().success().stdout("");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 35);
    assert!(text.contains("\"qualified_name\":\"inventory.pricing.bulk_price.best_percent\""));
}

#[test]
fn index_of_a_missing_repository_exits_with_2_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-repo");
    let output = sera().arg("index").arg(&missing).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("no-such-repo") && stderr.contains("no such repository"), "{stderr}");
}

#[test]
fn index_of_a_file_exits_with_2() {
    let repo = fixture("py-demo");
    sera().arg("index").arg(repo.path().join("pyproject.toml")).assert().code(2);
}

#[test]
fn index_reports_skipped_files_on_stderr_and_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.py"), "def ok():\n    pass\n").unwrap();
    std::fs::write(dir.path().join("latin1.py"), b"# caf\xe9\ndef f():\n    pass\n").unwrap();
    let output = sera().arg("index").arg(dir.path()).output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("skipped 1 files (1 not UTF-8)"), "{stderr}");
    assert!(stderr.contains("latin1.py: not UTF-8"), "{stderr}");
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
}

#[test]
fn index_without_a_repository_is_a_usage_error() {
    sera().arg("index").assert().code(1);
}

#[test]
fn index_help_describes_the_output() {
    let output = sera().args(["index", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("--out <FILE>") && help.contains("JSONL"), "{help}");
}
