//! `sera verify recall`, `sera import` and `sera export` through the binary: outputs, exit
//! codes, bad-input reports, and the export files that the Python consumer test reads
//! (tests/python/test_consumer.py), checked for staleness here.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(path: &str) -> PathBuf {
    root().join("tests/data").join(path)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn recall_of_a_patch_in_itself_is_one() {
    let diff = data("patches/git-edits/git.diff");
    let output = sera()
        .args(["verify", "recall", "--target"])
        .arg(&diff)
        .arg("--candidate")
        .arg(&diff)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "{\"recall\":1.0}\n");
}

#[test]
fn recall_prints_null_for_a_target_without_changed_lines_and_a_fraction_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (empty, target, candidate) =
        (dir.path().join("e.diff"), dir.path().join("t.diff"), dir.path().join("c.diff"));
    std::fs::write(&empty, "diff --git a/x b/x\n").unwrap();
    std::fs::write(&target, "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n-c\n+d\n").unwrap();
    std::fs::write(&candidate, "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
    let run = |t: &Path, c: &Path| {
        let output = sera()
            .args(["verify", "recall", "--target"])
            .arg(t)
            .arg("--candidate")
            .arg(c)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(run(&empty, &candidate), "{\"recall\":null}\n");
    assert_eq!(run(&target, &candidate), "{\"recall\":0.5}\n");
}

#[test]
fn recall_batch_writes_one_result_per_pair_and_reads_sera_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recall.jsonl");
    let output = sera()
        .args(["verify", "recall", "--batch"])
        .arg(data("trajectories/sera/rows.jsonl"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let results = read_jsonl(&out);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["id"], "demo__calc-1");
    assert_eq!(results[0]["recall"], 1.0);
    assert_eq!(results[0]["level"], "hard-verified");
}

#[test]
fn recall_exit_codes_follow_the_contract() {
    let missing = sera()
        .args([
            "verify",
            "recall",
            "--target",
            "/nonexistent.diff",
            "--candidate",
            "/nonexistent.diff",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.diff"));
    let usage = sera().args(["verify", "recall", "--target", "a.diff"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(1), "{usage:?}");
}

#[test]
fn import_reports_bad_records_by_file_and_line_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.jsonl");
    let output = sera()
        .args(["import", "--from", "sera"])
        .arg(data("trajectories/sera/bad-rows.jsonl"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    for expected in [
        "bad-rows.jsonl:1: truncated_json",
        "bad-rows.jsonl:2: unknown_role",
        "bad-rows.jsonl:4: bad_tool_arguments",
    ] {
        assert!(stderr.contains(expected), "{expected} in\n{stderr}");
    }
    assert!(stderr.contains("import: 2 trajectories written, 3 bad records skipped"), "{stderr}");
    let imported = read_jsonl(&out);
    assert_eq!(imported.len(), 2);
    assert_eq!(imported[0]["recall"], 1.0, "recall is filled in from the row's two patches");
}

#[test]
fn import_reads_folders_of_swe_agent_and_mini_swe_agent_files() {
    let dir = tempfile::tempdir().unwrap();
    for (source, folder) in [("swe-agent", "swe-agent"), ("mini-swe-agent", "mini-swe-agent")] {
        let out = dir.path().join(format!("{source}.jsonl"));
        let output = sera()
            .args(["import", "--from", source])
            .arg(data(&format!("trajectories/{folder}")))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let imported = read_jsonl(&out);
        assert_eq!(imported.len(), 1);
        assert_eq!(imported[0]["kind"], "imported");
        assert_eq!(imported[0]["instance_id"], "demo__calc-1");
    }
}

#[test]
fn import_of_only_bad_records_fails_with_exit_code_two() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(
        &input,
        "{\"instance_id\": \"x\", \"messages\": \"[{\\\"role\\\": \\\"x\\\"}]\"}\n{\"inst",
    )
    .unwrap();
    let output = sera()
        .args(["import", "--from", "sera"])
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("o.jsonl"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn export_writes_each_format_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["openai", "hermes", "xml", "raw"] {
        let out = dir.path().join(format!("{format}.jsonl"));
        let output = sera()
            .args(["export", "--trajectories"])
            .arg(data("trajectories/native.jsonl"))
            .args(["--format", format, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let records = read_jsonl(&out);
        assert_eq!(records.len(), 1, "{format}");
        // With the default `--compat sera` every format, raw included, is a SERA record with
        // sera-rs's provenance under `metadata`.
        assert_eq!(records[0]["metadata"]["bug_class"], "off-by-one", "{format}");
    }
}

#[test]
fn export_to_a_dataset_folder_writes_splits_card_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dataset");
    let output = sera()
        .args(["export", "--trajectories"])
        .arg(data("trajectories/native.jsonl"))
        .args(["--format", "openai,hermes", "--out-dir"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    for path in [
        "openai/train.jsonl",
        "openai/val.jsonl",
        "hermes/train.jsonl",
        "hermes/val.jsonl",
        "README.md",
        "stats.json",
    ] {
        assert!(out.join(path).is_file(), "{path}");
    }
    assert!(std::fs::read_to_string(out.join("README.md")).unwrap().starts_with("---\n"));
}

#[test]
fn export_exit_codes_follow_the_contract() {
    let native = data("trajectories/native.jsonl");
    let bad_format = sera()
        .args(["export", "--trajectories"])
        .arg(&native)
        .args(["--format", "chatml", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(bad_format.status.code(), Some(1), "{bad_format:?}");
    let two_formats = sera()
        .args(["export", "--trajectories"])
        .arg(&native)
        .args(["--format", "openai,xml", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(two_formats.status.code(), Some(1), "{two_formats:?}");
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = dir.path().join("tokenizer.json");
    std::fs::write(&tokenizer, "{\"not\": \"a tokenizer\"}").unwrap();
    let bad_tokenizer = sera()
        .args(["export", "--trajectories"])
        .arg(&native)
        .arg("--tokenizer")
        .arg(&tokenizer)
        .args(["--out", "-"])
        .output()
        .unwrap();
    assert_eq!(bad_tokenizer.status.code(), Some(2), "{bad_tokenizer:?}");
    assert!(String::from_utf8_lossy(&bad_tokenizer.stderr).contains("tokenizer.json"));
    let missing = sera()
        .args(["export", "--trajectories", "/nonexistent.jsonl", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
}

/// The files tests/python/test_consumer.py loads with `datasets` and renders with Qwen3's chat
/// template: every fixture trajectory (native, and imported from each source) exported as
/// `openai`, `hermes` and lossless `hermes`. Set `SERA_BLESS=1` to rewrite them after a deliberate format change.
#[test]
fn python_consumer_files_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = vec![data("trajectories/native.jsonl")];
    for (source, path) in [
        ("swe-agent", "swe-agent"),
        ("mini-swe-agent", "mini-swe-agent"),
        ("sera", "sera/rows.jsonl"),
    ] {
        let out = dir.path().join(format!("{source}.jsonl"));
        let output = sera()
            .args(["import", "--from", source])
            .arg(data(&format!("trajectories/{path}")))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        inputs.push(out);
    }
    let committed = root().join("tests/python/data");
    for (name, format, compat) in [
        ("openai", "openai", "sera"),
        ("hermes", "hermes", "sera"),
        ("hermes-lossless", "hermes", "lossless"),
    ] {
        let out = dir.path().join(format!("{name}.jsonl"));
        let mut command = sera();
        command.arg("export");
        for input in &inputs {
            command.arg("--trajectories").arg(input);
        }
        command.args(["--format", format, "--compat", compat, "--out"]);
        let output = command.arg(&out).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        // Imported trajectory ids depend on the temporary file names; blank them.
        let text = std::fs::read_to_string(&out).unwrap();
        let records: Vec<String> = text
            .lines()
            .map(|line| {
                let mut record: Value = serde_json::from_str(line).unwrap();
                if record["metadata"]["kind"] == "imported" {
                    record["metadata"]["trajectory_id"] = Value::Null;
                }
                serde_json::to_string(&record).unwrap() + "\n"
            })
            .collect();
        // The first SERA row repeats the SWE-agent history (a duplicate), the second is invalid.
        assert_eq!(records.len(), 3, "native, swe-agent, mini-swe-agent");
        let fresh = records.concat();
        let path = committed.join(format!("{name}.jsonl"));
        if std::env::var_os("SERA_BLESS").is_some() {
            std::fs::create_dir_all(&committed).unwrap();
            std::fs::write(&path, &fresh).unwrap();
        }
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(old == fresh, "{} is stale: rerun with SERA_BLESS=1", path.display());
    }
}

#[test]
fn export_from_a_source_equals_import_then_export() {
    let dir = tempfile::tempdir().unwrap();
    let rows = data("trajectories/sera/rows.jsonl");
    let imported = dir.path().join("imported.jsonl");
    let output = sera()
        .args(["import", "--from", "sera"])
        .arg(&rows)
        .arg("--out")
        .arg(&imported)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let (two_steps, one_step) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let output = sera()
        .args(["export", "--trajectories"])
        .arg(&imported)
        .arg("--out")
        .arg(&two_steps)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let output = sera()
        .args(["export", "--from", "sera", "--trajectories"])
        .arg(&rows)
        .arg("--out")
        .arg(&one_step)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let one = std::fs::read_to_string(&one_step).unwrap();
    assert_eq!(one.lines().count(), 1);
    assert_eq!(one, std::fs::read_to_string(&two_steps).unwrap());
}
