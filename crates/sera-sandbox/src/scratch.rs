//! A private, reusable copy of a repository, and the commands run in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use sera_core::{FilePatch, Patch};

use crate::copy::copy_tree;
use crate::process::{self, Launch};
use crate::{CommandSpec, Isolation, Output, Sandbox, SandboxError, bwrap};

/// A scratch directory holding a copy of one repository.
///
/// Layout of [`Scratch::root`]: `repo/` (the copy, [`Scratch::path`]), `home/` (the commands'
/// `HOME`), `tmp/` (`TMPDIR` without bubblewrap; bubblewrap gives each command a private
/// `/tmp`) and `target/` (`CARGO_TARGET_DIR`, kept across candidates so builds stay
/// incremental). Everything is deleted when the scratch is dropped.
///
/// With an [overlay](crate::SandboxConfig::overlay) the copy is the repository with the
/// overlay's files laid over it, and that is what resets restore and diffs compare against.
///
/// A scratch is meant to be reused: apply a candidate's patch, run its commands, then
/// [`reset_files`](Scratch::reset_files) with the paths the patch touched.
#[derive(Debug)]
pub struct Scratch {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    repo: PathBuf,
    source: PathBuf,
    overlay: Option<PathBuf>,
    env: BTreeMap<String, String>,
    /// Where commands see the copy and the scratch, when not at their real paths.
    mounted: Option<Mounted>,
}

/// The paths inside the box of a [mounted](Scratch::mount_at) scratch.
#[derive(Debug, Clone)]
struct Mounted {
    repo: PathBuf,
    root: PathBuf,
}

/// Top-level folders a scratch may not be mounted over: the box needs the host's.
const PROTECTED: [&str; 20] = [
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "nix", "opt", "proc",
    "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var",
];

