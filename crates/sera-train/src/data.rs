//! Reading the `hermes` and `openai` exports, ChatML rendering, loss masks, splits and batches.
//!
//! Both formats become a [`Conversation`]: a list of turns, each with a role, its content and
//! whether the loss covers it. `openai` records are rendered by [`sera_chat::hermes`], the one
//! Hermes renderer the dataset export and the rollouts use too, so a model trained on either
//! export sees the same bytes as the lossless `hermes` export and the teacher's text prompts.

use std::path::Path;

use sera_chat::{chatml, hermes};
use sera_core::{Message, Role, SplitMix64, ToolCall};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

pub use sera_chat::Turn;

/// A record of either export, reduced to what training needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub turns: Vec<Turn>,
}

/// A token sequence and, per position, whether predicting that token is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub tokens: Vec<u32>,
    pub train: Vec<bool>,
}

/// One forward pass worth of rows: inputs, targets and loss mask, all `rows x len`, row-major.
///
/// `segment` and `position` describe what may attend to what: a token attends to earlier tokens
/// of the same segment only, and its rotary position counts from its segment's start. Padding has
/// segment 0. This one form covers both padded batches (one segment per row) and packed rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub len: usize,
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub mask: Vec<bool>,
    pub segment: Vec<u32>,
    pub position: Vec<u32>,
}

/// Reads a JSONL file of `hermes` or `openai` records (the format is detected per record).
pub fn read_conversations(path: &Path) -> Result<Vec<Conversation>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), index + 1);
        let value: Value = serde_json::from_str(line)
            .map_err(|e| Error::Data(format!("{}: not JSON: {e}", at())))?;
        let conversation =
            parse_record(&value).map_err(|msg| Error::Data(format!("{}: {msg}", at())))?;
        out.push(conversation);
    }
    if out.is_empty() {
        return Err(Error::Data(format!("{}: no records", path.display())));
    }
    Ok(out)
}

/// Parses one record of either export; the error says which field is wrong.
pub fn parse_record(value: &Value) -> std::result::Result<Conversation, String> {
    let id = value
        .get("instance_id")
        .and_then(Value::as_str)
        .ok_or("missing string field \"instance_id\"")?
        .to_string();
    let messages = value
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("missing array field \"messages\"")?;
    let is_openai = value.get("tools").is_some()
        || messages.iter().any(|m| m.get("tool_calls").is_some() || role(m) == Some("tool"));
    let turns = if is_openai {
        openai_turns(messages, value.get("tools"))?
    } else {
        hermes_turns(messages)?
    };
    Ok(Conversation { id, turns })
}

fn role(message: &Value) -> Option<&str> {
    message.get("role").and_then(Value::as_str)
}

fn content(message: &Value, index: usize) -> std::result::Result<String, String> {
    match message.get("content") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("messages[{index}].content is not a string")),
    }
}

fn hermes_turns(messages: &[Value]) -> std::result::Result<Vec<Turn>, String> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = role(m).ok_or(format!("messages[{i}] has no string \"role\""))?;
            let train = match m.get("train") {
                None => role == "assistant",
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(format!("messages[{i}].train is not a boolean")),
            };
            Ok(Turn { role: role.to_string(), content: content(m, i)?, train })
        })
        .collect()
}

fn openai_turns(
    messages: &[Value],
    tools: Option<&Value>,
) -> std::result::Result<Vec<Turn>, String> {
    let tools = match tools {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(tools)) => tools.as_slice(),
        Some(_) => return Err("\"tools\" is not an array".into()),
    };
    let messages: Vec<Message> =
        messages.iter().enumerate().map(|(i, m)| openai_message(m, i)).collect::<Result<_, _>>()?;
    Ok(hermes::conversation(&messages, tools))
}

/// One `openai` message as a [`Message`]: `reasoning_content` becomes the reasoning and each
/// call's JSON-string arguments an object.
fn openai_message(m: &Value, i: usize) -> std::result::Result<Message, String> {
    let role = match role(m).ok_or(format!("messages[{i}] has no string \"role\""))? {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => return Err(format!("messages[{i}].role {other:?} is not a chat role")),
    };
    let mut message = Message::text(role, content(m, i)?);
    message.reasoning = match m.get("reasoning_content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(format!("messages[{i}].reasoning_content is not a string")),
    };
    let calls = match m.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(calls)) => calls.as_slice(),
        Some(_) => return Err(format!("messages[{i}].tool_calls is not an array")),
    };
    for (j, call) in calls.iter().enumerate() {
        let at = format!("messages[{i}].tool_calls[{j}]");
        let function = call.get("function").ok_or(format!("{at} has no function"))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("{at}.function has no string name"))?;
        let arguments = match function.get("arguments") {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map_err(|e| format!("{at}.function.arguments is not JSON: {e}"))?,
            Some(other) => other.clone(),
            None => Value::Object(Default::default()),
        };
        let Value::Object(arguments) = arguments else {
            return Err(format!("{at}.function.arguments is not a JSON object"));
        };
        let id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        message.tool_calls.push(ToolCall { id, name: name.to_string(), arguments });
    }
    Ok(message)
}

