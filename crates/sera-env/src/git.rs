//! Bug commits: a task instance's bug committed into the repository's own history, on a branch
//! named after the instance, as SWE-smith gives each of its instances a branch in the
//! repository's mirror. SWE-bench's harness checks out `base_commit` and SWE-agent's SWE-smith
//! loader checks out the branch, so a task in either format needs the buggy code as a commit.
//!
//! Nothing in the working tree or the real index changes: the clean commit's tree is read into
//! a temporary index, the bug patch is applied to that index (`git apply --cached`), and the
//! result is written as a tree and a commit with `git commit-tree`. The commit's author,
//! committer and dates are fixed (sera-rs, the clean commit's committer date), so the same
//! instance gives the same commit hash on every machine and every rerun. git runs in the
//! sandbox, allowed to write only the repository's git folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sera_core::Patch;
use sera_sandbox::{CommandSpec, Isolation, Sandbox, SandboxConfig, Scratch};

use crate::EnvError;

/// The name and e-mail of every bug commit's author and committer.
const AUTHOR: (&str, &str) = ("sera-rs", "sera-rs@users.noreply.github.com");

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

/// Options git gets on every call: no hooks, no file-system monitor, no signing, whatever the
/// repository's configuration says, since the configuration could run programs.
const SAFE_CONFIG: [&str; 8] = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "core.autocrlf=false",
];

/// One commit made by [`BugCommits::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BugCommit {
    /// The full hash of the commit with the bug.
    pub sha: String,
    /// The full hash of the clean commit it has as parent.
    pub parent: String,
    /// The clean commit's committer date in UTC, `2024-05-01T12:00:00Z`.
    pub created_at: String,
    /// The branch that points at it (`refs/heads/` + the name given).
    pub branch: String,
}

/// Makes bug commits in one repository.
pub struct BugCommits {
    scratch: Scratch,
    git_dir: PathBuf,
}

impl BugCommits {
    /// Opens the git repository `repo` (a work tree, a linked worktree or a bare repository).
    pub fn open(repo: &Path, isolation: Isolation) -> Result<BugCommits, EnvError> {
        let repo = repo.canonicalize().map_err(EnvError::io(repo))?;
        // Readable explicitly: bubblewrap hides the host's /tmp, where a repository may live.
        let reader = Sandbox::new(SandboxConfig {
            isolation,
            readable: vec![repo.clone()],
            ..SandboxConfig::default()
        })
        .map_err(EnvError::Sandbox)?;
        let probe = reader.empty_scratch().map_err(EnvError::Sandbox)?;
        let work_tree = ["-C".to_string(), repo.to_string_lossy().into_owned()];
        let out = git(
            &probe,
            &work_tree,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
            &[],
        )
        .map_err(|failure| {
            failure.context(format!("{} is not a git repository", repo.display()))
        })?;
        let git_dir = PathBuf::from(out.trim());
        let writer = Sandbox::new(SandboxConfig {
            isolation,
            writable: vec![git_dir.clone()],
            ..SandboxConfig::default()
        })
        .map_err(EnvError::Sandbox)?;
        let scratch = writer.empty_scratch().map_err(EnvError::Sandbox)?;
        Ok(BugCommits { scratch, git_dir })
    }

    /// The repository's git folder (the common one, for a linked worktree).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The full hash of `commit` (a hash, a prefix or a ref).
    pub fn resolve(&self, commit: &str) -> Result<String, EnvError> {
        let spec = format!("{commit}^{{commit}}");
        Ok(self.git(&["rev-parse", "--verify", "--quiet", &spec], &[])?.trim().to_string())
    }