impl Scratch {
    /// A scratch whose copy is `source`'s files, or an empty folder (which is then its own
    /// source) for commands that need a place to run and nothing to copy.
    pub(crate) fn create(sandbox: Sandbox, source: Option<&Path>) -> Result<Scratch, SandboxError> {
        let source = source.map(|s| s.canonicalize().map_err(SandboxError::io(s))).transpose()?;
        let config = sandbox.config();
        let mut builder = tempfile::Builder::new();
        builder.prefix("sera-scratch-");
        let dir = match &config.scratch_parent {
            Some(parent) => {
                std::fs::create_dir_all(parent).map_err(SandboxError::io(parent))?;
                builder.tempdir_in(parent)
            }
            None => builder.tempdir(),
        }
        .map_err(SandboxError::io(&std::env::temp_dir()))?;
        let root = dir.path().to_path_buf();
        let repo = root.join("repo");
        let source = match source {
            Some(source) => {
                copy_tree(&source, &repo, &config.exclude)?;
                source
            }
            None => {
                std::fs::create_dir_all(&repo).map_err(SandboxError::io(&repo))?;
                repo.clone()
            }
        };
        let overlay = match &config.overlay {
            Some(overlay) => {
                let overlay = overlay.canonicalize().map_err(SandboxError::io(overlay))?;
                lay_over(&overlay, &repo)?;
                Some(overlay)
            }
            None => None,
        };
        for sub in ["home", "tmp", "target"] {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).map_err(SandboxError::io(&path))?;
        }
        let env = scratch_env(&sandbox, &root, &repo);
        Ok(Scratch { sandbox, dir, repo, source, overlay, env, mounted: None })
    }

    /// Shows the repository copy at `repo` and the whole scratch at `root` inside the box, for
    /// every later command: they start in `repo`, and `HOME`, `CARGO_TARGET_DIR` and the
    /// [`repo_env`](crate::SandboxConfig::repo_env) variables name paths under these. An agent
    /// told its repository is at `/testbed` then really finds it there, files that mention
    /// `/testbed` included. Each must be an absolute path under a top-level folder the host's
    /// system does not need (a host folder of that name is hidden in the box). Bubblewrap only:
    /// without isolation there is no private mount namespace, and this refuses.
    pub fn mount_at(&mut self, repo: &Path, root: &Path) -> Result<(), SandboxError> {
        if self.sandbox.config().isolation != Isolation::Bwrap {
            return Err(SandboxError::BadMount(format!(
                "{}: only bubblewrap can show a scratch at another path",
                repo.display()
            )));
        }
        for path in [repo, root] {
            let normal = path.is_absolute()
                && path.components().skip(1).all(|c| matches!(c, Component::Normal(_)));
            let top = bwrap::top_level(path).and_then(|top| top.to_str());
            match top {
                Some(top) if normal && !PROTECTED.contains(&top) => {}
                _ => {
                    return Err(SandboxError::BadMount(format!(
                        "{}: not an absolute path under a new top-level folder such as /testbed",
                        path.display()
                    )));
                }
            }
        }
        self.env = scratch_env(&self.sandbox, root, repo);
        self.mounted = Some(Mounted { repo: repo.to_path_buf(), root: root.to_path_buf() });
        Ok(())
    }

    /// Where commands see the repository copy: its [mount](Scratch::mount_at) or its real path.
    pub fn visible_path(&self) -> &Path {
        self.mounted.as_ref().map_or(&self.repo, |mounted| &mounted.repo)
    }

    /// Where commands see the scratch directory: its [mount](Scratch::mount_at) or its real
    /// path.
    pub fn visible_root(&self) -> &Path {
        self.mounted.as_ref().map_or(self.dir.path(), |mounted| &mounted.root)
    }

    /// The repository copy, where commands run by default.
    pub fn path(&self) -> &Path {
        &self.repo
    }

    /// The scratch directory: the repository copy, `home/`, `tmp/` and `target/`.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The repository the copy was made from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The environment every command starts from (before [`CommandSpec::env`]).
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Applies `patch` to the copy; nothing changes when a hunk does not apply.
    pub fn apply(&self, patch: &Patch) -> Result<(), SandboxError> {
        for path in patch.paths() {
            checked(path)?;
        }
        patch.apply_to_dir(&self.repo)?;
        Ok(())
    }

    /// Puts the given repository-relative paths back as they are in the source repository (or
    /// the overlay, which wins): a file either has is copied back, one both lack (created by a
    /// candidate) is removed.
    pub fn reset_files<I, S>(&self, paths: I) -> Result<(), SandboxError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for path in paths {
            let relative = checked(path.as_ref())?;
            let original = self.original(relative);
            let copy = self.repo.join(relative);
            if std::fs::symlink_metadata(&copy).is_ok_and(|meta| meta.is_dir()) {
                std::fs::remove_dir_all(&copy).map_err(SandboxError::io(&copy))?;
            }
            if std::fs::symlink_metadata(&original).is_ok() {
                if let Some(parent) = copy.parent() {
                    std::fs::create_dir_all(parent).map_err(SandboxError::io(parent))?;
                }
                let _ = std::fs::remove_file(&copy);
                copy_tree_entry(&original, &copy)?;
            } else {
                match std::fs::remove_file(&copy) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(SandboxError::Io { path: copy, source: err }),
                }
            }
        }
        Ok(())
    }

    /// Undoes `patch` by resetting every path it touches.
    pub fn reset(&self, patch: &Patch) -> Result<(), SandboxError> {
        self.reset_files(patch.paths())
    }

    /// The copy's changes against the source repository as a patch (text files only; files
    /// that are not UTF-8 are left out), in path order. Excluded top-level entries are ignored.
    pub fn diff(&self) -> Result<Patch, SandboxError> {
        let mut patch = Patch::default();
        for path in self.all_paths()? {
            let old = read_text(&self.original(Path::new(&path)));
            let new = read_text(&self.repo.join(&path));
            let file = match (old, new) {
                (Some(Ok(old)), Some(Ok(new))) if old != new => {
                    FilePatch::between(&path, &old, &new)
                }
                (None, Some(Ok(new))) => FilePatch::created(&path, &new),
                (Some(Ok(old)), None) => FilePatch::deleted(&path, &old),
                _ => continue,
            };
            patch.files.push(file);
        }
        Ok(patch)
    }

    /// Every regular file of the copy that is new or differs in its bytes from the source (or
    /// the overlay), text or not, in path order: what a setup step left behind, say. Excluded
    /// top-level entries and `.git` are ignored.
    pub fn changed_paths(&self) -> Result<Vec<String>, SandboxError> {
        let mut changed = Vec::new();
        for path in self.all_paths()? {
            let copy = self.repo.join(&path);
            if !copy.is_file() {
                continue;
            }
            let original = self.original(Path::new(&path));
            let same = std::fs::read(&original).ok() == Some(read_bytes(&copy)?);
            if !same {
                changed.push(path);
            }
        }
        Ok(changed)
    }

    /// The file a repository-relative path had before any command ran: the overlay's when it
    /// has one, else the source's.
    fn original(&self, relative: &Path) -> PathBuf {
        if let Some(overlay) = &self.overlay {
            let laid = overlay.join(relative);
            if std::fs::symlink_metadata(&laid).is_ok() {
                return laid;
            }
        }
        self.source.join(relative)
    }

    /// The paths of the regular files of the source, the overlay and the copy.
    fn all_paths(&self) -> Result<BTreeSet<String>, SandboxError> {
        let exclude = &self.sandbox.config().exclude;
        let mut paths = BTreeSet::new();
        list_files(&self.source, &self.source, exclude, &mut paths)?;
        if let Some(overlay) = &self.overlay {
            list_files(overlay, overlay, exclude, &mut paths)?;
        }
        list_files(&self.repo, &self.repo, exclude, &mut paths)?;
        Ok(paths)
    }

    /// Puts the whole copy back as the source is (every file [`diff`](Scratch::diff) reports).
    pub fn reset_all(&self) -> Result<(), SandboxError> {
        let patch = self.diff()?;
        self.reset(&patch)
    }

    /// Runs one command in the copy under the sandbox's isolation and limits.
    pub fn run(&self, spec: &CommandSpec) -> Result<Output, SandboxError> {
        let config = self.sandbox.config();
        let cwd = match &spec.cwd {
            Some(cwd) => self.repo.join(cwd),
            None => self.repo.clone(),
        };
        let inside = match &spec.cwd {
            Some(cwd) => self.visible_path().join(cwd),
            None => self.visible_path().to_path_buf(),
        };
        let mut env = self.env.clone();
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let argv = match config.isolation {
            Isolation::Bwrap => {
                let mut writable = Vec::new();
                let mut mounts = Vec::new();
                match &self.mounted {
                    None => writable.push(self.root()),
                    Some(mounted) => {
                        mounts.push((self.repo.as_path(), mounted.repo.as_path()));
                        mounts.push((self.root(), mounted.root.as_path()));
                    }
                }
                writable.extend(config.writable.iter().map(PathBuf::as_path));
                let readable: Vec<&Path> = config.readable.iter().map(PathBuf::as_path).collect();
                let how = bwrap::Wrap {
                    writable: &writable,
                    readable: &readable,
                    network: config.network,
                    mounts: &mounts,
                    cwd: &inside,
                };
                bwrap::wrap(&how, &spec.program, &spec.args)
            }
            Isolation::None => {
                std::iter::once(spec.program.clone()).chain(spec.args.iter().cloned()).collect()
            }
        };
        process::run(&Launch {
            argv: &argv,
            cwd: &cwd,
            env: &env,
            stdin: spec.stdin.as_deref(),
            timeout: spec.timeout,
            limits: &config.limits,
            output_cap: config.output_cap,
            merge_output: spec.merge_output,
        })
    }
}

