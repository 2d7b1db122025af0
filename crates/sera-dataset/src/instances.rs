//! Task instances as rows of the datasets the field runs agents on: SWE-bench and SWE-smith.
//!
//! The fields are exactly those of each dataset, in their order:
//! - SWE-bench (`swebench.types.SWEbenchInstance`, the rows of `SWE-bench/SWE-bench`): `repo`,
//!   `instance_id`, `base_commit` (the code with the bug), `patch` (the fix), `test_patch`,
//!   `problem_statement`, `hints_text`, `created_at`, `version`, `FAIL_TO_PASS` and
//!   `PASS_TO_PASS` (JSON lists encoded as strings, as `json.dumps` writes them), and
//!   `environment_setup_commit`.
//! - SWE-smith (what `swesmith.harness.gather` writes, with the issue text added):
//!   `instance_id`, `patch` (the bug, applied to the clean code), `FAIL_TO_PASS` and
//!   `PASS_TO_PASS` (plain lists), `created_at`, `image_name`, `repo`, `base_commit` (the code
//!   with the bug, on a branch named after the instance) and `problem_statement`.
//!
//! sera-rs's instances need no test patch: the tests that catch the bug are already in the
//! repository, so `test_patch` is empty. The test names are given here already in the key
//! space of the harness's log parser (the caller maps them).

use sera_core::Instance;
use serde::Serialize;

/// A dataset format for task instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskFormat {
    SweBench,
    SweSmith,
}

impl TaskFormat {
    pub const ALL: [TaskFormat; 2] = [TaskFormat::SweBench, TaskFormat::SweSmith];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TaskFormat::SweBench => "swe-bench",
            TaskFormat::SweSmith => "swe-smith",
        }
    }
}

impl std::str::FromStr for TaskFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown task format {s:?} (expected swe-bench or swe-smith)"))
    }
}

/// Everything a row needs beyond the instance itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Task<'a> {
    pub instance: &'a Instance,
    /// The row's `instance_id` ([`task_id`]).
    pub instance_id: String,
    /// `owner/name`.
    pub repo: String,
    /// The commit with the bug.
    pub base_commit: String,
    /// The clean commit (SWE-bench's `environment_setup_commit`).
    pub clean_commit: String,
    /// `2024-05-01T12:00:00Z`.
    pub created_at: String,
    pub version: String,
    /// The Docker image the task runs in (SWE-smith).
    pub image_name: String,
    /// Test names as the harness's log parser reads them.
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
}

/// The first 8 hex digits of a commit, as SWE-smith names repositories at a commit.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

/// A SWE-smith-style instance id, which is also a valid git branch and Docker tag:
/// `owner__name.<commit8>.<operator>__<hash>` (`ledger.3f2a9c1d.flip-comparison__86dac011cd0291a4`
/// for a repository named without an owner).
pub fn task_id(repo: &str, clean_commit: &str, instance: &Instance) -> String {
    let slug: String = repo
        .replace('/', "__")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
        .collect();
    let short = short_commit(clean_commit);
    let hash = instance.id.strip_prefix("i-").unwrap_or(&instance.id);
    format!("{slug}.{short}.{}__{hash}", instance.operator)
}

