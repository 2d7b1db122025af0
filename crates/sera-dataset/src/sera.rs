//! SERA compatibility: the `hermes`, `xml` and `raw` records exactly as SERA's post-processing
//! (`sera/datagen/data/postprocess/{postprocess,utils}.py` of allenai/SERA) writes them.
//!
//! This is the default export ([`Compat::Sera`]); [`Compat::Lossless`] keeps sera-rs's own
//! rendering (reasoning kept next to visible text, trailing messages dropped, trajectory tools
//! in the system prompt). docs/sera-compat.md lists every point where the two differ, and the
//! conformance corpus in tests/data/sera-conformance/ holds SERA's own outputs, which the tests
//! compare with these byte for byte.
//!
//! What SERA does, and so what this module does:
//! - every history message is kept, the final tool response after the last assistant turn
//!   included; tool messages become `user` turns wrapped in `<tool_response>` (hermes) or stay
//!   bare (xml);
//! - the system message is replaced by SERA's fixed prompt for the tools (for SWE-agent's tools,
//!   `HERMES_DEFAULT_SYSTEM_PROMPT` or `XML_DEFAULT_SYSTEM_PROMPT`, byte for byte);
//! - an assistant turn whose text is exactly `Exit due to cost limit` becomes a synthetic submit;
//! - `add_think` wraps the stripped assistant text in a think block;
//! - `reformat_assistant_message` (hermes only) requires exactly one closed think block in every
//!   message that contains `<think>`, tool output and the issue included, and an assistant turn of
//!   the form think? commentary tool-call; `keep_only_think` keeps the think block and drops the
//!   commentary unless the block is empty;
//! - "strip" is Python's `str.strip()`, whose whitespace includes U+001C..U+001F.
//!
//! The prompt texts and tool schemas in `src/sera/` are SERA's constants (`sera/constants.py`,
//! allenai/SERA commit 1ca8673, Apache-2.0), reproduced because the records must carry them byte
//! for byte.
//!
//! Where SERA raises instead of writing a record (an assistant turn whose `tool_calls` is null or
//! missing: `transform_traj_hermes` calls a function its module does not define), sera-rs
//! treats the turn as having no tool calls, which is what SERA does for `tool_calls: []`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use sera_core::{Message, Role, Trajectory};

use sera_chat::{hermes, pyjson};

use crate::format::{ChatMessage, Invalid, hermes_system};

/// Which rendering an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compat {
    /// SERA's post-processing, byte for byte.
    #[default]
    Sera,
    /// sera-rs's own rendering, which keeps reasoning next to visible text and the
    /// trajectory's own tool schemas.
    Lossless,
}

impl Compat {
    pub const ALL: [Compat; 2] = [Compat::Sera, Compat::Lossless];

    pub fn name(self) -> &'static str {
        match self {
            Compat::Sera => "sera",
            Compat::Lossless => "lossless",
        }
    }
}

impl std::str::FromStr for Compat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compat::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown compat {s:?} (expected sera or lossless)"))
    }
}

/// How SERA rewrites an assistant turn that has both a think block and other text
/// (`reformat_assistant_message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reformat {
    /// Keep the think block; use the visible text only when the block is missing or empty.
    KeepOnlyThink,
    /// Use the visible text as the think block whenever there is any.
    KeepOnlyNonThink,
}

/// SERA's `postprocess` options that change the records. Defaults are SERA's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeraOptions {
    /// Wrap every assistant text in `<think>` (SERA: off; on for teachers without think tags).
    pub add_think: bool,
    /// The assistant-turn rewrite of hermes records, or none (SERA: `keep_only_think`).
    pub reformat: Option<Reformat>,
    /// Mark assistant turns `train: true` and others `false` (SERA: on).
    pub add_train_key: bool,
    /// Carry the tool schemas as `tool_json` (SERA: on).
    pub include_tool_json: bool,
}

impl Default for SeraOptions {
    fn default() -> Self {
        SeraOptions {
            add_think: false,
            reformat: Some(Reformat::KeepOnlyThink),
            add_train_key: true,
            include_tool_json: true,
        }
    }
}

/// The text of SWE-agent's cost-limit exit turn, which SERA replaces by a submit.
pub const COST_LIMIT_EXIT: &str = "Exit due to cost limit";

