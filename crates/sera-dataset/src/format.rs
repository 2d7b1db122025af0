//! The export formats: `openai`, `hermes`, `xml` and `raw` (reference section 5).
//!
//! Every format starts from the same [`ChatView`] of a trajectory: its Hermes rendering, one
//! chat message per trajectory message. Length filters and truncation work on that view, so
//! every format of one export keeps the same records and the same number of messages.
//!
//! Two renderings exist ([`Compat`]). `sera` (the default, module [`crate::sera`]) is SERA's
//! post-processing byte for byte: every message kept, SERA's system prompts, its think
//! rewrite. `lossless` is sera-rs's own: trailing messages after the last assistant turn are
//! removed (they teach nothing), reasoning is kept next to visible text inside the think block,
//! and the system prompt lists the trajectory's own tools.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use sera_core::{Message, Role, ToolCall, Trajectory};

use sera_chat::{hermes, pyjson};

use crate::sera::{self, Compat, SeraOptions};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Chat messages with OpenAI `tool_calls`, for TRL and Hugging Face chat templates.
    OpenAi,
    /// Qwen/Hermes text: `<think>`, `<tool_call>` and `<tool_response>` blocks, with `train`
    /// flags, for axolotl's `chat_template` loader.
    Hermes,
    /// SWE-smith / OpenHands text: `<function=NAME>` and `<parameter=KEY>` blocks.
    Xml,
    /// The trajectory record as recorded.
    Raw,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::OpenAi, Format::Hermes, Format::Xml, Format::Raw];

    pub fn name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Hermes => "hermes",
            Format::Xml => "xml",
            Format::Raw => "raw",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format {s:?} (expected openai, hermes, xml or raw)"))
    }
}

/// Why a trajectory cannot be exported. The trajectory is dropped and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    #[error("no assistant message")]
    NoAssistant,
    #[error("message {0} has more than one <think> block")]
    MultipleThink(usize),
    #[error("message {0} has a <think> without a closing </think>")]
    UnclosedThink(usize),
    #[error("assistant message {0} does not end in a tool call")]
    NoToolCall(usize),
}

impl Invalid {
    /// A short stable key for statistics.
    pub fn key(&self) -> &'static str {
        match self {
            Invalid::NoAssistant => "no_assistant",
            Invalid::MultipleThink(_) => "multiple_think",
            Invalid::UnclosedThink(_) => "unclosed_think",
            Invalid::NoToolCall(_) => "no_tool_call",
        }
    }
}

/// One rendered chat message: a role, text, and whether the loss covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
    pub train: bool,
}

/// The Hermes rendering of a trajectory's messages, checked for exportability.
#[derive(Debug, Clone)]
pub struct ChatView {
    /// Hermes messages: in `sera` mode one per trajectory message; in `lossless` mode a system
    /// message may be added and consecutive tool results share one user message.
    pub messages: Vec<ChatMessage>,
    /// For each view message, how many trajectory messages the view covers up to and
    /// including it.
    ends: Vec<usize>,
}

/// The sentence a system prompt falls back to when a trajectory has no system message.
pub const DEFAULT_SYSTEM: &str =
    "You are a helpful assistant that can interact with a computer to solve tasks.";

impl ChatView {
    /// Renders `trajectory` in Hermes form as `compat` says, or says why it cannot be exported.
    /// `formats` are the formats being written: SERA applies its think rewrite, and so its
    /// checks, to hermes records only, so an export of only `xml` or `raw` records skips them;
    /// `openai` records (not a SERA format) keep the records the hermes export keeps.
    pub fn new(
        trajectory: &Trajectory,
        compat: Compat,
        options: &SeraOptions,
        formats: &[Format],
    ) -> Result<ChatView, Invalid> {
        match compat {
            Compat::Lossless => ChatView::hermes(trajectory),
            Compat::Sera => {
                let reformat = formats.iter().any(|f| matches!(f, Format::Hermes | Format::OpenAi));
                let messages = sera::hermes_messages(trajectory, options, reformat)?;
                let ends = (1..=messages.len()).collect();
                Ok(ChatView { messages, ends })
            }
        }
    }

