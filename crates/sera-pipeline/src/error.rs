//! The error type of the stages, classified by the CLI's exit codes.

use std::path::Path;

/// A stage failure, classified by whose fault it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command was asked for something that cannot be done (exit code 1).
    #[error("{0}")]
    Usage(String),
    /// An input file, record or repository is malformed (exit code 2).
    #[error("{0}")]
    Data(String),
    /// The machine lacks something: a tool, isolation, a reachable server, disk (exit code 3).
    #[error("{0}")]
    Environment(String),
    /// Standard output was closed by its reader (`sera index . | head`): not a failure, the
    /// reader has all it wanted (exit code 0, nothing printed).
    #[error("standard output closed")]
    BrokenPipe,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code of the CLI contract.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 1,
            Error::Data(_) => 2,
            Error::Environment(_) => 3,
            Error::BrokenPipe => 0,
        }
    }

    /// An I/O failure on `path`: a missing or unreadable input is bad input data, anything else
    /// (a full disk, a permission problem on the output) is the environment's.
    pub fn io(path: &Path, err: std::io::Error) -> Error {
        let message = format!("{}: {err}", path.display());
        match err.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData => Error::Data(message),
            _ => Error::Environment(message),
        }
    }
}
