//! Import of trajectories recorded by other tools into [`Trajectory`] records, so that the
//! exporter and its filters serve them too.
//!
//! - [`Source::SweAgent`]: a SWE-agent `.traj` file (one JSON object per file). Its `history`
//!   holds the conversation: `role`, `content` (a string or a list of `{"type": "text"}`
//!   parts), assistant `tool_calls` in OpenAI form with `arguments` as a JSON string, and tool
//!   messages answering `tool_call_ids`. `info.exit_status` and `info.submission` give the exit
//!   status and the patch. The instance id is the file name without `.traj`.
//! - [`Source::MiniSweAgent`]: a mini-swe-agent `*.traj.json` file (`trajectory_format`
//!   `mini-swe-agent-1.1`, and the older `mini-swe-agent-1`). Messages are plain
//!   `role`/`content`; the assistant's action is the one fenced ```` ```bash ```` block of its
//!   text (```` ```mswea_bash_command ```` in 2.x), which becomes a `bash` tool call, and the
//!   user message that follows an action becomes its tool result. Messages that already carry
//!   `tool_calls` (2.x tool-calling models) are taken as they are.
//! - [`Source::Sera`]: rows of SERA's released datasets, one JSON object per line: `messages`
//!   is a JSON string holding the SWE-agent history, beside `instance_id`, `rollout_patch`,
//!   `target_patch`, `func_name`, `func_path` and `problem_statement`.
//!
//! A record with an unknown role, a tool call whose arguments are not a JSON object, malformed
//! JSON or an unparseable patch is reported as a [`Problem`] with its file (and line for
//! JSONL) and skipped; the rest of the input is still read.
//!
//! SWE-agent trajectories and SERA rows get SWE-agent's tool schemas as SERA records them
//! ([`crate::sera::sweagent_tools`]), mini-swe-agent ones its one `bash` tool
//! ([`crate::sera::mini_sweagent_tools`]): the files do not record their tools, and these are
//! the tools SERA's prompts describe. Exit statuses are compared case-insensitively, as SERA's
//! `exit_status.lower() != "submitted"` does.
//!
//! An assistant turn without tool calls (SERA raises on a null or missing `tool_calls`: it calls
//! a helper that its module does not define) is imported as a message without tool calls; the
//! exporter renders it as SERA renders `tool_calls: []`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};

use sera_core::{
    ExitStatus, Message, Patch, Role, RolloutKind, ToolCall, Trajectory, Usage, stable_id,
};

use crate::export::{Item, Origin};
use crate::sera::{mini_sweagent_tools, sweagent_tools};
use crate::{DatasetError, Problem};

/// A trajectory format that can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    SweAgent,
    MiniSweAgent,
    Sera,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::SweAgent, Source::MiniSweAgent, Source::Sera];

    pub fn name(self) -> &'static str {
        match self {
            Source::SweAgent => "swe-agent",
            Source::MiniSweAgent => "mini-swe-agent",
            Source::Sera => "sera",
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            format!("unknown source {s:?} (expected swe-agent, mini-swe-agent or sera)")
        })
    }
}

/// Imports every file of `paths`, handing trajectories (or problems) to `each` in chunks of
/// about `chunk_size` records, in input order. A missing or unreadable file is an error; a bad
/// record in a readable file is a problem.
pub fn import_files(
    source: Source,
    paths: &[PathBuf],
    chunk_size: usize,
    mut each: impl FnMut(Vec<Item>) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    match source {
        Source::Sera => {
            for path in paths {
                import_sera_file(path, chunk_size, &mut each)?;
            }
            Ok(())
        }
        Source::SweAgent | Source::MiniSweAgent => {
            for chunk in paths.chunks(chunk_size.max(1)) {
                let items: Result<Vec<Item>, DatasetError> = chunk
                    .par_iter()
                    .map(|path| {
                        let text = std::fs::read_to_string(path)
                            .map_err(|err| DatasetError::io(path, err))?;
                        let file = Arc::<str>::from(path.display().to_string());
                        let origin = Origin { file: file.clone(), line: None };
                        let instance = instance_from_file_name(path);
                        let result = serde_json::from_str::<Value>(&text)
                            .map_err(|err| problem(&origin, json_kind(&err), err.to_string()))
                            .and_then(|value| match source {
                                Source::SweAgent => from_swe_agent(&value, &instance, &origin),
                                _ => from_mini_swe_agent(&value, &instance, &origin),
                            });
                        Ok((origin, result))
                    })
                    .collect();
                each(items?)?;
            }
            Ok(())
        }
    }
}

