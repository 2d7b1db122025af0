//! Hugging Face `tokenizer.json` files, through the `tokenizers` crate (its only user).

use std::path::Path;

use crate::DatasetError;

pub(super) struct Hf {
    tokenizer: tokenizers::Tokenizer,
}

impl Hf {
    pub(super) fn from_file(path: &Path) -> Result<Hf, DatasetError> {
        let fail = |message: String| DatasetError::Tokenizer { path: path.to_path_buf(), message };
        let mut tokenizer =
            tokenizers::Tokenizer::from_file(path).map_err(|err| fail(err.to_string()))?;
        // Lengths are measured on whole records: a file's truncation or padding settings must
        // not shorten or pad them (and they are the only way one text fails to encode).
        tokenizer.with_truncation(None).map_err(|err| fail(err.to_string()))?;
        tokenizer.with_padding(None);
        Ok(Hf { tokenizer })
    }

    pub(super) fn count(&self, text: &str) -> usize {
        // With truncation and padding off, encoding one text does not fail; were it to, the
        // record counts as longer than any limit and is dropped as `too_long` rather than
        // exported with a wrong length.
        self.tokenizer.encode_fast(text, false).map(|e| e.len()).unwrap_or(usize::MAX / 4)
    }
}
