//! `sera run`: the whole procedural pipeline on the fixture crate, uninterrupted and killed.
//!
//! One test, because both halves need the same expensive uninterrupted run: it checks what an
//! end-to-end run leaves in its directory, then kills a second run at seeded random moments
//! (through sera-sandbox, the one crate allowed to run processes) until it finishes, and checks
//! that the resumed run ends with the same records as the uninterrupted one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use sera_core::SplitMix64;
use sera_sandbox::{CommandSpec, Isolation, Limits, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[run]
name = "e2e"
seed = 7

[repo]
path = "repo"

[mutate]
limit = 6
per_function = 1

[rollout]
concurrency = 1

[train]
model = "micro"
steps = 6
"#;

/// A folder holding a copy of the fixture crate as `repo/` and `pipeline.toml`.
fn project(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    sera_test_support::fixture_into("rust-demo", &dir.join("repo"));
    std::fs::write(dir.join("pipeline.toml"), CONFIG).unwrap();
    dir
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// What must be equal between two runs of the same config. Records of deterministic stages are
/// compared byte for byte; of trajectories, everything but the observations' text, which holds
/// real command output with wall-clock timings and test-thread interleavings.
fn fingerprint(run: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in ["functions.jsonl", "mutants.jsonl", "instances.jsonl"] {
        out.push((file.to_string(), std::fs::read_to_string(run.join(file)).unwrap()));
    }
    let stats = export_counts(run);
    out.push(("export".into(), format!("{} {}", stats["kept"], stats["dropped"])));
    let rejected: Vec<String> = read_jsonl(&run.join("rejected.jsonl"))
        .iter()
        .map(|r| format!("{} {}", r["mutant_id"], r["reason"]))
        .collect();
    out.push(("rejected".into(), rejected.join("\n")));
    let trajectories: Vec<String> = read_jsonl(&run.join("trajectories.jsonl"))
        .iter()
        .map(|t| {
            let actions: Vec<String> = t["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "assistant")
                .map(|m| format!("{} {}", m["content"], m["tool_calls"]))
                .collect();
            format!(
                "{} {} {} {} {} {}\n{}",
                t["id"],
                t["instance_id"],
                t["exit_status"],
                t["resolved"],
                t["recall"],
                t["patch"],
                actions.join("\n")
            )
        })
        .collect();
    out.push(("trajectories".into(), trajectories.join("\n")));
    out
}

/// The export stage's statistics.
fn export_counts(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("dataset/stats.json")).unwrap()).unwrap()
}

#[test]
fn pipeline_runs_end_to_end_and_a_killed_run_resumes_to_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();

    // The uninterrupted run.
    let whole = project(tmp.path(), "whole");
    Command::cargo_bin("sera")
        .unwrap()
        .current_dir(&whole)
        .args(["run", "--quiet"])
        .timeout(Duration::from_secs(900))
        .assert()
        .success();
    let run = whole.join("runs/e2e");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    for stage in
        ["index", "env", "mutate", "validate", "rollout", "verify", "export", "train", "report"]
    {
        assert_eq!(manifest["stages"][stage]["status"], "done", "{stage}: {manifest}");
    }
    let instances = read_jsonl(&run.join("instances.jsonl"));
    let trajectories = read_jsonl(&run.join("trajectories.jsonl"));
    assert!(!instances.is_empty(), "the fixture's tests catch some of 6 mutants");
    assert_eq!(trajectories.len(), instances.len());
    assert!(trajectories.iter().all(|t| t["exit_status"] == "submitted" && t["resolved"] == true));
    let verified = read_jsonl(&run.join("verified.jsonl"));
    assert_eq!(verified.len(), trajectories.len());
    let exported = ["train", "val"]
        .iter()
        .map(|split| run.join(format!("dataset/hermes/{split}.jsonl")))
        .filter(|path| path.exists())
        .map(|path| read_jsonl(&path).len())
        .sum::<usize>();
    let stats = export_counts(&run);
    let dropped: u64 =
        stats["dropped"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert!(exported > 0, "{stats}");
    assert_eq!(exported as u64 + dropped, verified.len() as u64, "{stats}");
    assert!(run.join("dataset/README.md").exists());
    assert_eq!(read_jsonl(&run.join("train/metrics.jsonl")).len(), 6);
    assert!(std::fs::read_to_string(run.join("run.toml")).unwrap().contains("seed = 7"));
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    for part in ["The mutant funnel", "Line recall of the target patch", "train/loss.png"] {
        assert!(report.contains(part), "report.html lacks {part:?}");
    }
    assert!(run.join("plots/funnel.svg").exists());

    // A rerun of a finished run does nothing and changes nothing.
    let before = fingerprint(&run);
    Command::cargo_bin("sera")
        .unwrap()
        .current_dir(&whole)
        .args(["run", "--quiet"])
        .assert()
        .success()
        .stderr(predicates::str::contains("validate: done earlier, skipped"));
    assert_eq!(fingerprint(&run), before);

    // The same run in two shards, merged.
    let sharded = project(tmp.path(), "sharded");
    for shard in ["0/2", "1/2"] {
        Command::cargo_bin("sera")
            .unwrap()
            .current_dir(&sharded)
            .args(["run", "--quiet", "--shard", shard])
            .timeout(Duration::from_secs(900))
            .assert()
            .success();
    }
    assert!(!sharded.join("runs/e2e-shard-0-of-2/dataset").exists(), "shards stop after verify");
    Command::cargo_bin("sera")
        .unwrap()
        .current_dir(&sharded)
        .args(["merge", "--quiet", "--shards", "2"])
        .timeout(Duration::from_secs(900))
        .assert()
        .success();
    assert_eq!(fingerprint(&sharded.join("runs/e2e")), before);

    // The killed run: each attempt is SIGKILLed with its process group at a seeded random
    // moment, later and later, until one finishes.
    let killed = project(tmp.path(), "killed");
    // `sera run` sandboxes its own commands; the outer layer is only there to kill it.
    let sandbox = Sandbox::new(SandboxConfig {
        isolation: Isolation::None,
        limits: Limits { memory_bytes: None, processes: None, file_size_bytes: None },
        ..SandboxConfig::default()
    })
    .unwrap();
    let scratch = sandbox.scratch(&killed).unwrap();
    let mut rng = SplitMix64::new(2026);
    let mut kills = 0;
    for attempt in 0..40u64 {
        let millis = 500 + rng.below(2500) + 1000 * attempt;
        let spec = CommandSpec::new(env!("CARGO_BIN_EXE_sera"))
            .args(["run", "--quiet"])
            .timeout(Duration::from_millis(millis));
        let output = scratch.run(&spec).unwrap();
        if output.timed_out {
            kills += 1;
            continue;
        }
        assert!(output.success(), "attempt {attempt}: {}", output.combined());
        break;
    }
    assert!(kills >= 2, "the run was killed only {kills} times");
    assert_eq!(fingerprint(&scratch.path().join("runs/e2e")), before);
}

/// Runs `sera run` in `dir` with `config` and returns its exit code and stderr.
fn run_with(dir: &Path, config: &str) -> (i32, String) {
    std::fs::write(dir.join("pipeline.toml"), config).unwrap();
    let output =
        Command::cargo_bin("sera").unwrap().current_dir(dir).args(["run"]).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn bad_configs_fail_before_any_work_with_their_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    sera_test_support::fixture_into("rust-demo", &tmp.path().join("repo"));
    let base = "[run]\nname = \"x\"\n[repo]\npath = \"repo\"\n";

    let (code, stderr) = run_with(tmp.path(), &format!("{base}[mutate]\nlimt = 3\n"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("limt") && stderr.contains("line 6"), "{stderr}");

    let (code, stderr) = run_with(tmp.path(), "[run]\nname = \"x\"\n[repo]\npath = \"nowhere\"\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");

    let unreachable = format!(
        "{base}[rollout]\nteacher = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n"
    );
    let (code, stderr) = run_with(tmp.path(), &unreachable);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot be reached"), "{stderr}");

    let unreachable_agent = format!(
        "{base}[eval]\nagents = [{{ name = \"ft\", teacher = \"openai\", \
         base_url = \"http://127.0.0.1:1/v1\", model = \"m\" }}]\n"
    );
    let (code, stderr) = run_with(tmp.path(), &unreachable_agent);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("[eval] agent \"ft\"") && stderr.contains("cannot be reached"),
        "{stderr}"
    );

    assert!(
        !tmp.path().join("runs").exists(),
        "no run directory is made for a run that cannot start"
    );
}

#[test]
fn the_eval_stage_sets_agents_side_by_side_and_resumes_per_agent() {
    // The oracle resolves everything; the same oracle held to one step cannot.
    const EVAL: &str = r#"
[run]
name = "eval"
seed = 7

[repo]
path = "repo"

[mutate]
limit = 3
per_function = 1

[train]
enabled = false

[env]
offline = true

[eval]
held_out = 1.0
agents = [{ name = "oracle" }, { name = "one-step", step_limit = 1 }]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = project(tmp.path(), "eval");
    std::fs::write(dir.join("pipeline.toml"), EVAL).unwrap();
    let sera_run = || {
        Command::cargo_bin("sera")
            .unwrap()
            .current_dir(&dir)
            .args(["run", "--quiet"])
            .timeout(Duration::from_secs(900))
            .assert()
            .success()
    };
    sera_run();
    let run = dir.join("runs/eval");
    let instances = read_jsonl(&run.join("instances.jsonl")).len();
    assert!(instances > 0);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let counts = &manifest["stages"]["eval"]["counts"];
    assert_eq!(manifest["stages"]["eval"]["status"], "done", "{manifest}");
    assert_eq!(counts["held_out"], json!(instances), "{manifest}");
    assert_eq!(counts["resolved_oracle"], json!(instances), "{manifest}");
    assert_eq!(counts["resolved_one-step"], json!(0), "{manifest}");

    let comparison: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval/eval.json")).unwrap())
            .unwrap();
    assert_eq!(comparison["baseline"], "oracle");
    let labels: Vec<&str> = comparison["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["oracle", "one-step"]);
    let paired = &comparison["paired"][0];
    assert_eq!(paired["difference"], json!(-1.0), "{paired}");
    assert_eq!(paired["worse"], json!(instances), "{paired}");
    let one_step = &comparison["agents"][1];
    let failures: u64 =
        one_step["failures"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(failures, instances as u64, "every failure is classified: {one_step}");
    for agent in ["oracle", "one-step"] {
        assert!(run.join(format!("eval/{agent}/trajectories-seed-0.jsonl")).exists());
    }
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    for part in [
        "<h2>Evaluation</h2>",
        "one-step",
        "Against oracle",
        "eval/one-step/trajectories-seed-0.jsonl",
    ] {
        assert!(report.contains(part), "report.html lacks {part:?}");
    }

    // A stage cut short: the finished agent is read back, the other evaluated again.
    let oracle_trajectories = run.join("eval/oracle/trajectories-seed-0.jsonl");
    let before = std::fs::metadata(&oracle_trajectories).unwrap().modified().unwrap();
    std::fs::remove_dir_all(run.join("eval/one-step")).unwrap();
    let mut manifest = manifest;
    let stages = manifest["stages"].as_object_mut().unwrap();
    stages.remove("eval");
    stages.remove("report");
    std::fs::write(run.join("manifest.json"), manifest.to_string()).unwrap();
    let old_comparison = std::fs::read_to_string(run.join("eval/eval.json")).unwrap();
    sera_run();
    assert_eq!(std::fs::metadata(&oracle_trajectories).unwrap().modified().unwrap(), before);
    assert!(run.join("eval/one-step/eval.json").exists());
    let new: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval/eval.json")).unwrap())
            .unwrap();
    let old: Value = serde_json::from_str(&old_comparison).unwrap();
    assert_eq!(new["paired"], old["paired"], "the same outcomes, the same comparison");
}

#[test]
fn svg_mode_runs_end_to_end_against_a_scripted_teacher() {
    use sera_rollout::test_server::TestServer;

    const ISSUE: &str =
        "Adding zero units of an item is accepted in some code paths and rejected in others.";
    // Rollout 1 and rollout 2 both make the same one-line change and submit; the judge says yes.
    let teacher = || {
        TestServer::svg_teacher(
            json!({"command": "str_replace", "path": "/testbed/inventory/core.py",
                   "old_str": "        if quantity <= 0:\n            raise ValueError",
                   "new_str": "        if quantity < 1:\n            raise ValueError"}),
            ISSUE,
        )
        .unwrap()
    };
    let server = teacher();

    let tmp = tempfile::tempdir().unwrap();
    sera_test_support::fixture_into("py-demo", &tmp.path().join("repo"));
    // Plugin verifiers judge SVG trajectories too; no-test-edits accepts these source edits.
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let library = sera_plugin_testkit::built_library("no-test-edits").unwrap();
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let config = |name: &str, server: &TestServer| {
        format!(
            "[run]\nname = \"{name}\"\nmode = \"svg\"\nseed = 1\n[repo]\npath = \"repo\"\n\
             [rollout]\nteacher = \"openai\"\nbase_url = \"{}\"\nmodel = \"test\"\n\
             [svg]\nstarts = 1\nthreshold = 0.5\n[train]\nenabled = false\n\
             [plugins]\ndirs = [\"plugins\"]\n[env]\noffline = true\n",
            server.base_url()
        )
    };
    let (code, stderr) = run_with(tmp.path(), &config("svg", &server));
    assert_eq!(code, 0, "{stderr}");
    let run = tmp.path().join("runs/svg");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["stages"]["svg"]["counts"]["kept_t1"], 1, "{manifest}");
    assert_eq!(manifest["stages"]["svg"]["counts"]["kept_t2"], 1, "{manifest}");
    assert_eq!(manifest["stages"]["verify"]["counts"]["verified"], 2, "{manifest}");
    assert_eq!(manifest["stages"]["verify"]["counts"]["plugin_verifiers"], 1, "{manifest}");
    assert_eq!(manifest["stages"]["verify"]["counts"]["plugin_rejected"], 0, "{manifest}");
    let verdicts = read_jsonl(&run.join("verdicts.jsonl"));
    let judged: Vec<(&Value, &Value)> =
        verdicts.iter().map(|v| (&v["verifier"], &v["accepted"])).collect();
    assert_eq!(judged, [(&json!("no-test-edits"), &json!(true)); 2], "{verdicts:?}");
    assert!(manifest["stages"].get("validate").is_none(), "SVG mode neither mutates nor validates");
    let kinds: Vec<Value> =
        read_jsonl(&run.join("trajectories.jsonl")).iter().map(|t| t["kind"].clone()).collect();
    assert_eq!(kinds, [json!("svg_first"), json!("svg_second")]);
    assert_eq!(manifest["stages"]["export"]["status"], "done");
    assert!(run.join("report.html").exists());

    // A crash inside the SVG stage: its finished rollouts are in the journal under work/, so a
    // resumed run asks the teacher for nothing and writes the same trajectories.
    let chats =
        || server.requests().iter().filter(|r| r.path.ends_with("/chat/completions")).count();
    let crash_in_svg_stage = || {
        let path = run.join("manifest.json");
        let mut manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        manifest["stages"]["svg"]["status"] = json!("running");
        std::fs::write(&path, manifest.to_string()).unwrap();
        std::fs::remove_file(run.join("trajectories.jsonl")).unwrap();
    };
    let first_output = std::fs::read(run.join("trajectories.jsonl")).unwrap();
    let asked = chats();
    crash_in_svg_stage();
    let (code, stderr) = run_with(tmp.path(), &config("svg", &server));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(chats(), asked, "every rollout came from the journal");
    assert_eq!(std::fs::read(run.join("trajectories.jsonl")).unwrap(), first_output);
    // With only rollout 1 journaled, the resumed run writes the issue and does rollout 2 again
    // but not rollout 1 or its self-check.
    std::fs::remove_file(run.join("work/svg-second.jsonl")).unwrap();
    crash_in_svg_stage();
    let (code, stderr) = run_with(tmp.path(), &config("svg", &server));
    assert_eq!(code, 0, "{stderr}");
    let resumed: Vec<String> = server.requests()[..]
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .skip(asked)
        .map(|r| sera_rollout::test_server::request_text(&r.body))
        .collect();
    assert!(!resumed.is_empty());
    assert!(resumed.iter().all(|text| !text.contains("Is the final change a valid fix")));
    let kinds: Vec<Value> =
        read_jsonl(&run.join("trajectories.jsonl")).iter().map(|t| t["kind"].clone()).collect();
    assert_eq!(kinds, [json!("svg_first"), json!("svg_second")]);

    // A verifier that panics stops an SVG run at the verify stage with a data error.
    let library = sera_plugin_testkit::built_library("panicking").unwrap();
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let (code, stderr) = run_with(tmp.path(), &config("svg-panics", &teacher()));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("verifier panics by design"), "{stderr}");
}

#[test]
fn svg_shards_merge_to_the_records_of_one_run() {
    use sera_rollout::test_server::TestServer;
    // Every rollout makes the same change, so every start's P1 is the same: one run gives only
    // the first start a rollout 2, and a merge must drop the T2s other shards made.
    let server = TestServer::svg_teacher(
        json!({"command": "str_replace", "path": "/testbed/inventory/core.py",
               "old_str": "        if quantity <= 0:\n            raise ValueError",
               "new_str": "        if quantity < 1:\n            raise ValueError"}),
        "Zero quantities are accepted in some code paths and rejected in others.",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "[run]\nname = \"svg\"\nmode = \"svg\"\nseed = 3\n[repo]\npath = \"repo\"\n\
         [rollout]\nteacher = \"openai\"\nbase_url = \"{}\"\nmodel = \"test\"\n\
         [svg]\nstarts = 4\nthreshold = 0.5\n[train]\nenabled = false\n[env]\noffline = true\n",
        server.base_url()
    );
    let project = |name: &str| {
        let dir = tmp.path().join(name);
        sera_test_support::fixture_into("py-demo", &dir.join("repo"));
        std::fs::write(dir.join("pipeline.toml"), &config).unwrap();
        dir
    };
    let sera = |dir: &Path, args: &[&str]| {
        let output = Command::cargo_bin("sera").unwrap().current_dir(dir).args(args).output();
        let output = output.unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    let whole = project("whole");
    sera(&whole, &["run", "--quiet"]);
    let sharded = project("sharded");
    for shard in ["0/2", "1/2"] {
        sera(&sharded, &["run", "--quiet", "--shard", shard]);
    }
    sera(&sharded, &["merge", "--quiet", "--shards", "2"]);

    let (one, merged) = (whole.join("runs/svg"), sharded.join("runs/svg"));
    let kept = read_jsonl(&one.join("trajectories.jsonl"));
    let kinds: Vec<&Value> = kept.iter().map(|t| &t["kind"]).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "svg_second").count(), 1, "{kinds:?}");
    assert!(kinds.iter().filter(|k| **k == "svg_first").count() > 1, "{kinds:?}");
    for file in ["trajectories.jsonl", "svg-discarded.jsonl", "verified.jsonl"] {
        assert_eq!(read_jsonl(&one.join(file)), read_jsonl(&merged.join(file)), "{file}");
    }
    let manifest = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
    };
    let (a, b) = (manifest(&one), manifest(&merged));
    for count in ["starts", "accepted", "dropped_duplicate", "kept_t1", "kept_t2"] {
        assert_eq!(a["stages"]["svg"]["counts"][count], b["stages"]["svg"]["counts"][count]);
    }
    assert_eq!(a["stages"]["verify"]["counts"], b["stages"]["verify"]["counts"]);
    // Both shards had starts and each made a rollout 2; the merge dropped the later one.
    let shard_t2: Vec<u64> = ["runs/svg-shard-0-of-2", "runs/svg-shard-1-of-2"]
        .iter()
        .map(|d| manifest(&sharded.join(d))["stages"]["svg"]["counts"]["kept_t2"].as_u64().unwrap())
        .collect();
    assert_eq!(shard_t2, [1, 1]);
}