/// Converts one SWE-agent `.traj` object.
pub fn from_swe_agent(
    value: &Value,
    instance_id: &str,
    origin: &Origin,
) -> Result<Trajectory, Problem> {
    let history = value
        .get("history")
        .filter(|h| h.is_array())
        .or_else(|| {
            value
                .pointer("/trajectory")
                .and_then(Value::as_array)
                .and_then(|t| t.last())?
                .get("messages")
        })
        .and_then(Value::as_array)
        .ok_or_else(|| problem(origin, "bad_record", "no `history` list".into()))?;
    let messages = swe_agent_messages(history, origin)?;
    let info = value.get("info").cloned().unwrap_or(Value::Null);
    let status = info.get("exit_status").and_then(Value::as_str).unwrap_or("");
    let patch = parse_patch(info.get("submission").and_then(Value::as_str), origin)?;
    let mut trajectory = imported(Source::SweAgent, instance_id, origin, messages, patch);
    trajectory.exit_status = swe_agent_exit(status);
    trajectory.metadata.insert("source_exit_status".into(), status.into());
    if let Some(model) = info.pointer("/model_stats/api_calls") {
        trajectory.metadata.insert("api_calls".into(), model.clone());
    }
    Ok(trajectory)
}

/// Converts one mini-swe-agent `.traj.json` object.
pub fn from_mini_swe_agent(
    value: &Value,
    instance_id: &str,
    origin: &Origin,
) -> Result<Trajectory, Problem> {
    let raw = value
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| problem(origin, "bad_record", "no `messages` list".into()))?;
    let mut messages = Vec::with_capacity(raw.len());
    let mut pending: Option<String> = None;
    for (index, message) in raw.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let content = text_of(message.get("content"));
        match role {
            // 2.x ends with the submission as an `exit` message; SERA drops it, and the
            // submission is read from `info` below.
            "exit" => {}
            "system" => messages.push(Message::text(Role::System, content)),
            "user" | "tool" => match pending.take() {
                Some(id) => {
                    let mut reply = Message::text(Role::Tool, content);
                    reply.tool_call_id = Some(id);
                    messages.push(reply);
                }
                None if role == "tool" => {
                    let mut reply = Message::text(Role::Tool, content);
                    reply.tool_call_id =
                        message.get("tool_call_id").and_then(Value::as_str).map(str::to_string);
                    messages.push(reply);
                }
                None => messages.push(Message::text(Role::User, content)),
            },
            "assistant" => {
                let mut reply = Message::text(Role::Assistant, String::new());
                if let Some(calls) =
                    message.get("tool_calls").and_then(Value::as_array).filter(|c| !c.is_empty())
                {
                    reply.content = content;
                    reply.tool_calls = tool_calls(calls, index, origin)?;
                    // Tool-calling models answer each call with a `tool` message of its own.
                } else if let Some((thought, command)) = bash_block(&content) {
                    let id = format!("call_{index}");
                    reply.content = thought;
                    let mut arguments = Map::new();
                    arguments.insert("command".into(), command.into());
                    reply.tool_calls.push(ToolCall {
                        id: id.clone(),
                        name: "bash".into(),
                        arguments,
                    });
                    pending = Some(id);
                } else {
                    reply.content = content;
                }
                if let Some(reasoning) = message.get("reasoning_content").and_then(Value::as_str) {
                    reply.reasoning = Some(reasoning.to_string());
                }
                messages.push(reply);
            }
            other => {
                return Err(problem(
                    origin,
                    "unknown_role",
                    format!("message {index}: unknown role {other:?}"),
                ));
            }
        }
    }
    let info = value.get("info").cloned().unwrap_or(Value::Null);
    let status = info.get("exit_status").and_then(Value::as_str).unwrap_or("");
    let patch = parse_patch(info.get("submission").and_then(Value::as_str), origin)?;
    let mut trajectory = imported(Source::MiniSweAgent, instance_id, origin, messages, patch);
    trajectory.tools = mini_sweagent_tools();
    trajectory.exit_status = match status {
        s if s.to_lowercase() == "submitted" => ExitStatus::Submitted,
        "LimitsExceeded" => ExitStatus::StepLimit,
        s if s.contains("Format") => ExitStatus::FormatError,
        _ => ExitStatus::TeacherError,
    };
    trajectory.metadata.insert("source_exit_status".into(), status.into());
    if let Some(format) = value.get("trajectory_format") {
        trajectory.metadata.insert("trajectory_format".into(), format.clone());
    }
    Ok(trajectory)
}

