use std::path::{Path, PathBuf};

/// A fresh copy of the fixture repository `tests/data/<name>`, in a temporary directory that
/// lives as long as the returned guard.
pub fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join(name);
    sera_test_support::fixture_into(name, &root);
    (dir, root)
}

/// A temporary repository holding `files` (path, contents).
pub fn repo(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (path, contents) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(path, contents).expect("write file");
    }
    dir
}

pub fn index(root: &Path) -> sera_code::RepoIndex {
    sera_code::index(root, &sera_code::IndexConfig::default()).expect("index")
}

pub fn names(index: &sera_code::RepoIndex) -> Vec<&str> {
    index.entities.iter().map(|e| e.qualified_name.as_str()).collect()
}
