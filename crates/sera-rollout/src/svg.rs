//! The SVG loop of SERA for a model teacher, in three calls the pipeline strings together:
//!
//! 1. [`first_rollout`]: from a start function, draw a bug class (uniformly, seeded), render its
//!    vague prompt, and run the agent on a scratch copy of the CLEAN repository; then the
//!    self-check: the same teacher reads the steps and the task message and answers whether the
//!    change is a valid fix aligned with the prompt. Up to 3 attempts, each with a newly drawn
//!    class; the first "yes" is accepted.
//! 2. [`write_issue`]: the teacher writes an issue that the accepted change would fix, in the
//!    style of one demonstration issue drawn from a pool ([`DEFAULT_DEMONSTRATIONS`], or one
//!    built with [`crate::demos`] from real issues), from the steps alone: it never sees the diff.
//! 3. [`second_rollout`]: a fresh copy of the clean repository; the agent sees only the issue.
//!    Its trajectory's `target_patch` is P1, so that recall of P1 in P2 can be measured.
//!
//! The judge and the issue writer get SERA's request shape (`run_batch.py` and
//! `default_pipeline.yaml` in SERA's SWE-agent fork): a system prompt and one user message with
//! the steps as `json.dumps` of SWE-agent's `{action, observation, response}` records, answers in
//! `<output>` tags, the same retries, and an oversized trajectory cut from its oldest steps
//! rather than rejected. The wording is this project's own.
//!
//! What is left to the caller, which has `sera-verify`: dropping empty and duplicate P1 before
//! rollout 2, the recall, and the keep rules (T1 if its self-check said yes and it submitted; T2
//! if recall >= threshold and it submitted).

use std::collections::BTreeMap;
use std::path::Path;

use sera_core::{
    ExitStatus, Message, Patch, Role, RolloutKind, SplitMix64, ToolCall, Trajectory, stable_id,
};
use sera_sandbox::Sandbox;
use sera_taxonomy::Registry;
use serde_json::{Value, json};

use crate::agent::run_loop;
use crate::env::Environment;
use crate::sandboxed::SandboxShell;
use crate::teacher::{Task, Teacher, TeacherError};
use crate::{RolloutConfig, RolloutError, prompts};

/// Self-check requests per rollout 1 (SERA: 3).
pub const SELF_CHECK_TRIES: usize = 3;

/// Issue-writer requests asked again after an answer without `<output>` tags (SERA: 10).
pub const ISSUE_RETRIES: usize = 10;

