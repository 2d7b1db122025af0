//! Copying a repository tree into a scratch directory.

use std::path::Path;

use crate::SandboxError;

/// Copies the tree at `from` into `to` (created), keeping file modes and symbolic links and
/// leaving out the top-level entries named in `exclude`.
pub(crate) fn copy_tree(from: &Path, to: &Path, exclude: &[String]) -> Result<(), SandboxError> {
    std::fs::create_dir_all(to).map_err(SandboxError::io(to))?;
    let entries = std::fs::read_dir(from).map_err(SandboxError::io(from))?;
    for entry in entries {
        let entry = entry.map_err(SandboxError::io(from))?;
        let name = entry.file_name();
        if exclude.iter().any(|excluded| name == excluded.as_str()) {
            continue;
        }
        copy_entry(&entry.path(), &to.join(&name))?;
    }
    Ok(())
}

fn copy_entry(from: &Path, to: &Path) -> Result<(), SandboxError> {
    let meta = std::fs::symlink_metadata(from).map_err(SandboxError::io(from))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(SandboxError::io(from))?;
        std::os::unix::fs::symlink(target, to).map_err(SandboxError::io(to))?;
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(SandboxError::io(to))?;
        for entry in std::fs::read_dir(from).map_err(SandboxError::io(from))? {
            let entry = entry.map_err(SandboxError::io(from))?;
            copy_entry(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        std::fs::copy(from, to).map_err(SandboxError::io(from))?;
    }
    // Sockets, fifos and devices are not part of a repository's content.
    Ok(())
}