/// SERA's `HERMES_DEFAULT_SYSTEM_PROMPT`: the system message of hermes records of SWE-agent
/// trajectories.
pub const HERMES_DEFAULT_SYSTEM_PROMPT: &str =
    include_str!("sera/hermes-default-system-prompt.txt");
/// SERA's `XML_DEFAULT_SYSTEM_PROMPT`.
pub const XML_DEFAULT_SYSTEM_PROMPT: &str = include_str!("sera/xml-default-system-prompt.txt");
/// SERA's `MINI_SWEAGENT_HERMES_SYSTEM_PROMPT` (mini-swe-agent offers `bash` only).
pub const MINI_SWEAGENT_HERMES_SYSTEM_PROMPT: &str =
    include_str!("sera/mini-sweagent-hermes-system-prompt.txt");
/// SERA's `MINI_SWEAGENT_XML_SYSTEM_PROMPT`.
pub const MINI_SWEAGENT_XML_SYSTEM_PROMPT: &str =
    include_str!("sera/mini-sweagent-xml-system-prompt.txt");

static SWEAGENT_TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("sera/sweagent-tools.json"))
        .expect("sera/sweagent-tools.json is valid JSON (checked by a test)")
});
static MINI_SWEAGENT_TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("sera/mini-sweagent-tools.json"))
        .expect("sera/mini-sweagent-tools.json is valid JSON (checked by a test)")
});

/// SWE-agent's tool schemas as SERA records them (`SWEAGENT_TOOLS`): the tools of every
/// imported SWE-agent trajectory and SERA dataset row.
pub fn sweagent_tools() -> Vec<Value> {
    SWEAGENT_TOOLS.clone()
}

/// mini-swe-agent's one tool as SERA records it (`MINI_SWEAGENT_TOOLS`).
pub fn mini_sweagent_tools() -> Vec<Value> {
    MINI_SWEAGENT_TOOLS.clone()
}

/// The hermes messages SERA writes for `trajectory`, one per trajectory message, or why SERA
/// would drop it. `reformat` is false when no hermes record is written (SERA reformats hermes
/// records only), so that the rewrite's checks do not drop records of other formats.
pub fn hermes_messages(
    trajectory: &Trajectory,
    options: &SeraOptions,
    reformat: bool,
) -> Result<Vec<ChatMessage>, Invalid> {
    let system = system_prompt(&trajectory.tools, Syntax::Hermes);
    let inline = inline_reasoning(trajectory);
    let mut messages: Vec<ChatMessage> = trajectory
        .messages
        .iter()
        .map(|message| {
            let (role, content) = match message.role {
                Role::System => ("system", system.clone()),
                Role::User => ("user", message.content.clone()),
                Role::Tool => ("user", hermes::tool_response(&message.content)),
                Role::Assistant => {
                    ("assistant", hermes_assistant(message, options.add_think, inline))
                }
            };
            ChatMessage { role, content, train: role == "assistant" }
        })
        .collect();
    if reformat && let Some(mode) = options.reformat {
        reformat_messages(&mut messages, mode)?;
    }
    Ok(messages)
}

/// The xml messages SERA writes for `trajectory`, one per trajectory message.
pub fn xml_messages(trajectory: &Trajectory, options: &SeraOptions) -> Vec<ChatMessage> {
    let system = system_prompt(&trajectory.tools, Syntax::Xml);
    let inline = inline_reasoning(trajectory);
    trajectory
        .messages
        .iter()
        .map(|message| {
            let (role, content) = match message.role {
                Role::System => ("system", system.clone()),
                Role::User | Role::Tool => ("user", message.content.clone()),
                Role::Assistant => ("assistant", xml_assistant(message, options.add_think, inline)),
            };
            ChatMessage { role, content, train: role == "assistant" }
        })
        .collect()
}

