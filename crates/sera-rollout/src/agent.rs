//! The step loop: ask the teacher, run its tool call, feed back the observation, until it
//! submits or a limit ends the run.
//!
//! As SWE-agent's `FunctionCallingParser` does, a reply must carry exactly one tool call, to a
//! tool that was offered, with the arguments its schema requires and no others; and as its
//! agent and SWE-ReX do, a `bash` command must pass the blocklist and `bash -n` (see
//! [`Environment::execute`]). Any other reply is a [`FormatError`]: the teacher is asked again with the conversation so far plus
//! its failed turn and SWE-agent's message for that error (`forward_with_handling`'s requery:
//! only the latest failed turn is sent, and neither is recorded), and after
//! [`LoopConfig::max_format_errors`] failures in a row the run ends (`max_requeries`).

use sera_core::{ExitStatus, Message, Patch, Role, ToolCall, Usage};
use serde_json::Value;

use crate::env::Environment;
use crate::prompts;
use crate::teacher::{Reply, Task, Teacher, TeacherError};

/// The limits of one rollout.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Teacher calls per rollout, format errors included (SERA: 115).
    pub step_limit: usize,
    /// Consecutive replies that are format errors before the run ends (SWE-agent's
    /// `max_requeries`: 3).
    pub max_format_errors: usize,
    /// Prompt plus completion tokens per rollout; `None` for no limit.
    pub token_limit: Option<u64>,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig { step_limit: 115, max_format_errors: 3, token_limit: None }
    }
}

/// How a loop ended and what it recorded.
#[derive(Debug, Clone)]
pub struct LoopOutcome {
    /// The conversation as it should be learned from: turns that were format errors, and the
    /// messages that answered them, are left out (SWE-agent's requery), and counted instead.
    pub messages: Vec<Message>,
    pub exit_status: ExitStatus,
    /// The submitted patch, or for other endings the change in the tree when the run stopped.
    pub patch: Option<Patch>,
    pub usage: Usage,
    pub steps: usize,
    pub format_errors: usize,
    /// Why the teacher failed, for teacher errors and context overflows.
    pub error: Option<String>,
}

/// Runs the loop from a conversation that already holds the system prompt and task message.
pub fn run_loop(
    env: &mut Environment,
    teacher: &dyn Teacher,
    task: &Task<'_>,
    mut messages: Vec<Message>,
    config: &LoopConfig,
) -> LoopOutcome {
    let mut usage = Usage::default();
    let mut steps = 0;
    let mut format_errors = 0;
    let mut consecutive_errors = 0;
    // The latest failed turn and its error message, sent to the teacher but not recorded.
    let mut pending: Vec<Message> = Vec::new();
    let mut error = None;
    let exit_status = loop {
        if steps >= config.step_limit {
            break ExitStatus::StepLimit;
        }
        if config
            .token_limit
            .is_some_and(|limit| usage.prompt_tokens + usage.completion_tokens >= limit)
        {
            break ExitStatus::CostLimit;
        }
        steps += 1;
        let reply = if pending.is_empty() {
            teacher.reply(task, &messages)
        } else {
            let mut conversation = messages.clone();
            conversation.extend(pending.iter().cloned());
            teacher.reply(task, &conversation)
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(TeacherError::ContextOverflow(why)) => {
                error = Some(why);
                break ExitStatus::ContextOverflow;
            }
            Err(other) => {
                error = Some(other.to_string());
                break ExitStatus::TeacherError;
            }
        };
        usage.prompt_tokens += reply.usage.prompt_tokens;
        usage.completion_tokens += reply.usage.completion_tokens;

        // A tool offered in the schemas that the environment does not have is refused by it,
        // untouched, the same way.
        let checked = check_reply(&reply, task.tools).and_then(|mut call| {
            // Ids are renumbered so that records do not carry a server's random ids.
            call.id = format!("call_{steps}_0");
            env.execute(&call).map(|result| (call, result))
        });
        let (call, result) = match checked {
            Ok(done) => done,
            Err(format_error) => {
                format_errors += 1;
                consecutive_errors += 1;
                // SWE-agent sends the failed output as plain assistant text, then the error.
                let mut failed = Message::text(Role::Assistant, reply.content);
                failed.reasoning = reply.reasoning;
                pending = vec![failed, Message::text(Role::User, format_error.message())];
                if consecutive_errors >= config.max_format_errors {
                    break ExitStatus::FormatError;
                }
                continue;
            }
        };
        consecutive_errors = 0;
        pending.clear();

        messages.push(Message {
            role: Role::Assistant,
            content: reply.content,
            reasoning: reply.reasoning,
            tool_calls: vec![call.clone()],
            tool_call_id: None,
        });
        messages.push(Message {
            role: Role::Tool,
            content: result.observation,
            reasoning: None,
            tool_calls: Vec::new(),
            tool_call_id: Some(call.id.clone()),
        });
        if let Some(patch) = result.submitted {
            return LoopOutcome {
                messages,
                exit_status: ExitStatus::Submitted,
                patch: Some(patch),
                usage,
                steps,
                format_errors,
                error,
            };
        }
    };
    let patch = env.diff().ok();
    LoopOutcome { messages, exit_status, patch, usage, steps, format_errors, error }
}

