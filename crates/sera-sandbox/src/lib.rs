//! Scratch copies of a repository, and commands run in them under isolation, with timeouts,
//! resource limits and capped output. This is the only crate of sera-rs that spawns processes.
//!
//! Must not know: tests, languages, models or what the commands it runs mean.
//!
//! A [`Sandbox`] holds the isolation backend and the limits; [`Sandbox::scratch`] copies a
//! repository once into a private directory that is then reused across many candidates: apply
//! a [`Patch`](sera_core::Patch), run commands with [`Scratch::run`], and reset only the files
//! the candidate touched ([`Scratch::reset_files`]) so that the build cache (`CARGO_TARGET_DIR`
//! lives inside the scratch, outside the repository copy) stays warm.
//!
//! Backends ([`Isolation`]):
//! - `bwrap` (the default): bubblewrap with every namespace unshared (no network), the host
//!   mounted read-only, only the scratch directory and a private `/tmp` writable, `/run` masked,
//!   all capabilities dropped, a new session, and death with its parent.
//! - `none`: no isolation at all. It must be asked for explicitly and warns on stderr.
//!
//! Two settings widen the bubblewrap box, and only the environment stage (which installs what a
//! repository declares, before any of its code is changed) uses them: `network` keeps the
//! host's network, and `writable` names folders outside the scratch that may be written (the
//! environment being installed). An `overlay` folder lays prepared files (an environment's
//! generated lock file, say) over every copy of the repository.
//!
//! With either backend every command runs in its own session and process group, under
//! `RLIMIT_AS`/`RLIMIT_NPROC`/`RLIMIT_FSIZE` limits (plus a pids cgroup where the machine offers
//! one, which is what stops a fork bomb run as root), with a scrubbed environment; on timeout
//! the whole group is killed, and whatever is left of the group when the command exits (a
//! sleeping grandchild, say) is killed too. Output is read concurrently and capped per stream
//! with a visible marker.
//!
//! This crate knows nothing about tests, languages or models: `sera-verify` runs test suites
//! through it and `sera-rollout` runs an agent's `bash` tool through it.
//!
//! ```no_run
//! use std::time::Duration;
//! use sera_sandbox::{CommandSpec, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let scratch = sandbox.scratch("path/to/repo".as_ref())?;
//! let out = scratch.run(&CommandSpec::shell("ls && echo hi").timeout(Duration::from_secs(10)))?;
//! assert_eq!(out.exit_code, Some(0));
//! # Ok::<(), sera_sandbox::SandboxError>(())
//! ```

mod bwrap;
mod command;
mod copy;
mod process;
mod scratch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use command::{CommandSpec, Output};
pub use scratch::Scratch;

/// How commands are isolated from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Isolation {
    /// bubblewrap: no network, host read-only, only the scratch and a private `/tmp` writable.
    #[default]
    Bwrap,
    /// No isolation: commands can read and write anything the current user can.
    None,
}

impl Isolation {
    /// The name used on the command line (`bwrap`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Bwrap => "bwrap",
            Isolation::None => "none",
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bwrap" | "bubblewrap" => Ok(Isolation::Bwrap),
            "none" => Ok(Isolation::None),
            other => Err(format!("unknown isolation backend {other:?} (expected bwrap or none)")),
        }
    }
}

/// Resource limits applied to every command (and inherited by its children). `None` leaves a
/// limit as the parent process has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Address space per process, in bytes (`RLIMIT_AS`).
    pub memory_bytes: Option<u64>,
    /// Processes: `RLIMIT_NPROC` for the user, and `pids.max` of a per-command pids cgroup
    /// where one can be created (root ignores `RLIMIT_NPROC`, the cgroup it cannot).
    pub processes: Option<u64>,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: Some(8 << 30), processes: Some(512), file_size_bytes: Some(2 << 30) }
    }
}

/// How a [`Sandbox`] runs commands. Plain data; start from `SandboxConfig::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub isolation: Isolation,
    pub limits: Limits,
    /// Bytes kept per output stream (stdout, stderr). Past it the head and the tail are kept,
    /// joined by a line saying how much was dropped.
    pub output_cap: usize,
    /// Where scratch directories are created; the system temporary directory when `None`.
    pub scratch_parent: Option<PathBuf>,
    /// Top-level entries of a repository that are not copied into a scratch.
    pub exclude: Vec<String>,
    /// Extra environment variables for every command (after the scrubbed defaults).
    pub env: BTreeMap<String, String>,
    /// Variables whose value is a list of paths inside the repository copy, given relative to
    /// it (`PYTHONPATH = ["src"]`): each scratch sets them to its own copy's absolute paths,
    /// joined with `:`.
    pub repo_env: BTreeMap<String, Vec<PathBuf>>,
    /// A folder of files laid over every scratch's copy of the repository, as if the repository
    /// had them: files an environment's setup made (a generated `Cargo.lock`, say). Resets
    /// restore them and [`Scratch::diff`] compares against them.
    pub overlay: Option<PathBuf>,
    /// Let commands reach the network. Only the environment stage, which installs what the
    /// repository declares before any of its code is changed, asks for this; commands that run
    /// mutated code or an agent's commands never do.
    pub network: bool,
    /// Folders outside the scratch that commands may write to (created when missing), such as
    /// the environment being installed. Everything else but the scratch stays read-only.
    pub writable: Vec<PathBuf>,
    /// Folders outside the scratch that commands must see, read-only, even where the sandbox
    /// hides the host (a prepared environment under `/tmp`, which bubblewrap replaces).
    pub readable: Vec<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            isolation: Isolation::Bwrap,
            limits: Limits::default(),
            output_cap: 1 << 20,
            scratch_parent: None,
            exclude: vec!["target".into()],
            env: BTreeMap::new(),
            repo_env: BTreeMap::new(),
            overlay: None,
            network: false,
            writable: Vec::new(),
            readable: Vec::new(),
        }
    }
}

