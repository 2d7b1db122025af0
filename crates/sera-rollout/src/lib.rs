//! The agent environment of sera-rs: the tools an agent uses on a scratch copy of a repository
//! (`bash`, `str_replace_editor`, `submit`), the observation formats, the step loop with its
//! limits and exit statuses, and the [`Teacher`] seam with its two backends, [`Oracle`] (acts
//! out a procedural instance's gold fix for real) and [`OpenAiTeacher`] (any OpenAI-compatible
//! chat-completions server). The [`svg`] module runs SERA's loop for a model teacher:
//! rollout 1 from a bug-class prompt on the clean repository with its self-check, the synthetic
//! issue written in the style of a demonstration, and rollout 2 on a fresh copy.
//!
//! Must not know: how a trajectory is graded (`sera-verify`'s business) or how processes are
//! spawned (only through `sera-sandbox`).
//!
//! It deliberately does not verify anything: a [`Trajectory`] leaves here with its patch and
//! target patch, and `sera-pipeline` grades it with `sera-verify` (hard: the instance's tests;
//! soft: line recall). Processes are spawned only by `sera-sandbox`, through [`SandboxShell`];
//! HTTP lives in the [`openai`] module alone. Trajectories hold no wall-clock timings, so the
//! same seed and the same answers give the same record; commands whose own output varies
//! (test runners print their durations) are the one exception.
//!
//! ```no_run
//! use sera_rollout::{Oracle, RolloutConfig, solve_instance};
//! use sera_sandbox::{Sandbox, SandboxConfig};
//!
//! # fn demo(instance: &sera_core::Instance) -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let trajectory = solve_instance(&sandbox, "path/to/repo".as_ref(), instance, &Oracle, &RolloutConfig::default())?;
//! println!("{:?} after {} messages", trajectory.exit_status, trajectory.messages.len());
//! # Ok(())
//! # }
//! ```

pub mod agent;
pub mod demos;
pub mod editor;
pub mod env;
pub mod openai;
mod oracle;
mod parse;
pub mod prompts;
mod sandboxed;
pub mod svg;
mod teacher;
#[cfg(feature = "test-support")]
pub mod test_server;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sera_core::{Instance, Message, Role, RolloutKind, Trajectory, stable_id};
use serde_json::json;

pub use agent::{FormatError, LoopConfig, LoopOutcome, check_reply, run_loop};
pub use env::{Environment, Shell, ShellOutput, ToolResult};
pub use openai::{OpenAiConfig, OpenAiTeacher};
pub use oracle::Oracle;
pub use parse::{hermes_calls, split_think};
pub use sandboxed::SandboxShell;
pub use teacher::{Reply, Task, Teacher, TeacherError};

/// The settings of a rollout. Plain data; start from `RolloutConfig::default()`.
#[derive(Debug, Clone)]
pub struct RolloutConfig {
    /// Where the agent is told the repository is (SWE-bench convention: `/testbed`).
    pub workdir: String,
    /// Per-command timeout of the `bash` tool.
    pub command_timeout: Duration,
    pub limits: LoopConfig,
    /// The run's seed; each instance derives its own from it.
    pub seed: u64,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            workdir: "/testbed".to_string(),
            command_timeout: Duration::from_secs(300),
            limits: LoopConfig::default(),
            seed: 0,
        }
    }
}

/// Why a rollout could not be run at all (as opposed to a rollout that ran and failed, which
/// is a [`Trajectory`] with a non-submitted exit status).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// The scratch copy or the sandbox could not be set up.
    #[error("instance {instance}: {source}")]
    Sandbox {
        instance: String,
        #[source]
        source: sera_sandbox::SandboxError,
    },
    /// The instance's bug patch does not apply to the repository.
    #[error("instance {instance}: the bug patch does not apply to {repo}: {message}")]
    BugPatch { instance: String, repo: String, message: String },
    /// The scratch tree could not be read.
    #[error("instance {instance}: {source}")]
    Io {
        instance: String,
        #[source]
        source: std::io::Error,
    },
    /// The teacher cannot do this kind of rollout.
    #[error("{0}")]
    Unsupported(String),
}

/// Solves a procedural instance: a scratch copy of `repo` with the bug applied, the task
/// message built from the instance's problem statement, and the step loop driven by `teacher`.
/// The trajectory's `target_patch` is the gold fix; `resolved` and `recall` are left for the
/// verifier.
pub fn solve_instance(
    sandbox: &sera_sandbox::Sandbox,
    repo: &Path,
    instance: &Instance,
    teacher: &dyn Teacher,
    config: &RolloutConfig,
) -> Result<Trajectory, RolloutError> {
    let kind = RolloutKind::Procedural;
    teacher.supports(kind).map_err(RolloutError::Unsupported)?;
    let sandbox_error = |source| RolloutError::Sandbox { instance: instance.id.clone(), source };
    let scratch = sandbox.scratch(repo).map_err(sandbox_error)?;
    scratch.apply(&instance.bug_patch).map_err(|err| RolloutError::BugPatch {
        instance: instance.id.clone(),
        repo: repo.display().to_string(),
        message: err.to_string(),
    })?;
    let root = scratch.path().to_path_buf();
    let shell = SandboxShell::new(scratch, &config.workdir);
    let mut env = Environment::new(&root, &config.workdir, Box::new(shell), config.command_timeout)
        .map_err(|source| RolloutError::Io { instance: instance.id.clone(), source })?;
    let seed = instance_seed(config.seed, &instance.id);
    let tools = prompts::tool_schemas(&config.workdir);
    let task =
        Task { kind, workdir: &config.workdir, tools: &tools, instance: Some(instance), seed };
    let language = prompts::TaskLanguage::from_path(&instance.file);
    let messages = vec![
        Message::text(Role::System, prompts::SYSTEM_PROMPT),
        Message::text(
            Role::User,
            prompts::task_message(&config.workdir, &instance.problem_statement, language),
        ),
    ];
    let outcome = run_loop(&mut env, teacher, &task, messages, &config.limits);
    let teacher_name = teacher.name();
    let id = stable_id("t", &[&instance.id, &teacher_name, "procedural", &config.seed.to_string()]);
    let mut metadata = BTreeMap::new();
    metadata.insert("steps".to_string(), json!(outcome.steps));
    metadata.insert("format_errors".to_string(), json!(outcome.format_errors));
    metadata.insert("seed".to_string(), json!(config.seed));
    metadata.insert("problem_statement".to_string(), json!(instance.problem_statement));
    if let Some(error) = &outcome.error {
        metadata.insert("error".to_string(), json!(error));
    }
    Ok(Trajectory {
        id,
        instance_id: instance.id.clone(),
        kind,
        repo: instance.repo.clone(),
        commit: instance.commit.clone(),
        start_function: Some(instance.entity.clone()),
        start_file: Some(instance.file.clone()),
        bug_class: instance.classes.first().cloned(),
        teacher: teacher_name,
        messages: outcome.messages,
        tools,
        exit_status: outcome.exit_status,
        patch: outcome.patch.filter(|patch| !patch.is_empty()),
        target_patch: Some(instance.gold_patch.clone()),
        recall: None,
        resolved: None,
        usage: outcome.usage,
        metadata,
    })
}

/// The seed of one instance's rollout: a stable function of the run seed and the instance id,
/// so that adding instances to a run does not change the others.
pub fn instance_seed(seed: u64, instance_id: &str) -> u64 {
    sera_core::SplitMix64::derive(seed, instance_id).next_u64()
}