/// The messages of a `raw` record: the history in SWE-agent's form (`role`, `content`,
/// assistant `tool_calls` with JSON-string arguments, tool `tool_call_ids`), with SERA's
/// `train` key. SWE-agent's other history fields are not recorded in a trajectory, so they are
/// not written. `inline` puts a message's reasoning in front of its text ([`inline_reasoning`]).
pub fn raw_messages(messages: &[Message], options: &SeraOptions, inline: bool) -> Vec<Value> {
    messages
        .iter()
        .map(|message| {
            let mut out = Map::new();
            out.insert("role".into(), message.role.name().into());
            out.insert("content".into(), content_with_reasoning(message, inline).into());
            match message.role {
                Role::Assistant => {
                    let calls: Vec<Value> = message
                        .tool_calls
                        .iter()
                        .map(|call| {
                            json!({"id": call.id, "type": "function", "function": {
                                "name": call.name, "arguments": pyjson::dumps(&call.arguments)}})
                        })
                        .collect();
                    out.insert("tool_calls".into(), calls.into());
                }
                Role::Tool => {
                    let ids: Vec<Value> =
                        message.tool_call_id.iter().map(|id| id.clone().into()).collect();
                    out.insert("tool_call_ids".into(), ids.into());
                }
                Role::System | Role::User => {}
            }
            if options.add_train_key {
                out.insert("train".into(), (message.role == Role::Assistant).into());
            }
            Value::Object(out)
        })
        .collect()
}

/// One rendered message as a JSON object, with `train` when SERA adds it.
pub fn message_json(message: &ChatMessage, options: &SeraOptions) -> Value {
    if options.add_train_key {
        json!({"role": message.role, "content": message.content, "train": message.train})
    } else {
        json!({"role": message.role, "content": message.content})
    }
}

pub use sera_core::pystr::{is_space as is_python_space, strip as py_strip};

#[derive(Clone, Copy)]
enum Syntax {
    Hermes,
    Xml,
}

/// SERA's fixed system prompt when `tools` are the tools it was written for; otherwise the
/// trajectory's own tools in the same framing.
fn system_prompt(tools: &[Value], syntax: Syntax) -> String {
    let sweagent = tools == SWEAGENT_TOOLS.as_slice();
    let mini = tools == MINI_SWEAGENT_TOOLS.as_slice();
    match syntax {
        Syntax::Hermes if sweagent => HERMES_DEFAULT_SYSTEM_PROMPT.to_string(),
        Syntax::Hermes if mini => MINI_SWEAGENT_HERMES_SYSTEM_PROMPT.to_string(),
        Syntax::Xml if sweagent => XML_DEFAULT_SYSTEM_PROMPT.to_string(),
        Syntax::Xml if mini => MINI_SWEAGENT_XML_SYSTEM_PROMPT.to_string(),
        Syntax::Hermes => hermes_system(crate::format::DEFAULT_SYSTEM, tools),
        Syntax::Xml => crate::format::xml_system(crate::format::DEFAULT_SYSTEM, tools),
    }
}

/// Whether a trajectory's reasoning belongs in its text. A trajectory recorded by sera-rs may
/// keep the teacher's reasoning apart from its text; SERA's teachers wrote it inline as a think
/// block, so that is where it goes. An imported one is rendered from its file's text alone, as
/// SERA reads the file (it never looks at mini-swe-agent's `reasoning_content`).
pub fn inline_reasoning(trajectory: &Trajectory) -> bool {
    trajectory.kind != sera_core::RolloutKind::Imported
}

/// The assistant text SERA sees, with the reasoning in front when `inline`.
fn content_with_reasoning(message: &Message, inline: bool) -> String {
    match message.reasoning.as_deref().filter(|r| inline && !r.is_empty()) {
        Some(reasoning) => format!("<think>\n{reasoning}\n</think>\n\n{}", message.content),
        None => message.content.clone(),
    }
}

fn think_wrapped(text: &str) -> String {
    format!("<think>\n{}\n</think>", py_strip(text))
}

fn hermes_assistant(message: &Message, add_think: bool, inline: bool) -> String {
    if message.content == COST_LIMIT_EXIT {
        let submit = hermes::tool_call("submit", &Map::new());
        let text = "Since we have successfully fixed the issue and verified it works, let's submit \
                    the changes:";
        return if add_think {
            format!("<think>\n{text}\n</think>\n\n{submit}")
        } else {
            format!("{text}\n\n{submit}")
        };
    }
    let content = content_with_reasoning(message, inline);
    let text = if add_think { think_wrapped(&content) } else { content };
    let calls: Vec<String> = message
        .tool_calls
        .iter()
        .map(|call| hermes::tool_call(&call.name, &call.arguments))
        .collect();
    format!("{text}\n\n{}", calls.join("\n"))
}

/// Parameters SERA writes on lines of their own (`XML_STR_REPLACES`).
const XML_BLOCK_PARAMETERS: [&str; 3] = ["old_str", "new_str", "file_text"];