/// Why a sandbox or a command in it could not be set up. Commands that run and fail, time out
/// or get killed are not errors: they are reported in [`Output`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// bubblewrap is not installed (an environment problem).
    #[error(
        "bubblewrap (`bwrap`) is not installed or not on PATH ({detail}); install it \
         (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`) or run \
         without isolation by passing `--isolation none` explicitly"
    )]
    BwrapMissing { detail: String },
    /// bubblewrap is installed but cannot create a sandbox here (an environment problem).
    #[error(
        "bubblewrap (`bwrap`) cannot create a sandbox on this machine: {detail}; allow user \
         namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root, or pass \
         `--isolation none` explicitly"
    )]
    BwrapUnusable { detail: String },
    /// A program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// A file of the scratch or of the source repository could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A patch does not apply to the scratch.
    #[error("patch does not apply: {0}")]
    Patch(#[from] sera_core::PatchError),
    /// A path given to the scratch escapes it (absolute, or with `..`).
    #[error("path {0:?} is not a relative path inside the repository")]
    BadPath(String),
    /// A scratch cannot be shown at the path asked for.
    #[error("cannot mount the scratch: {0}")]
    BadMount(String),
}

impl SandboxError {
    /// Whether the machine is at fault (a missing tool, no isolation, a full disk) rather than
    /// the input; callers map this to exit code 3.
    pub fn is_environment(&self) -> bool {
        !matches!(
            self,
            SandboxError::Patch(_) | SandboxError::BadPath(_) | SandboxError::BadMount(_)
        )
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
        move |source| SandboxError::Io { path: path.to_path_buf(), source }
    }
}

/// An isolation backend with its limits; cheap to clone and shared between threads.
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SandboxConfig,
    /// The scrubbed environment every command starts from, before per-scratch variables.
    base_env: BTreeMap<String, String>,
}

impl Sandbox {
    /// Checks that the backend works on this machine. The `none` backend prints a warning.
    pub fn new(mut config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let base_env = default_env(&config.env);
        // Toolchain homes kept under /tmp would vanish behind bubblewrap's private /tmp.
        for name in ["CARGO_HOME", "RUSTUP_HOME", "PYENV_ROOT"] {
            if let Some(home) = base_env.get(name).map(PathBuf::from) {
                if home.starts_with("/tmp") && home.is_dir() && !config.readable.contains(&home) {
                    config.readable.push(home);
                }
            }
        }
        for dir in &config.writable {
            std::fs::create_dir_all(dir).map_err(SandboxError::io(dir))?;
        }
        match config.isolation {
            Isolation::Bwrap => bwrap::probe(base_env.get("PATH").map_or("", String::as_str))?,
            Isolation::None => eprintln!(
                "warning: sandbox isolation is off (`none`): commands run with full access to \
                 this machine, its network and your files"
            ),
        }
        if config.limits.processes.is_some() && !process::process_limit_enforceable() {
            eprintln!(
                "warning: running as root without a writable cgroup-v1 pids hierarchy: the \
                 sandbox's process limit is not enforced (root ignores RLIMIT_NPROC), so a fork \
                 bomb is stopped only by the command's timeout"
            );
        }
        Ok(Sandbox { inner: Arc::new(Inner { config, base_env }) })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Copies `repo` into a fresh scratch directory (without the excluded top-level entries).
    pub fn scratch(&self, repo: &Path) -> Result<Scratch, SandboxError> {
        Scratch::create(self.clone(), Some(repo))
    }

    /// A scratch with an empty folder where the copy would be: a place to run commands that
    /// work on paths they are given (in [`SandboxConfig::writable`] folders) rather than on a
    /// copy.
    pub fn empty_scratch(&self) -> Result<Scratch, SandboxError> {
        Scratch::create(self.clone(), None)
    }
}

/// The variables a command may see, whatever the caller's environment holds: enough to find
/// the toolchains (cargo, rustup, pyenv) and nothing else, then `extra`. `HOME`, `TMPDIR` and
/// `CARGO_TARGET_DIR` are set per scratch.
pub fn default_env(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let host = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    env.insert(
        "PATH".into(),
        host("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    env.insert("LANG".into(), "C.UTF-8".into());
    env.insert("LC_ALL".into(), "C.UTF-8".into());
    env.insert("TERM".into(), "dumb".into());
    env.insert("NO_COLOR".into(), "1".into());
    env.insert("CARGO_TERM_COLOR".into(), "never".into());
    env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    env.insert("PYTHONUNBUFFERED".into(), "1".into());
    let home = host("HOME").map(PathBuf::from);
    // Toolchain homes: the caller's setting, else the conventional directory under HOME when
    // it exists. HOME itself is replaced, so these must be explicit.
    for (name, default) in
        [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup"), ("PYENV_ROOT", ".pyenv")]
    {
        let value = host(name).or_else(|| {
            let dir = home.as_ref()?.join(default);
            dir.is_dir().then(|| dir.display().to_string())
        });
        if let Some(value) = value {
            env.insert(name.into(), value);
        }
    }
    for name in ["RUSTUP_TOOLCHAIN", "PYENV_VERSION", "VIRTUAL_ENV", "USER", "LOGNAME"] {
        if let Some(value) = host(name) {
            env.insert(name.into(), value);
        }
    }
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Default per-command timeout when a [`CommandSpec`] does not set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
