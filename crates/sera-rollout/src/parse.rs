//! Reading a chat-completion answer into a [`Reply`]: native `tool_calls`, Hermes
//! `<tool_call>` blocks in the text (for servers started without a tool parser), and reasoning
//! from `reasoning_content` (or `reasoning`) or `<think>` tags. Pure text processing.

/// Splits the `<think>` block off a message (see [`sera_chat::think::split`]).
pub use sera_chat::think::split as split_think;
use sera_core::{ToolCall, Usage};
use serde_json::{Map, Value};

use crate::teacher::{Reply, TeacherError};

/// Reads the body of a `/v1/chat/completions` response.
pub fn completion(body: &str) -> Result<Reply, TeacherError> {
    let value: Value = serde_json::from_str(body).map_err(|err| {
        TeacherError::Protocol(format!("the response is not JSON ({err}): {}", excerpt(body)))
    })?;
    let message = value
        .get("choices")
        .and_then(|choices| choices.get(0))
        .and_then(|choice| choice.get("message"))
        .ok_or_else(|| {
            TeacherError::Protocol(format!(
                "the response has no choices[0].message: {}",
                excerpt(body)
            ))
        })?;
    let usage = value.get("usage").map_or(Usage::default(), |usage| Usage {
        prompt_tokens: usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
    });
    let text = message.get("content").and_then(Value::as_str).unwrap_or_default();
    let refusal = message.get("refusal").and_then(Value::as_str).unwrap_or_default();
    let mut reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| message.get(*key).and_then(Value::as_str))
        .map(str::to_string)
        .filter(|text| !text.trim().is_empty());

    let (think, rest) = split_think(text);
    if reasoning.is_none() {
        reasoning = think;
    }
    let (mut content, mut tool_calls, mut malformed) = hermes_calls(&rest);
    if let Some(native) = message.get("tool_calls").and_then(Value::as_array) {
        for call in native {
            match native_call(call) {
                Ok(call) => tool_calls.push(call),
                Err(why) => malformed.push(why),
            }
        }
    }
    if content.is_empty() && !refusal.is_empty() {
        content = refusal.to_string();
    }
    Ok(Reply {
        content,
        reasoning: reasoning.map(|r| r.trim().to_string()),
        tool_calls,
        malformed,
        usage,
    })
}

/// Pulls `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks out of `text`.
/// Returns the remaining text, the calls, and why any block could not be read.
pub fn hermes_calls(text: &str) -> (String, Vec<ToolCall>, Vec<String>) {
    let mut rest = String::new();
    let mut calls = Vec::new();
    let mut malformed = Vec::new();
    let mut cursor = text;
    while let Some(open) = cursor.find("<tool_call>") {
        rest.push_str(&cursor[..open]);
        let after = &cursor[open + "<tool_call>".len()..];
        let (inside, next) = match after.find("</tool_call>") {
            Some(close) => (&after[..close], &after[close + "</tool_call>".len()..]),
            // An unclosed block (the answer was cut off, or the stop token ate the tag).
            None => (after, ""),
        };
        match serde_json::from_str::<Value>(inside.trim()) {
            Ok(value) => match call_from_object(&value) {
                Ok(call) => calls.push(call),
                Err(why) => malformed.push(why),
            },
            Err(err) => malformed.push(format!(
                "the <tool_call> block is not valid JSON ({err}): {}",
                excerpt(inside)
            )),
        }
        cursor = next;
    }
    rest.push_str(cursor);
    (rest.trim().to_string(), calls, malformed)
}

/// SWE-agent's exception message for native arguments that are not JSON (`invalid_json`).
pub const INVALID_JSON: &str = "Tool call arguments are not valid JSON.";

/// One entry of OpenAI's `tool_calls`.
fn native_call(call: &Value) -> Result<ToolCall, String> {
    let function = call.get("function").ok_or("the tool call has no `function`")?;
    if let Some(Value::String(text)) = function.get("arguments")
        && !text.trim().is_empty()
        && serde_json::from_str::<Value>(text).is_err()
    {
        return Err(INVALID_JSON.to_string());
    }
    let mut parsed = call_from_object(function)?;
    parsed.id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(parsed)
}

