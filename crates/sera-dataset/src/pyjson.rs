//! JSON text exactly as Python's `json.dumps` writes it with default arguments: `", "` and
//! `": "` separators and non-ASCII characters escaped as `\uXXXX` (surrogate pairs above the
//! BMP).
//!
//! SERA's post-processing renders tool calls and tool schemas inside message text with
//! `json.dumps`; matching its bytes is what makes an imported trajectory export to the same
//! Hermes text, and so to the same tokens, as SERA's own datasets.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// Serializes `value` as Python's `json.dumps(value)` would.
pub fn dumps<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    let mut serializer = Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut serializer).expect("serializing JSON values to memory cannot fail");
    String::from_utf8(out).expect("the formatter writes ASCII only")
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            // Python's `ensure_ascii` escapes everything outside space..tilde, DEL included.
            if ch.is_ascii() && ch != '\u{7f}' {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // Python writes control characters other than \b \f \n \r \t as \u00XX, lowercase hex.
        match escape {
            CharEscape::Quote => w.write_all(b"\\\""),
            CharEscape::ReverseSolidus => w.write_all(b"\\\\"),
            CharEscape::Backspace => w.write_all(b"\\b"),
            CharEscape::FormFeed => w.write_all(b"\\f"),
            CharEscape::LineFeed => w.write_all(b"\\n"),
            CharEscape::CarriageReturn => w.write_all(b"\\r"),
            CharEscape::Tab => w.write_all(b"\\t"),
            CharEscape::AsciiControl(byte) => write!(w, "\\u{byte:04x}"),
            #[allow(unreachable_patterns)]
            _ => Err(io::Error::other("unknown JSON escape")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::dumps;

    #[test]
    fn matches_python_json_dumps() {
        // Expected strings are what CPython 3.12 prints for `json.dumps(value)`.
        let cases = [
            (
                json!({"name": "bash", "arguments": {"command": "ls -a"}}),
                r#"{"name": "bash", "arguments": {"command": "ls -a"}}"#,
            ),
            (json!([1, 2.5, null, true]), "[1, 2.5, null, true]"),
            (json!({"s": "caf\u{e9} \u{1f600}"}), r#"{"s": "caf\u00e9 \ud83d\ude00"}"#),
            (
                json!({"s": "a\"b\\c\n\t\u{1}\u{7f}"}),
                "{\"s\": \"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"}",
            ),
            (json!({}), "{}"),
            (json!({"e": [], "o": {}}), r#"{"e": [], "o": {}}"#),
        ];
        for (value, expected) in cases {
            assert_eq!(dumps(&value), expected);
        }
    }
}