/// Converts one row of a SERA dataset.
pub fn from_sera_row(row: &Value, origin: &Origin) -> Result<Trajectory, Problem> {
    let instance_id = row
        .get("instance_id")
        .and_then(Value::as_str)
        .ok_or_else(|| problem(origin, "bad_record", "no `instance_id`".into()))?;
    let history: Value = match row.get("messages") {
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|err| {
            problem(origin, "bad_json", format!("`messages` is not valid JSON: {err}"))
        })?,
        Some(list @ Value::Array(_)) => list.clone(),
        _ => return Err(problem(origin, "bad_record", "no `messages`".into())),
    };
    let history = history
        .as_array()
        .ok_or_else(|| problem(origin, "bad_record", "`messages` is not a list".into()))?;
    let messages = swe_agent_messages(history, origin)?;
    let patch = parse_patch(row.get("rollout_patch").and_then(Value::as_str), origin)?;
    let mut trajectory = imported(Source::Sera, instance_id, origin, messages, patch);
    trajectory.target_patch = parse_patch(row.get("target_patch").and_then(Value::as_str), origin)?;
    trajectory.start_function = row.get("func_name").and_then(Value::as_str).map(str::to_string);
    trajectory.start_file = row.get("func_path").and_then(Value::as_str).map(str::to_string);
    if let Some(repo) = row.get("repo").and_then(Value::as_str) {
        trajectory.repo = repo.to_string();
    }
    trajectory.recall = row.get("recall").and_then(Value::as_f64);
    for key in ["problem_statement", "bug_class"] {
        if let Some(value) = row.get(key).filter(|v| !v.is_null()) {
            trajectory.metadata.insert(key.into(), value.clone());
        }
    }
    trajectory.bug_class = row.get("bug_class").and_then(Value::as_str).map(str::to_string);
    Ok(trajectory)
}

fn import_sera_file(
    path: &Path,
    chunk_size: usize,
    each: &mut impl FnMut(Vec<Item>) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    crate::export::parse_chunks(path, chunk_size, each, |text, origin| {
        serde_json::from_str::<Value>(text)
            .map_err(|err| problem(origin, json_kind(&err), err.to_string()))
            .and_then(|row| from_sera_row(&row, origin))
    })
}

fn swe_agent_messages(history: &[Value], origin: &Origin) -> Result<Vec<Message>, Problem> {
    let mut messages = Vec::with_capacity(history.len());
    for (index, message) in history.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let content = text_of(message.get("content"));
        let converted = match role {
            "system" => Message::text(Role::System, content),
            "user" => Message::text(Role::User, content),
            "assistant" => {
                let mut reply = Message::text(Role::Assistant, content);
                if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
                    reply.tool_calls = tool_calls(calls, index, origin)?;
                }
                reply
            }
            "tool" => {
                let mut reply = Message::text(Role::Tool, content);
                reply.tool_call_id = message
                    .get("tool_call_ids")
                    .and_then(Value::as_array)
                    .and_then(|ids| ids.first())
                    .or_else(|| message.get("tool_call_id"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                reply
            }
            other => {
                return Err(problem(
                    origin,
                    "unknown_role",
                    format!("message {index}: unknown role {other:?}"),
                ));
            }
        };
        messages.push(converted);
    }
    Ok(messages)
}

fn tool_calls(calls: &[Value], index: usize, origin: &Origin) -> Result<Vec<ToolCall>, Problem> {
    calls
        .iter()
        .enumerate()
        .map(|(n, call)| {
            let function = call.get("function").unwrap_or(call);
            let name = function.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let bad = |why: String| {
                problem(
                    origin,
                    "bad_tool_arguments",
                    format!("message {index}, call {n} ({name}): {why}"),
                )
            };
            let arguments = match function.get("arguments") {
                Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => return Err(bad("arguments are not a JSON object".into())),
                    Err(err) => return Err(bad(format!("arguments are not valid JSON: {err}"))),
                },
                Some(Value::Object(map)) => map.clone(),
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(bad("arguments are not a JSON object".into())),
            };
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{index}_{n}"), str::to_string);
            Ok(ToolCall { id, name, arguments })
        })
        .collect()
}