/// Renders turns as ChatML (`<|im_start|>ROLE\nCONTENT<|im_end|>\n`) and marks the trained
/// tokens: the content and closing `<|im_end|>` of turns with `train` set, never their header.
/// Each piece is encoded on its own, so token boundaries never cross a turn's parts.
pub fn tokenize(tokenizer: &Tokenizer, turns: &[Turn]) -> Result<Sample> {
    let specials = tokenizer.specials();
    let mut sample = Sample { tokens: Vec::new(), train: Vec::new() };
    for (piece, trained) in chatml::pieces(turns) {
        let ids = match piece {
            chatml::Piece::Special(chatml::IM_START) => vec![specials.im_start],
            chatml::Piece::Special(_) => vec![specials.im_end],
            chatml::Piece::Text(text) => tokenizer.encode(&text)?,
        };
        sample.train.extend(std::iter::repeat_n(trained, ids.len()));
        sample.tokens.extend(ids);
    }
    Ok(sample)
}

/// The ChatML text of a generation prompt: the turns, then an open assistant header.
pub fn prompt_tokens(tokenizer: &Tokenizer, turns: &[Turn]) -> Result<Vec<u32>> {
    let mut tokens = tokenize(tokenizer, turns)?.tokens;
    tokens.push(tokenizer.specials().im_start);
    tokens.extend(tokenizer.encode(&chatml::header("assistant"))?);
    Ok(tokens)
}

/// Cuts a sample into windows of at most `context + 1` tokens (a window of n tokens trains n - 1
/// predictions) that overlap by one token, and keeps those with at least one trained prediction.
///
/// A small-context model cannot see a whole agent trajectory; windows let every assistant token
/// be trained with as much preceding context as fits.
pub fn windows(sample: &Sample, context: usize) -> Vec<Sample> {
    let n = sample.tokens.len();
    let mut out = Vec::new();
    let mut start = 0;
    while start + 1 < n {
        let end = (start + context + 1).min(n);
        if sample.train[start + 1..end].iter().any(|&t| t) {
            out.push(Sample {
                tokens: sample.tokens[start..end].to_vec(),
                train: sample.train[start..end].to_vec(),
            });
        }
        if end == n {
            break;
        }
        start = end - 1;
    }
    out
}

/// Whether a record id falls in the validation split: a stable hash of the id, so the split
/// does not depend on file order and never changes between runs.
pub fn is_validation(id: &str, val_percent: u32) -> bool {
    let hashed = sera_core::stable_id("split", &[id]);
    let hex = &hashed[hashed.len() - 16..];
    let value = u64::from_str_radix(hex, 16).expect("stable_id ends in 16 hex digits");
    value % 100 < u64::from(val_percent)
}

/// The training and validation windows of a dataset.
#[derive(Debug, Clone, Default)]
pub struct Splits {
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    pub train_records: usize,
    pub val_records: usize,
}

/// Tokenizes and splits conversations; records without any trained token are skipped.
pub fn split(
    tokenizer: &Tokenizer,
    conversations: &[Conversation],
    context: usize,
    val_percent: u32,
) -> Result<Splits> {
    let mut splits = Splits::default();
    for conversation in conversations {
        let windows = windows(&tokenize(tokenizer, &conversation.turns)?, context);
        if windows.is_empty() {
            continue;
        }
        if is_validation(&conversation.id, val_percent) {
            splits.val.extend(windows);
            splits.val_records += 1;
        } else {
            splits.train.extend(windows);
            splits.train_records += 1;
        }
    }
    Ok(splits)
}

/// Builds batches of `rows` rows from samples, either padded (one sample per row, filled with
/// `pad`) or packed (samples appended to a row while they fit in `context` predictions).
pub fn batches(
    samples: &[Sample],
    rows: usize,
    context: usize,
    packing: bool,
    pad: u32,
) -> Vec<Batch> {
    let mut row_contents: Vec<Vec<&Sample>> = Vec::new();
    if packing {
        let mut current: Vec<&Sample> = Vec::new();
        let mut used = 0;
        for sample in samples {
            let len = sample.tokens.len() - 1;
            if used + len > context && !current.is_empty() {
                row_contents.push(std::mem::take(&mut current));
                used = 0;
            }
            current.push(sample);
            used += len;
        }
        if !current.is_empty() {
            row_contents.push(current);
        }
    } else {
        row_contents = samples.iter().map(|s| vec![s]).collect();
    }
    row_contents.chunks(rows).map(|rows| build_batch(rows, pad)).collect()
}

