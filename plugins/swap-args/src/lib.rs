//! Example sera-rs bug-class plugin: swap two same-looking arguments of a Rust call.
//!
//! `max(lo, hi)` becomes `max(hi, lo)`: both arguments are plain names or field paths, so the
//! call still compiles when they have the same type, and the bug is the classic "arguments in
//! the wrong order". The operator works on text and tokens, not a syntax tree, because a
//! plugin depends on `sera-plugin-api` alone; it skips strings, comments, function
//! definitions and macro calls. It adds one taxonomy entry, `swapped-call-arguments`.
//! Built as a `cdylib` it is loaded by `sera-plugin-host`; as an `rlib` its [`SwapArgs`] can be
//! called directly.

use std::ops::Range;

use sera_plugin_api::{BugClass, ClassEntry, Edit, OperatorEntry, PluginError};

/// The operator's slug.
pub const OPERATOR: &str = "swap-call-arguments";
/// The bug class the plugin adds.
pub const CLASS: &str = "swapped-call-arguments";

/// The plugin: one operator, one class.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwapArgs;

impl BugClass for SwapArgs {
    fn classes(&self) -> Vec<ClassEntry> {
        vec![ClassEntry {
            slug: CLASS.into(),
            name: "Swapped call arguments".into(),
            area: "argument order in function calls".into(),
            description: "Two arguments of the same type are passed in the wrong order, so the \
                          call compiles but computes with each value in the other's place."
                .into(),
            template: "Something is off in how {{function}} in {{file}} passes values to the \
                       functions it calls. Investigate and fix it."
                .into(),
        }]
    }

    fn operators(&self) -> Vec<OperatorEntry> {
        vec![OperatorEntry { slug: OPERATOR.into(), classes: vec![CLASS.into()].into() }]
    }

    fn mutate(
        &self,
        operator: &str,
        source: &str,
        language: &str,
        span: Range<usize>,
    ) -> Result<Vec<Edit>, PluginError> {
        if operator != OPERATOR {
            return Err(PluginError::new(format!("swap-args has no operator `{operator}`")));
        }
        if language != "rust" {
            // The operator only knows Rust's lexical rules; other languages get no edits.
            return Ok(Vec::new());
        }
        if span.start > span.end
            || span.end > source.len()
            || !source.is_char_boundary(span.start)
            || !source.is_char_boundary(span.end)
        {
            return Err(PluginError::new(format!(
                "span {}..{} is not a character range of the {}-byte source",
                span.start,
                span.end,
                source.len()
            )));
        }
        Ok(swap_edits(source, span))
    }
}

sera_plugin_api::export_plugin! {
    name: "swap-args",
    bug_classes: || vec![sera_plugin_api::bug_class_plugin(SwapArgs)],
    verifiers: Vec::new,
}

/// Every call in `span` with exactly two same-looking arguments, as an edit swapping them.
pub fn swap_edits(source: &str, span: Range<usize>) -> Vec<Edit> {
    let bytes = source.as_bytes();
    let mut edits = Vec::new();
    let mut i = span.start;
    while i < span.end {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i, span.end),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < span.end && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < span.end && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'(' => {
                if let Some(edit) = call_edit(source, i, span.end) {
                    edits.push(edit);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    edits
}

/// The swap edit for the call whose `(` is at `open`, if it is a call with two swappable
/// arguments that closes before `limit`.
fn call_edit(source: &str, open: usize, limit: usize) -> Option<Edit> {
    let bytes = source.as_bytes();
    let callee = preceding_word(source, open)?;
    // `fn f(a, b)` declares parameters and `if (a, b)` is a tuple; neither is a call.
    const KEYWORDS: [&str; 8] = ["fn", "if", "while", "match", "for", "return", "in", "let"];
    if KEYWORDS.contains(&callee.name) || preceding_word(source, callee.start) == Some(fn_word()) {
        return None;
    }
    let close = matching_paren(bytes, open, limit)?;
    let inner = &source[open + 1..close];
    let mut depth = 0i32;
    let mut commas = Vec::new();
    for (k, b) in inner.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b')' | b']' | b'}' | b'>' => depth -= 1,
            b',' if depth == 0 => commas.push(k),
            _ => {}
        }
    }
    let comma = match commas.as_slice() {
        [c] => *c,
        // A trailing comma after the second argument is still a two-argument call.
        [c, last] if inner[last + 1..].trim().is_empty() => *c,
        _ => return None,
    };
    let first = inner[..comma].trim();
    let rest = &inner[comma + 1..];
    let second = rest.split(',').next().unwrap_or("").trim();
    if first == second || !is_plain_path(first) || !is_plain_path(second) {
        return None;
    }
    let first_start = open + 1 + (inner.len() - inner.trim_start().len());
    let second_start = open + 1 + comma + 1 + (rest.len() - rest.trim_start().len());
    let second_end = second_start + second.len();
    let between = &source[first_start + first.len()..second_start];
    Some(Edit {
        start: first_start as u64,
        end: second_end as u64,
        replacement: format!("{second}{between}{first}").into(),
        description: format!("swap `{first}` and `{second}` in the call to `{}`", callee.name)
            .into(),
    })
}

