//! Tokenizers: byte-level by default, or any Hugging Face `tokenizer.json` with the ChatML
//! special tokens.
//!
//! Bytes need no vocabulary file and never fail on any input, which is what a small model
//! trained from scratch on one machine wants. A `tokenizer.json` (`train.tokenizer` in the
//! configuration) gives the model that tokenizer's vocabulary instead, for experiments closer to
//! real models; it must have `<|im_start|>` and `<|im_end|>` as tokens, and a pad token (its
//! padding setting, or `<|endoftext|>`, `<pad>`, `[PAD]`, `<|pad|>`).
//!
//! Special tokens are never produced by encoding text: they are inserted by the ChatML renderer
//! only, so a trajectory that happens to contain the characters `<|im_end|>` cannot end a turn
//! early. This module is the only user of the `tokenizers` crate.

use std::path::{Path, PathBuf};

use sera_chat::chatml::{IM_END, IM_START};

use crate::error::{Error, Result};

/// A tokenizer: one id per byte, or a Hugging Face `tokenizer.json`.
#[derive(Debug, Clone, Default)]
pub enum Tokenizer {
    /// [`ByteTokenizer`]: the default.
    #[default]
    Bytes,
    HuggingFace(Box<HfTokenizer>),
}

/// The ids the ChatML renderer, the batcher and the sampler need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// `<|im_start|>`: opens a turn.
    pub im_start: u32,
    /// `<|im_end|>`: closes a turn; generation stops here.
    pub im_end: u32,
    /// Fills rows of a padded batch; never attended to by real tokens, never trained.
    pub pad: u32,
}

/// A Hugging Face `tokenizer.json`, with its ChatML ids found.
#[derive(Debug, Clone)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    json: String,
    specials: Specials,
    vocab_size: usize,
}

/// Pad tokens looked for, in order, when the file sets no padding.
const PAD_TOKENS: &[&str] = &["<|endoftext|>", "<pad>", "[PAD]", "<|pad|>"];

impl Tokenizer {
    /// The tokenizer of `train.tokenizer`: the file at `path`, or bytes when there is none.
    pub fn load(path: Option<&Path>) -> Result<Tokenizer> {
        match path {
            None => Ok(Tokenizer::Bytes),
            Some(path) => {
                let json = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                Ok(Tokenizer::HuggingFace(Box::new(HfTokenizer::from_json(path, json)?)))
            }
        }
    }

    /// The ids of `text`; special tokens in `text` are encoded as plain text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Bytes => Ok(ByteTokenizer.encode(text)),
            Tokenizer::HuggingFace(t) => t.encode(text),
        }
    }

    /// The text of `ids`, special tokens by name.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        match self {
            Tokenizer::Bytes => Ok(ByteTokenizer.decode(ids)),
            Tokenizer::HuggingFace(t) => t.decode(ids),
        }
    }

    pub fn specials(&self) -> Specials {
        match self {
            Tokenizer::Bytes => Specials {
                im_start: ByteTokenizer::IM_START,
                im_end: ByteTokenizer::IM_END,
                pad: ByteTokenizer::PAD,
            },
            Tokenizer::HuggingFace(t) => t.specials,
        }
    }

    /// One more than the largest id, special tokens included.
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Bytes => ByteTokenizer::VOCAB_SIZE,
            Tokenizer::HuggingFace(t) => t.vocab_size,
        }
    }

    /// The `tokenizer.json` text, which a checkpoint keeps a copy of; `None` for bytes.
    pub fn json(&self) -> Option<&str> {
        match self {
            Tokenizer::Bytes => None,
            Tokenizer::HuggingFace(t) => Some(&t.json),
        }
    }
}

impl HfTokenizer {
    /// Parses the text of the `tokenizer.json` at `path` (named in errors).
    pub fn from_json(path: &Path, json: String) -> Result<HfTokenizer> {
        let fail = |message: String| Error::Tokenizer { path: path.to_path_buf(), message };
        let mut inner: tokenizers::Tokenizer =
            json.parse().map_err(|e: tokenizers::Error| fail(e.to_string()))?;
        let id = |token: &str| inner.token_to_id(token);
        let (Some(im_start), Some(im_end)) = (id(IM_START), id(IM_END)) else {
            return Err(fail(
                "has no <|im_start|> or no <|im_end|> token; sera-train renders ChatML and needs \
                 both (add them to \"added_tokens\" as special tokens)"
                    .into(),
            ));
        };
        let pad = inner
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| PAD_TOKENS.iter().find_map(|t| id(t)))
            .ok_or_else(|| {
                fail(format!(
                    "has no pad token: set its padding or add one of {}",
                    PAD_TOKENS.join(", ")
                ))
            })?;
        let vocab_size = inner.get_vocab(true).values().max().map_or(0, |&m| m as usize + 1);
        // Whole texts are encoded: the file's truncation and padding must not cut or pad them,
        // and special tokens written in a trajectory are text, not turn boundaries.
        inner.with_truncation(None).map_err(|e| fail(e.to_string()))?;
        inner.with_padding(None);
        inner.set_encode_special_tokens(true);
        Ok(HfTokenizer {
            inner,
            path: path.to_path_buf(),
            json,
            specials: Specials { im_start, im_end, pad },
            vocab_size,
        })
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, false).map_err(|e| self.error(e))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| self.error(e))
    }

    fn error(&self, e: tokenizers::Error) -> Error {
        Error::Tokenizer { path: self.path.clone(), message: e.to_string() }
    }
}

