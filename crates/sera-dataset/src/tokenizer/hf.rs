//! Hugging Face `tokenizer.json` files, through the `tokenizers` crate (its only user).

use std::path::Path;

use crate::DatasetError;

pub(super) struct Hf {
    tokenizer: tokenizers::Tokenizer,
}

impl Hf {
    pub(super) fn from_file(path: &Path) -> Result<Hf, DatasetError> {
        let tokenizer = tokenizers::Tokenizer::from_file(path).map_err(|err| {
            DatasetError::Tokenizer { path: path.to_path_buf(), message: err.to_string() }
        })?;
        Ok(Hf { tokenizer })
    }

    pub(super) fn count(&self, text: &str) -> usize {
        // Encoding only fails on malformed tokenizer configurations, which `from_file` has
        // already accepted; count such a text as unencodable rather than crash mid-export.
        self.tokenizer.encode_fast(text, false).map(|e| e.len()).unwrap_or(usize::MAX / 4)
    }
}
