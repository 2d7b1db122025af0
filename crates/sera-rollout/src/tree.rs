//! What the agent changed: a fingerprint of the scratch tree when the rollout starts, and the
//! diff of the tree against it at submit time, with `git add -A && git diff --cached` semantics
//! computed in Rust (no git needed in the scratch copy).
//!
//! Like `git add -A`, new and deleted files count and `.gitignore` files are honoured; build
//! outputs (`target/`, `__pycache__/`, tool caches, `*.pyc`) and `.git` are always left out,
//! because a scratch copy may lack the `.gitignore` that names them. Files that are not UTF-8
//! text are left out of the diff (git would say only "Binary files differ").
//!
//! The walk uses the `ignore` crate, from this module only.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sera_core::{FilePatch, Patch};

/// Directory names never part of a diff.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    "target",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".venv",
    "node_modules",
];

/// The state of the tree when the rollout started.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Relative path to a fingerprint of the bytes.
    fingerprints: BTreeMap<String, u64>,
    /// The starting content of every text file, kept so that the diff can be made after edits.
    contents: BTreeMap<String, String>,
}

impl Baseline {
    /// Fingerprints every file of the tree at `root`.
    pub fn capture(root: &Path) -> std::io::Result<Baseline> {
        let mut fingerprints = BTreeMap::new();
        let mut contents = BTreeMap::new();
        for (relative, path) in files(root)? {
            let bytes = std::fs::read(&path)?;
            fingerprints.insert(relative.clone(), fingerprint(&bytes));
            if let Ok(text) = String::from_utf8(bytes) {
                contents.insert(relative, text);
            }
        }
        Ok(Baseline { fingerprints, contents })
    }

    /// The change from the baseline to the tree at `root` now, files in path order.
    pub fn diff(&self, root: &Path) -> std::io::Result<Patch> {
        let mut patch = Patch::default();
        let now = files(root)?;
        let present: BTreeMap<&str, &PathBuf> =
            now.iter().map(|(rel, path)| (rel.as_str(), path)).collect();
        let mut paths: Vec<&str> =
            present.keys().copied().chain(self.fingerprints.keys().map(String::as_str)).collect();
        paths.sort_unstable();
        paths.dedup();
        for relative in paths {
            match (self.fingerprints.get(relative), present.get(relative)) {
                (Some(_), None) => {
                    if let Some(old) = self.contents.get(relative) {
                        patch.files.push(FilePatch::deleted(relative, old));
                    }
                }
                (None, Some(path)) => {
                    if let Ok(new) = String::from_utf8(std::fs::read(path)?) {
                        patch.files.push(FilePatch::created(relative, &new));
                    }
                }
                (Some(before), Some(path)) => {
                    let bytes = std::fs::read(path)?;
                    if fingerprint(&bytes) == *before {
                        continue;
                    }
                    if let (Some(old), Ok(new)) =
                        (self.contents.get(relative), String::from_utf8(bytes))
                    {
                        let file = FilePatch::between(relative, old, &new);
                        if !file.hunks.is_empty() {
                            patch.files.push(file);
                        }
                    }
                }
                (None, None) => {}
            }
        }
        Ok(patch)
    }
}

/// Every file under `root` that a diff considers, as (relative path with `/`, full path).
fn files(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .require_git(false)
        .git_global(false)
        .ignore(false)
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
            let build_output = is_dir && SKIPPED_DIRS.contains(&name.as_ref());
            !build_output && !name.ends_with(".pyc")
        })
        .build();
    let mut out = Vec::new();
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else { continue };
        let relative: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.push((relative.join("/"), entry.path().to_path_buf()));
    }
    out.sort();
    Ok(out)
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_changed_and_deleted_files_are_in_the_diff_but_build_outputs_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::write(root.join("src/a.py"), "x = 1\ny = 2\n").expect("write");
        std::fs::write(root.join("gone.txt"), "bye\n").expect("write");
        let baseline = Baseline::capture(root).expect("capture");
        std::fs::write(root.join("src/a.py"), "x = 1\ny = 3\n").expect("write");
        std::fs::write(root.join("new.py"), "print(1)\n").expect("write");
        std::fs::remove_file(root.join("gone.txt")).expect("rm");
        std::fs::create_dir_all(root.join("target/debug")).expect("mkdir");
        std::fs::write(root.join("target/debug/out"), "bin").expect("write");
        std::fs::create_dir_all(root.join("src/__pycache__")).expect("mkdir");
        std::fs::write(root.join("src/__pycache__/a.cpython-312.pyc"), "bin").expect("write");
        let patch = baseline.diff(root).expect("diff");
        assert_eq!(patch.paths(), vec!["gone.txt", "new.py", "src/a.py"]);
        assert!(patch.render().contains("-y = 2\n+y = 3\n"), "{}", patch.render());
    }
}