/// Why a reply cannot be run: SWE-agent's `FunctionCallingFormatError`, by error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// No tool call at all (`missing`).
    Missing,
    /// More than one tool call, counting those that could not be read (`multiple`).
    Multiple(usize),
    /// The one call could not be read: its arguments are not a JSON object, or a
    /// `<tool_call>` block is broken (`invalid_json`, or the reason [`parse`](crate::parse)
    /// gives).
    Unreadable(String),
    /// The call names a tool that was not offered (`invalid_command`).
    UnknownTool(String),
    /// Required arguments are absent, in the schema's order (`missing_arg`).
    MissingArguments(Vec<String>),
    /// Arguments the schema does not have, in the call's order (`unexpected_arg`).
    UnexpectedArguments(Vec<String>),
    /// A `bash` command on SWE-agent's blocklist, stripped (its `_BlockedActionError`, which
    /// it requeries like a format error; see [`crate::env::blocked_action`]).
    Blocked(String),
    /// A `bash` command with a syntax error, with what `bash -n` printed (SWE-ReX's
    /// `BashIncorrectSyntaxError`, requeried with `shell_check_error_template`).
    BashSyntax(String),
}

impl FormatError {
    /// SWE-agent's error code (`blocked` and `bash_syntax` for the blocklist and the syntax
    /// check, which have none there).
    pub fn code(&self) -> &'static str {
        match self {
            FormatError::Missing => "missing",
            FormatError::Multiple(_) => "multiple",
            FormatError::Unreadable(_) => "invalid_json",
            FormatError::UnknownTool(_) => "invalid_command",
            FormatError::MissingArguments(_) => "missing_arg",
            FormatError::UnexpectedArguments(_) => "unexpected_arg",
            FormatError::Blocked(_) => "blocked",
            FormatError::BashSyntax(_) => "bash_syntax",
        }
    }

    /// The message the teacher is sent: SWE-agent's error template rendered for this code.
    pub fn message(&self) -> String {
        match self {
            FormatError::Missing => prompts::FORMAT_ERROR.to_string(),
            FormatError::Multiple(_) => prompts::MULTIPLE_TOOL_CALLS.to_string(),
            FormatError::Unreadable(why) => prompts::unparsable_action_error(why),
            FormatError::UnknownTool(name) => prompts::unparsable_action_error(&format!(
                "Command '{name}' not found in list of available commands."
            )),
            FormatError::MissingArguments(names) => prompts::unparsable_action_error(&format!(
                "Required argument(s) missing: {}",
                names.join(", ")
            )),
            FormatError::UnexpectedArguments(names) => prompts::unexpected_arguments_error(
                &format!("Unexpected argument(s): {}", names.join(", ")),
            ),
            FormatError::Blocked(action) => prompts::blocked_error(action),
            FormatError::BashSyntax(output) => prompts::bash_syntax_error(output),
        }
    }
}

/// The one tool call of `reply`, checked against the tool schemas offered (OpenAI function
/// format, as [`prompts::tool_schemas`] writes them): the checks of SWE-agent's
/// `FunctionCallingParser`, in its order.
pub fn check_reply(reply: &Reply, tools: &[Value]) -> Result<ToolCall, FormatError> {
    match (reply.tool_calls.as_slice(), reply.malformed.as_slice()) {
        ([], []) => Err(FormatError::Missing),
        ([], [why]) => Err(FormatError::Unreadable(why.clone())),
        ([call], []) => check_call(call, tools).map(|()| call.clone()),
        (calls, malformed) => Err(FormatError::Multiple(calls.len() + malformed.len())),
    }
}