/// The thought before a fenced bash block and the command inside it.
fn bash_block(content: &str) -> Option<(String, String)> {
    for fence in ["```bash\n", "```mswea_bash_command\n"] {
        if let Some(start) = content.find(fence) {
            let body = &content[start + fence.len()..];
            let end = body.find("\n```").or_else(|| body.find("```"))?;
            return Some((content[..start].trim().to_string(), body[..end].to_string()));
        }
    }
    None
}

/// A message's text: a string, or the text parts of a list joined.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str).or_else(|| part.as_str()))
            .collect(),
        _ => String::new(),
    }
}

fn parse_patch(text: Option<&str>, origin: &Origin) -> Result<Option<Patch>, Problem> {
    match text.filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(text) => Patch::parse(text)
            .map(Some)
            .map_err(|err| problem(origin, "bad_patch", err.to_string())),
    }
}

/// The exit status of a SWE-agent status string. Only `submitted`, in any case, is a
/// submission: `submitted (exit_cost)` is an automatic submission after a limit, which SERA's
/// check rejects too.
fn swe_agent_exit(status: &str) -> ExitStatus {
    let status = status.to_lowercase();
    match status.as_str() {
        "submitted" => ExitStatus::Submitted,
        s if s.contains("cost") => ExitStatus::CostLimit,
        s if s.contains("context") => ExitStatus::ContextOverflow,
        s if s.contains("format") => ExitStatus::FormatError,
        s if s.contains("step") || s.contains("limit") => ExitStatus::StepLimit,
        _ => ExitStatus::TeacherError,
    }
}

fn imported(
    source: Source,
    instance_id: &str,
    origin: &Origin,
    messages: Vec<Message>,
    patch: Option<Patch>,
) -> Trajectory {
    let line = origin.line.map(|l| l.to_string()).unwrap_or_default();
    Trajectory {
        id: stable_id("t", &["import", source.name(), instance_id, &origin.file, &line]),
        instance_id: instance_id.to_string(),
        kind: RolloutKind::Imported,
        repo: repo_of(instance_id),
        commit: None,
        start_function: None,
        start_file: None,
        bug_class: None,
        teacher: format!("imported:{}", source.name()),
        messages,
        tools: sweagent_tools(),
        exit_status: ExitStatus::Submitted,
        patch,
        target_patch: None,
        recall: None,
        resolved: None,
        usage: Usage::default(),
        metadata: Default::default(),
    }
}

/// SWE-bench style ids (`owner__repo-1234`) name their repository; others are kept whole.
fn repo_of(instance_id: &str) -> String {
    match instance_id.split_once("__") {
        Some((owner, rest)) => {
            let repo = rest.rsplit_once(['-', '.']).map_or(rest, |(r, _)| r);
            format!("{owner}/{repo}")
        }
        None => instance_id.to_string(),
    }
}

fn instance_from_file_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.trim_end_matches(".json").trim_end_matches(".traj").to_string()
}

fn json_kind(err: &serde_json::Error) -> &'static str {
    if err.is_eof() { "truncated_json" } else { "bad_json" }
}

fn problem(origin: &Origin, kind: &'static str, message: String) -> Problem {
    Problem::new(&origin.file, origin.line, kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_blocks_split_thought_and_command() {
        let (thought, command) = bash_block("THOUGHT: look.\n\n```bash\nls -la\n```").unwrap();
        assert_eq!((thought.as_str(), command.as_str()), ("THOUGHT: look.", "ls -la"));
        assert!(bash_block("no block").is_none());
    }

    #[test]
    fn repositories_come_from_swe_bench_style_ids() {
        assert_eq!(repo_of("django__django-11099"), "django/django");
        assert_eq!(repo_of("my-instance"), "my-instance");
        assert_eq!(instance_from_file_name(Path::new("a/x__y-1.traj")), "x__y-1");
        assert_eq!(instance_from_file_name(Path::new("a/x.traj.json")), "x");
    }
}
