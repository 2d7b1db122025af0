use std::path::{Path, PathBuf};

/// A fresh copy of the fixture repository `tests/data/<name>`, in a temporary directory that
/// lives as long as the returned guard.
pub fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name);
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join(name);
    copy_dir(&source, &root);
    (dir, root)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read fixture directory") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
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