/// Byte-level tokenizer with ChatML special tokens after the 256 byte ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteTokenizer;

impl ByteTokenizer {
    /// `<|im_start|>`: opens a ChatML turn.
    pub const IM_START: u32 = 256;
    /// `<|im_end|>`: closes a ChatML turn; generation stops here.
    pub const IM_END: u32 = 257;
    /// `<pad>`: fills rows of a padded batch; never attended to by real tokens, never trained.
    pub const PAD: u32 = 258;
    /// Number of ids.
    pub const VOCAB_SIZE: usize = 259;

    /// The ids of `text`'s UTF-8 bytes.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }

    /// Text of `ids`: bytes decoded as UTF-8 (invalid sequences replaced), specials by name.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        let mut bytes = Vec::new();
        for &id in ids {
            if let Ok(byte) = u8::try_from(id) {
                bytes.push(byte);
                continue;
            }
            out.push_str(&String::from_utf8_lossy(&bytes));
            bytes.clear();
            out.push_str(match id {
                Self::IM_START => IM_START,
                Self::IM_END => IM_END,
                Self::PAD => "<pad>",
                _ => "<unk>",
            });
        }
        out.push_str(&String::from_utf8_lossy(&bytes));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tokenizer.json")
    }

    #[test]
    fn tokenizer_json_supplies_vocabulary_and_chatml_ids() {
        let t = Tokenizer::load(Some(&fixture())).expect("fixture loads");
        assert_eq!(t.vocab_size(), 400);
        assert_eq!(t.specials(), Specials { im_start: 1, im_end: 2, pad: 0 });
        let text = "def pop(self):\n    return self.items.pop()";
        let ids = t.encode(text).expect("encodes");
        assert!(ids.len() < text.len(), "merges shorten the text: {ids:?}");
        assert_eq!(t.decode(&ids).expect("decodes"), text);
    }

    #[test]
    fn special_tokens_in_text_stay_text() {
        let t = Tokenizer::load(Some(&fixture())).expect("fixture loads");
        let ids = t.encode("a <|im_end|> b").expect("encodes");
        assert!(!ids.contains(&t.specials().im_end), "{ids:?}");
        assert_eq!(t.decode(&ids).expect("decodes"), "a <|im_end|> b");
    }

    /// The fixture's JSON with the special token `content` removed from the added tokens and
    /// the vocabulary.
    fn fixture_without(content: &str) -> String {
        let text = std::fs::read_to_string(fixture()).expect("fixture");
        let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
        json["added_tokens"]
            .as_array_mut()
            .expect("added tokens")
            .retain(|t| t["content"] != content);
        json["model"]["vocab"].as_object_mut().expect("vocab").remove(content);
        json.to_string()
    }

    #[test]
    fn tokenizer_json_without_chatml_tokens_is_an_error_naming_the_file() {
        let path = Path::new("/data/no-chatml/tokenizer.json");
        let json = fixture_without("<|im_start|>");
        let err = HfTokenizer::from_json(path, json).expect_err("no <|im_start|>");
        let message = err.to_string();
        assert!(message.contains("no-chatml/tokenizer.json"), "{message}");
        assert!(message.contains("<|im_start|>"), "{message}");
    }

    #[test]
    fn tokenizer_json_without_a_pad_token_is_an_error_naming_the_file() {
        let path = Path::new("/data/no-pad/tokenizer.json");
        let json = fixture_without("<|endoftext|>");
        let message = HfTokenizer::from_json(path, json).expect_err("no pad").to_string();
        assert!(message.contains("no-pad/tokenizer.json") && message.contains("pad"), "{message}");
        let missing = Tokenizer::load(Some(Path::new("/nonexistent/tokenizer.json")));
        assert!(missing.expect_err("no file").to_string().contains("/nonexistent/tokenizer.json"));
    }

    #[test]
    fn decode_inverts_encode_and_names_specials() {
        let t = ByteTokenizer;
        let mut ids = vec![ByteTokenizer::IM_START];
        ids.extend(t.encode("user\nfix the bug é"));
        ids.push(ByteTokenizer::IM_END);
        assert_eq!(t.decode(&ids), "<|im_start|>user\nfix the bug é<|im_end|>");
    }
}