    /// Renders `trajectory` in sera-rs's lossless Hermes form (`sera_chat::hermes`, the text a
    /// teacher is shown and `sera train` renders from an `openai` record), or says why it
    /// cannot be exported.
    pub fn hermes(trajectory: &Trajectory) -> Result<ChatView, Invalid> {
        let kept = kept_len(&trajectory.messages)?;
        let messages = &trajectory.messages[..kept];
        for (index, message) in messages.iter().enumerate() {
            if message.role == Role::Assistant {
                check_think(message, index)?;
                if message.tool_calls.is_empty() {
                    return Err(Invalid::NoToolCall(index));
                }
            }
        }
        let (messages, ends) = hermes::conversation_spans(messages, &trajectory.tools)
            .into_iter()
            .map(|(turn, end)| {
                let role = match turn.role.as_str() {
                    "system" => "system",
                    "assistant" => "assistant",
                    _ => "user",
                };
                (ChatMessage { role, content: turn.content, train: turn.train }, end)
            })
            .unzip();
        Ok(ChatView { messages, ends })
    }

    /// How many trajectory messages the view covers.
    pub fn source_len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// How many trajectory messages the first `view_len` view messages cover.
    pub fn source_keep(&self, view_len: usize) -> usize {
        view_len.checked_sub(1).map_or(0, |last| self.ends[last])
    }

    /// How many view messages cover exactly the first `source_keep` trajectory messages.
    pub fn view_keep(&self, source_keep: usize) -> usize {
        self.ends.partition_point(|&end| end <= source_keep)
    }
}

/// Renders one record of `format` from the first `keep` messages of `trajectory` (as counted
/// by [`ChatView::source_len`]), with `metadata` as its provenance, as `compat` says.
pub fn render(
    trajectory: &Trajectory,
    format: Format,
    view: &ChatView,
    keep: usize,
    metadata: &Map<String, Value>,
    compat: Compat,
    options: &SeraOptions,
) -> Value {
    match (compat, format) {
        (Compat::Sera, Format::Hermes | Format::Xml | Format::Raw) => {
            sera_record(trajectory, format, view, keep, metadata, options)
        }
        (Compat::Lossless, _) | (Compat::Sera, Format::OpenAi) => {
            lossless_record(trajectory, format, view, keep, metadata)
        }
    }
}

/// A SERA record: `messages`, `instance_id` and `tool_json` in SERA's order, then sera-rs's
/// provenance under `metadata`.
fn sera_record(
    trajectory: &Trajectory,
    format: Format,
    view: &ChatView,
    keep: usize,
    metadata: &Map<String, Value>,
    options: &SeraOptions,
) -> Value {
    let messages: Vec<Value> = match format {
        Format::Hermes => {
            view.messages[..keep].iter().map(|m| sera::message_json(m, options)).collect()
        }
        Format::Xml => sera::xml_messages(trajectory, options)[..keep]
            .iter()
            .map(|m| sera::message_json(m, options))
            .collect(),
        Format::Raw | Format::OpenAi => sera::raw_messages(
            &trajectory.messages[..keep],
            options,
            sera::inline_reasoning(trajectory),
        ),
    };
    let mut record = Map::new();
    record.insert("messages".into(), messages.into());
    record.insert("instance_id".into(), trajectory.instance_id.clone().into());
    if options.include_tool_json {
        record.insert("tool_json".into(), trajectory.tools.clone().into());
    }
    record.insert("metadata".into(), Value::Object(metadata.clone()));
    Value::Object(record)
}

fn lossless_record(
    trajectory: &Trajectory,
    format: Format,
    view: &ChatView,
    keep: usize,
    metadata: &Map<String, Value>,
) -> Value {
    let messages = &trajectory.messages[..keep];
    match format {
        Format::Raw => {
            let mut raw = trajectory.clone();
            raw.messages.truncate(keep);
            for (key, value) in metadata {
                if matches!(key.as_str(), "truncation_ratio" | "tokens") {
                    raw.metadata.insert(key.clone(), value.clone());
                }
            }
            serde_json::to_value(&raw).expect("trajectories serialize")
        }
        Format::OpenAi => json!({
            "messages": openai_messages(messages),
            "tools": trajectory.tools,
            "instance_id": trajectory.instance_id,
            "metadata": metadata,
        }),
        Format::Hermes => {
            let hermes: Vec<Value> = view.messages[..view.view_keep(keep)]
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content, "train": m.train}))
                .collect();
            json!({
                "messages": hermes,
                "instance_id": trajectory.instance_id,
                "tool_json": pyjson::dumps(&trajectory.tools),
                "metadata": metadata,
            })
        }
        Format::Xml => {
            let mut out = Vec::with_capacity(messages.len() + 1);
            if messages.first().is_none_or(|m| m.role != Role::System) {
                out.push(json!({"role": "system", "content": xml_system(DEFAULT_SYSTEM, &trajectory.tools)}));
            }
            for message in messages {
                let (role, content) = match message.role {
                    Role::System => ("system", xml_system(&message.content, &trajectory.tools)),
                    Role::User => ("user", message.content.clone()),
                    Role::Tool => ("user", observation(&message.content)),
                    Role::Assistant => ("assistant", xml_assistant(message)),
                };
                out.push(json!({"role": role, "content": content}));
            }
            json!({"messages": out, "instance_id": trajectory.instance_id, "metadata": metadata})
        }
    }
}

