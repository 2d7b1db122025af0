//! Python's string semantics where sera-rs must match Python byte for byte: `str.isspace()`,
//! `str.strip()` and `str.splitlines()`. SERA's recall, its post-processing and SWE-agent's
//! tools are Python; one definition here keeps every crate agreeing with them and each other.

/// Python's `str.isspace()` for one character: Unicode White_Space (Rust's
/// `char::is_whitespace`) plus the information separators U+001C..U+001F, which Python counts
/// as whitespace through their bidirectional class.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`: removes every [`is_space`] character from both ends.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// The characters at which Python's `str.splitlines()` breaks a line: `\n`, `\r`, `\x0b`,
/// `\x0c`, `\x1c`..`\x1e`, `\x85`, U+2028 and U+2029.
pub fn is_line_boundary(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// The lines of `text` as Python's `str.splitlines()` returns them: split at every
/// [line boundary](is_line_boundary), `\r\n` counting as one, with no empty line after a final
/// boundary.
///
/// ```
/// let lines: Vec<&str> = sera_core::pystr::splitlines("a\r\nb\u{2028}c\n").collect();
/// assert_eq!(lines, ["a", "b", "c"]);
/// ```
pub fn splitlines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((at, boundary)) = rest.char_indices().find(|&(_, c)| is_line_boundary(c)) else {
            return Some(std::mem::take(&mut rest));
        };
        let line = &rest[..at];
        let width = if rest[at..].starts_with("\r\n") { 2 } else { boundary.len_utf8() };
        rest = &rest[at + width..];
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_is_exactly_pythons_str_isspace() {
        // Python 3.11: [hex(c) for c in range(0x110000) if chr(c).isspace()]
        let python: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        let ours: Vec<u32> = (0..=0x10ffffu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
        assert_eq!(strip("\u{1f} a \u{3000}"), "a");
    }

    #[test]
    fn splitlines_breaks_where_python_does() {
        // Python: "a\rb\r\nc\x0bd\x1ce\x85f\u2029g\n\nh\n".splitlines()
        let lines: Vec<&str> = splitlines("a\rb\r\nc\x0bd\x1ce\u{85}f\u{2029}g\n\nh\n").collect();
        assert_eq!(lines, ["a", "b", "c", "d", "e", "f", "g", "", "h"]);
        assert_eq!(splitlines("").count(), 0);
        assert_eq!(splitlines("\n").collect::<Vec<_>>(), [""]);
        assert_eq!(
            splitlines("x\x1f").collect::<Vec<_>>(),
            ["x\x1f"],
            "U+001F is space, not a break"
        );
    }
}