fn xml_assistant(message: &Message, add_think: bool, inline: bool) -> String {
    if message.content == COST_LIMIT_EXIT {
        // SERA's xml variant ignores add_think here.
        return "Since we have successfully fixed the issue and verified it works, let's submit \
                the changes:\n\n<function=submit>\n</function>"
            .to_string();
    }
    let content = content_with_reasoning(message, inline);
    let text = if add_think { think_wrapped(&content) } else { content };
    let calls: Vec<String> = message
        .tool_calls
        .iter()
        .map(|call| {
            let mut lines = vec![format!("<function={}>", call.name)];
            for (key, value) in &call.arguments {
                let value = py_str(value);
                lines.push(if XML_BLOCK_PARAMETERS.contains(&key.as_str()) {
                    format!("<parameter={key}>\n{value}\n</parameter>")
                } else {
                    format!("<parameter={key}>{value}</parameter>")
                });
            }
            lines.push("</function>".into());
            lines.join("\n")
        })
        .collect();
    format!("{text}\n\n{}", calls.join("\n"))
}

/// SERA's `reformat_assistant_message` on one trajectory's messages.
fn reformat_messages(messages: &mut [ChatMessage], mode: Reformat) -> Result<(), Invalid> {
    for (index, message) in messages.iter_mut().enumerate() {
        if message.content.contains("<think>") {
            message.content = reformat_think(&message.content, index)?;
        }
    }
    for (index, message) in messages.iter_mut().enumerate() {
        if message.role != "assistant" {
            continue;
        }
        let (think, commentary, calls) =
            split_turn(py_strip(&message.content)).ok_or(Invalid::NoToolCall(index))?;
        let empty_think = think
            .is_none_or(|t| think_blocks(t).first().is_none_or(|b| py_strip(b.inner).is_empty()));
        let think = match (mode, think) {
            (Reformat::KeepOnlyThink, Some(think)) if !empty_think => think.to_string(),
            (Reformat::KeepOnlyNonThink, Some(think)) if py_strip(commentary).is_empty() => {
                think.to_string()
            }
            _ => think_wrapped(commentary),
        };
        message.content = format!("{think}\n\n{calls}");
    }
    Ok(())
}

/// One `<think>(.*?)</think>` match: its byte range and inner text.
struct ThinkBlock<'a> {
    start: usize,
    end: usize,
    inner: &'a str,
}

/// The non-overlapping matches of `<think>(.*?)</think>` (dot matching newlines), left to
/// right, as Python's `re.findall` finds them.
fn think_blocks(text: &str) -> Vec<ThinkBlock<'_>> {
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("<think>").map(|i| from + i) {
        let body = open + "<think>".len();
        // No closing tag after this opening means none after any later opening either.
        let Some(close) = text[body..].find("</think>").map(|i| body + i) else { break };
        let end = close + "</think>".len();
        blocks.push(ThinkBlock { start: open, end, inner: &text[body..close] });
        from = end;
    }
    blocks
}

/// SERA's `reformat_think_message`: exactly one think block, rewritten with its inner text
/// stripped and on lines of its own.
fn reformat_think(content: &str, index: usize) -> Result<String, Invalid> {
    let blocks = think_blocks(content);
    let [block] = blocks.as_slice() else {
        return Err(if blocks.is_empty() {
            Invalid::UnclosedThink(index)
        } else {
            Invalid::MultipleThink(index)
        });
    };
    Ok(format!(
        "{}{}{}",
        &content[..block.start],
        think_wrapped(block.inner),
        &content[block.end..]
    ))
}

/// SERA's `parse_text_indexed` on already-stripped text: the match of
/// `^(<think>.*?</think>)?(.*?)(<tool_call>.*?</tool_call>)$` with dot matching newlines, as
/// Python's backtracking finds it: the optional think group is tried first, each of its lazy
/// ends in turn, and the tool-call group starts at the first `<tool_call>` after it, provided
/// the text ends with `</tool_call>`.
fn split_turn(text: &str) -> Option<(Option<&str>, &str, &str)> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let calls_from = |from: usize| -> Option<usize> {
        if !text.ends_with(CLOSE) {
            return None;
        }
        let last = text.len() - CLOSE.len();
        text[from..].find(OPEN).map(|i| from + i).filter(|&at| at + OPEN.len() <= last)
    };
    if text.starts_with("<think>") {
        let mut search = "<think>".len();
        while let Some(close) = text[search..].find("</think>").map(|i| search + i) {
            let end = close + "</think>".len();
            if let Some(at) = calls_from(end) {
                return Some((Some(&text[..end]), &text[end..at], &text[at..]));
            }
            search = close + 1;
        }
    }
    calls_from(0).map(|at| (None, &text[..at], &text[at..]))
}

