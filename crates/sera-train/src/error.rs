//! The error type of the trainer.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading data, training or sampling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request itself cannot be served (an unknown preset, a missing checkpoint).
    #[error("{0}")]
    Usage(String),
    /// A configuration key has a bad value or name; the message names the key.
    #[error("config: {0}")]
    Config(String),
    /// A dataset file or record is malformed; the message names the file and line.
    #[error("{0}")]
    Data(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint is unreadable or does not match the model.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// A `tokenizer.json` is unreadable or unusable (no ChatML tokens, no pad token).
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// The tensor backend failed (out of memory, a CUDA error).
    #[error("tensor backend: {0}")]
    Backend(String),
    /// The loss plot could not be drawn.
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn checkpoint(path: &Path, message: impl std::fmt::Display) -> Error {
        Error::Checkpoint { path: path.to_path_buf(), message: message.to_string() }
    }
}
