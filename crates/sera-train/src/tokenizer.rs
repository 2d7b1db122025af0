//! The byte-level tokenizer: one id per byte, plus the ChatML special tokens.
//!
//! Bytes need no vocabulary file and never fail on any input, which is what a small model
//! trained from scratch on one machine wants. Special tokens are never produced by encoding
//! text: they are inserted by the ChatML renderer only, so a trajectory that happens to contain
//! the characters `<|im_end|>` cannot end a turn early.

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
                Self::IM_START => "<|im_start|>",
                Self::IM_END => "<|im_end|>",
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

    #[test]
    fn decode_inverts_encode_and_names_specials() {
        let t = ByteTokenizer;
        let mut ids = vec![ByteTokenizer::IM_START];
        ids.extend(t.encode("user\nfix the bug é"));
        ids.push(ByteTokenizer::IM_END);
        assert_eq!(t.decode(&ids), "<|im_start|>user\nfix the bug é<|im_end|>");
    }
}