/// Checks one call's tool name and argument names against its schema.
fn check_call(call: &ToolCall, tools: &[Value]) -> Result<(), FormatError> {
    let function = tools
        .iter()
        .filter_map(|tool| tool.get("function"))
        .find(|function| function.get("name").and_then(Value::as_str) == Some(call.name.as_str()))
        .ok_or_else(|| FormatError::UnknownTool(call.name.clone()))?;
    let parameters = function.get("parameters");
    let names = |key: &str| -> Vec<String> {
        match parameters.and_then(|p| p.get(key)) {
            Some(Value::Array(items)) => {
                items.iter().filter_map(Value::as_str).map(str::to_string).collect()
            }
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    };
    let missing: Vec<String> =
        names("required").into_iter().filter(|name| !call.arguments.contains_key(name)).collect();
    if !missing.is_empty() {
        return Err(FormatError::MissingArguments(missing));
    }
    let allowed = names("properties");
    let unexpected: Vec<String> =
        call.arguments.keys().filter(|name| !allowed.contains(name)).cloned().collect();
    if !unexpected.is_empty() {
        return Err(FormatError::UnexpectedArguments(unexpected));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use serde_json::{Map, json};

    use super::*;
    use crate::env::{Shell, ShellOutput};

    /// Prints what it was asked to run, or nothing for `true`; its `bash -n` (the default
    /// syntax check, run through `run`) rejects a command holding `((`.
    struct EchoShell;

    impl Shell for EchoShell {
        fn run(&mut self, command: &str, _: Duration) -> Result<ShellOutput, String> {
            if command.starts_with("/usr/bin/env bash -n << 'SOUNIQUEEOF'\n") {
                assert!(command.ends_with("\nSOUNIQUEEOF"), "{command}");
                let bad = command.contains("((");
                let output = if bad { "bash: line 1: syntax error\n" } else { "" };
                return Ok(ShellOutput {
                    output: output.into(),
                    exit_code: Some(if bad { 2 } else { 0 }),
                    timed_out: false,
                });
            }
            let output = if command == "true" { String::new() } else { format!("ran {command}") };
            Ok(ShellOutput { output, exit_code: Some(0), timed_out: false })
        }
    }

    /// Plays its replies in order and keeps every conversation it was shown.
    struct Scripted {
        replies: Mutex<Vec<Reply>>,
        seen: Mutex<Vec<Vec<Message>>>,
    }

    impl Teacher for Scripted {
        fn name(&self) -> String {
            "scripted".into()
        }

        fn reply(&self, _: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
            self.seen.lock().unwrap().push(messages.to_vec());
            let mut replies = self.replies.lock().unwrap();
            if replies.is_empty() {
                return Err(TeacherError::Unavailable("script exhausted".into()));
            }
            Ok(replies.remove(0))
        }
    }

    fn call(name: &str, arguments: Value) -> ToolCall {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        ToolCall { id: "server-id".into(), name: name.into(), arguments }
    }

    fn reply(text: &str, calls: Vec<ToolCall>) -> Reply {
        Reply { content: text.into(), tool_calls: calls, ..Reply::default() }
    }

    fn bash(command: &str) -> ToolCall {
        call("bash", json!({"command": command}))
    }

    fn submit() -> ToolCall {
        call("submit", json!({}))
    }

    /// Runs `replies` to the end in a tree holding `a.txt`; the outcome and what the teacher saw.
    fn run(replies: Vec<Reply>, config: &LoopConfig) -> (LoopOutcome, Vec<Vec<Message>>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
        let mut env =
            Environment::new(dir.path(), "/testbed", Box::new(EchoShell), Duration::from_secs(5))
                .unwrap();
        let tools = prompts::tool_schemas("/testbed");
        let task = Task {
            kind: sera_core::RolloutKind::Procedural,
            workdir: "/testbed",
            tools: &tools,
            instance: None,
            seed: 1,
        };
        let teacher = Scripted { replies: Mutex::new(replies), seen: Mutex::new(Vec::new()) };
        let start = vec![Message::text(Role::System, "system"), Message::text(Role::User, "task")];
        let outcome = run_loop(&mut env, &teacher, &task, start, config);
        (outcome, teacher.seen.into_inner().unwrap())
    }

    fn check(reply: Reply) -> Result<ToolCall, FormatError> {
        check_reply(&reply, &prompts::tool_schemas("/testbed"))
    }

    #[test]
    fn a_reply_must_carry_exactly_one_call_to_an_offered_tool() {
        assert_eq!(check(reply("thinking", vec![])), Err(FormatError::Missing));
        assert_eq!(check(reply("", vec![bash("ls"), submit()])), Err(FormatError::Multiple(2)));
        let unreadable = Reply { malformed: vec!["broken".into()], ..reply("", vec![]) };
        assert_eq!(check(unreadable.clone()), Err(FormatError::Unreadable("broken".into())));
        // An unreadable call next to a good one still makes two calls.
        let both = Reply { tool_calls: vec![bash("ls")], ..unreadable };
        assert_eq!(check(both), Err(FormatError::Multiple(2)));
        assert_eq!(
            check(reply("", vec![call("python", json!({"code": "1"}))])),
            Err(FormatError::UnknownTool("python".into()))
        );
        assert_eq!(check(reply("", vec![bash("ls")])), Ok(bash("ls")));
    }

    #[test]
    fn arguments_are_checked_against_the_schema_offered() {
        let editor =
            |arguments: Value| check(reply("", vec![call("str_replace_editor", arguments)]));
        assert_eq!(
            editor(json!({})),
            Err(FormatError::MissingArguments(vec!["command".into(), "path".into()]))
        );
        assert_eq!(
            editor(json!({"command": "view"})),
            Err(FormatError::MissingArguments(vec!["path".into()]))
        );
        assert_eq!(
            editor(
                json!({"command": "view", "path": "/testbed", "line": 3, "view_range": [1, 2], "x": 1})
            ),
            Err(FormatError::UnexpectedArguments(vec!["line".into(), "x".into()]))
        );
        // Missing comes first, as in SWE-agent.
        assert_eq!(
            editor(json!({"path": "/testbed", "extra": 1})),
            Err(FormatError::MissingArguments(vec!["command".into()]))
        );
        assert!(check(reply("", vec![call("submit", json!({"force": true}))])).is_err());
        // The schemas decide, not a list in the code: a tool offered with other arguments.
        let custom = [json!({"type": "function", "function": {"name": "bash", "parameters": {
            "type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}})];
        assert!(check_reply(&reply("", vec![call("bash", json!({"cmd": "ls"}))]), &custom).is_ok());
        assert_eq!(
            check_reply(&reply("", vec![bash("ls")]), &custom),
            Err(FormatError::MissingArguments(vec!["cmd".into()]))
        );
    }

    #[test]
    fn format_error_messages_are_swe_agents_rendered_branches() {
        assert_eq!(FormatError::Missing.message(), prompts::FORMAT_ERROR);
        assert_eq!(FormatError::Multiple(2).message(), prompts::MULTIPLE_TOOL_CALLS);
        assert_eq!(
            FormatError::UnknownTool("python".into()).message(),
            "Your action could not be parsed properly: Command 'python' not found in list of available commands..\n"
        );
        assert_eq!(
            FormatError::MissingArguments(vec!["command".into(), "path".into()]).message(),
            "Your action could not be parsed properly: Required argument(s) missing: command, path.\n"
        );
        assert_eq!(
            FormatError::UnexpectedArguments(vec!["line".into()]).message(),
            "Your action could not be parsed properly: Unexpected argument(s): line.\nMake sure your function call doesn't include any extra arguments that are not in the allowed arguments, and only use the allowed commands."
        );
        assert_eq!(
            FormatError::Unreadable(crate::parse::INVALID_JSON.into()).message(),
            "Your action could not be parsed properly: Tool call arguments are not valid JSON..\n"
        );
        let codes: Vec<&str> = [
            FormatError::Missing,
            FormatError::Multiple(2),
            FormatError::Unreadable(String::new()),
            FormatError::UnknownTool(String::new()),
            FormatError::MissingArguments(vec![]),
            FormatError::UnexpectedArguments(vec![]),
        ]
        .iter()
        .map(FormatError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "missing",
                "multiple",
                "invalid_json",
                "invalid_command",
                "missing_arg",
                "unexpected_arg"
            ]
        );
    }

    #[test]
    fn a_multi_call_reply_is_requeried_not_run_and_not_recorded() {
        let replies = vec![
            reply("two at once", vec![bash("touch b.txt"), bash("ls")]),
            reply("one", vec![bash("ls")]),
            reply("", vec![submit()]),
            reply("", vec![submit()]),
        ];
        let (outcome, seen) = run(replies, &LoopConfig::default());
        assert_eq!(outcome.exit_status, ExitStatus::Submitted);
        assert_eq!((outcome.format_errors, outcome.steps), (1, 4));
        // The requery: the conversation so far, the failed turn as text, then the error.
        let second = &seen[1];
        assert_eq!(second.len(), 4);
        assert_eq!(second[2].role, Role::Assistant);
        assert_eq!(second[2].content, "two at once");
        assert!(second[2].tool_calls.is_empty());
        assert_eq!(second[3].content, prompts::MULTIPLE_TOOL_CALLS);
        // Recorded: system, task, then one call and one observation per turn.
        assert_eq!(outcome.messages[2].content, "one");
        assert_eq!(outcome.messages[2].tool_calls.len(), 1);
        assert_eq!(outcome.messages[2].tool_calls[0].id, "call_2_0");
        assert_eq!(outcome.messages[3].content, "OBSERVATION:\nran ls");
        assert_eq!(outcome.messages.len(), 2 + 3 * 2);
        // The good turn after the requery sees no trace of the failure.
        assert_eq!(seen[2].len(), 4);
    }

    #[test]
    fn an_unknown_tool_is_a_format_error_and_gets_no_observation() {
        let replies = vec![
            reply("", vec![call("python", json!({"code": "1"}))]),
            reply("", vec![call("bash", json!({"cmd": "ls"}))]),
            reply("", vec![bash("true")]),
            reply("", vec![submit()]),
            reply("", vec![submit()]),
        ];
        let (outcome, seen) = run(replies, &LoopConfig::default());
        assert_eq!(outcome.exit_status, ExitStatus::Submitted);
        assert_eq!(outcome.format_errors, 2);
        assert_eq!(
            seen[1][3].content,
            "Your action could not be parsed properly: Command 'python' not found in list of available commands..\n"
        );
        // Only the latest failed turn is sent with a requery, as SWE-agent's requery history
        // is the real history plus that one pair.
        assert_eq!(seen[2].len(), 4);
        assert_eq!(
            seen[2][3].content,
            "Your action could not be parsed properly: Required argument(s) missing: command.\n"
        );
        assert!(outcome.messages.iter().all(|m| m.tool_calls.iter().all(|c| c.name != "python")));
        // Empty output: SERA's no-output template, without the OBSERVATION: prefix.
        assert_eq!(
            outcome.messages[3].content,
            "Your last command ran successfully and did not produce any output."
        );
    }

    #[test]
    fn a_blocked_command_is_requeried_without_running() {
        let replies = vec![
            reply("", vec![bash(" vim a.txt\n")]),
            reply("", vec![bash("ls")]),
            reply("", vec![submit()]),
            reply("", vec![submit()]),
        ];
        let (outcome, seen) = run(replies, &LoopConfig::default());
        assert_eq!((outcome.exit_status, outcome.format_errors), (ExitStatus::Submitted, 1));
        assert_eq!(
            seen[1][3].content,
            "Operation 'vim a.txt' is not supported by this environment."
        );
        assert_eq!(outcome.messages[3].content, "OBSERVATION:\nran ls");
    }

    #[test]
    fn a_command_bash_n_rejects_is_requeried_without_running() {
        let replies = vec![
            reply("", vec![bash("echo ((")]),
            reply("", vec![bash("ls")]),
            reply("", vec![submit()]),
            reply("", vec![submit()]),
        ];
        let (outcome, seen) = run(replies, &LoopConfig::default());
        assert_eq!((outcome.exit_status, outcome.format_errors), (ExitStatus::Submitted, 1));
        assert_eq!(seen[1][3].content, prompts::bash_syntax_error("bash: line 1: syntax error\n"));
        assert_eq!(outcome.messages[3].content, "OBSERVATION:\nran ls");
    }

    #[test]
    fn consecutive_format_errors_end_the_run_and_a_good_turn_resets_the_count() {
        let bad = || reply("no call", vec![]);
        let config = LoopConfig { max_format_errors: 2, ..LoopConfig::default() };
        let (outcome, _) = run(vec![bad(), reply("", vec![bash("ls")]), bad(), bad()], &config);
        assert_eq!(outcome.exit_status, ExitStatus::FormatError);
        assert_eq!((outcome.format_errors, outcome.steps), (3, 4));
        assert_eq!(outcome.messages.len(), 4);
        let arguments: Map<String, Value> = Map::new();
        assert_eq!(
            check(reply("", vec![call("submit", Value::Object(arguments))])).map(|c| c.name),
            Ok("submit".into())
        );
    }
}