/// The environment every command of a scratch starts from, with the scratch at `root` and the
/// copy at `repo` as the commands see them.
fn scratch_env(sandbox: &Sandbox, root: &Path, repo: &Path) -> BTreeMap<String, String> {
    let config = sandbox.config();
    let mut env = sandbox.inner.base_env.clone();
    env.insert("HOME".into(), root.join("home").display().to_string());
    env.insert("CARGO_TARGET_DIR".into(), root.join("target").display().to_string());
    let tmp = match config.isolation {
        Isolation::Bwrap => "/tmp".to_string(),
        Isolation::None => root.join("tmp").display().to_string(),
    };
    env.insert("TMPDIR".into(), tmp);
    for (name, paths) in &config.repo_env {
        let joined: Vec<String> =
            paths.iter().map(|path| repo.join(path).display().to_string()).collect();
        env.insert(name.clone(), joined.join(":"));
    }
    env
}

/// `path` as a relative path that stays inside the repository.
fn checked(path: &str) -> Result<&Path, SandboxError> {
    let relative = Path::new(path);
    let ok = !path.is_empty() && relative.components().all(|c| matches!(c, Component::Normal(_)));
    if ok { Ok(relative) } else { Err(SandboxError::BadPath(path.to_string())) }
}

fn copy_tree_entry(from: &Path, to: &Path) -> Result<(), SandboxError> {
    let meta = std::fs::symlink_metadata(from).map_err(SandboxError::io(from))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(SandboxError::io(from))?;
        std::os::unix::fs::symlink(target, to).map_err(SandboxError::io(to))
    } else if meta.is_dir() {
        copy_tree(from, to, &[])
    } else {
        std::fs::copy(from, to).map(drop).map_err(SandboxError::io(from))
    }
}