/// The provenance every exported record carries.
pub fn provenance(trajectory: &Trajectory) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("instance_id".into(), trajectory.instance_id.clone().into());
    map.insert("trajectory_id".into(), trajectory.id.clone().into());
    map.insert("kind".into(), serde_json::to_value(trajectory.kind).expect("enums serialize"));
    map.insert("repo".into(), trajectory.repo.clone().into());
    map.insert("commit".into(), trajectory.commit.clone().into());
    map.insert("start_function".into(), trajectory.start_function.clone().into());
    map.insert("start_file".into(), trajectory.start_file.clone().into());
    map.insert("bug_class".into(), trajectory.bug_class.clone().into());
    map.insert("teacher".into(), trajectory.teacher.clone().into());
    map.insert("recall".into(), trajectory.recall.into());
    map.insert("resolved".into(), trajectory.resolved.into());
    map.insert(
        "exit_status".into(),
        serde_json::to_value(trajectory.exit_status).expect("enums serialize"),
    );
    map.insert("patch".into(), trajectory.patch.as_ref().map(|p| p.render()).into());
    map
}

/// The default SWE-agent tool schemas (`bash`, `str_replace_editor`, `submit`) in OpenAI
/// function format, for imported trajectories whose files do not record their tools.
pub fn default_tools() -> Vec<Value> {
    let text = include_str!("default_tools.json");
    serde_json::from_str(text).expect("default_tools.json is valid JSON (checked by a test)")
}

/// Messages up to and including the last assistant turn.
fn kept_len(messages: &[Message]) -> Result<usize, Invalid> {
    messages
        .iter()
        .rposition(|m| m.role == Role::Assistant)
        .map(|i| i + 1)
        .ok_or(Invalid::NoAssistant)
}

/// Checks an assistant message's reasoning: it comes from the `reasoning` field or from one
/// `<think>...</think>` block inside `content`, never both, and `content` holds at most one
/// `<think>` block. The lossless rendering writes the reasoning as the think block and the
/// visible text after it, as Qwen3's chat template does.
fn check_think(message: &Message, index: usize) -> Result<(), Invalid> {
    let content = &message.content;
    let reasoning = message.reasoning.as_deref().unwrap_or("");
    if content.matches("<think>").count() > 1 || reasoning.contains("<think>") {
        return Err(Invalid::MultipleThink(index));
    }
    let (inline, _) = sera_chat::think::split(content);
    if inline.is_some() && !reasoning.trim().is_empty() {
        return Err(Invalid::MultipleThink(index));
    }
    Ok(())
}

/// The Hermes system message: `base`, then the tool schemas in Qwen's `<tools>` framing, one
/// JSON object per line (`sera_chat::hermes::system`). This is the text Qwen's chat template
/// renders for tools, and the framing of SERA's `HERMES_DEFAULT_SYSTEM_PROMPT`.
pub fn hermes_system(base: &str, tools: &[Value]) -> String {
    hermes::system(Some(base), tools)
}

