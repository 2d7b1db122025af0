//! The SVG loop of SERA for a model teacher, in three calls the pipeline strings together:
//!
//! 1. [`first_rollout`]: from a start function, draw a bug class (uniformly, seeded), render its
//!    vague prompt, and run the agent on a scratch copy of the CLEAN repository; then the
//!    self-check: the same teacher judges whether the change is a valid fix aligned with the
//!    prompt. Up to 3 attempts, each with a newly drawn class; the first "yes" is accepted.
//! 2. [`write_issue`]: the teacher writes an issue that the accepted change would fix, in the
//!    style of one demonstration issue drawn from a pool ([`DEFAULT_DEMONSTRATIONS`], or the
//!    user's own), without explaining the fix, mentioning tests or saying it is fixed.
//! 3. [`second_rollout`]: a fresh copy of the clean repository; the agent sees only the issue.
//!    Its trajectory's `target_patch` is P1, so that recall of P1 in P2 can be measured.
//!
//! What is left to the caller, which has `sera-verify`: dropping empty and duplicate P1 before
//! rollout 2, the recall, and the keep rules (T1 if its self-check said yes and it submitted; T2
//! if recall >= threshold and it submitted).

use std::collections::BTreeMap;
use std::path::Path;

use sera_core::{ExitStatus, Message, Patch, Role, RolloutKind, SplitMix64, Trajectory, stable_id};
use sera_sandbox::Sandbox;
use sera_taxonomy::Registry;
use serde_json::{Value, json};

use crate::agent::run_loop;
use crate::env::Environment;
use crate::sandboxed::SandboxShell;
use crate::teacher::{Reply, Task, Teacher, TeacherError};
use crate::{RolloutConfig, RolloutError, prompts};

/// A small pool of demonstration issues written for this project, in varied styles. Users
/// with a tracker of their own should pass its issues instead (a JSON list of strings).
pub const DEFAULT_DEMONSTRATIONS: &str = include_str!("demonstrations.json");

/// Where an SVG rollout starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFunction {
    pub repo: String,
    pub commit: Option<String>,
    /// The function's qualified name, as the index writes it.
    pub function: String,
    /// Its file, relative to the repository root.
    pub file: String,
}

impl StartFunction {
    /// The id shared by every trajectory grown from this start.
    pub fn id(&self) -> String {
        stable_id(
            "s",
            &[&self.repo, self.commit.as_deref().unwrap_or(""), &self.file, &self.function],
        )
    }
}

/// Settings of the SVG loop beyond those of a single rollout.
#[derive(Debug, Clone)]
pub struct SvgConfig {
    pub rollout: RolloutConfig,
    /// Rollout-1 attempts per start function, each with a new bug class (SERA: 3).
    pub attempts: usize,
}

impl Default for SvgConfig {
    fn default() -> Self {
        SvgConfig { rollout: RolloutConfig::default(), attempts: 3 }
    }
}

/// The rollout-1 attempts for one start function.
#[derive(Debug, Clone)]
pub struct FirstRollouts {
    /// Every attempt, in order; `metadata.self_check` is `yes`, `no` or `unknown`.
    pub attempts: Vec<Trajectory>,
    /// The attempt the self-check accepted, if any.
    pub accepted: Option<usize>,
}

/// Reads a pool of demonstration issues: a JSON list of strings.
pub fn parse_demonstrations(text: &str) -> Result<Vec<String>, String> {
    let pool: Vec<String> = serde_json::from_str(text)
        .map_err(|err| format!("expected a JSON list of issue texts: {err}"))?;
    if pool.iter().all(|issue| issue.trim().is_empty()) {
        return Err("the list of demonstration issues is empty".into());
    }
    Ok(pool.into_iter().filter(|issue| !issue.trim().is_empty()).collect())
}

/// Rollout 1 with its self-check, up to `config.attempts` times.
pub fn first_rollout(
    sandbox: &Sandbox,
    repo: &Path,
    start: &StartFunction,
    registry: &Registry,
    teacher: &dyn Teacher,
    config: &SvgConfig,
) -> Result<FirstRollouts, RolloutError> {
    teacher.supports(RolloutKind::SvgFirst).map_err(RolloutError::Unsupported)?;
    let mut rng = SplitMix64::derive(config.rollout.seed, &start.id());
    let mut classes: Vec<usize> = (0..registry.len()).collect();
    let mut attempts = Vec::new();
    for attempt in 0..config.attempts.max(1) {
        if classes.is_empty() {
            break;
        }
        // Uniform over the classes not yet tried, so each attempt gets a new one.
        let class = classes.swap_remove(rng.below(classes.len() as u64) as usize);
        let Some(class) = registry.by_index(class) else { break };
        let prompt = class.template.render(&start.function, &start.file).map_err(|err| {
            RolloutError::Unsupported(format!(
                "bug class {}: its template does not render: {err}",
                class.slug
            ))
        })?;
        let seed = rng.next_u64();
        let mut trajectory =
            rollout(sandbox, repo, start, &prompt, RolloutKind::SvgFirst, teacher, config, seed)?;
        trajectory.id = stable_id(
            "t",
            &[
                &start.id(),
                &teacher.name(),
                "svg1",
                &attempt.to_string(),
                &config.rollout.seed.to_string(),
            ],
        );
        trajectory.bug_class = Some(class.slug.clone());
        trajectory.metadata.insert("attempt".into(), json!(attempt + 1));
        let verdict =
            if trajectory.exit_status == ExitStatus::Submitted && trajectory.patch.is_some() {
                self_check(teacher, &prompt, &trajectory, config)
            } else {
                Ok(None)
            };
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(err) => {
                trajectory.metadata.insert("self_check_error".into(), json!(err.to_string()));
                None
            }
        };
        let label = match verdict {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        trajectory.metadata.insert("self_check".into(), json!(label));
        attempts.push(trajectory);
        if verdict == Some(true) {
            return Ok(FirstRollouts { accepted: Some(attempts.len() - 1), attempts });
        }
    }
    Ok(FirstRollouts { attempts, accepted: None })
}