struct Word<'a> {
    name: &'a str,
    start: usize,
}

/// `fn` as a [`Word`] name, for comparing with [`preceding_word`].
fn fn_word() -> Word<'static> {
    Word { name: "fn", start: 0 }
}

impl PartialEq for Word<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The identifier ending right before `end` (spaces allowed between), if any.
fn preceding_word(source: &str, end: usize) -> Option<Word<'_>> {
    let bytes = source.as_bytes();
    let mut stop = end;
    while stop > 0 && bytes[stop - 1] == b' ' {
        stop -= 1;
    }
    let mut start = stop;
    while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        start -= 1;
    }
    (start < stop && !bytes[start].is_ascii_digit())
        .then(|| Word { name: &source[start..stop], start })
}

/// The `)` matching the `(` at `open`, skipping strings, before `limit`.
fn matching_paren(bytes: &[u8], open: usize, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < limit {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i, limit);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index after the string literal starting at `start` (a `"`), or `limit`.
fn skip_string(bytes: &[u8], start: usize, limit: usize) -> usize {
    let mut i = start + 1;
    while i < limit {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    limit
}

/// A name or a field path such as `self.lo`: the arguments whose swap still type-checks when
/// the two have the same type, and whose swap is not obviously a different expression kind.
fn is_plain_path(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        && !matches!(text, "true" | "false" | "self" | "None")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, expected: &[&str]) {
        let edits = swap_edits(source, 0..source.len());
        let results: Vec<String> = edits
            .iter()
            .map(|e| {
                let mut out = source.to_string();
                out.replace_range(e.start as usize..e.end as usize, &e.replacement);
                out
            })
            .collect();
        assert_eq!(results, expected, "for {source:?}");
    }

    #[test]
    fn swaps_two_plain_arguments() {
        check("fn f() { max(lo, hi) }", &["fn f() { max(hi, lo) }"]);
        check("let x = self.clamp(self.lo,  b);", &["let x = self.clamp(b,  self.lo);"]);
        check("f(a, b,)", &["f(b, a,)"]);
    }

    #[test]
    fn leaves_definitions_literals_and_other_shapes_alone() {
        check("fn max(a: u32, b: u32) -> u32 { a }", &[]);
        check("fn max(a, b) {}", &[]);
        check("f(a)", &[]);
        check("f(a, b, c)", &[]);
        check("f(a, a)", &[]);
        check("f(1, 2)", &[]);
        check("(a, b)", &[]);
        check(r#"let s = "f(a, b)"; // g(c, d)"#, &[]);
        check("println!(a, b)", &[]);
    }

    #[test]
    fn nested_calls_each_get_an_edit() {
        check("f(g(a, b), c)", &["f(g(b, a), c)"]);
    }

    #[test]
    fn out_of_range_spans_and_unknown_operators_are_errors() {
        assert!(SwapArgs.mutate(OPERATOR, "f(a, b)", "rust", 0..99).is_err());
        assert!(SwapArgs.mutate("nope", "f(a, b)", "rust", 0..7).is_err());
        assert_eq!(SwapArgs.mutate(OPERATOR, "f(a, b)", "python", 0..7), Ok(Vec::new()));
    }
}