/// The metadata key of rollout 1 that records how many of its oldest steps the self-check's
/// last request left out (the issue writer starts from the same step).
pub const SKIPPED_STEPS: &str = "self_check_skipped_steps";

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
                let (verdict, skipped) = self_check(teacher, &trajectory, config);
                trajectory.metadata.insert(SKIPPED_STEPS.into(), json!(skipped));
                verdict
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
///
/// As SERA writes it: the issue writer sees rollout 1's steps (the same steps the self-check
/// ended up judging: [`SKIPPED_STEPS`] in its metadata) and the demonstration, never the diff,
/// and answers inside `<output>` tags. An answer without the tags is asked again, up to
/// [`ISSUE_RETRIES`] more times; a request too long for the model drops the oldest quarter of
/// the steps and is asked again.
pub fn write_issue(
    teacher: &dyn Teacher,
    first: &Trajectory,
    demonstration: &str,
    config: &SvgConfig,
) -> Result<String, TeacherError> {
    let steps = steps(&first.messages);
    let mut skip = first.metadata.get(SKIPPED_STEPS).and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut last_reply = String::new();
    for _ in 0..=ISSUE_RETRIES {
        let text = issue_request(&steps_json(&steps, skip), demonstration);
        match analyst_call(teacher, &text, config) {
            Ok(reply) => match first_output(&reply) {
                Some(issue) if !issue.trim().is_empty() => return Ok(issue),
                _ => last_reply = reply,
            },
            Err(TeacherError::ContextOverflow(why)) => {
                if skip >= steps.len() {
                    return Err(TeacherError::ContextOverflow(why));
                }
                skip += (steps.len() / 4).max(1);
            }
            Err(other) => return Err(other),
        }
    }
    Err(TeacherError::Protocol(format!(
        "the issue writer answered {} times without an issue in <output> tags; its last answer: {}",
        ISSUE_RETRIES + 1,
        excerpt(&last_reply)
    )))
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

/// SERA's self-check: the teacher reads rollout 1's steps and the task message it was given,
/// and answers yes or no in `<output>` tags. Without the tags (or when the request is too long
/// for the model) it is asked again with the oldest quarter of the steps dropped, then the
/// oldest half: [`SELF_CHECK_TRIES`] in all. Returns the verdict (`None`: no answer) and how
/// many steps the last request left out, which the issue writer leaves out too.
fn self_check(
    teacher: &dyn Teacher,
    trajectory: &Trajectory,
    config: &SvgConfig,
) -> (Result<Option<bool>, TeacherError>, usize) {
    let task_message = trajectory
        .messages
        .iter()
        .find(|message| message.role == Role::User)
        .map_or("", |message| message.content.as_str());
    let steps = steps(&trajectory.messages);
    let quarter = steps.len() / 4;
    let mut skip = 0;
    for _ in 0..SELF_CHECK_TRIES {
        let text = self_check_request(&steps_json(&steps, skip), task_message);
        match analyst_call(teacher, &text, config) {
            // SERA lowercases the answer and takes the first tagged one: yes or anything else.
            Ok(reply) => match first_output(&reply.to_lowercase()) {
                Some(answer) => return (Ok(Some(answer.trim() == "yes")), skip),
                None => skip += quarter,
            },
            // Too long for the model: SERA's truncation, but always by at least one step.
            Err(TeacherError::ContextOverflow(_)) => skip += quarter.max(1),
            Err(other) => return (Err(other), skip),
        }
        skip = skip.min(steps.len());
    }
    (Ok(None), skip)
}

/// A judge or issue-writer call: no tools, the analyst system prompt, one user message.
/// Returns the answer as the model wrote it, its reasoning back in a `<think>` block, since
/// SERA's servers ran without a reasoning parser and its tag search saw the whole text.
fn analyst_call(
    teacher: &dyn Teacher,
    text: &str,
    config: &SvgConfig,
) -> Result<String, TeacherError> {
    let task = Task {
        kind: RolloutKind::SvgFirst,
        workdir: &config.rollout.workdir,
        tools: &[],
        instance: None,
        seed: 0,
    };
    let messages =
        [Message::text(Role::System, ANALYST_SYSTEM_PROMPT), Message::text(Role::User, text)];
    let reply = teacher.reply(&task, &messages)?;
    Ok(raw_text(reply.reasoning.as_deref(), &reply.content))
}

/// The system prompt of the judge and the issue writer.
pub const ANALYST_SYSTEM_PROMPT: &str = "You are a helpful assistant who reads and analyses code.";

/// The self-check request, in SERA's shape: the steps, then the task message, then the
/// question, the answer in `<output>` tags.
fn self_check_request(steps: &str, task_message: &str) -> String {
    format!(
        "<fix_steps>
{steps}
</fix_steps>

<initial_prompt>
{task_message}
</initial_prompt>

<fix_steps> lists the steps an AI agent took to fix the bug that <initial_prompt> describes.
Decide whether the agent's final fix is a valid fix that addresses <initial_prompt>.
Give your final answer, yes or no, inside <output> tags."
    )
}

/// The issue-writer request, in SERA's shape: the steps (no diff), the style rules, one
/// demonstration issue, the issue in `<output>` tags.
fn issue_request(steps: &str, demonstration: &str) -> String {
    format!(
        "<fix_steps>
{steps}
</fix_steps>

<fix_steps> is a sequence of edits that fixed a bug. <demonstration_issue> is an example issue about a different bug.
Write a realistic issue about the bug these edits fix, in the format of the example in <demonstration_issue>.

Guidelines:
- Copy the style and structure of the demonstration issue. If it is loosely structured, yours should be too. If it uses \
broken markdown or none, so should yours. If it is short or long, make yours short or long where you can. If it has human \
chatter or filler, include some too. Do this even where it goes against your habit of being concise and helpful.
- Do NOT explain the fix or what caused the bug; focus on how to reproduce the problem it causes.
- Do not mention the test suite, test files or which exact test failed; write it as a real user would.
- Where you can, say how to reproduce the problem: ideally a short script that raises an error or prints a wrong result, \
together with the result that was expected, still in the style of the demonstration issue.
- Do not describe the bug as already fixed.
- Do not say that you are an AI assistant; if the demonstration shows who wrote it, make up a name.
- Include no reproduction script or code snippet unless the demonstration issue has one. If it has one, format code the way \
it does (pasted inline, or in fenced blocks such as ```python```).

<demonstration_issue>
{demonstration}
</demonstration_issue>

Write the issue inside <output> tags."
    )
}

/// A model's answer as a server without a reasoning parser returns it: the reasoning as a
/// `<think>` block, then the visible text.
fn raw_text(reasoning: Option<&str>, content: &str) -> String {
    match reasoning {
        Some(reasoning) => format!("{}{content}", sera_chat::think::block(reasoning)),
        None => content.to_string(),
    }
}

/// One step of a trajectory as SWE-agent records it and SERA hands it to the judge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Step {
    /// The command as SWE-agent writes the tool call (see [`swe_agent_action`]).
    action: String,
    /// The tool's output, without the `OBSERVATION:` framing.
    observation: String,
    /// The model's answer: its reasoning as a `<think>` block, then its visible text.
    response: String,
}