fn build_batch(rows: &[Vec<&Sample>], pad: u32) -> Batch {
    let len = rows
        .iter()
        .map(|row| row.iter().map(|s| s.tokens.len() - 1).sum::<usize>())
        .max()
        .unwrap_or(0);
    let n = rows.len() * len;
    let mut batch = Batch {
        rows: rows.len(),
        len,
        inputs: vec![pad; n],
        targets: vec![pad; n],
        mask: vec![false; n],
        segment: vec![0; n],
        position: vec![0; n],
    };
    for (r, row) in rows.iter().enumerate() {
        let mut at = r * len;
        for (s, sample) in row.iter().enumerate() {
            for i in 0..sample.tokens.len() - 1 {
                batch.inputs[at] = sample.tokens[i];
                batch.targets[at] = sample.tokens[i + 1];
                batch.mask[at] = sample.train[i + 1];
                batch.segment[at] = s as u32 + 1;
                batch.position[at] = i as u32;
                at += 1;
            }
        }
        // Padding attends among itself with positions counting on, which keeps every softmax row
        // finite; it is never attended to by real tokens and never trained.
        let end = (r + 1) * len;
        let mut p = 0;
        while at < end {
            batch.position[at] = p;
            p += 1;
            at += 1;
        }
    }
    batch
}

/// The micro-batches of one epoch in a seeded order that depends only on (seed, epoch), so a
/// resumed run sees exactly the batches the uninterrupted run would have.
pub fn epoch_order(count: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    SplitMix64::derive(seed, &format!("sera-train/epoch/{epoch}")).shuffle(&mut order);
    order
}

/// Trained predictions in a batch.
pub fn trained_tokens(batch: &Batch) -> usize {
    batch.mask.iter().filter(|&&m| m).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::ByteTokenizer;

    fn turn(role: &str, content: &str, train: bool) -> Turn {
        Turn::new(role, content, train)
    }

    #[test]
    fn chatml_marks_assistant_content_and_its_end_only() {
        let turns = [turn("user", "hi", false), turn("assistant", "ok", true)];
        let sample = tokenize(&Tokenizer::Bytes, &turns).expect("bytes always encode");
        let text = ByteTokenizer.decode(&sample.tokens);
        assert_eq!(text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n");
        let trained: Vec<u32> =
            sample.tokens.iter().zip(&sample.train).filter(|(_, t)| **t).map(|(x, _)| *x).collect();
        assert_eq!(ByteTokenizer.decode(&trained), "ok<|im_end|>");
    }

    #[test]
    fn windows_overlap_by_one_and_drop_untrained_ones() {
        let sample = Sample {
            tokens: (0..10).collect(),
            train: vec![false, false, false, false, false, true, true, false, true, false],
        };
        let w = windows(&sample, 3);
        // Windows [0..4) (no trained prediction: dropped), [3..7), [6..10).
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].tokens, vec![3, 4, 5, 6]);
        assert_eq!(w[1].tokens, vec![6, 7, 8, 9]);
    }

    #[test]
    fn packed_rows_restart_positions_per_segment() {
        let a = Sample { tokens: vec![1, 2, 3], train: vec![false, true, true] };
        let b = Sample { tokens: vec![4, 5], train: vec![false, true] };
        let batch = &batches(&[a, b], 2, 8, true, ByteTokenizer::PAD)[0];
        assert_eq!(batch.rows, 1);
        assert_eq!(batch.inputs, vec![1, 2, 4]);
        assert_eq!(batch.targets, vec![2, 3, 5]);
        assert_eq!(batch.segment, vec![1, 1, 2]);
        assert_eq!(batch.position, vec![0, 1, 0]);
    }

    #[test]
    fn padded_rows_fill_with_untrained_pad() {
        let a = Sample { tokens: vec![1, 2, 3], train: vec![false, true, true] };
        let b = Sample { tokens: vec![4, 5], train: vec![false, true] };
        let batch = &batches(&[a, b], 2, 8, false, ByteTokenizer::PAD)[0];
        assert_eq!((batch.rows, batch.len), (2, 2));
        assert_eq!(batch.inputs, vec![1, 2, 4, ByteTokenizer::PAD]);
        assert_eq!(batch.mask, vec![true, true, true, false]);
        assert_eq!(batch.segment, vec![1, 1, 1, 0]);
    }
}