/// Python's `str(value)` for a value parsed by `json.loads`, as SERA's xml format writes
/// parameter values with an f-string.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr` of a value parsed by `json.loads` (lists and dicts print their items this
/// way).
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => pyjson::float_repr(f),
            _ => n.to_string(),
        },
        Value::String(s) => py_str_repr(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> =
                map.iter().map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double
/// quote; backslash, the quote, `\t`, `\n`, `\r` escaped; other non-printable characters as
/// `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = c as u32;
                let _ = if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x10000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character: false for control, format, separator
/// (other than the space), surrogate, private-use and unassigned characters. Exact for ASCII
/// and Latin-1 and for the separators and format characters that occur in text; other
/// unassigned code points are taken as printable, since no character table is linked here.
fn is_printable(c: char) -> bool {
    let code = c as u32;
    !(code < 0x20
        || (0x7f..=0xa0).contains(&code)
        || code == 0xad
        || code == 0x1680
        || (0x2000..=0x200f).contains(&code)
        || (0x2028..=0x202f).contains(&code)
        || (0x205f..=0x2064).contains(&code)
        || (0x2066..=0x206f).contains(&code)
        || code == 0x3000
        || code == 0xfeff
        || (0xfff9..=0xfffb).contains(&code)
        || (0xe000..=0xf8ff).contains(&code)
        || code >= 0xf0000
        || code == 0x180e
        || code == 0x061c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sera_tool_schemas_parse_and_name_swe_agent_tools() {
        let names: Vec<&str> =
            SWEAGENT_TOOLS.iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["bash", "str_replace_editor", "submit"]);
        assert_eq!(MINI_SWEAGENT_TOOLS.len(), 1);
    }

    #[test]
    fn python_strip_removes_information_separators_that_rust_trim_keeps() {
        assert_eq!(py_strip("\u{1c}\u{1f} a \u{3000}\u{85}"), "a");
        assert_eq!("\u{1f}a".trim(), "\u{1f}a");
        assert_eq!(py_strip("\u{200b}a"), "\u{200b}a");
    }

    #[test]
    fn turns_split_like_python_backtracking() {
        let call = "<tool_call>\n{}\n</tool_call>";
        let text = format!("<think>a</think>b{call}");
        assert_eq!(split_turn(&text), Some((Some("<think>a</think>"), "b", call)));
        assert_eq!(split_turn(&format!("x{call}")), Some((None, "x", call)));
        // A tool-call opening in the commentary starts the tool-call group.
        let text = format!("say <tool_call> then{call}");
        assert_eq!(split_turn(&text).unwrap().1, "say ");
        // With no tool call after the think block, the think group is skipped.
        let text = "<think><tool_call></think></tool_call>";
        assert_eq!(split_turn(text), Some((None, "<think>", "<tool_call></think></tool_call>")));
        assert_eq!(split_turn("no call"), None);
        assert_eq!(split_turn("<tool_call>"), None);
    }

    #[test]
    fn python_reprs_of_json_values() {
        let value: Value = serde_json::from_str(
            r#"[1, -2, 1.5, 0.0001, 1e16, 1e-5, 123456789012345680000.0, true, null, "it's", "a\"b'c", "x\ty", {"k": [false]}]"#,
        )
        .unwrap();
        assert_eq!(
            py_str(&value),
            r#"[1, -2, 1.5, 0.0001, 1e+16, 1e-05, 1.2345678901234568e+20, True, None, "it's", 'a"b\'c', 'x\ty', {'k': [False]}]"#
        );
        assert_eq!(py_str(&json!("plain")), "plain");
        assert_eq!(
            py_str_repr("\u{1}\u{7f}\u{a0}é\u{2028}\u{1f600}"),
            "'\\x01\\x7f\\xa0é\\u2028\u{1f600}'"
        );
    }
}
