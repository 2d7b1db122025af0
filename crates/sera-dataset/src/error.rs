//! Errors that stop an export or import, and problems that only skip one record.

use std::path::PathBuf;

/// A failure that stops the whole operation (a missing input, an unwritable output, an
/// unreadable tokenizer). Bad records are [`Problem`]s instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tokenizer {}: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DatasetError {
        DatasetError::Io { path: path.into(), source }
    }
}

/// One bad record: counted, reported with its file and line, and skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: String,
    /// 1-based line for JSONL inputs; `None` for whole-file inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// A short stable key for statistics, e.g. `bad_json` or `empty_patch`.
    pub kind: &'static str,
    pub message: String,
}

/// Longest problem message kept: serde's messages quote the offending value, which can be a
/// whole conversation.
const MAX_MESSAGE: usize = 300;

impl Problem {
    /// A problem whose message is cut to a readable length.
    pub fn new(
        file: &str,
        line: Option<usize>,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Problem {
        let mut message = message.into();
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        Problem { file: file.to_string(), line, kind, message }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.file, self.kind, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.kind, self.message),
        }
    }
}