/// Repository-relative paths of the regular files under `dir`.
fn list_files(
    root: &Path,
    dir: &Path,
    exclude: &[String],
    out: &mut BTreeSet<String>,
) -> Result<(), SandboxError> {
    for entry in std::fs::read_dir(dir).map_err(SandboxError::io(dir))? {
        let entry = entry.map_err(SandboxError::io(dir))?;
        let path = entry.path();
        if dir == root && exclude.iter().any(|e| entry.file_name() == e.as_str()) {
            continue;
        }
        if entry.file_name() == ".git" {
            continue;
        }
        let kind = entry.file_type().map_err(SandboxError::io(&path))?;
        if kind.is_dir() {
            list_files(root, &path, exclude, out)?;
        } else if kind.is_file() {
            if let Ok(relative) = path.strip_prefix(root) {
                out.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

/// Copies the tree at `overlay` over `repo`, replacing what is there.
fn lay_over(overlay: &Path, repo: &Path) -> Result<(), SandboxError> {
    for entry in std::fs::read_dir(overlay).map_err(SandboxError::io(overlay))? {
        let entry = entry.map_err(SandboxError::io(overlay))?;
        let (from, to) = (entry.path(), repo.join(entry.file_name()));
        let kind = entry.file_type().map_err(SandboxError::io(&from))?;
        if kind.is_dir() {
            if std::fs::symlink_metadata(&to).is_ok_and(|meta| !meta.is_dir()) {
                std::fs::remove_file(&to).map_err(SandboxError::io(&to))?;
            }
            std::fs::create_dir_all(&to).map_err(SandboxError::io(&to))?;
            lay_over(&from, &to)?;
        } else {
            if std::fs::symlink_metadata(&to).is_ok_and(|meta| meta.is_dir()) {
                std::fs::remove_dir_all(&to).map_err(SandboxError::io(&to))?;
            } else if std::fs::symlink_metadata(&to).is_ok() {
                std::fs::remove_file(&to).map_err(SandboxError::io(&to))?;
            }
            copy_tree_entry(&from, &to)?;
        }
    }
    Ok(())
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, SandboxError> {
    std::fs::read(path).map_err(SandboxError::io(path))
}

/// `None` when the file does not exist, `Some(Err)` when it is not UTF-8 text.
fn read_text(path: &Path) -> Option<Result<String, ()>> {
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8(bytes).map_err(drop))
}
