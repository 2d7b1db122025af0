//! The environment stage: before any baseline or mutant, fetch and install what a repository
//! declares it needs to build and test, once per (repository, dependency files, settings), and
//! describe the result so that every later sandbox uses it read-only.
//!
//! Must not know: tests (which to run, how to read them) or how to spawn a process (`sera-sandbox`
//! does).
//!
//! It is the only step of sera-rs whose commands may reach the network, and what it runs is the
//! repository's own install procedure on the clean code, in a bubblewrap sandbox that may
//! write only its scratch copy and the environment folder (and `CARGO_HOME` for `cargo fetch`).
//! What it detects, from the repository's own files:
//! - Rust (`Cargo.toml`): the toolchain that `rust-toolchain.toml` names must be installed (a
//!   clear error when it is not, since nothing here installs toolchains), then `cargo fetch`, so
//!   that every later `cargo test --offline` finds its dependencies; a `Cargo.lock` that the
//!   fetch generates is kept in the environment's overlay.
//! - Python (`pyproject.toml`, `setup.py`, `setup.cfg`, requirement files or test files): one
//!   virtual environment; the project installed with its test extras; test dependency groups,
//!   `requirements*test*.txt`, tox and nox test dependencies; pytest. Later sandboxes put the
//!   virtual environment first on `PATH` (so an agent's `python` and `pytest` are its) and the
//!   scratch copy's own code first on `PYTHONPATH` (`src/` for src layouts), so the tests
//!   always import the code being changed, never the installed copy.
//! - `[env] setup` commands run after what was detected (or instead, with `detect = false`).
//!
//! Files a setup step leaves in the repository copy (a generated lock file, an in-place built
//! extension) become an overlay laid over every later copy. The result, an [`Environment`], is
//! written to `environment.json` in its folder under the cache directory; a second `prepare`
//! with the same inputs reads it back without running anything.
//!
//! This crate knows build and install tools, not tests: which tests to run and how to read
//! them is `sera-verify`'s business, and it spawns nothing itself (`sera-sandbox` does).

mod error;
pub mod git;
mod python;
mod rust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sera_core::stable_id;
use sera_sandbox::{CommandSpec, Isolation, Sandbox, SandboxConfig, Scratch};
use serde::{Deserialize, Serialize};

pub use error::{EnvError, StepFailure};

/// How to prepare. Plain data; start from `EnvConfig::new(cache_dir)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvConfig {
    /// Where environments are kept, one folder per key.
    pub cache_dir: PathBuf,
    pub isolation: Isolation,
    /// Run the detected steps (cargo fetch, virtual environment, installs); when false only
    /// `setup` runs.
    pub detect: bool,
    /// Shell commands run after the detected steps, in the repository copy, with the virtual
    /// environment (if any) first on `PATH` and the network reachable.
    pub setup: Vec<String>,
    /// The interpreter that makes the virtual environment (`python3` on `PATH` by default).
    pub python: Option<String>,
    /// Variables set for every later command (the environment stage's own steps too).
    pub vars: BTreeMap<String, String>,
    /// Use only what this machine has: `cargo fetch --offline`, a virtual environment that
    /// sees the interpreter's own packages, `pip install --no-index --no-build-isolation`.
    pub offline: bool,
    /// Extra arguments for every `pip install` (`--find-links DIR`, `--index-url URL`).
    pub pip_args: Vec<String>,
    /// Limit of one step.
    pub step_timeout: Duration,
}

impl EnvConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> EnvConfig {
        EnvConfig {
            cache_dir: cache_dir.into(),
            isolation: Isolation::Bwrap,
            detect: true,
            setup: Vec::new(),
            python: None,
            vars: BTreeMap::new(),
            offline: false,
            pip_args: Vec::new(),
            step_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// A prepared environment, as stored in `<cache>/<key>/environment.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The cache key: a digest of the repository's location, its dependency files and the
    /// settings.
    pub key: String,
    /// The folder holding this environment (its virtual environment, overlay and logs).
    pub dir: PathBuf,
    /// What was prepared: `cargo`, `python`.
    pub ecosystems: Vec<String>,
    /// Folders put first on `PATH` (the virtual environment's `bin`).
    pub path_prepend: Vec<PathBuf>,
    /// Variables every later command gets (`VIRTUAL_ENV`, and `[env] vars`).
    pub vars: BTreeMap<String, String>,
    /// Path-list variables relative to each scratch's repository copy (`PYTHONPATH`).
    pub repo_env: BTreeMap<String, Vec<PathBuf>>,
    /// Files the setup left in the repository copy, laid over every later copy.
    pub overlay: Option<PathBuf>,
    /// The steps that ran, in order.
    pub steps: Vec<StepRecord>,
    /// Wall-clock seconds the preparation took.
    pub seconds: f64,
}

/// One step of a preparation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub command: String,
    pub seconds: f64,
    /// Its whole output.
    pub log: PathBuf,
}