/// The assistant turns of a conversation as steps, each with the observations that answer it.
fn steps(messages: &[Message]) -> Vec<Step> {
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
            let content = &messages[index].content;
            observations.push(content.strip_prefix(prompts::OBSERVATION_PREFIX).unwrap_or(content));
            index += 1;
        }
        let actions: Vec<String> = message.tool_calls.iter().map(swe_agent_action).collect();
        let response = raw_text(message.reasoning.as_deref(), &message.content);
        steps.push(Step {
            action: actions.join("\n"),
            observation: observations.join("\n"),
            response,
        });
    }
    steps
}

/// The steps after the first `skip`, as Python's `json.dumps` writes the list SERA builds.
fn steps_json(steps: &[Step], skip: usize) -> String {
    sera_chat::pyjson::dumps(&steps[skip.min(steps.len())..])
}

/// A tool call as SWE-agent's function-calling parser turns it into a command line: `bash`
/// runs its command as written; other tools fill their signature, string values quoted as
/// Python's `shlex.quote` does, optional ones as `--name value`.
fn swe_agent_action(call: &ToolCall) -> String {
    let args = &call.arguments;
    let value = |name: &str| -> String {
        match args.get(name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => shell_quote(text),
            Some(Value::Array(items)) => items.iter().map(plain).collect::<Vec<_>>().join(" "),
            Some(other) => plain(other),
        }
    };
    let flag = |name: &str| -> String {
        if args.contains_key(name) { format!("--{name} {}", value(name)) } else { String::new() }
    };
    let line = match call.name.as_str() {
        "bash" => match args.get("command") {
            Some(Value::String(command)) => command.clone(),
            other => other.map(plain).unwrap_or_default(),
        },
        "str_replace_editor" => [
            "str_replace_editor".to_string(),
            value("command"),
            value("path"),
            flag("file_text"),
            flag("view_range"),
            flag("old_str"),
            flag("new_str"),
            flag("insert_line"),
        ]
        .join(" "),
        name => {
            let mut line = name.to_string();
            for key in args.keys() {
                line.push(' ');
                line.push_str(&value(key));
            }
            line
        }
    };
    line.trim().to_string()
}

/// A JSON value as Python's `str()` prints a number or a string (the unquoted forms).
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Python's `shlex.quote`.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if text.is_empty() {
        "''".to_string()
    } else if text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\"'\"'"))
    }
}

/// The text inside the first `<output>...</output>` of `text` (Python's
/// `re.findall(r"<output>(.*?)</output>", text, re.DOTALL)[0]`), untrimmed.
fn first_output(text: &str) -> Option<String> {
    let start = text.find(OUTPUT_OPEN)? + OUTPUT_OPEN.len();
    let end = text[start..].find(OUTPUT_CLOSE)?;
    Some(text[start..start + end].to_string())
}

