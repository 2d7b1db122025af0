//! Hermes tool use as Qwen3's chat template renders it in text. The system turn carries the
//! tool schemas inside `<tools></tools>`, one JSON object per line; an assistant turn is its
//! reasoning in a `<think>` block, its visible text, then one `<tool_call>` block per call; the
//! results of consecutive tool messages share one user turn of `<tool_response>` blocks.
//!
//! JSON inside the text is written by [`pyjson`](crate::pyjson), as SERA's post-processing
//! wrote it. Qwen's template writes the same bytes (its `tojson` uses the same separators)
//! except that it leaves non-ASCII characters unescaped.

use sera_core::{Message, Role, ToolCall};
use serde_json::{Map, Value, json};

use crate::chatml::Turn;
use crate::{pyjson, think};

const TOOLS_PREAMBLE: &str = "# Tools\n\nYou may call one or more functions to assist with the \
user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const TOOLS_POSTAMBLE: &str = "\n</tools>\n\nFor each function call, return a json object with \
function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

/// The tools section of a system turn: the framing and one schema per line.
pub fn tools_block(tools: &[Value]) -> String {
    let mut out = String::with_capacity(TOOLS_PREAMBLE.len() + 512 * tools.len() + 256);
    out.push_str(TOOLS_PREAMBLE);
    for tool in tools {
        out.push('\n');
        out.push_str(&pyjson::dumps(tool));
    }
    out.push_str(TOOLS_POSTAMBLE);
    out
}

/// The system turn: `base` (when the conversation has a system message), a blank line and the
/// tools section. Without tools it is `base` alone.
pub fn system(base: Option<&str>, tools: &[Value]) -> String {
    match (base, tools.is_empty()) {
        (Some(base), true) => base.to_string(),
        (None, true) => String::new(),
        (Some(base), false) => format!("{base}\n\n{}", tools_block(tools)),
        (None, false) => tools_block(tools),
    }
}

/// One `<tool_call>` block.
pub fn tool_call(name: &str, arguments: &Map<String, Value>) -> String {
    format!(
        "<tool_call>\n{}\n</tool_call>",
        pyjson::dumps(&json!({"name": name, "arguments": arguments}))
    )
}

/// One `<tool_response>` block.
pub fn tool_response(content: &str) -> String {
    format!("<tool_response>\n{content}\n</tool_response>")
}

/// An assistant turn: its think block (empty without reasoning, as Qwen3 writes the turn being
/// generated, so every trained turn starts the way the model starts one), the visible text,
/// then the calls, each on a new line after any text before it.
pub fn assistant(reasoning: Option<&str>, content: &str, calls: &[ToolCall]) -> String {
    let content = content.trim_start_matches('\n');
    let mut out = think::block(reasoning.unwrap_or("").trim()) + content;
    for (index, call) in calls.iter().enumerate() {
        if index > 0 || !content.is_empty() {
            out.push('\n');
        }
        out.push_str(&tool_call(&call.name, &call.arguments));
    }
    out
}

/// The turns of a whole conversation with `tools`, as Qwen3's template renders them. An
/// assistant message's reasoning is its `reasoning` field, or else a `<think>` block at the
/// front of its content; assistant turns are the trained ones. A conversation without a system
/// message still gets the tools section as its system turn.
pub fn conversation(messages: &[Message], tools: &[Value]) -> Vec<Turn> {
    conversation_spans(messages, tools).into_iter().map(|(turn, _)| turn).collect()
}