/// The outcome of [`prepare`].
#[derive(Debug, Clone)]
pub struct Prepared {
    pub environment: Environment,
    /// Read back from the cache; nothing ran.
    pub cached: bool,
}

impl Environment {
    /// Makes every command of a sandbox built from `config` use this environment.
    pub fn apply(&self, config: &mut SandboxConfig) {
        config.env.extend(self.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        if !self.path_prepend.is_empty() {
            let base = sera_sandbox::default_env(&config.env);
            let mut parts: Vec<String> =
                self.path_prepend.iter().map(|p| p.display().to_string()).collect();
            parts.extend(base.get("PATH").cloned());
            config.env.insert("PATH".into(), parts.join(":"));
        }
        config.repo_env.extend(self.repo_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if self.overlay.is_some() {
            config.overlay = self.overlay.clone();
        }
        config.readable.push(self.dir.clone());
    }

    /// One line for a person: `cargo, python in 12.3 s (4 steps)`.
    pub fn summary(&self) -> String {
        let what = if self.ecosystems.is_empty() {
            "nothing to prepare".to_string()
        } else {
            self.ecosystems.join(", ")
        };
        format!(
            "{what} in {:.1} s ({} steps), {}",
            self.seconds,
            self.steps.len(),
            self.dir.display()
        )
    }
}

/// Where environments are kept when the caller does not say: `$XDG_CACHE_HOME/sera/envs`, else
/// `$HOME/.cache/sera/envs`.
pub fn default_cache_dir() -> Option<PathBuf> {
    sera_core::user_cache_dir("envs")
}

/// Changes whenever the meaning of a stored environment does, so that an older one is never
/// reused.
const FORMAT: &str = "sera-env-1";

/// Prepares the environment of `repo`, or reads it back when one with the same key exists.
/// `on_step` hears one line as each step starts.
pub fn prepare(
    repo: &Path,
    config: &EnvConfig,
    on_step: &mut dyn FnMut(&str),
) -> Result<Prepared, EnvError> {
    let repo = repo.canonicalize().map_err(EnvError::io(repo))?;
    let plan = Plan::detect(&repo, config)?;
    let key = plan.key(&repo, config)?;
    // Absolute, since every later sandbox binds it by that path.
    let cache = std::path::absolute(&config.cache_dir).map_err(EnvError::io(&config.cache_dir))?;
    let dir = cache.join(&key);
    let record = dir.join("environment.json");
    if let Some(environment) = load(&record) {
        return Ok(Prepared { environment, cached: true });
    }
    // A folder without its record is what a killed preparation left: start it over.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(EnvError::io(&dir))?;
    }
    std::fs::create_dir_all(dir.join("logs")).map_err(EnvError::io(&dir))?;
    let start = Instant::now();
    let mut environment = Environment {
        key,
        dir: dir.clone(),
        ecosystems: plan.ecosystems(),
        path_prepend: Vec::new(),
        vars: config.vars.clone(),
        repo_env: BTreeMap::new(),
        overlay: None,
        steps: Vec::new(),
        seconds: 0.0,
    };

    let mut sandbox_config = SandboxConfig {
        isolation: config.isolation,
        network: !config.offline,
        writable: vec![dir.clone()],
        output_cap: 4 << 20,
        env: passthrough_env(),
        ..SandboxConfig::default()
    };
    sandbox_config.env.extend(config.vars.clone());
    // A wheel folder named in `pip_args` may sit under /tmp, which bubblewrap replaces.
    sandbox_config.readable.extend(
        config.pip_args.iter().map(PathBuf::from).filter(|p| p.is_absolute() && p.exists()),
    );
    if plan.rust.is_some() {
        // `cargo fetch` fills the registry cache that every later offline build reads.
        if let Some(home) = sera_sandbox::default_env(&sandbox_config.env).get("CARGO_HOME") {
            sandbox_config.writable.push(PathBuf::from(home));
        }
    }
    let sandbox = Sandbox::new(sandbox_config.clone()).map_err(EnvError::Sandbox)?;
    let scratch = sandbox.scratch(&repo).map_err(EnvError::Sandbox)?;
    let mut runner = StepRunner { scratch, dir: &dir, config, on_step, records: Vec::new() };

    if let Some(rust) = &plan.rust {
        rust.run(&mut runner)?;
    }
    if let Some(python) = &plan.python {
        let venv = python.run(&mut runner, &dir.join("venv"))?;
        environment.path_prepend.push(venv.join("bin"));
        environment.vars.insert("VIRTUAL_ENV".into(), venv.display().to_string());
        environment.repo_env.insert("PYTHONPATH".into(), python.import_roots.clone());
    }
    if !config.setup.is_empty() {
        // Setup commands see the environment made so far, as every later command will.
        let mut with_env = sandbox_config.clone();
        environment.apply(&mut with_env);
        with_env.overlay = None;
        let env = with_env.env.clone();
        for (index, command) in config.setup.iter().enumerate() {
            let mut spec = CommandSpec::shell(command.clone());
            spec.env = env.clone();
            runner.step(&format!("setup {}", index + 1), spec, SETUP_HINT)?;
        }
    }

    let overlay = collect_overlay(&runner.scratch, &dir.join("overlay"))?;
    environment.overlay = overlay;
    environment.steps = runner.records;
    environment.seconds = start.elapsed().as_secs_f64();
    store(&record, &environment)?;
    Ok(Prepared { environment, cached: false })
}

/// What a failed setup command's error suggests.
const SETUP_HINT: &str = "fix or remove the command in `[env] setup`";

/// Reads a stored environment; `None` when it is missing or unreadable (then it is remade).
pub fn load(record: &Path) -> Option<Environment> {
    let text = std::fs::read_to_string(record).ok()?;
    serde_json::from_str(&text).ok()
}

fn store(record: &Path, environment: &Environment) -> Result<(), EnvError> {
    let text = serde_json::to_string_pretty(environment).expect("an Environment serialises");
    let partial = record.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(EnvError::io(&partial))?;
    std::fs::rename(&partial, record).map_err(EnvError::io(record))
}

/// What the repository needs, found from its files before anything runs.
struct Plan {
    rust: Option<rust::RustPlan>,
    python: Option<python::PythonPlan>,
}

impl Plan {
    fn detect(repo: &Path, config: &EnvConfig) -> Result<Plan, EnvError> {
        if !config.detect {
            return Ok(Plan { rust: None, python: None });
        }
        Ok(Plan {
            rust: rust::RustPlan::detect(repo, config)?,
            python: python::PythonPlan::detect(repo, config)?,
        })
    }