/// The SWE-smith-style image name for a repository at a commit, `sera.x86_64.owner_1776_name.<commit8>`
/// (Docker forbids `__`; SWE-bench and SWE-smith write it `_1776_`), lowercased.
pub fn image_name(repo: &str, clean_commit: &str) -> String {
    let short = short_commit(clean_commit);
    format!("sera.x86_64.{}.{short}", repo.replace('/', "__").replace("__", "_1776_"))
        .to_lowercase()
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct SweBenchRow<'a> {
    repo: &'a str,
    instance_id: &'a str,
    base_commit: &'a str,
    patch: String,
    test_patch: &'a str,
    problem_statement: &'a str,
    hints_text: &'a str,
    created_at: &'a str,
    version: &'a str,
    FAIL_TO_PASS: String,
    PASS_TO_PASS: String,
    environment_setup_commit: &'a str,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct SweSmithRow<'a> {
    instance_id: &'a str,
    patch: String,
    FAIL_TO_PASS: &'a [String],
    PASS_TO_PASS: &'a [String],
    created_at: &'a str,
    image_name: &'a str,
    repo: &'a str,
    base_commit: &'a str,
    problem_statement: &'a str,
}

/// The row of `task` in `format`, as a JSON value whose keys keep the dataset's order.
pub fn row(format: TaskFormat, task: &Task<'_>) -> serde_json::Value {
    let instance = task.instance;
    let value = match format {
        TaskFormat::SweBench => serde_json::to_value(SweBenchRow {
            repo: &task.repo,
            instance_id: &task.instance_id,
            base_commit: &task.base_commit,
            patch: instance.gold_patch.render(),
            test_patch: "",
            problem_statement: &instance.problem_statement,
            hints_text: "",
            created_at: &task.created_at,
            version: &task.version,
            FAIL_TO_PASS: sera_chat::pyjson::dumps(&task.fail_to_pass),
            PASS_TO_PASS: sera_chat::pyjson::dumps(&task.pass_to_pass),
            environment_setup_commit: &task.clean_commit,
        }),
        TaskFormat::SweSmith => serde_json::to_value(SweSmithRow {
            instance_id: &task.instance_id,
            patch: instance.bug_patch.render(),
            FAIL_TO_PASS: &task.fail_to_pass,
            PASS_TO_PASS: &task.pass_to_pass,
            created_at: &task.created_at,
            image_name: &task.image_name,
            repo: &task.repo,
            base_commit: &task.base_commit,
            problem_statement: &instance.problem_statement,
        }),
    };
    value.expect("rows of strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sera_core::Patch;

    fn instance() -> Instance {
        let bug = Patch::between("src/lib.rs", "a > b\n", "a < b\n");
        Instance {
            id: "i-86dac011cd0291a4".into(),
            repo: "ledger".into(),
            commit: Some("c0ca648b1674f8badb54dd81b8731c4e232a39e9".into()),
            mutant_id: "m-1".into(),
            file: "src/lib.rs".into(),
            entity: "f".into(),
            operator: "flip-comparison".into(),
            classes: vec![],
            gold_patch: bug.reverse(),
            bug_patch: bug,
            fail_to_pass: vec!["a".into()],
            pass_to_pass: vec!["b".into()],
            problem_statement: "f is wrong — é".into(),
            test_command: vec!["cargo".into(), "test".into()],
        }
    }

    #[test]
    fn ids_are_branch_and_tag_safe() {
        let i = instance();
        let commit = i.commit.clone().unwrap();
        assert_eq!(
            task_id("acme/led ger", &commit, &i),
            "acme__led-ger.c0ca648b.flip-comparison__86dac011cd0291a4"
        );
        assert_eq!(image_name("Acme/Ledger", &commit), "sera.x86_64.acme_1776_ledger.c0ca648b");
    }

    #[test]
    fn rows_have_the_datasets_fields_in_order() {
        let i = instance();
        let task = Task {
            instance: &i,
            instance_id: "x".into(),
            repo: "acme/ledger".into(),
            base_commit: "bug".into(),
            clean_commit: "clean".into(),
            created_at: "2024-05-01T12:00:00Z".into(),
            version: "c0ca648b".into(),
            image_name: "img".into(),
            fail_to_pass: vec!["tests::a".into(), "é".into()],
            pass_to_pass: vec![],
        };
        let bench = row(TaskFormat::SweBench, &task);
        let keys: Vec<&str> = bench.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "repo",
                "instance_id",
                "base_commit",
                "patch",
                "test_patch",
                "problem_statement",
                "hints_text",
                "created_at",
                "version",
                "FAIL_TO_PASS",
                "PASS_TO_PASS",
                "environment_setup_commit"
            ]
        );
        assert_eq!(bench["FAIL_TO_PASS"], r#"["tests::a", "\u00e9"]"#);
        assert_eq!(bench["PASS_TO_PASS"], "[]");
        assert_eq!(bench["patch"], i.gold_patch.render());
        let smith = row(TaskFormat::SweSmith, &task);
        let keys: Vec<&str> = smith.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "instance_id",
                "patch",
                "FAIL_TO_PASS",
                "PASS_TO_PASS",
                "created_at",
                "image_name",
                "repo",
                "base_commit",
                "problem_statement"
            ]
        );
        assert_eq!(smith["patch"], i.bug_patch.render());
        assert_eq!(smith["FAIL_TO_PASS"], serde_json::json!(["tests::a", "é"]));
    }
}