/// `{"name": ..., "arguments": {...} or "{...}"}`.
fn call_from_object(value: &Value) -> Result<ToolCall, String> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| format!("the tool call has no name: {}", excerpt(&value.to_string())))?;
    let arguments = match value.get("arguments").or_else(|| value.get("parameters")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) if text.trim().is_empty() => Map::new(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(format!(
                    "the arguments of `{name}` are not a JSON object: {}",
                    excerpt(&other.to_string())
                ));
            }
            Err(err) => {
                return Err(format!(
                    "the arguments of `{name}` are not valid JSON ({err}): {}",
                    excerpt(text)
                ));
            }
        },
        Some(other) => {
            return Err(format!(
                "the arguments of `{name}` are not a JSON object: {}",
                excerpt(&other.to_string())
            ));
        }
    };
    Ok(ToolCall { id: String::new(), name: name.to_string(), arguments })
}

fn excerpt(text: &str) -> String {
    let mut cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        body: &str,
        content: &str,
        reasoning: Option<&str>,
        calls: &[(&str, &str)],
        malformed: usize,
    ) {
        let reply = completion(body).expect("parses");
        assert_eq!(reply.content, content);
        assert_eq!(reply.reasoning.as_deref(), reasoning);
        let got: Vec<(String, String)> = reply
            .tool_calls
            .iter()
            .map(|c| (c.name.clone(), Value::Object(c.arguments.clone()).to_string()))
            .collect();
        let want: Vec<(String, String)> =
            calls.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect();
        assert_eq!(got, want);
        assert_eq!(reply.malformed.len(), malformed, "{:?}", reply.malformed);
    }

    fn body(message: Value) -> String {
        serde_json::json!({"choices": [{"message": message}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}).to_string()
    }

    #[test]
    fn native_tool_calls_and_reasoning_content() {
        let message = serde_json::json!({"role": "assistant", "content": null, "reasoning_content": "hmm",
            "tool_calls": [{"id": "x", "type": "function", "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}}]});
        check(&body(message), "", Some("hmm"), &[("bash", r#"{"command":"ls"}"#)], 0);
    }

    #[test]
    fn hermes_blocks_and_think_tags_in_text() {
        let text = "<think>\nlook first\n</think>\n\nLet me look.\n<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"}}\n</tool_call>";
        check(
            &body(serde_json::json!({"content": text})),
            "Let me look.",
            Some("look first"),
            &[("bash", r#"{"command":"ls"}"#)],
            0,
        );
    }

    #[test]
    fn think_closed_without_opening_tag_counts_as_reasoning() {
        let text = "reasoning here</think>\n<tool_call>{\"name\": \"submit\", \"arguments\": {}}</tool_call>";
        check(
            &body(serde_json::json!({"content": text})),
            "",
            Some("reasoning here"),
            &[("submit", "{}")],
            0,
        );
    }

    #[test]
    fn malformed_calls_are_reported_not_run() {
        let text =
            "<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"</tool_call>";
        check(&body(serde_json::json!({"content": text})), "", None, &[], 1);
        let message = serde_json::json!({"content": "", "tool_calls": [{"id": "y", "function": {"name": "bash", "arguments": "{not json"}}]});
        check(&body(message.clone()), "", None, &[], 1);
        // Native arguments that are not JSON get SWE-agent's own message.
        assert_eq!(completion(&body(message)).unwrap().malformed, [INVALID_JSON]);
    }

    #[test]
    fn refusal_becomes_content_without_calls() {
        check(
            &body(serde_json::json!({"content": null, "refusal": "I can't help with that."})),
            "I can't help with that.",
            None,
            &[],
            0,
        );
    }

    #[test]
    fn bodies_that_are_not_completions_are_protocol_errors() {
        assert!(matches!(completion("<html>bad gateway</html>"), Err(TeacherError::Protocol(_))));
        assert!(matches!(completion("{\"choices\": []}"), Err(TeacherError::Protocol(_))));
    }
}