/// The synthetic issue for an accepted rollout 1, in the style of `demonstration`.
pub fn write_issue(
    teacher: &dyn Teacher,
    first: &Trajectory,
    demonstration: &str,
    config: &SvgConfig,
) -> Result<String, TeacherError> {
    let patch = first.patch.as_ref().map(Patch::render).unwrap_or_default();
    let text = format!(
        "Here are the steps of a software engineering agent that found and fixed a problem in a repository, as JSON \
(each step has the agent's response, the action it took and the observation it got):\n<steps>\n{}\n</steps>\n\n\
The change it made:\n<diff>\n{patch}</diff>\n\n\
Write an issue that a user of this repository might have filed about the problem this change fixes. \
Write it in the style of the example issue below (its tone, length and structure), not about its content:\n\
<example_issue>\n{demonstration}\n</example_issue>\n\n\
Describe how to reproduce the problem and what happens compared with what is expected. Do not explain the fix, \
do not mention tests or test files, and do not say that the problem has been fixed. \
Answer with the issue text only, inside <issue></issue> tags.",
        steps_json(&first.messages, 0)
    );
    let reply = plain_call(teacher, &text, config)?;
    let issue =
        between_tags(&reply.content, "issue").unwrap_or_else(|| reply.content.trim().to_string());
    if issue.is_empty() {
        return Err(TeacherError::Protocol("the issue writer answered with an empty issue".into()));
    }
    Ok(issue)
}

/// Rollout 2: the synthetic issue solved on a fresh copy of the clean repository, measured
/// against `target` (P1).
pub fn second_rollout(
    sandbox: &Sandbox,
    repo: &Path,
    start: &StartFunction,
    issue: &str,
    target: &Patch,
    teacher: &dyn Teacher,
    config: &SvgConfig,
) -> Result<Trajectory, RolloutError> {
    let seed = SplitMix64::derive(config.rollout.seed, &format!("{}/svg2", start.id())).next_u64();
    let mut trajectory =
        rollout(sandbox, repo, start, issue, RolloutKind::SvgSecond, teacher, config, seed)?;
    trajectory.id =
        stable_id("t", &[&start.id(), &teacher.name(), "svg2", &config.rollout.seed.to_string()]);
    trajectory.target_patch = Some(target.clone());
    trajectory.metadata.insert("problem_statement".into(), json!(issue));
    Ok(trajectory)
}

#[allow(clippy::too_many_arguments)]
fn rollout(
    sandbox: &Sandbox,
    repo: &Path,
    start: &StartFunction,
    statement: &str,
    kind: RolloutKind,
    teacher: &dyn Teacher,
    config: &SvgConfig,
    seed: u64,
) -> Result<Trajectory, RolloutError> {
    let id = start.id();
    let scratch = sandbox
        .scratch(repo)
        .map_err(|source| RolloutError::Sandbox { instance: id.clone(), source })?;
    let root = scratch.path().to_path_buf();
    let workdir = &config.rollout.workdir;
    let shell = SandboxShell::new(scratch, workdir);
    let mut env = Environment::new(&root, workdir, Box::new(shell), config.rollout.command_timeout)
        .map_err(|source| RolloutError::Io { instance: id.clone(), source })?;
    let tools = prompts::tool_schemas(workdir);
    let task = Task { kind, workdir, tools: &tools, instance: None, seed };
    let language = prompts::TaskLanguage::from_path(&start.file);
    let messages = vec![
        Message::text(Role::System, prompts::SYSTEM_PROMPT),
        Message::text(Role::User, prompts::task_message(workdir, statement, language)),
    ];
    let outcome = run_loop(&mut env, teacher, &task, messages, &config.rollout.limits);
    let mut metadata = BTreeMap::new();
    metadata.insert("steps".to_string(), json!(outcome.steps));
    metadata.insert("format_errors".to_string(), json!(outcome.format_errors));
    metadata.insert("seed".to_string(), json!(config.rollout.seed));
    if kind == RolloutKind::SvgFirst {
        metadata.insert("prompt".to_string(), json!(statement));
    }
    if let Some(error) = &outcome.error {
        metadata.insert("error".to_string(), json!(error));
    }
    Ok(Trajectory {
        id: String::new(),
        instance_id: id,
        kind,
        repo: start.repo.clone(),
        commit: start.commit.clone(),
        start_function: Some(start.function.clone()),
        start_file: Some(start.file.clone()),
        bug_class: None,
        teacher: teacher.name(),
        messages: outcome.messages,
        tools,
        exit_status: outcome.exit_status,
        patch: outcome.patch.filter(|patch| !patch.is_empty()),
        target_patch: None,
        recall: None,
        resolved: None,
        usage: outcome.usage,
        metadata,
    })
}