/// [`conversation`], each turn with how many of `messages` the turns up to and including it
/// render (an added system turn renders none; a user turn of tool results renders several).
pub fn conversation_spans(messages: &[Message], tools: &[Value]) -> Vec<(Turn, usize)> {
    let mut turns: Vec<(Turn, usize)> = Vec::with_capacity(messages.len() + 1);
    if !tools.is_empty() && messages.first().is_none_or(|m| m.role != Role::System) {
        turns.push((Turn::new("system", system(None, tools), false), 0));
    }
    let mut previous = None;
    for (index, message) in messages.iter().enumerate() {
        let end = index + 1;
        match message.role {
            Role::System => {
                let content = system(Some(&message.content), tools);
                turns.push((Turn::new("system", content, false), end));
            }
            Role::User => turns.push((Turn::new("user", message.content.clone(), false), end)),
            Role::Assistant => {
                let (text, content) = match &message.reasoning {
                    Some(reasoning) => (Some(reasoning.clone()), message.content.clone()),
                    None if message.content.contains(think::CLOSE) => {
                        think::split(&message.content)
                    }
                    None => (None, message.content.clone()),
                };
                let rendered = assistant(text.as_deref(), &content, &message.tool_calls);
                turns.push((Turn::new("assistant", rendered, true), end));
            }
            Role::Tool => {
                let response = tool_response(&message.content);
                match turns.last_mut() {
                    Some((last, last_end)) if previous == Some(Role::Tool) => {
                        last.content.push('\n');
                        last.content.push_str(&response);
                        *last_end = end;
                    }
                    _ => turns.push((Turn::new("user", response, false), end)),
                }
            }
        }
        previous = Some(message.role);
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chatml;

    fn call(name: &str, arguments: Value) -> ToolCall {
        let Value::Object(arguments) = arguments else { panic!("arguments are an object") };
        ToolCall { id: format!("call_{name}"), name: name.into(), arguments }
    }

    #[test]
    fn renders_a_tool_conversation_as_qwen3s_template_does() {
        let tools = [json!({"type": "function", "function": {"name": "bash"}})];
        let mut answer = Message::text(Role::Assistant, "Let me look.");
        answer.reasoning = Some("Where is it?".into());
        answer.tool_calls =
            vec![call("bash", json!({"command": "ls é"})), call("bash", json!({"command": "pwd"}))];
        let messages = [
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Fix it."),
            answer,
            Message::text(Role::Tool, "a.py"),
            Message::text(Role::Tool, "/testbed"),
        ];
        let text = chatml::render(&conversation(&messages, &tools));
        let expected = concat!(
            "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n",
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
            "{\"type\": \"function\", \"function\": {\"name\": \"bash\"}}\n</tools>\n\n",
            "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n",
            "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
            "<|im_start|>user\nFix it.<|im_end|>\n",
            "<|im_start|>assistant\n<think>\nWhere is it?\n</think>\n\nLet me look.\n",
            "<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"ls \\u00e9\"}}\n</tool_call>\n",
            "<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"pwd\"}}\n</tool_call><|im_end|>\n",
            "<|im_start|>user\n<tool_response>\na.py\n</tool_response>\n<tool_response>\n/testbed\n</tool_response><|im_end|>\n",
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn inline_reasoning_and_missing_system_messages_render_the_same_way() {
        let tools = [json!({"name": "submit"})];
        let mut inline = Message::text(Role::Assistant, "<think>\nwhy\n</think>\n\ndone");
        inline.tool_calls = vec![call("submit", json!({}))];
        let mut apart = Message::text(Role::Assistant, "done");
        apart.reasoning = Some("why".into());
        apart.tool_calls = inline.tool_calls.clone();
        assert_eq!(conversation(&[inline], &tools), conversation(&[apart], &tools));
        let turns = conversation(&[Message::text(Role::User, "hi")], &tools);
        assert_eq!(turns[0].content, tools_block(&tools));
        assert!(!turns[0].train && !turns[1].train);
        assert_eq!(system(Some("base"), &[]), "base");
        assert_eq!(
            assistant(None, "", &[call("submit", json!({}))]),
            "<think>\n\n</think>\n\n<tool_call>\n{\"name\": \"submit\", \"arguments\": {}}\n</tool_call>"
        );
    }
}
