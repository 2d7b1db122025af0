//! `sera export-instances`: SWE-bench and SWE-smith rows, with each bug committed on a branch
//! of the repository. Needs git and bubblewrap. That the published `swebench` package reads
//! the rows and grades them is checked in tests/python/test_swe_bench_tasks.py.

use std::path::Path;

use assert_cmd::Command;
use sera_test_support::git;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

const FILE: &str = "inventory/core.py";

/// A git copy of tests/data/py-demo and its commit.
fn repo() -> (tempfile::TempDir, String) {
    let dir = sera_test_support::fixture("py-demo");
    let commit = sera_test_support::git_init_commit(dir.path());
    (dir, commit)
}

/// The patch that turns line 48 of the fixture's `inventory/core.py` from `old` into `new`, with
/// git's three lines of context.
fn bug_patch(old: &str, new: &str) -> String {
    let text =
        std::fs::read_to_string(sera_test_support::data_dir().join("py-demo").join(FILE)).unwrap();
    let before = text.replacen(OLD, old, 1);
    let after = text.replacen(OLD, new, 1);
    sera_core::Patch::between(FILE, &before, &after).render()
}

fn instance(id: &str, commit: Option<&str>, old: &str, new: &str) -> serde_json::Value {
    let mut record = serde_json::json!({
        "id": id, "repo": "py-demo", "mutant_id": "m-1", "file": FILE,
        "entity": "inventory.core.Inventory.take", "operator": "flip-comparison",
        "classes": ["off-by-one"],
        "bug_patch": bug_patch(old, new), "gold_patch": bug_patch(new, old),
        "fail_to_pass": ["tests/test_core.py::test_take_reduces_quantity"],
        "pass_to_pass": ["tests/test_core.py::test_item_value", "tests/test_p.py::test_x[a b]"],
        "problem_statement": "take() refuses what it has",
        "test_command": ["python3", "-m", "pytest", "-rA"],
    });
    if let Some(commit) = commit {
        record["commit"] = commit.into();
    }
    record
}

const OLD: &str = "        if quantity > item.quantity:";
const NEW: &str = "        if quantity < item.quantity:";

