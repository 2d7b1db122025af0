//! The error type of hard verification.

use std::path::PathBuf;

use sera_sandbox::SandboxError;

/// Why validation could not run at all. A candidate that fails to build, times out or is not
/// caught is not an error: it is an [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The sandbox failed (a missing tool, no isolation, a full disk).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// No test runner recognises the repository.
    #[error(
        "{}: cannot tell how to run this repository's tests (no Cargo.toml, no pytest \
         configuration, no test_*.py or *_test.py file at the root, in tests/ or in test/); pass \
         the test command explicitly",
        repo.display()
    )]
    NoRunner { repo: PathBuf },
    /// The test command given is empty or cannot be split into words.
    #[error("test command {0:?} is empty or has an unclosed quote")]
    BadCommand(String),
    /// The clean repository does not build.
    #[error("{}: the clean repository does not build with `{command}` ({status}):\n{output}", repo.display())]
    BaselineBuild { repo: PathBuf, command: String, status: String, output: String },
    /// The clean repository's test run reported no test, or could not be read.
    #[error("{}: `{command}` on the clean repository: {detail}", repo.display())]
    BaselineTests { repo: PathBuf, command: String, detail: String },
    /// The baseline cache could not be read or written.
    #[error("baseline cache {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Whether the machine is at fault (exit code 3) rather than the input (exit code 2).
    pub fn is_environment(&self) -> bool {
        match self {
            VerifyError::Sandbox(err) => err.is_environment(),
            VerifyError::Cache { .. } => true,
            _ => false,
        }
    }
}
