//! The error type of the environment stage.

use std::path::{Path, PathBuf};

use sera_sandbox::SandboxError;

/// Why an environment could not be prepared. Every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// The sandbox failed (no bubblewrap, a full disk).
    #[error(transparent)]
    Sandbox(SandboxError),
    /// A step of the preparation failed.
    #[error(transparent)]
    Step(Box<StepFailure>),
    /// The repository asks for a Rust toolchain this machine does not have.
    #[error(
        "{}: asks for the Rust toolchain `{channel}`, which is not installed (installed: \
         {installed}); install it with `rustup toolchain install {channel}`, or use another \
         one by setting `[env] vars = {{ RUSTUP_TOOLCHAIN = \"stable\" }}`",
        file.display()
    )]
    Toolchain { file: PathBuf, channel: String, installed: String },
    /// A file the stage reads (a manifest) is malformed.
    #[error("{}: {message}", file.display())]
    Manifest { file: PathBuf, message: String },
    /// A git command failed (making a bug commit).
    #[error("`{command}` failed: {message}")]
    Git { command: String, message: String },
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A step that failed: which, how, what it printed last and how to get past it.
#[derive(Debug, thiserror::Error)]
#[error(
    "environment step `{step}` failed: `{command}` ended with {status}; its output ends \
     with:\n{tail}\n(whole log: {}). {hint}",
    log.display()
)]
pub struct StepFailure {
    pub step: String,
    pub command: String,
    pub status: String,
    pub tail: String,
    pub log: PathBuf,
    /// How to override what detection chose.
    pub hint: String,
}

impl EnvError {
    /// Whether the machine is at fault (exit code 3) rather than the input (exit code 2).
    pub fn is_environment(&self) -> bool {
        match self {
            EnvError::Sandbox(err) => err.is_environment(),
            EnvError::Manifest { .. } | EnvError::Git { .. } => false,
            EnvError::Io { source, .. } => source.kind() != std::io::ErrorKind::NotFound,
            EnvError::Step(_) | EnvError::Toolchain { .. } => true,
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnvError + '_ {
        move |source| EnvError::Io { path: path.to_path_buf(), source }
    }
}