    fn ecosystems(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.rust.is_some() {
            names.push("cargo".to_string());
        }
        if self.python.is_some() {
            names.push("python".to_string());
        }
        names
    }

    /// The digest of everything the result depends on: the format, where the repository is
    /// (an environment's overlay and installed copy belong to one checkout), its dependency
    /// files by path and content, what the plan found and the settings.
    fn key(&self, repo: &Path, config: &EnvConfig) -> Result<String, EnvError> {
        let mut parts = vec![
            FORMAT.to_string(),
            repo.display().to_string(),
            format!("{:?}", config.isolation),
            config.detect.to_string(),
            config.setup.join("\u{0}"),
            config.python.clone().unwrap_or_default(),
            format!("{:?}", config.vars),
            config.offline.to_string(),
            config.pip_args.join("\u{0}"),
            self.ecosystems().join(","),
        ];
        if let Some(python) = &self.python {
            parts.push(python.describe());
        }
        if self.rust.is_some() {
            // What `cargo fetch` filled is that cache: another one starts empty.
            let env = sera_sandbox::default_env(&config.vars);
            parts.push(env.get("CARGO_HOME").cloned().unwrap_or_default());
        }
        for relative in dependency_files(repo) {
            let path = repo.join(&relative);
            let bytes = std::fs::read(&path).map_err(EnvError::io(&path))?;
            parts.push(relative);
            parts.push(stable_id("", &[&String::from_utf8_lossy(&bytes)]));
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(stable_id("env", &refs))
    }
}

/// Runs the steps of one preparation in its scratch, keeping each step's output in a log.
struct StepRunner<'a> {
    scratch: Scratch,
    dir: &'a Path,
    config: &'a EnvConfig,
    on_step: &'a mut dyn FnMut(&str),
    records: Vec<StepRecord>,
}

impl StepRunner<'_> {
    /// Runs one step; a failure is an error naming the step, the command, its output's tail
    /// and `hint` (how to override what detection chose).
    fn step(&mut self, name: &str, spec: CommandSpec, hint: &str) -> Result<String, EnvError> {
        (self.on_step)(&format!("env: {name}: {}", spec.display()));
        let spec = spec.timeout(self.config.step_timeout).merge_output(true);
        let out = self.scratch.run(&spec).map_err(EnvError::Sandbox)?;
        let log = self.dir.join("logs").join(format!(
            "{:02}-{}.log",
            self.records.len() + 1,
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let text = format!("$ {}\n{}\n[{}]\n", spec.display(), out.stdout, out.status_line());
        std::fs::write(&log, text).map_err(EnvError::io(&log))?;
        self.records.push(StepRecord {
            name: name.to_string(),
            command: spec.display(),
            seconds: out.duration.as_secs_f64(),
            log: log.clone(),
        });
        if !out.success() {
            return Err(EnvError::Step(Box::new(StepFailure {
                step: name.to_string(),
                command: spec.display(),
                status: out.status_line(),
                tail: tail(&out.stdout, 25),
                log,
                hint: hint.to_string(),
            })));
        }
        Ok(out.stdout)
    }

    /// Runs a command whose failure is an answer, not an error (a probe).
    fn probe(&mut self, spec: CommandSpec) -> Result<sera_sandbox::Output, EnvError> {
        let spec = spec.timeout(Duration::from_secs(120)).merge_output(true);
        self.scratch.run(&spec).map_err(EnvError::Sandbox)
    }
}

/// Variables of the caller's environment that the install tools need to reach their registries
/// the way the caller's machine is set up to (proxies, mirrors, certificates); every other
/// variable stays out, as in every sandbox.
fn passthrough_env() -> BTreeMap<String, String> {
    const PREFIXES: &[&str] = &["PIP_", "UV_", "CARGO_REGISTRIES_", "CARGO_HTTP_", "CARGO_NET_"];
    const NAMES: &[&str] = &[
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CARGO_REGISTRY_DEFAULT",
    ];
    std::env::vars()
        .filter(|(name, _)| {
            NAMES.contains(&name.as_str()) || PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .collect()
}

/// Folders never searched for dependency files: build output, caches, vendored trees.
const NOT_SOURCE: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "build",
    "dist",
];

/// The files whose content decides what the environment holds, relative to `repo`, sorted:
/// every Cargo manifest and lock file and toolchain file (workspace members live in
/// subfolders), and the Python project and requirement files at the top and in
/// `requirements/`.
fn dependency_files(repo: &Path) -> Vec<String> {
    let mut found = Vec::new();
    walk(repo, repo, &mut found);
    found.sort();
    found
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        let relative = path.strip_prefix(root).map(|p| p.to_string_lossy().into_owned());
        let Ok(relative) = relative else { continue };
        if kind.is_dir() {
            if !NOT_SOURCE.contains(&name.as_str()) {
                walk(root, &path, found);
            }
            continue;
        }
        let top = dir == root || relative.starts_with("requirements/");
        let rust = matches!(
            name.as_str(),
            "Cargo.toml" | "Cargo.lock" | "rust-toolchain" | "rust-toolchain.toml"
        );
        let python = top
            && (matches!(
                name.as_str(),
                "pyproject.toml" | "setup.py" | "setup.cfg" | "tox.ini" | "noxfile.py"
            ) || (name.ends_with(".txt")
                && (name.contains("requirements") || relative.starts_with("requirements/"))));
        if kind.is_file() && (rust || python) {
            found.push(relative);
        }
    }
}

/// Files and folders of a setup's leftovers that are never worth carrying into later copies:
/// byte code, build folders, packaging metadata written next to the sources.
fn worth_keeping(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or(path);
    !path.split('/').any(|part| part == "__pycache__" || part.ends_with(".egg-info"))
        && !matches!(first, "build" | "dist" | ".pytest_cache" | ".tox" | ".nox")
        && !path.ends_with(".pyc")
}

/// Copies what the steps left in the repository copy into `overlay`; `None` when nothing.
fn collect_overlay(scratch: &Scratch, overlay: &Path) -> Result<Option<PathBuf>, EnvError> {
    let changed: Vec<String> = scratch
        .changed_paths()
        .map_err(EnvError::Sandbox)?
        .into_iter()
        .filter(|path| worth_keeping(path))
        .collect();
    if changed.is_empty() {
        return Ok(None);
    }
    for path in &changed {
        let to = overlay.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(EnvError::io(parent))?;
        }
        let from = scratch.path().join(path);
        std::fs::copy(&from, &to).map_err(EnvError::io(&from))?;
    }
    Ok(Some(overlay.to_path_buf()))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_worth_keeping_are_lock_files_and_built_extensions_not_caches() {
        assert!(worth_keeping("Cargo.lock"));
        assert!(worth_keeping("src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so"));
        assert!(!worth_keeping("src/pkg/__pycache__/a.cpython-311.pyc"));
        assert!(!worth_keeping("src/pkg.egg-info/PKG-INFO"));
        assert!(!worth_keeping("build/lib/pkg/a.py"));
        assert!(!worth_keeping("dist/pkg-1.0.tar.gz"));
    }

    #[test]
    fn dependency_files_are_found_in_members_and_at_the_top() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |path: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        };
        for path in [
            "Cargo.toml",
            "crates/a/Cargo.toml",
            "target/debug/Cargo.toml",
            "pyproject.toml",
            "requirements-test.txt",
            "requirements/docs.txt",
            "docs/requirements.txt",
            "src/lib.rs",
        ] {
            write(path);
        }
        assert_eq!(
            dependency_files(dir.path()),
            [
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "pyproject.toml",
                "requirements-test.txt",
                "requirements/docs.txt"
            ]
        );
    }
}
