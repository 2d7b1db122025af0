//! The interface to the `ignore` crate is localized here: listing a repository's files the way
//! git would show them.

use std::path::{Path, PathBuf};

use crate::report::{SkipReason, SkippedFile};

/// One file found by the walk.
#[derive(Debug, Clone)]
pub(crate) struct WalkedFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Relative to the repository root, `/`-separated.
    pub relative: String,
    /// Size when walked, to skip huge files without reading them.
    pub size: u64,
}

/// Every regular file under `root`, sorted by relative path, and the entries the walk could not
/// read.
///
/// The walk honours `.gitignore` (also outside a git checkout, so that a copied or exported tree
/// is indexed like the checkout it came from), `.ignore`, `.git/info/exclude` and the global git
/// excludes, and skips hidden files and folders, as ripgrep does. Symbolic links are not
/// followed, so a link cannot make the walk loop or leave the repository.
pub(crate) fn walk(root: &Path) -> (Vec<WalkedFile>, Vec<SkippedFile>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let walker = ignore::WalkBuilder::new(root).require_git(false).follow_links(false).build();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let file = error_path(&err)
                    .map_or_else(String::new, |p| relative(root, p).unwrap_or_default());
                skipped.push(SkippedFile {
                    file,
                    reason: SkipReason::Unwalkable { error: err.to_string() },
                });
                continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(relative) = relative(root, entry.path()) else {
            // A record names its file with a string; a lossy name could point at another file.
            let file = entry.path().to_string_lossy().into_owned();
            skipped.push(SkippedFile { file, reason: SkipReason::PathNotUtf8 });
            continue;
        };
        let size = entry.metadata().map_or(0, |m| m.len());
        files.push(WalkedFile { path: entry.into_path(), relative, size });
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    (files, skipped)
}

/// `path` relative to `root` with `/` separators, or `None` if it is not valid UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for component in relative.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(component.as_os_str().to_str()?);
    }
    Some(out)
}

fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}
