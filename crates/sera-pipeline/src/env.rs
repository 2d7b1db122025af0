//! The env stage: the repository's environment, prepared once (`sera-env`) and then used by
//! every sandbox of the run: validation, rollouts and their grading.

use std::path::Path;

pub use sera_env::{EnvConfig, EnvError, Environment, Prepared};

use crate::config::EnvSection;
use crate::{Error, Result};

impl From<EnvError> for Error {
    fn from(err: EnvError) -> Error {
        if err.is_environment() {
            Error::Environment(err.to_string())
        } else {
            Error::Data(err.to_string())
        }
    }
}

/// The settings of `[env]`, with environments kept in `cache_dir` unless the section names
/// its own folder.
pub fn config_of(
    section: &EnvSection,
    cache_dir: &Path,
    isolation: sera_sandbox::Isolation,
) -> EnvConfig {
    EnvConfig {
        isolation,
        detect: section.detect,
        setup: section.setup.clone(),
        python: section.python.clone(),
        vars: section.vars.clone(),
        offline: section.offline,
        pip_args: section.pip_args.clone(),
        ..EnvConfig::new(section.cache_dir.clone().unwrap_or_else(|| cache_dir.to_path_buf()))
    }
}

/// Prepares (or reads back) the environment of `repo`, telling `log` about each step.
pub fn prepare(repo: &Path, config: &EnvConfig, log: &mut dyn FnMut(&str)) -> Result<Prepared> {
    if !repo.is_dir() {
        return Err(Error::Data(format!("{}: not a directory", repo.display())));
    }
    Ok(sera_env::prepare(repo, config, log)?)
}

/// The environment folder used when a command is not told one: `~/.cache/sera/envs`.
pub fn default_cache_dir() -> Result<std::path::PathBuf> {
    sera_env::default_cache_dir().ok_or_else(|| {
        Error::Environment(
            "neither XDG_CACHE_HOME nor HOME is set, so there is no cache folder for \
             environments; pass --env-cache DIR"
                .into(),
        )
    })
}

/// The environment as pretty JSON, as `environment.json` holds it.
pub fn to_json(environment: &Environment) -> String {
    serde_json::to_string_pretty(environment).expect("an Environment always serialises")
}