#[test]
fn plugin_verifiers_judge_every_kept_trajectory_and_a_panicking_plugin_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    sera_test_support::fixture_into("rust-demo", &tmp.path().join("repo"));
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let library = sera_plugin_testkit::built_library("no-test-edits").unwrap();
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    // The mutants of the end-to-end test's config, of which the fixture's tests catch some.
    let config = "[run]\nname = \"p\"\nseed = 7\n[repo]\npath = \"repo\"\n[mutate]\nlimit = 6\n\
                  per_function = 1\n[train]\nenabled = false\n[plugins]\ndirs = [\"plugins\"]\n";
    let (code, stderr) = run_with(tmp.path(), config);
    assert_eq!(code, 0, "{stderr}");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("runs/p/manifest.json")).unwrap(),
    )
    .unwrap();
    let verify = &manifest["stages"]["verify"]["counts"];
    assert_eq!(verify["plugin_verifiers"], 1, "{manifest}");
    // The oracle edits source files only, so the no-test-edits verifier accepts every patch.
    assert_eq!(verify["plugin_rejected"], 0, "{manifest}");
    assert_eq!(verify["verified"], verify["resolved"], "{manifest}");
    assert!(verify["verified"].as_u64().unwrap() > 0, "{manifest}");
    // Every judged trajectory has one verdict per judge in verdicts.jsonl, built-in ones first.
    let verdicts = read_jsonl(&tmp.path().join("runs/p/verdicts.jsonl"));
    let verified = read_jsonl(&tmp.path().join("runs/p/verified.jsonl"));
    for trajectory in &verified {
        let judges: Vec<&Value> = verdicts
            .iter()
            .filter(|v| v["trajectory_id"] == trajectory["id"])
            .map(|v| &v["verifier"])
            .collect();
        assert_eq!(judges, [&json!("tests"), &json!("recall"), &json!("no-test-edits")]);
    }
    assert!(verdicts.iter().all(|v| v["accepted"] == true || v["verifier"] != "no-test-edits"));

    // A plugin that panics: the panic is caught at the plugin boundary and the run stops with
    // a data error naming the plugin, instead of crashing or making unjudged data. Its operator
    // joins the mutate stage, so that is where it stops (its verifier panics in the SVG test).
    let library = sera_plugin_testkit::built_library("panicking").unwrap();
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let (code, stderr) = run_with(tmp.path(), &config.replace("name = \"p\"", "name = \"q\""));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("mutation operator `always-panics` failed on"), "{stderr}");
    assert!(stderr.contains("operator panics by design"), "{stderr}");
}
