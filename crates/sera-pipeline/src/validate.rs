//! The validate stage: mutants in, test-verified instances out (and rejected mutants with their
//! reason), with a progress bar and a funnel summary.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sera_core::Mutant;
pub use sera_sandbox::Isolation;
use sera_sandbox::{Sandbox, SandboxConfig, SandboxError};
use sera_verify::{Funnel, Outcome, ValidateConfig, Validator, VerifyError};

use crate::{Error, Result, jsonl};

/// Options of `sera validate`. Plain data; start from `ValidateOptions::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateOptions {
    /// Parallel jobs, each with its own scratch copy and build directory.
    pub jobs: usize,
    pub isolation: Isolation,
    /// The test command as one shell-like line; detected from the repository when `None`.
    pub test_command: Option<String>,
    /// Where rejected mutants go; next to the output as `rejected.jsonl` when `None` (and
    /// nowhere when the output is standard output).
    pub rejected: Option<PathBuf>,
    /// Where clean baselines are cached; `~/.cache/sera/baselines` when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// The prepared environment every sandbox uses (`crate::env`); none when `None`.
    pub environment: Option<crate::env::Environment>,
    /// A mutant's tests may take this many times the clean run's time, and at least
    /// `min_timeout`.
    pub timeout_factor: f64,
    pub min_timeout: Duration,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            jobs: 1,
            isolation: Isolation::Bwrap,
            test_command: None,
            rejected: None,
            cache_dir: None,
            progress: true,
            environment: None,
            timeout_factor: 5.0,
            min_timeout: Duration::from_secs(20),
        }
    }
}

/// What the stage did, for the summary on stderr.
#[derive(Debug, Clone)]
pub struct ValidateReport {
    pub funnel: Funnel,
    pub test_command: Vec<String>,
    pub baseline_passing: usize,
    pub baseline_cached: bool,
    /// Tests excluded because their result changed between the two clean runs.
    pub flaky: Vec<String>,
    pub test_timeout: Duration,
    pub rejected_path: Option<PathBuf>,
    /// The mutants file ended in a torn line, which was dropped.
    pub torn_input: bool,
}

impl fmt::Display for ValidateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "baseline: `{}`, {} passing tests{}, candidate timeout {:.0} s",
            self.test_command.join(" "),
            self.baseline_passing,
            if self.baseline_cached { " (cached)" } else { "" },
            self.test_timeout.as_secs_f64()
        )?;
        if !self.flaky.is_empty() {
            writeln!(f, "flaky tests excluded ({}): {}", self.flaky.len(), self.flaky.join(", "))?;
        }
        if self.torn_input {
            writeln!(f, "the mutants file ended in a torn line, which was skipped")?;
        }
        if let Some(path) = &self.rejected_path {
            writeln!(f, "rejected mutants: {}", path.display())?;
        }
        write!(f, "funnel: {}", self.funnel.summary())?;
        for line in self.funnel.explain() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl From<VerifyError> for Error {
    fn from(err: VerifyError) -> Error {
        if err.is_environment() {
            Error::Environment(err.to_string())
        } else {
            Error::Data(err.to_string())
        }
    }
}

fn sandbox_error(err: SandboxError) -> Error {
    if err.is_environment() {
        Error::Environment(err.to_string())
    } else {
        Error::Data(err.to_string())
    }
}

/// Validates the mutants of `mutants` (JSONL) against `repo` and writes the kept instances to
/// `out` (`-` for standard output), in input order whatever the number of jobs.
pub fn run(
    repo: &Path,
    mutants: &Path,
    out: &Path,
    options: &ValidateOptions,
) -> Result<ValidateReport> {
    if !repo.is_dir() {
        return Err(Error::Data(format!("{}: not a directory", repo.display())));
    }
    let input: jsonl::Records<Mutant> = jsonl::read(mutants)?;
    let test_command = match &options.test_command {
        Some(line) => match sera_verify::runner::split_command(line) {
            Some(words) if !words.is_empty() => Some(words),
            _ => {
                return Err(Error::Usage(format!(
                    "--test-command {line:?}: empty or unclosed quote"
                )));
            }
        },
        None => None,
    };
    if options.jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }

    let mut sandbox_config = SandboxConfig {
        isolation: options.isolation,
        // Test logs are read whole: a larger cap than an agent's terminal needs.
        output_cap: 32 << 20,
        ..SandboxConfig::default()
    };
    if let Some(environment) = &options.environment {
        environment.apply(&mut sandbox_config);
    }
    let sandbox = Sandbox::new(sandbox_config).map_err(sandbox_error)?;
    let config = ValidateConfig {
        jobs: options.jobs,
        test_command,
        cache_dir: options.cache_dir.clone().or_else(sera_verify::baseline::default_cache_dir),
        commit: input.records.iter().find_map(|m| m.commit.clone()),
        environment: options.environment.as_ref().map(|e| e.key.clone()),
        timeout_factor: options.timeout_factor,
        min_timeout: options.min_timeout,
        ..ValidateConfig::default()
    };
    let progress = crate::progress::bar(options.progress, input.records.len(), "mutants");
    progress.set_message("clean baseline");
    let validator =
        Validator::new(&sandbox, repo, &config).inspect_err(|_| progress.finish_and_clear())?;
    progress.set_message("validating");

    let rejected_path = match &options.rejected {
        Some(path) => Some(path.clone()),
        None if out == Path::new("-") => None,
        None => Some(out.with_file_name("rejected.jsonl")),
    };
    let mut instances = jsonl::Writer::create(out)?;
    let mut rejected = rejected_path.as_deref().map(jsonl::Writer::create).transpose()?;
    let funnel = validator.validate::<Error, _>(&input.records, |_, outcome| {
        match &outcome {
            Outcome::Kept(instance) => instances.write(instance.as_ref())?,
            Outcome::Rejected(rejection) => {
                if let Some(writer) = &mut rejected {
                    writer.write(rejection)?;
                }
            }
        }
        progress.inc(1);
        Ok(())
    });
    progress.finish_and_clear();
    let funnel = funnel?;
    instances.finish()?;
    if let Some(writer) = rejected {
        writer.finish()?;
    }
    let baseline = validator.baseline();
    Ok(ValidateReport {
        funnel,
        test_command: validator.test_command().to_vec(),
        baseline_passing: baseline.passing().count(),
        baseline_cached: validator.baseline_was_cached(),
        flaky: baseline.flaky.clone(),
        test_timeout: validator.test_timeout(),
        rejected_path,
        torn_input: input.torn_tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_repository_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(
            &dir.path().join("nope"),
            Path::new("m.jsonl"),
            Path::new("-"),
            &ValidateOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
    }

    #[test]
    fn malformed_mutants_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let mutants = dir.path().join("m.jsonl");
        std::fs::write(&mutants, "{}\n").unwrap();
        let err =
            run(dir.path(), &mutants, Path::new("-"), &ValidateOptions::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("m.jsonl:1"), "{err}");
    }

    #[test]
    fn unclosed_quote_in_the_test_command_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let mutants = dir.path().join("m.jsonl");
        std::fs::write(&mutants, "").unwrap();
        let options = ValidateOptions {
            test_command: Some("cargo 'test".into()),
            ..ValidateOptions::default()
        };
        let err = run(dir.path(), &mutants, Path::new("-"), &options).unwrap_err();
        assert_eq!(err.exit_code(), 1, "{err}");
    }
}
