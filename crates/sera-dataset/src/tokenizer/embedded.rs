//! The embedded vocabulary: `o200k_base` from `tiktoken-rs` (the only user of that crate).

use tiktoken_rs::CoreBPE;

pub(super) struct Embedded {
    bpe: CoreBPE,
}

impl Embedded {
    pub(super) fn new() -> Embedded {
        Embedded {
            bpe: tiktoken_rs::o200k_base().expect("the vocabulary compiled into tiktoken-rs loads"),
        }
    }

    pub(super) fn count(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }
}
