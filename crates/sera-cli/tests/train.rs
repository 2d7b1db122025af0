//! `sera train`, `sera train export-axolotl` and `sera sample` through the binary: outputs,
//! resume, and exit codes (1 usage, 2 bad data).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sera-train/tests/data/bugfix.hermes.jsonl")
}

#[test]
fn train_writes_metrics_plot_and_checkpoint_then_resumes_and_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let train = |steps: &str| {
        let mut cmd = sera();
        cmd.args(["train", "--config", "micro", "--steps", steps, "--log-every", "1", "--data"])
            .arg(fixture())
            .arg("--out")
            .arg(&out);
        cmd
    };
    let first = train("3").assert().success();
    let stderr = String::from_utf8_lossy(&first.get_output().stderr).into_owned();
    assert!(stderr.contains("trained 3 steps"), "{stderr}");
    assert!(out.join("metrics.jsonl").is_file() && out.join("loss.png").is_file());
    assert!(out.join("checkpoints/step-000003/model.safetensors").is_file());

    let second = train("5").assert().success();
    let stderr = String::from_utf8_lossy(&second.get_output().stderr).into_owned();
    assert!(stderr.contains("resumed from step 3"), "{stderr}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics");
    assert_eq!(metrics.lines().count(), 5);

    sera()
        .args(["sample", "--max-tokens", "8", "--prompt", "fix the bug", "--checkpoint"])
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn train_with_a_tokenizer_json_keeps_it_for_sampling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let tokenizer = fixture().with_file_name("tokenizer.json");
    let trained = sera()
        .args(["train", "--config", "micro", "--steps", "2", "--data"])
        .arg(fixture())
        .arg("--tokenizer")
        .arg(&tokenizer)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&trained.get_output().stderr).into_owned();
    assert!(stderr.contains("trained 2 steps"), "{stderr}");
    let kept = out.join("checkpoints/step-000002/tokenizer.json");
    assert_eq!(std::fs::read(&kept).expect("a copy"), std::fs::read(&tokenizer).unwrap());
    sera()
        .args(["sample", "--max-tokens", "4", "--prompt", "fix the bug", "--checkpoint"])
        .arg(&out)
        .assert()
        .success();
    // A missing tokenizer file is named in the error.
    let failed = sera()
        .args(["train", "--config", "micro", "--steps", "1", "--data"])
        .arg(fixture())
        .args(["--tokenizer", "no/such/tokenizer.json", "--out"])
        .arg(dir.path().join("other"))
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(stderr.contains("no/such/tokenizer.json"), "{stderr}");
}

#[test]
fn export_axolotl_writes_the_recipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sera.yaml");
    sera()
        .args([
            "train",
            "export-axolotl",
            "--base-model",
            "Qwen/Qwen3-8B",
            "--data",
            "h.jsonl",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let yaml = std::fs::read_to_string(&out).expect("yaml");
    assert!(yaml.contains("base_model: \"Qwen/Qwen3-8B\"") && yaml.contains("zero3"));
}

#[test]
fn train_exit_codes_classify_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    sera().args(["train", "--data"]).arg(fixture()).assert().code(1);
    sera()
        .args(["train", "--config", "no-such-preset", "--data"])
        .arg(fixture())
        .arg("--out")
        .arg(dir.path())
        .assert()
        .code(1);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"messages\": 3}\n").expect("write");
    let run = sera()
        .args(["train", "--data"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("bad.jsonl:1"), "{stderr}");
    sera().args(["sample", "--prompt", "x", "--checkpoint"]).arg(dir.path()).assert().code(1);
}