fn write_instances(dir: &Path, records: &[serde_json::Value]) -> std::path::PathBuf {
    let path = dir.join("instances.jsonl");
    let lines: Vec<String> = records.iter().map(|r| r.to_string() + "\n").collect();
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

fn export(repo: &Path, instances: &Path, format: &str, out: &Path) -> assert_cmd::assert::Assert {
    sera()
        .args(["export-instances", "--format", format, "--repo-name", "acme/inventory"])
        .arg("--repo")
        .arg(repo)
        .arg("--instances")
        .arg(instances)
        .arg("--out")
        .arg(out)
        .assert()
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text).unwrap();
    }
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn swe_bench_rows_point_at_bug_commits_on_branches_and_reruns_are_identical() {
    let (repo, clean) = repo();
    let work = tempfile::tempdir().unwrap();
    let instances = write_instances(
        work.path(),
        &[
            instance("i-00000000000000aa", Some(&clean), OLD, NEW),
            instance("i-00000000000000bb", None, OLD, NEW),
            instance("i-00000000000000cc", Some(&clean), "        no such line", NEW),
        ],
    );
    let out = work.path().join("tasks.jsonl");
    let assert = export(repo.path(), &instances, "swe-bench", &out).success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("1 of 3 instances written"), "{stderr}");
    assert!(stderr.contains("skipped i-00000000000000bb: no commit recorded"), "{stderr}");
    assert!(stderr.contains("skipped i-00000000000000cc: `git apply"), "{stderr}");
    assert!(stderr.contains("1 PASS_TO_PASS tests dropped"), "{stderr}");

    let rows = rows(&out);
    let row = &rows[0];
    let id = "acme__inventory.".to_string() + &clean[..8] + ".flip-comparison__00000000000000aa";
    assert_eq!(row["instance_id"], id.as_str());
    assert_eq!(row["repo"], "acme/inventory");
    assert_eq!(row["environment_setup_commit"], clean.as_str());
    assert_eq!(row["version"], &clean[..8]);
    assert_eq!(row["created_at"], "2024-05-01T12:00:00Z");
    assert_eq!(row["test_patch"], "");
    assert_eq!(row["FAIL_TO_PASS"], r#"["tests/test_core.py::test_take_reduces_quantity"]"#);
    assert_eq!(row["PASS_TO_PASS"], r#"["tests/test_core.py::test_item_value"]"#);
    assert_eq!(row["patch"], bug_patch(NEW, OLD).as_str());

    // The bug commit: a child of the clean commit with the bug in its tree, on a branch named
    // after the task; the working tree, index and checked-out branch are untouched.
    let base = row["base_commit"].as_str().unwrap();
    assert_eq!(git(repo.path(), &["rev-parse", &format!("refs/heads/{id}")]), base);
    assert_eq!(git(repo.path(), &["rev-parse", &format!("{base}^")]), clean);
    assert!(git(repo.path(), &["show", &format!("{base}:{FILE}")]).contains(NEW.trim()));
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    assert_eq!(git(repo.path(), &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(
        git(repo.path(), &["log", "-1", "--format=%an %ae", base]),
        "sera-rs sera-rs@users.noreply.github.com"
    );

    let first = std::fs::read(&out).unwrap();
    export(repo.path(), &instances, "swe-bench", &out).success();
    assert_eq!(std::fs::read(&out).unwrap(), first, "a rerun writes the same bytes");
}

#[test]
fn swe_smith_rows_carry_the_bug_patch_and_lists() {
    let (repo, clean) = repo();
    let work = tempfile::tempdir().unwrap();
    let instances =
        write_instances(work.path(), &[instance("i-00000000000000aa", Some(&clean), OLD, NEW)]);
    let out = work.path().join("tasks.json");
    export(repo.path(), &instances, "swe-smith", &out).success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("[\n    {\n        \"instance_id\": "), "{text}");
    let rows = rows(&out);
    let row = &rows[0];
    // The fields and their order are checked in sera-dataset's own tests; here, their values.
    assert_eq!(row.as_object().unwrap().len(), 9);
    assert_eq!(row["patch"], bug_patch(OLD, NEW).as_str());
    assert_eq!(
        row["FAIL_TO_PASS"],
        serde_json::json!(["tests/test_core.py::test_take_reduces_quantity"])
    );
    assert_eq!(
        row["image_name"],
        format!("sera.x86_64.acme_1776_inventory.{}", &clean[..8]).as_str()
    );
    // SWE-agent checks out the branch named after the instance.
    let id = row["instance_id"].as_str().unwrap();
    assert_eq!(git(repo.path(), &["rev-parse", id]), row["base_commit"].as_str().unwrap());
}

#[test]
fn a_branch_that_points_elsewhere_is_kept_unless_forced() {
    let (repo, clean) = repo();
    let work = tempfile::tempdir().unwrap();
    let instances =
        write_instances(work.path(), &[instance("i-00000000000000aa", Some(&clean), OLD, NEW)]);
    let id = "acme__inventory.".to_string() + &clean[..8] + ".flip-comparison__00000000000000aa";
    git(repo.path(), &["branch", &id, "main"]);
    let out = work.path().join("tasks.jsonl");
    let assert = export(repo.path(), &instances, "swe-bench", &out).success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains(&format!("branch `{id}` already points at {clean}")), "{stderr}");
    assert!(stderr.contains("0 of 1 instances written"), "{stderr}");
    assert_eq!(git(repo.path(), &["rev-parse", &id]), clean);

    sera()
        .args([
            "export-instances",
            "--format",
            "swe-bench",
            "--force",
            "--repo-name",
            "acme/inventory",
        ])
        .arg("--repo")
        .arg(repo.path())
        .arg("--instances")
        .arg(&instances)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let base = rows(&out)[0]["base_commit"].as_str().unwrap().to_string();
    assert_eq!(git(repo.path(), &["rev-parse", &id]), base);
}

#[test]
fn a_folder_that_is_not_a_git_repository_is_an_input_error() {
    let repo = sera_test_support::fixture("py-demo");
    let work = tempfile::tempdir().unwrap();
    let instances = write_instances(work.path(), &[instance("i-1", Some("abc"), OLD, NEW)]);
    let assert = export(repo.path(), &instances, "swe-bench", &work.path().join("t.jsonl"))
        .failure()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("is not a git repository"), "{stderr}");
    let assert = sera()
        .args(["export-instances", "--format", "swe-bugs", "--instances", "x", "--out", "y"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("expected swe-bench or swe-smith"), "{stderr}");
}
