//! `<think>` blocks: the reasoning a model writes before its visible answer.

/// The tag that opens a think block.
pub const OPEN: &str = "<think>";
/// The tag that closes a think block.
pub const CLOSE: &str = "</think>";

/// Splits the `<think>...</think>` block off `text`: the trimmed reasoning (none when empty)
/// and the trimmed visible text around it. A text with a closing tag and no opening one counts
/// too (chat templates that open the block in the prompt, as Qwen3's does); a text with an
/// opening tag and no closing one has no reasoning.
pub fn split(text: &str) -> (Option<String>, String) {
    let Some(close) = text.find(CLOSE) else {
        return (None, text.trim().to_string());
    };
    let before = &text[..close];
    let after = &text[close + CLOSE.len()..];
    let (prefix, inner) = match before.find(OPEN) {
        Some(open) => (&before[..open], &before[open + OPEN.len()..]),
        None => ("", before),
    };
    let inner = inner.trim();
    let rest = match (prefix.trim(), after.trim()) {
        ("", after) => after.to_string(),
        (prefix, "") => prefix.to_string(),
        (prefix, after) => format!("{prefix}\n\n{after}"),
    };
    ((!inner.is_empty()).then(|| inner.to_string()), rest)
}

/// `reasoning` as the block that opens an assistant turn, followed by a blank line, as Qwen3's
/// chat template writes it.
pub fn block(reasoning: &str) -> String {
    format!("{OPEN}\n{}\n{CLOSE}\n\n", reasoning.trim_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_leading_block_with_or_without_its_opening_tag() {
        assert_eq!(split("<think> a </think>\nb"), (Some("a".into()), "b".into()));
        assert_eq!(split("a</think>b"), (Some("a".into()), "b".into()));
        assert_eq!(split("<think></think>b"), (None, "b".into()));
        assert_eq!(split(" b "), (None, "b".into()));
        assert_eq!(split("a <think>b</think> c"), (Some("b".into()), "a\n\nc".into()));
        assert_eq!(block("\nwhy\n"), "<think>\nwhy\n</think>\n\n");
    }
}