/// SERA's self-check: yes or no in tags; without a tag, retry with the first quarter of the
/// steps dropped, then the first half (3 tries in all).
fn self_check(
    teacher: &dyn Teacher,
    prompt: &str,
    trajectory: &Trajectory,
    config: &SvgConfig,
) -> Result<Option<bool>, TeacherError> {
    let patch = trajectory.patch.as_ref().map(Patch::render).unwrap_or_default();
    let steps = trajectory.messages.iter().filter(|m| m.role == Role::Assistant).count();
    for quarter in 0..3 {
        let text = format!(
            "You are reviewing the work of a software engineering agent. It was given this task:\n<task>\n{prompt}\n</task>\n\n\
Here are its steps as JSON (each step has the agent's response, the action it took and the observation it got):\n\
<steps>\n{}\n</steps>\n\nThe final change it made:\n<diff>\n{patch}</diff>\n\n\
Is the final change a valid fix aligned with the task? Think briefly, then answer with <answer>yes</answer> or <answer>no</answer>.",
            steps_json(&trajectory.messages, steps * quarter / 4)
        );
        let reply = plain_call(teacher, &text, config)?;
        let answer = between_tags(&reply.content, "answer").map(|a| a.to_ascii_lowercase());
        match answer.as_deref().map(str::trim) {
            Some(a) if a.starts_with("yes") => return Ok(Some(true)),
            Some(a) if a.starts_with("no") => return Ok(Some(false)),
            _ => continue,
        }
    }
    Ok(None)
}

/// A chat call without tools (the judge and the issue writer).
fn plain_call(
    teacher: &dyn Teacher,
    text: &str,
    config: &SvgConfig,
) -> Result<Reply, TeacherError> {
    let task = Task {
        kind: RolloutKind::SvgFirst,
        workdir: &config.rollout.workdir,
        tools: &[],
        instance: None,
        seed: 0,
    };
    teacher.reply(&task, &[Message::text(Role::User, text)])
}

/// The steps of a conversation as a JSON list of {response, action, observation}, skipping
/// the first `skip` steps.
fn steps_json(messages: &[Message], skip: usize) -> String {
    let mut steps = Vec::new();
    let mut index = 0;
    while index < messages.len() {
        let message = &messages[index];
        index += 1;
        if message.role != Role::Assistant {
            continue;
        }
        let mut observations = Vec::new();
        while index < messages.len() && messages[index].role == Role::Tool {
            observations.push(messages[index].content.clone());
            index += 1;
        }
        let actions: Vec<Value> = message
            .tool_calls
            .iter()
            .map(|call| json!({"tool": call.name, "arguments": call.arguments}))
            .collect();
        let response = match (&message.reasoning, message.content.is_empty()) {
            (Some(reasoning), true) => reasoning.clone(),
            (Some(reasoning), false) => format!("{reasoning}\n{}", message.content),
            (None, _) => message.content.clone(),
        };
        steps.push(json!({"response": response, "action": actions, "observation": observations.join("\n")}));
    }
    let kept: Vec<Value> = steps.into_iter().skip(skip).collect();
    serde_json::to_string_pretty(&kept).unwrap_or_default()
}

/// The text inside the last `<tag>...</tag>` of `text`.
fn between_tags(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.rfind(&open)? + open.len();
    let end = text[start..].find(&close).map_or(text.len(), |end| start + end);
    Some(text[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_from_the_last_occurrence() {
        assert_eq!(
            between_tags("I think <answer>no</answer>... wait <answer> Yes </answer>", "answer")
                .as_deref(),
            Some("Yes")
        );
        assert_eq!(between_tags("no tags here", "answer"), None);
        assert_eq!(
            between_tags("<issue>\nCrash on empty input\n", "issue").as_deref(),
            Some("Crash on empty input")
        );
    }

    #[test]
    fn the_default_pool_parses() {
        let pool = parse_demonstrations(DEFAULT_DEMONSTRATIONS).expect("parses");
        assert!(pool.len() >= 5);
        assert!(parse_demonstrations("[]").is_err());
        assert!(parse_demonstrations("{}").is_err());
    }
}