    /// Commits `bug` on top of `parent` and points `refs/heads/<branch>` at it. A branch that
    /// already points at the same commit is left as it is (a rerun changes nothing); one that
    /// points elsewhere is an error unless `force`, which moves it.
    pub fn commit(
        &self,
        parent: &str,
        bug: &Patch,
        message: &str,
        branch: &str,
        force: bool,
    ) -> Result<BugCommit, EnvError> {
        let reference = format!("refs/heads/{branch}");
        let place = self.place();
        git(&self.scratch, &place, &["check-ref-format", &reference], &[])
            .map_err(|failure| failure.context(format!("`{branch}` cannot name a git branch")))?;
        let parent = self.resolve(parent)?;
        // The committer date as seconds (the bug commit's dates) and in UTC (`created_at`).
        let dates = self.git(
            &["show", "-s", "--format=%ct %cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", &parent],
            &[("TZ", "UTC")],
        )?;
        let (date, created_at) = dates.trim().split_once(' ').ok_or_else(|| EnvError::Git {
            command: format!("git show -s {parent}"),
            message: format!("unexpected output {dates:?}"),
        })?;
        let (date, created_at) = (date.to_string(), created_at.to_string());
        let root = self.scratch.path();
        let index = root.join("bug-index");
        let patch_file = root.join("bug.diff");
        std::fs::write(&patch_file, bug.render()).map_err(EnvError::io(&patch_file))?;
        let index_var = index.to_string_lossy().into_owned();
        let with_index = [("GIT_INDEX_FILE", index_var.as_str())];
        self.git(&["read-tree", &parent], &with_index)?;
        let patch_arg = patch_file.to_string_lossy().into_owned();
        self.git(&["apply", "--cached", "--whitespace=nowarn", &patch_arg], &with_index)?;
        let tree = self.git(&["write-tree"], &with_index)?.trim().to_string();
        std::fs::remove_file(&index).map_err(EnvError::io(&index))?;
        let when = format!("@{date} +0000");
        let identity = [
            ("GIT_AUTHOR_NAME", AUTHOR.0),
            ("GIT_AUTHOR_EMAIL", AUTHOR.1),
            ("GIT_AUTHOR_DATE", when.as_str()),
            ("GIT_COMMITTER_NAME", AUTHOR.0),
            ("GIT_COMMITTER_EMAIL", AUTHOR.1),
            ("GIT_COMMITTER_DATE", when.as_str()),
        ];
        let sha = self
            .git(&["commit-tree", &tree, "-p", &parent, "-m", message], &identity)?
            .trim()
            .to_string();
        let existing = self.git(&["rev-parse", "--verify", "--quiet", &reference], &[]).ok();
        match existing.as_deref().map(str::trim) {
            Some(old) if old == sha => {}
            Some(old) if !force => {
                return Err(EnvError::Git {
                    command: format!("git update-ref {reference} {sha}"),
                    message: format!(
                        "branch `{branch}` already points at {old}, not at this instance's bug \
                         commit {sha}; delete it (`git branch -D {branch}`) or pass --force to \
                         move it"
                    ),
                });
            }
            _ => {
                self.git(&["update-ref", "-m", "sera-rs: bug commit", &reference, &sha], &[])?;
            }
        }
        Ok(BugCommit { sha, parent, created_at, branch: reference })
    }

    fn git(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String, EnvError> {
        git(&self.scratch, &self.place(), args, env).map_err(GitFailure::into_error)
    }

    fn place(&self) -> [String; 1] {
        [format!("--git-dir={}", self.git_dir.display())]
    }
}

/// A git command that did not succeed.
#[derive(Debug)]
struct GitFailure {
    command: String,
    message: String,
}

impl GitFailure {
    fn context(self, what: String) -> EnvError {
        EnvError::Git { command: self.command, message: format!("{what}: {}", self.message) }
    }

    fn into_error(self) -> EnvError {
        EnvError::Git { command: self.command, message: self.message }
    }
}

/// Runs `git WHERE ARGS` in `scratch` (`WHERE`: `-C <work tree>` or `--git-dir=<folder>`); its
/// stdout on success.
fn git(
    scratch: &Scratch,
    place: &[String],
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, GitFailure> {
    let mut spec = CommandSpec::new("git")
        .timeout(GIT_TIMEOUT)
        .args(place.iter().cloned())
        .args(SAFE_CONFIG)
        .args(args.iter().copied());
    for (name, value) in env {
        spec = spec.env(*name, *value);
    }
    let command = format!("git {}", args.join(" "));
    let out = scratch
        .run(&spec)
        .map_err(|err| GitFailure { command: command.clone(), message: err.to_string() })?;
    if out.success() {
        return Ok(out.stdout);
    }
    let text = out.combined();
    let message = if text.trim().is_empty() {
        out.status_line()
    } else {
        format!("{}: {}", out.status_line(), text.trim())
    };
    Err(GitFailure { command, message })
}
