//! Example sera-rs verifier plugin: reject candidate patches that edit test files.
//!
//! An agent that "fixes" a bug by changing the tests has not fixed it, so a trajectory whose
//! patch touches a test file is not training data. The check is path-based, on the file
//! headers of the unified diff (`--- a/...`, `+++ b/...`): a path with a `tests` directory
//! component, a Python `test_*.py` or `*_test.py`, a Rust `*_test.rs` or `tests.rs`. Edits to
//! `#[cfg(test)]` modules inside source files are not detected; that needs the host's syntax
//! trees, which a plugin does not have. It depends on `sera-plugin-api` alone and is loaded by
//! `sera-plugin-host`.

use sera_plugin_api::{PluginError, VerdictOut, Verifier};

/// The verifier's name, as it appears in verdicts.
pub const NAME: &str = "no-test-edits";

/// The verifier.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTestEdits;

impl Verifier for NoTestEdits {
    fn name(&self) -> String {
        NAME.to_string()
    }

    fn verify(
        &self,
        _instance_json: &str,
        patch: &str,
        _tests_json: &str,
    ) -> Result<VerdictOut, PluginError> {
        let touched = touched_paths(patch);
        let tests: Vec<&str> = touched.iter().copied().filter(|p| is_test_path(p)).collect();
        Ok(if tests.is_empty() {
            VerdictOut {
                accepted: true,
                score: None.into(),
                reason: format!("the patch edits no test file ({} files)", touched.len()).into(),
            }
        } else {
            VerdictOut {
                accepted: false,
                score: None.into(),
                reason: format!("the patch edits test files: {}", tests.join(", ")).into(),
            }
        })
    }
}

sera_plugin_api::export_plugin! {
    name: "no-test-edits",
    bug_classes: Vec::new,
    verifiers: || vec![sera_plugin_api::verifier_plugin(NoTestEdits)],
}

/// The paths named in a unified diff's `---`/`+++` headers, without `a/`/`b/` prefixes,
/// `/dev/null` and duplicates.
pub fn touched_paths(patch: &str) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for line in patch.lines() {
        let Some(rest) = line.strip_prefix("--- ").or_else(|| line.strip_prefix("+++ ")) else {
            continue;
        };
        // Timestamps follow a tab in some diff producers.
        let path = rest.split('\t').next().unwrap_or(rest).trim();
        if path == "/dev/null" {
            continue;
        }
        let path = path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path);
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// Whether `path` (relative, `/`-separated) is a test file by naming convention.
pub fn is_test_path(path: &str) -> bool {
    let mut parts = path.split('/');
    let file = parts.next_back().unwrap_or(path);
    let in_tests_dir = path.split('/').rev().skip(1).any(|dir| dir == "tests" || dir == "test");
    in_tests_dir
        || (file.starts_with("test_") && file.ends_with(".py"))
        || file.ends_with("_test.py")
        || file.ends_with("_test.rs")
        || file == "tests.rs"
        || file == "conftest.py"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(patch: &str, accepted: bool) {
        let verdict = NoTestEdits.verify("{}", patch, "null").expect("the verifier never errs");
        assert_eq!(verdict.accepted, accepted, "{patch:?}: {}", verdict.reason);
    }

    fn diff(path: &str) -> String {
        format!("--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n")
    }

    #[test]
    fn test_paths_are_rejected_and_source_paths_accepted() {
        check(&diff("src/lib.rs"), true);
        check(&diff("pkg/core.py"), true);
        check(&diff("tests/integration.rs"), false);
        check(&diff("crates/x/tests/it.rs"), false);
        check(&diff("pkg/test_core.py"), false);
        check(&diff("pkg/core_test.py"), false);
        check(&diff("src/tests.rs"), false);
        check(&format!("{}{}", diff("src/lib.rs"), diff("tests/a.rs")), false);
        check("", true);
    }

    #[test]
    fn new_and_deleted_files_count_by_their_real_path() {
        check("--- /dev/null\n+++ b/tests/new.rs\n@@ -0,0 +1 @@\n+x\n", false);
        check("--- a/src/old.rs\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n", true);
    }
}
