//! `sera prepare` and the env stage of `sera validate` and `sera run`, on fixtures that do not
//! work without one: a crate with a dev-dependency and no lock file, a `src/` layout package,
//! and a cargo workspace whose members both have a `tests/integration.rs`.
//! Offline (`--offline`, `[env] offline = true`): the fixtures need nothing from a registry.
//! Needs bubblewrap, cargo and python3 with pytest, setuptools and wheel.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

/// `sera run` on a copy of the fixture `name` with an offline environment and 4 mutants:
/// the temporary folder, the run directory and stderr; the run must succeed.
fn offline_run(name: &str, run_name: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    sera_test_support::fixture_into(name, &tmp.path().join("repo"));
    let config = format!(
        "[run]\nname = \"{run_name}\"\n[repo]\npath = \"repo\"\n[env]\noffline = true\n\
         [mutate]\nlimit = 4\n[train]\nenabled = false\n"
    );
    std::fs::write(tmp.path().join("pipeline.toml"), config).expect("write");
    let output = sera()
        .current_dir(tmp.path())
        .args(["run", "--quiet"])
        .timeout(Duration::from_secs(900))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let run = tmp.path().join("runs").join(run_name);
    (tmp, run, stderr)
}

#[test]
fn prepare_prints_the_environment_and_reads_it_back_the_second_time() {
    let repo = sera_test_support::fixture("rust-devdep");
    let work = tempfile::tempdir().expect("tempdir");
    let prepare = || {
        sera()
            .args(["prepare", "--offline", "--json", "--env-cache"])
            .arg(work.path().join("envs"))
            .arg(repo.path())
            .output()
            .expect("runs")
    };
    let first = prepare();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("env: cargo fetch: cargo fetch --offline"), "{stderr}");
    let environment: Value = serde_json::from_slice(&first.stdout).expect("JSON on stdout");
    assert_eq!(environment["ecosystems"], serde_json::json!(["cargo"]));
    let overlay = environment["overlay"].as_str().expect("an overlay");
    assert!(Path::new(overlay).join("Cargo.lock").is_file());

    let second = prepare();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("(prepared earlier)") && !stderr.contains("env: cargo fetch"),
        "{stderr}"
    );
    assert_eq!(serde_json::from_slice::<Value>(&second.stdout).expect("JSON"), environment);
}

#[test]
fn a_pinned_toolchain_this_machine_lacks_exits_3_and_says_how_to_override_it() {
    let repo = sera_test_support::fixture("rust-demo");
    std::fs::write(repo.path().join("rust-toolchain"), "1.2.3\n").expect("write");
    let work = tempfile::tempdir().expect("tempdir");
    let output = sera()
        .args(["prepare", "--offline", "--env-cache"])
        .arg(work.path())
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rustup toolchain install 1.2.3"), "{stderr}");
    let overridden = sera()
        .args(["prepare", "--offline", "--var", "RUSTUP_TOOLCHAIN=stable", "--env-cache"])
        .arg(work.path())
        .arg(repo.path())
        .output()
        .expect("runs");
    assert!(overridden.status.success(), "{}", String::from_utf8_lossy(&overridden.stderr));
}

#[test]
fn validate_keeps_mutants_of_a_src_layout_package_that_only_imports_when_installed() {
    let repo = sera_test_support::fixture("py-src");
    let work = tempfile::tempdir().expect("tempdir");
    let mutants = work.path().join("mutants.jsonl");
    let output = sera()
        .args(["mutate", "--limit", "6", "--out"])
        .arg(&mutants)
        .arg(repo.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let validate = |extra: &[&str]| {
        sera()
            .args(["validate", "--no-progress", "--mutants"])
            .arg(&mutants)
            .arg("--out")
            .arg(work.path().join("instances.jsonl"))
            .arg("--cache-dir")
            .arg(work.path().join("cache"))
            .arg("--env-cache")
            .arg(work.path().join("envs"))
            .args(extra)
            .arg(repo.path())
            .timeout(Duration::from_secs(600))
            .output()
            .expect("runs")
    };
    // Without the environment, `import tally` fails on the clean code: no baseline at all.
    let bare = validate(&["--no-env"]);
    assert_eq!(bare.status.code(), Some(2), "{}", String::from_utf8_lossy(&bare.stderr));

    let output = validate(&["--offline"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("3 passing tests"), "{stderr}");
    let instances = read_jsonl(&work.path().join("instances.jsonl"));
    assert!(!instances.is_empty(), "{stderr}");
    for instance in &instances {
        let f2p = instance["fail_to_pass"].as_array().expect("list");
        assert!(f2p.iter().all(|t| t.as_str().is_some_and(|t| t.starts_with("tests/"))));
    }
}

#[test]
fn run_with_only_a_name_and_a_path_prepares_the_environment_first() {
    let (tmp, run, stderr) = offline_run("rust-devdep", "meter");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).expect("read"))
            .expect("JSON");
    assert_eq!(manifest["stages"]["env"]["status"], "done", "{manifest}");
    assert_eq!(manifest["stages"]["env"]["counts"]["steps"], 1, "{manifest}");
    assert!(!read_jsonl(&run.join("instances.jsonl")).is_empty(), "{stderr}");
    let trajectories = read_jsonl(&run.join("trajectories.jsonl"));
    assert!(trajectories.iter().any(|t| t["resolved"] == true), "{stderr}");
    // The lock file the environment made is not part of any agent's patch.
    assert!(trajectories.iter().all(|t| !t["patch"].to_string().contains("Cargo.lock")));
    assert!(!tmp.path().join("repo/Cargo.lock").exists());
}

#[test]
fn a_workspace_goes_end_to_end_and_agents_see_plain_test_output() {
    let (_tmp, run, stderr) = offline_run("rust-workspace", "ws");
    let instances = read_jsonl(&run.join("instances.jsonl"));
    assert!(!instances.is_empty(), "{stderr}");
    for instance in &instances {
        // Keys name the package; the command an agent sees is the plain one.
        let f2p = instance["fail_to_pass"].as_array().expect("list");
        assert!(f2p.iter().all(|k| k.as_str().is_some_and(|k| k.contains('/'))), "{instance}");
        let command = instance["test_command"].to_string();
        assert!(
            command.contains("--workspace") && !command.contains("message-format"),
            "{command}"
        );
    }
    let trajectories = read_jsonl(&run.join("trajectories.jsonl"));
    assert!(trajectories.iter().all(|t| t["resolved"] == true), "{stderr}");
    for t in &trajectories {
        assert!(!t["messages"].to_string().contains("compiler-artifact"), "{}", t["id"]);
    }
}