/// The XML-format system message: `base`, then each tool described as a numbered function
/// block, then the calling convention.
pub(crate) fn xml_system(base: &str, tools: &[Value]) -> String {
    if tools.is_empty() {
        return base.to_string();
    }
    let mut out = format!("{base}\n\nYou have access to the following functions:\n");
    for (n, tool) in tools.iter().enumerate() {
        let function = tool.get("function").unwrap_or(tool);
        let name = function.get("name").and_then(Value::as_str).unwrap_or("");
        let description = function.get("description").and_then(Value::as_str).unwrap_or("");
        let _ = write!(
            out,
            "\n---- BEGIN FUNCTION #{}: {name} ----\nDescription: {description}\n",
            n + 1
        );
        let parameters = function.get("parameters");
        let required: Vec<&str> = parameters
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match parameters.and_then(|p| p.get("properties")).and_then(Value::as_object) {
            Some(properties) if !properties.is_empty() => {
                out.push_str("\nParameters:\n");
                for (i, (key, schema)) in properties.iter().enumerate() {
                    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("string");
                    let needed =
                        if required.contains(&key.as_str()) { "required" } else { "optional" };
                    let about = schema.get("description").and_then(Value::as_str).unwrap_or("");
                    let _ = writeln!(out, "({}) {key} ({kind}, {needed}): {about}", i + 1);
                }
            }
            _ => out.push_str("No parameters are required for this function.\n"),
        }
        let _ = writeln!(out, "---- END FUNCTION #{} ----", n + 1);
    }
    out.push_str(
        "\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n\
         Provide any reasoning for the function call here.\n<function=example_function_name>\n\
         <parameter=example_parameter_1>value_1</parameter>\n<parameter=example_parameter_2>\n\
         This is the value for the second parameter\nthat can span\nmultiple lines\n</parameter>\n\
         </function>",
    );
    out
}

/// Parameters whose values are usually multi-line code; their values go on lines of their own.
const BLOCK_PARAMETERS: [&str; 3] = ["old_str", "new_str", "file_text"];

fn xml_assistant(message: &Message) -> String {
    // The reasoning, then the visible text, as prose before the function blocks.
    let (inline, visible) = sera_chat::think::split(&message.content);
    let thought = message.reasoning.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let mut out = match (thought.or(inline.as_deref()), visible.is_empty()) {
        (None, _) => visible,
        (Some(thought), true) => thought.to_string(),
        (Some(thought), false) => format!("{thought}\n\n{visible}"),
    };
    for call in &message.tool_calls {
        out.push_str(if out.is_empty() { "" } else { "\n\n" });
        let _ = write!(out, "<function={}>", call.name);
        for (key, value) in &call.arguments {
            // Strings are written as they are; other values as JSON (Python's `str` would
            // write `True` for true, which no parser of this format expects).
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if BLOCK_PARAMETERS.contains(&key.as_str()) {
                let _ = write!(out, "\n<parameter={key}>\n{text}\n</parameter>");
            } else {
                let _ = write!(out, "\n<parameter={key}>{text}</parameter>");
            }
        }
        out.push_str("\n</function>");
    }
    out
}

/// SERA's `next_step_no_output_template`: the observation of an empty output, which SWE-agent
/// sends without the `OBSERVATION:` prefix (sera-rollout writes the same text).
const NO_OUTPUT: &str = "Your last command ran successfully and did not produce any output.";

fn observation(content: &str) -> String {
    if content.starts_with("OBSERVATION:\n") || content == NO_OUTPUT {
        content.to_string()
    } else {
        format!("OBSERVATION:\n{content}")
    }
}

fn openai_messages(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|message| {
            let mut out = Map::new();
            out.insert("role".into(), message.role.name().into());
            out.insert("content".into(), message.content.clone().into());
            if let Some(reasoning) = &message.reasoning {
                out.insert("reasoning_content".into(), reasoning.clone().into());
            }
            if !message.tool_calls.is_empty() {
                let calls: Vec<Value> = message.tool_calls.iter().map(openai_call).collect();
                out.insert("tool_calls".into(), calls.into());
            }
            if let Some(id) = &message.tool_call_id {
                out.insert("tool_call_id".into(), id.clone().into());
            }
            Value::Object(out)
        })
        .collect()
}

/// Arguments are a JSON string in Python's `json.dumps` style, so that a chat template that
/// prints the string verbatim (Qwen's does) produces the same text as the Hermes export.
fn openai_call(call: &ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": pyjson::dumps(&call.arguments)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_observations_get_the_prefix_except_the_no_output_text() {
        assert_eq!(observation("12"), "OBSERVATION:\n12");
        assert_eq!(observation("OBSERVATION:\n12"), "OBSERVATION:\n12");
        assert_eq!(observation(NO_OUTPUT), NO_OUTPUT);
    }

    #[test]
    fn default_tools_parse_and_name_the_three_tools() {
        let names: Vec<String> = default_tools()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["bash", "str_replace_editor", "submit"]);
    }

    #[test]
    fn formats_round_trip_their_names() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert!("chatml".parse::<Format>().is_err());
    }
}
