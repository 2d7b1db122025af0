//! Patches against real `git diff` output (tests/data/patches/git-edits, see its README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sera_core::Patch;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/patches/git-edits")
}

/// Every file under `root`, by `/`-separated relative path.
fn read_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, text) in read_tree(from) {
        let path = to.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn git_diff_output_renders_back_byte_for_byte() {
    let text = std::fs::read_to_string(fixture().join("git.diff")).unwrap();
    let patch = Patch::parse(&text).unwrap();
    assert_eq!(patch.files.len(), 7);
    assert_eq!(patch.render(), text);
}

#[test]
fn git_diff_applies_in_memory_and_its_reverse_restores_the_tree() {
    let text = std::fs::read_to_string(fixture().join("git.diff")).unwrap();
    let patch = Patch::parse(&text).unwrap();
    let before = read_tree(&fixture().join("before"));
    let after = read_tree(&fixture().join("after"));
    let mut files = before.clone();
    patch.apply_to_map(&mut files).unwrap();
    assert_eq!(files, after);
    patch.reverse().apply_to_map(&mut files).unwrap();
    assert_eq!(files, before);
}

#[test]
fn git_diff_applies_to_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture().join("before"), dir.path());
    let patch =
        Patch::parse(&std::fs::read_to_string(fixture().join("git.diff")).unwrap()).unwrap();
    patch.apply_to_dir(dir.path()).unwrap();
    assert_eq!(read_tree(dir.path()), read_tree(&fixture().join("after")));
}

#[test]
fn a_failing_hunk_leaves_the_directory_untouched() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture().join("before"), dir.path());
    std::fs::write(dir.path().join("src/q.sql"), "something else\n").unwrap();
    let before = read_tree(dir.path());
    let patch =
        Patch::parse(&std::fs::read_to_string(fixture().join("git.diff")).unwrap()).unwrap();
    let err = patch.apply_to_dir(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with("src/q.sql: hunk 1"), "{err}");
    assert_eq!(read_tree(dir.path()), before);
}

#[test]
fn patches_made_from_the_fixture_edits_reproduce_them() {
    let before = read_tree(&fixture().join("before"));
    let after = read_tree(&fixture().join("after"));
    for (path, old) in &before {
        let Some(new) = after.get(path) else { continue };
        let patch = Patch::between(path, old, new);
        let reparsed = Patch::parse(&patch.render()).unwrap();
        assert_eq!(reparsed, patch, "{path}");
        let mut files = BTreeMap::from([(path.clone(), old.clone())]);
        reparsed.apply_to_map(&mut files).unwrap();
        assert_eq!(&files[path], new, "{path}");
    }
}

#[test]
fn patch_serializes_as_its_diff_text() {
    let patch = Patch::between("a.py", "x = 1\n", "x = 2\n");
    let json = serde_json::to_string(&patch).unwrap();
    assert_eq!(
        json,
        r#""diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n""#
    );
    assert_eq!(serde_json::from_str::<Patch>(&json).unwrap(), patch);
}
