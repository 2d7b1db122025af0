//! The serialized records that stages exchange, one JSON object per line in the run directory.
//!
//! Every record is plain data with public fields. Optional fields are omitted when empty so that
//! files stay small and diffs between runs stay readable; fields are never reordered, so equal
//! records serialize to equal bytes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Patch;

/// A source language sera-rs can read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    Python,
}

impl Language {
    /// The lowercase name used in records and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A half-open byte range `start..end` in a file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
}

/// An inclusive range of 1-based line numbers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct LineSpan {
    pub start: usize,
    pub end: usize,
}

/// What kind of definition an [`Entity`] is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A free function (including one nested in another function).
    Function,
    /// A function defined inside an `impl`, `trait` or `class` body.
    Method,
}

/// A function or method found in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entity {
    /// `stable_id("f", [file, qualified_name, start byte])`.
    pub id: String,
    /// The bare name, as written after `fn` or `def`.
    pub name: String,
    /// `module::Type::method` for Rust, `pkg.mod.Class.method` for Python.
    pub qualified_name: String,
    pub kind: EntityKind,
    pub language: Language,
    /// Path relative to the repository root, with `/` separators.
    pub file: String,
    pub bytes: ByteSpan,
    pub lines: LineSpan,
    /// Test code is never mutated and never a start function.
    pub is_test: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_async: bool,
    /// The enclosing type, trait, class or function, by qualified name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Qualified names of the functions this one calls, where the callee's name resolves to
    /// exactly one definition in the repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callees: Vec<String>,
}

/// A candidate bug: one syntactic change to one function, not yet checked against tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Mutant {
    /// `stable_id("m", [repo, commit, file, operator, "start..end", replacement])`: the
    /// replacement is part of it because one operator may offer several changes of one span
    /// (`<` to `>=` and to `==`).
    pub id: String,
    /// The repository's name (its directory name unless configured).
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub file: String,
    pub language: Language,
    /// The function the change lives in.
    pub entity: String,
    pub entity_id: String,
    /// The operator's slug, e.g. `flip-comparison`.
    pub operator: String,
    /// Bug-class slugs the change plausibly belongs to.
    pub classes: Vec<String>,
    /// One line saying what changed, e.g. "replace `<` with `<=` in `clamp`".
    pub description: String,
    /// The replaced byte range in the original file.
    pub span: ByteSpan,
    /// The change as a unified diff against the clean repository.
    pub patch: Patch,
}

/// A test-verified task: a mutant that breaks at least one test and leaves at least one passing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Instance {
    /// `stable_id("i", [mutant id, test command])`.
    pub id: String,
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub mutant_id: String,
    pub file: String,
    pub entity: String,
    pub operator: String,
    pub classes: Vec<String>,
    /// Applied to the clean repository, introduces the bug.
    pub bug_patch: Patch,
    /// The reverse of `bug_patch`: applied to the bugged repository, fixes it.
    pub gold_patch: Patch,
    /// Tests that fail with the bug and pass on clean code, keyed as in [`TestReport::tests`].
    pub fail_to_pass: Vec<String>,
    /// Tests that pass both with and without the bug.
    pub pass_to_pass: Vec<String>,
    /// The task as a user would report it.
    pub problem_statement: String,
    /// The command that runs the tests, as an argument vector.
    pub test_command: Vec<String>,
}

/// The status of one test in one run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Passed,
    Failed,
    Skipped,
    Error,
    /// An expected failure (pytest's xfail).
    Xfail,
}

impl TestStatus {
    /// Whether the test counts as passing (only [`TestStatus::Passed`] does).
    pub fn is_pass(self) -> bool {
        self == TestStatus::Passed
    }
}

/// The parsed outcome of one run of a test suite.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TestReport {
    /// The runner that produced it, e.g. `cargo` or `pytest`.
    pub runner: String,
    /// The process exit code; `None` when it was killed.
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Test key (for cargo `binary::path::name`, for pytest its node id) to status.
    pub tests: BTreeMap<String, TestStatus>,
}

/// Who sent a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One tool call made by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    pub id: String,
    /// The tool's name: `bash`, `str_replace_editor` or `submit`.
    pub name: String,
    /// The arguments as a JSON object.
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// The assistant's reasoning, kept apart from `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `role: tool`, the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with only a role and text.
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            reasoning: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// Why a rollout ended. Only [`ExitStatus::Submitted`] rollouts become training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    Submitted,
    StepLimit,
    CostLimit,
    ContextOverflow,
    FormatError,
    TeacherError,
}

/// Which rollout of which method produced a trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutKind {
    /// A procedural instance solved from its issue text.
    Procedural,
    /// SVG rollout 1: a change made from a vague bug-class prompt on the clean repository.
    SvgFirst,
    /// SVG rollout 2: the synthetic issue solved on a fresh copy.
    SvgSecond,
    /// Imported from another tool's files.
    Imported,
}

/// Token counts reported by the teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A recorded agent conversation and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trajectory {
    pub id: String,
    pub instance_id: String,
    pub kind: RolloutKind,
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug_class: Option<String>,
    /// The teacher, e.g. `oracle` or `openai:qwen3-32b`.
    pub teacher: String,
    pub messages: Vec<Message>,
    /// The tool schemas offered to the assistant, in OpenAI function format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<serde_json::Value>,
    pub exit_status: ExitStatus,
    /// The rollout's own change to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Patch>,
    /// The patch the rollout is measured against (gold fix or SVG P1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_patch: Option<Patch>,
    /// Line recall of `target_patch` in `patch`; `None` when undefined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// Hard verification: whether the instance's tests pass with `patch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
    #[serde(default)]
    pub usage: Usage,
    /// Anything else worth keeping, e.g. the problem statement of an imported row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// The judgement of one candidate patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    pub instance_id: String,
    /// The trajectory whose patch was judged, where there is one (a run's `verdicts.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory_id: Option<String>,
    /// The verifier that produced it, e.g. `tests`, `recall` or a plugin's name.
    pub verifier: String,
    pub accepted: bool,
    /// A score in `[0, 1]` where the verifier has one (recall, fraction of tests passing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_and_roles_are_lowercase() {
        let message = Message::text(Role::Assistant, "hi");
        assert_eq!(
            serde_json::to_string(&message).unwrap(),
            r#"{"role":"assistant","content":"hi"}"#
        );
        let status = serde_json::to_string(&TestStatus::Xfail).unwrap();
        assert_eq!(status, r#""XFAIL""#);
    }
}
