//! The clean baseline: the test suite run twice on the unmodified repository, cached on disk
//! per (repository content, commit, test command).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sera_core::{TestStatus, stable_id};
use serde::{Deserialize, Serialize};

use crate::VerifyError;

/// The clean repository's test results. Tests whose status differed between the two runs are
/// flaky: they are listed in `flaky` and left out of `tests`, so they never become
/// FAIL_TO_PASS or PASS_TO_PASS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The cache key: a digest of the repository's files, its commit and the test command.
    pub key: String,
    pub runner: String,
    pub test_command: Vec<String>,
    /// Status of every stable test on the clean repository.
    pub tests: BTreeMap<String, TestStatus>,
    /// Tests whose status differed between the two clean runs (or that ran in only one).
    pub flaky: Vec<String>,
    /// The stage ([`TestRunner::stages`](crate::TestRunner::stages)) each test runs in, for
    /// tests not in the first stage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub later_stage: BTreeMap<String, usize>,
    /// The slower of the two clean test runs, in seconds: the base of per-candidate timeouts.
    pub test_seconds: f64,
    /// The clean build (from an empty build directory), in seconds; 0 without a build step.
    pub build_seconds: f64,
}

impl Baseline {
    /// Combines two clean runs of the same suite.
    pub fn from_runs(
        key: String,
        runner: &str,
        test_command: &[String],
        first: &BTreeMap<String, TestStatus>,
        second: &BTreeMap<String, TestStatus>,
        test_seconds: f64,
        build_seconds: f64,
    ) -> Baseline {
        let names: BTreeSet<&String> = first.keys().chain(second.keys()).collect();
        let mut tests = BTreeMap::new();
        let mut flaky = Vec::new();
        for name in names {
            match (first.get(name), second.get(name)) {
                (Some(a), Some(b)) if a == b => {
                    tests.insert(name.clone(), *a);
                }
                _ => flaky.push(name.clone()),
            }
        }
        Baseline {
            key,
            runner: runner.to_string(),
            test_command: test_command.to_vec(),
            tests,
            flaky,
            later_stage: BTreeMap::new(),
            test_seconds,
            build_seconds,
        }
    }

    /// The stage a test runs in (0 for the first).
    pub fn stage_of(&self, test: &str) -> usize {
        self.later_stage.get(test).copied().unwrap_or(0)
    }

    /// Tests that pass on the clean repository (and are not flaky).
    pub fn passing(&self) -> impl Iterator<Item = &str> {
        self.tests.iter().filter(|(_, s)| s.is_pass()).map(|(name, _)| name.as_str())
    }
}

/// Changes whenever the meaning of a cached baseline does (test keys, stages), so that an
/// older cache entry is never read.
const FORMAT: &str = "sera-baseline-2";

/// Directory names never part of a repository's identity: build output and caches.
const NOT_CONTENT: &[&str] =
    &[".git", "target", "__pycache__", ".pytest_cache", ".mypy_cache", ".tox", ".venv"];

/// The cache key of a baseline: `b-` and a digest of every file of `repo` (path and bytes,
/// build output and caches left out), the commit when known, and the test command. Hashing
/// the content as well as the commit means a dirty working tree never reuses a stale baseline.
pub fn cache_key(
    repo: &Path,
    commit: Option<&str>,
    test_command: &[String],
) -> Result<String, VerifyError> {
    let mut files = Vec::new();
    collect(repo, repo, &mut files)?;
    files.sort();
    let mut parts: Vec<String> =
        vec![FORMAT.to_string(), commit.unwrap_or("").to_string(), test_command.join("\u{0}")];
    for relative in files {
        let path = repo.join(&relative);
        let bytes = std::fs::read(&path).map_err(|source| VerifyError::Cache { path, source })?;
        parts.push(relative);
        parts.push(stable_id("", &[&String::from_utf8_lossy(&bytes)]));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(stable_id("b", &refs))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), VerifyError> {
    let cache_error = |source| VerifyError::Cache { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(cache_error)? {
        let entry =
            entry.map_err(|source| VerifyError::Cache { path: dir.to_path_buf(), source })?;
        let name = entry.file_name();
        if NOT_CONTENT.iter().any(|skip| name == *skip) {
            continue;
        }
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|source| VerifyError::Cache { path: path.clone(), source })?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

/// Where baselines are cached when the caller does not say: `$XDG_CACHE_HOME/sera/baselines`,
/// else `$HOME/.cache/sera/baselines`.
pub fn default_cache_dir() -> Option<PathBuf> {
    sera_core::user_cache_dir("baselines")
}

/// The cached baseline for `key`, if there is a readable one.
pub fn load(dir: &Path, key: &str) -> Option<Baseline> {
    let text = std::fs::read_to_string(dir.join(format!("{key}.json"))).ok()?;
    serde_json::from_str::<Baseline>(&text).ok().filter(|b| b.key == key)
}

/// Stores `baseline` under its key, atomically (write, then rename).
pub fn store(dir: &Path, baseline: &Baseline) -> Result<(), VerifyError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Cache { path, source }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let path = dir.join(format!("{}.json", baseline.key));
    let partial = dir.join(format!("{}.json.{}.partial", baseline.key, std::process::id()));
    let text = serde_json::to_string_pretty(baseline).map_err(|err| VerifyError::Cache {
        path: path.clone(),
        source: std::io::Error::other(err),
    })?;
    std::fs::write(&partial, text).map_err(fail(&partial))?;
    std::fs::rename(&partial, &path).map_err(fail(&path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestStatus::*;

    #[test]
    fn tests_that_change_between_clean_runs_are_flaky() {
        let first = BTreeMap::from([
            ("a".to_string(), Passed),
            ("b".to_string(), Passed),
            ("c".to_string(), Failed),
        ]);
        let second = BTreeMap::from([
            ("a".to_string(), Passed),
            ("b".to_string(), Failed),
            ("d".to_string(), Passed),
        ]);
        let baseline = Baseline::from_runs("k".into(), "cargo", &[], &first, &second, 1.0, 0.0);
        assert_eq!(baseline.flaky, vec!["b", "c", "d"]);
        assert_eq!(baseline.passing().collect::<Vec<_>>(), vec!["a"]);
    }

    #[test]
    fn cache_key_follows_content_commit_and_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rs"), "fn a() {}").unwrap();
        let cmd = vec!["cargo".to_string(), "test".to_string()];
        let key = cache_key(dir.path(), None, &cmd).unwrap();
        assert_eq!(key, cache_key(dir.path(), None, &cmd).unwrap());
        assert_ne!(key, cache_key(dir.path(), Some("abc"), &cmd).unwrap());
        assert_ne!(key, cache_key(dir.path(), None, &cmd[..1]).unwrap());
        std::fs::create_dir(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("target/x"), "build output").unwrap();
        assert_eq!(key, cache_key(dir.path(), None, &cmd).unwrap());
        std::fs::write(dir.path().join("a.rs"), "fn a() { }").unwrap();
        assert_ne!(key, cache_key(dir.path(), None, &cmd).unwrap());
    }
}
