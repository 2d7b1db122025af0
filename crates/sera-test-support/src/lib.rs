//! Test support for sera-rs: temporary copies of the fixture repositories under `tests/data/`.
//!
//! Must not know: anything a release build needs: it is test code, used only as a dev-dependency.
//!
//! A dev-dependency of the workspace's tests and of xtask, never a dependency of a shipped crate.
//! Fixtures are copied before use so that tests may build, mutate and patch them freely, and a
//! Rust fixture's manifest is renamed from `Cargo_test.toml` (the name that keeps cargo from
//! taking it for a member of this workspace) to `Cargo.toml`. Failures panic with the path at
//! fault: this is test code.

use std::path::{Path, PathBuf};

/// The workspace's `tests/data` folder.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A temporary copy of the fixture `tests/data/<name>`, ready to build and test.
pub fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fixture_into(name, dir.path());
    dir
}

/// Copies the fixture `tests/data/<name>` to `to` (created if missing), ready to build and test:
/// every `Cargo_test.toml` in it (a workspace member's or a path dependency's too) becomes
/// `Cargo.toml`.
pub fn fixture_into(name: &str, to: &Path) {
    copy_dir(&data_dir().join(name), to);
    rename_manifests(to);
}

fn rename_manifests(dir: &Path) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|err| panic!("{}: {err}", dir.display())).path();
        if path.is_dir() {
            rename_manifests(&path);
        } else if path.file_name().is_some_and(|name| name == "Cargo_test.toml") {
            std::fs::rename(&path, dir.join("Cargo.toml"))
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        }
    }
}

/// Copies the tree at `from` to `to`, creating folders as needed.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|err| panic!("{}: {err}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|err| panic!("{}: {err}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|err| panic!("{}: {err}", from.display()));
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap_or_else(|err| {
                panic!("{} -> {}: {err}", source.display(), target.display())
            });
        }
    }
}

/// Runs `git ARGS` in `dir` with a fixed identity and fixed dates (so commits are the same on
/// every machine) and no user or system configuration; its stdout, trimmed. Panics with git's
/// output when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    #[allow(clippy::disallowed_methods)] // Test setup: makes fixture repositories.
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_AUTHOR_DATE", "@1714564800 +0000")
        .env("GIT_COMMITTER_NAME", "fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_DATE", "@1714564800 +0000")
        .output()
        .unwrap_or_else(|err| panic!("git {}: {err}", args.join(" ")));
    assert!(
        output.status.success(),
        "git {} in {} failed: {}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Makes `dir` a git repository with everything in it committed once on `main`; the commit's
/// hash.
pub fn git_init_commit(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "fixture"]);
    git(dir, &["rev-parse", "HEAD"])
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_fixture_gets_a_cargo_manifest() {
        let dir = super::fixture("rust-demo");
        assert!(dir.path().join("Cargo.toml").exists());
        assert!(!dir.path().join("Cargo_test.toml").exists());
        assert!(dir.path().join("src/account.rs").exists());
    }
}
