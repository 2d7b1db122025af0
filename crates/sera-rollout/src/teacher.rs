//! The seam between the step loop and whatever decides the next action.

use sera_core::{Instance, Message, RolloutKind, ToolCall, Usage};
use serde_json::Value;

/// The model (or oracle) that plays the assistant.
///
/// Two required methods, and [`Teacher::supports`] with a default. A teacher is shared by every rollout in flight, so `reply` takes
/// `&self` and gets the whole conversation each time, as a chat-completions server does; a
/// teacher that needs memory derives it from the conversation, which keeps a rollout
/// reproducible from its record.
pub trait Teacher: Send + Sync {
    /// The name recorded in each trajectory, e.g. `oracle` or `openai:Qwen/Qwen3-32B`.
    fn name(&self) -> String;

    /// The next assistant turn given the conversation so far (system prompt, task message,
    /// earlier turns and observations).
    fn reply(&self, task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError>;

    /// Whether the teacher can do rollouts of `kind`, and if not, why (said to the user).
    /// Defaults to every kind.
    fn supports(&self, kind: RolloutKind) -> Result<(), String> {
        let _ = kind;
        Ok(())
    }
}

/// What a teacher may know about the rollout besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Task<'a> {
    pub kind: RolloutKind,
    /// The repository root as the agent sees it, e.g. `/testbed`.
    pub workdir: &'a str,
    /// The tool schemas offered, in OpenAI function format.
    pub tools: &'a [Value],
    /// The procedural instance being solved. Model teachers must not look at its gold patch;
    /// the oracle exists to act it out.
    pub instance: Option<&'a Instance>,
    /// The seed of this rollout (already derived per instance).
    pub seed: u64,
}

/// One assistant turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The visible text of the turn.
    pub content: String,
    /// Reasoning, from `reasoning_content` or `<think>` tags.
    pub reasoning: Option<String>,
    /// The tool calls to run, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Tool calls the teacher attempted that could not be read, each with why. A reply with
    /// no usable tool call counts as a format error.
    pub malformed: Vec<String>,
    pub usage: Usage,
}

/// Why a teacher could not produce a turn.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TeacherError {
    /// The conversation no longer fits the model's context window.
    #[error("context overflow: {0}")]
    ContextOverflow(String),
    /// The server failed or could not be reached, after retries.
    #[error("teacher unavailable: {0}")]
    Unavailable(String),
    /// The server answered with something that is not a chat completion.
    #[error("bad response from teacher: {0}")]
    Protocol(String),
    /// The teacher cannot do this kind of task at all (the oracle on SVG rollout 1).
    #[error("{0}")]
    Unsupported(String),
}
