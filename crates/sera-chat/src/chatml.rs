//! ChatML: each turn is `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, and a generation prompt ends
//! with an open `<|im_start|>assistant\n`. The loss covers a trained turn's content and its
//! closing `<|im_end|>`, never its header or the newline after it.

use std::borrow::Cow;

/// The token that opens a turn.
pub const IM_START: &str = "<|im_start|>";
/// The token that closes a turn; a model stops generating at it.
pub const IM_END: &str = "<|im_end|>";

/// One chat turn as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: String,
    pub content: String,
    /// Whether the loss covers this turn's content and its closing `<|im_end|>`.
    pub train: bool,
}

impl Turn {
    pub fn new(role: impl Into<String>, content: impl Into<String>, train: bool) -> Turn {
        Turn { role: role.into(), content: content.into(), train }
    }
}

/// One part of the ChatML text, in order. A tokenizer encodes each on its own, so token
/// boundaries never cross a turn's parts; `IM_START` and `IM_END` are special tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// `IM_START` or `IM_END`.
    Special(&'static str),
    Text(Cow<'a, str>),
}

/// The pieces of `turns`, each with whether the loss covers it.
pub fn pieces(turns: &[Turn]) -> Vec<(Piece<'_>, bool)> {
    let mut out = Vec::with_capacity(turns.len() * 5);
    for turn in turns {
        out.push((Piece::Special(IM_START), false));
        out.push((Piece::Text(Cow::Owned(header(&turn.role))), false));
        out.push((Piece::Text(Cow::Borrowed(&turn.content)), turn.train));
        out.push((Piece::Special(IM_END), turn.train));
        out.push((Piece::Text(Cow::Borrowed("\n")), false));
    }
    out
}

/// The text after `IM_START`: the role and a newline.
pub fn header(role: &str) -> String {
    format!("{role}\n")
}

/// The ChatML text of `turns`.
pub fn render(turns: &[Turn]) -> String {
    let mut out = String::with_capacity(turns.iter().map(|t| t.content.len() + 32).sum());
    for (piece, _) in pieces(turns) {
        match piece {
            Piece::Special(s) => out.push_str(s),
            Piece::Text(text) => out.push_str(&text),
        }
    }
    out
}

/// The ChatML text of one turn.
pub fn render_turn(role: &str, content: &str) -> String {
    format!("{IM_START}{role}\n{content}{IM_END}\n")
}

/// What follows the turns of a generation prompt.
pub fn generation_prompt() -> String {
    format!("{IM_START}{}", header("assistant"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_turns_and_marks_content_and_end_only() {
        let turns = [Turn::new("user", "hi", false), Turn::new("assistant", "ok", true)];
        assert_eq!(
            render(&turns),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"
        );
        let trained: String = pieces(&turns)
            .into_iter()
            .filter(|(_, train)| *train)
            .map(|(piece, _)| match piece {
                Piece::Special(s) => s.to_string(),
                Piece::Text(t) => t.into_owned(),
            })
            .collect();
        assert_eq!(trained, "ok<|im_end|>");
        assert_eq!(render_turn("user", "hi"), render(&turns[..1]));
    }
}