const OUTPUT_OPEN: &str = "<output>";
const OUTPUT_CLOSE: &str = "</output>";

/// The first characters of a reply, for an error message.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() { format!("{cut}...") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teacher::Reply;

    #[test]
    fn the_answer_is_the_first_output_tag_untrimmed() {
        // Python: re.findall(r"<output>(.*?)</output>", text, re.DOTALL)[0]
        let text =
            "<think>maybe <output>no</output></think> so <output> yes\n</output><output>x</output>";
        assert_eq!(first_output(text).as_deref(), Some("no"));
        assert_eq!(first_output("a <output> yes\n</output>").as_deref(), Some(" yes\n"));
        assert_eq!(first_output("<output>unclosed"), None);
        assert_eq!(first_output("no tags"), None);
    }

    #[test]
    fn tool_calls_become_swe_agent_command_lines() {
        let call = |name: &str, arguments: Value| ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: arguments.as_object().cloned().unwrap_or_default(),
        };
        assert_eq!(
            swe_agent_action(&call("bash", json!({"command": "ls -la | head"}))),
            "ls -la | head"
        );
        assert_eq!(
            swe_agent_action(&call(
                "str_replace_editor",
                json!({"command": "str_replace", "path": "/testbed/a.py", "old_str": "x = 1", "new_str": "it's"})
            )),
            r#"str_replace_editor str_replace /testbed/a.py   --old_str 'x = 1' --new_str 'it'"'"'s'"#
        );
        assert_eq!(
            swe_agent_action(&call(
                "str_replace_editor",
                json!({"command": "view", "path": "/testbed/a.py", "view_range": [3, -1]})
            )),
            "str_replace_editor view /testbed/a.py  --view_range 3 -1"
        );
        assert_eq!(swe_agent_action(&call("submit", json!({}))), "submit");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("naïve"), "'naïve'");
        assert_eq!(shell_quote("a$b"), "'a$b'");
    }

    #[test]
    fn steps_are_sera_json_with_think_blocks_and_bare_observations() {
        let mut turn = Message::text(Role::Assistant, "Let me look.");
        turn.reasoning = Some("look".into());
        turn.tool_calls = vec![ToolCall {
            id: "c".into(),
            name: "str_replace_editor".into(),
            arguments: json!({"command": "view", "path": "/testbed/a.py"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }];
        let messages = vec![
            Message::text(Role::System, "system"),
            Message::text(Role::User, "task"),
            turn,
            Message::text(Role::Tool, "OBSERVATION:\n     1\tx = \"é\"\n"),
        ];
        let steps = steps(&messages);
        // Python: json.dumps([{"action": ..., "observation": ..., "response": ...}])
        assert_eq!(
            steps_json(&steps, 0),
            r#"[{"action": "str_replace_editor view /testbed/a.py", "observation": "     1\tx = \"\u00e9\"\n", "response": "<think>\nlook\n</think>\n\nLet me look."}]"#
        );
        assert_eq!(steps_json(&steps, 1), "[]");
        assert_eq!(steps_json(&steps, 9), "[]");
    }

    /// A judge and issue writer that refuses requests holding any of `too_long` as too long
    /// for its context, and plays `answers` in order otherwise.
    struct Analyst {
        too_long: &'static [&'static str],
        answers: std::sync::Mutex<Vec<&'static str>>,
        seen: std::sync::Mutex<Vec<String>>,
    }

    impl Teacher for Analyst {
        fn name(&self) -> String {
            "analyst".into()
        }
        fn reply(&self, task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
            assert!(task.tools.is_empty());
            assert_eq!(messages[0].content, ANALYST_SYSTEM_PROMPT);
            let text = messages[1].content.clone();
            self.seen.lock().expect("lock").push(text.clone());
            if self.too_long.iter().any(|needle| text.contains(needle)) {
                return Err(TeacherError::ContextOverflow(format!("{} characters", text.len())));
            }
            let content = self.answers.lock().expect("lock").remove(0).to_string();
            Ok(Reply { content, ..Reply::default() })
        }
    }

    fn trajectory_of(steps: usize) -> Trajectory {
        let mut messages =
            vec![Message::text(Role::System, "system"), Message::text(Role::User, "the task")];
        for step in 0..steps {
            let mut turn = Message::text(Role::Assistant, format!("step {step}"));
            turn.tool_calls = vec![ToolCall {
                id: format!("c{step}"),
                name: "bash".into(),
                arguments: json!({"command": format!("echo {step}")})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            }];
            messages.push(turn);
            messages
                .push(Message::text(Role::Tool, format!("OBSERVATION:\n{}\n", "x".repeat(100))));
        }
        Trajectory {
            id: "t".into(),
            instance_id: "s".into(),
            kind: RolloutKind::SvgFirst,
            repo: "r".into(),
            commit: None,
            start_function: None,
            start_file: None,
            bug_class: None,
            teacher: "analyst".into(),
            messages,
            tools: Vec::new(),
            exit_status: ExitStatus::Submitted,
            patch: None,
            target_patch: None,
            recall: None,
            resolved: None,
            usage: Default::default(),
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn an_oversized_trajectory_is_cut_from_its_oldest_steps_not_rejected() {
        let mut first = trajectory_of(8);
        // Fits once the oldest quarter (2 of 8 steps) is left out.
        let analyst = Analyst {
            too_long: &["echo 0", "echo 1"],
            answers: std::sync::Mutex::new(vec![
                "The agent fixed it. <output>YES</output>",
                "Sure, here is an issue.",
                "<output>Crash when adding zero items</output>",
                "<output>\nAgain\n</output>",
            ]),
            seen: Default::default(),
        };
        let config = SvgConfig::default();
        let (verdict, skipped) = self_check(&analyst, &first, &config);
        assert_eq!(verdict.expect("answered"), Some(true));
        assert_eq!(skipped, 2);
        let seen = analyst.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0].contains("echo 0") && !seen[1].contains("echo 1") && seen[1].contains("echo 2")
        );
        assert!(seen[1].contains("<initial_prompt>\nthe task\n</initial_prompt>"));

        // The issue writer starts where the self-check ended, asks again without tags, and
        // gets the issue untrimmed from the first <output>.
        first.metadata.insert(SKIPPED_STEPS.into(), json!(skipped));
        let issue = write_issue(&analyst, &first, "An example issue.", &config).expect("issue");
        assert_eq!(issue, "Crash when adding zero items");
        let seen = analyst.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 4);
        assert!(!seen[2].contains("echo 1") && seen[2].contains("echo 2"));
        assert!(
            seen[2].contains("<demonstration_issue>\nAn example issue.\n</demonstration_issue>")
        );

        // Without the self-check's cut, the writer cuts on its own when the model refuses.
        first.metadata.remove(SKIPPED_STEPS);
        let issue = write_issue(&analyst, &first, "An example issue.", &config).expect("issue");
        assert_eq!(issue, "\nAgain\n");
        let seen = analyst.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 6);
        assert!(seen[4].contains("echo 0") && !seen[5].contains("echo 1"));
    }

    #[test]
    fn a_judge_that_never_tags_its_answer_gives_no_verdict_after_three_tries() {
        let first = trajectory_of(4);
        let analyst = Analyst {
            too_long: &[],
            answers: std::sync::Mutex::new(vec!["looks fine", "yes", "I think so"]),
            seen: Default::default(),
        };
        let (verdict, skipped) = self_check(&analyst, &first, &SvgConfig::default());
        assert_eq!(verdict.expect("no error"), None);
        assert_eq!(analyst.seen.lock().expect("lock").len(), SELF_CHECK_TRIES);
        assert_eq!(skipped, 3, "SERA adds a quarter (1 of 4 steps) after each untagged answer");
        // An answer other than yes is a no.
        let analyst = Analyst {
            too_long: &[],
            answers: std::sync::Mutex::new(vec!["<output>yes, mostly</output>"]),
            seen: Default::default(),
        };
        assert_eq!(self_check(&analyst, &first, &SvgConfig::default()).0.expect("ok"), Some(false));
    }

    #[test]
    fn the_default_pool_parses() {
        let pool = parse_demonstrations(DEFAULT_DEMONSTRATIONS).expect("parses");
        assert!(pool.len() >= 5);
        assert!(parse_demonstrations("[]").is_err());
        assert!(parse_demonstrations("{}").is_err());
    }
}
