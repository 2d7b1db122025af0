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

/// Python's `repr(float)`: the shortest round-tripping digits, positional for exponents from
/// -4 to 15 (with `.0` when integral), scientific with a signed two-digit exponent otherwise.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-tripping digits: `d.ddde[-]x`.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let (head, tail) = digits.split_at(1);
        let tail = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{head}{tail}e{esign}{:02}", exponent.abs())
    }
}

impl Formatter for PythonFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(float_repr(value).as_bytes())
    }

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
            (json!([1e16, 1e-7, 0.1, 100.0, -2.5e-5]), "[1e+16, 1e-07, 0.1, 100.0, -2.5e-05]"),
            (json!({"e": [], "o": {}}), r#"{"e": [], "o": {}}"#),
        ];
        for (value, expected) in cases {
            assert_eq!(dumps(&value), expected);
        }
    }
}
