//! The step loop: ask the teacher, run its tool calls, feed back the observations, until it
//! submits or a limit ends the run.

use sera_core::{ExitStatus, Message, Patch, Role, ToolCall, Usage};

use crate::env::Environment;
use crate::prompts;
use crate::teacher::{Task, Teacher, TeacherError};

/// The limits of one rollout.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Teacher calls per rollout, format errors included (SERA: 115).
    pub step_limit: usize,
    /// Consecutive replies without a usable tool call before the run ends.
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
    // Failed turns and their error messages, sent to the teacher but not recorded.
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

        if reply.tool_calls.is_empty() {
            format_errors += 1;
            consecutive_errors += 1;
            let mut failed = Message::text(Role::Assistant, reply.content);
            failed.reasoning = reply.reasoning;
            pending.push(failed);
            let mut text = prompts::FORMAT_ERROR.to_string();
            for why in &reply.malformed {
                text.push_str(&format!("\n\nYour tool call could not be parsed: {why}"));
            }
            pending.push(Message::text(Role::User, text));
            if consecutive_errors >= config.max_format_errors {
                break ExitStatus::FormatError;
            }
            continue;
        }
        consecutive_errors = 0;
        pending.clear();

        let calls: Vec<ToolCall> = reply
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(index, mut call)| {
                // Ids are renumbered so that records do not carry a server's random ids.
                call.id = format!("call_{steps}_{index}");
                call
            })
            .collect();
        messages.push(Message {
            role: Role::Assistant,
            content: reply.content,
            reasoning: reply.reasoning,
            tool_calls: calls.clone(),
            tool_call_id: None,
        });
        let mut submitted = None;
        for call in &calls {
            // Calls after a final submit are not run; the conversation still answers each one
            // so that every tool call has its tool message.
            let observation = if submitted.is_some() {
                prompts::observation("The task was already submitted; this call was not run.")
            } else {
                let result = env.execute(call);
                submitted = result.submitted;
                result.observation
            };
            messages.push(Message {
                role: Role::Tool,
                content: observation,
                reasoning: None,
                tool_calls: Vec::new(),
                tool_call_id: Some(call.id.clone()),
            });
        }
        if let Some(patch) = submitted {
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
