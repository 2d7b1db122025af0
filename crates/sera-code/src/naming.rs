//! Names and test markers that follow from a file's path alone, kept apart from the syntax so
//! that the rules can be read, and tested, as plain string functions.

use std::collections::HashSet;

/// The Rust module path of a file, from its path relative to the repository root.
///
/// The path below the last `src/` directory is the module path, as cargo lays crates out:
/// `src/account.rs` is `account`, `src/a/b.rs` is `a::b`, and `lib.rs`, `main.rs` and `mod.rs`
/// stand for their parent module (so `src/lib.rs` is the crate root, an empty path). Binary
/// targets under `src/bin/` are crates of their own, so `src/bin/tool.rs` is `tool`. Files outside
/// `src/` (integration tests, benches, examples) are crates of their own too: their path below
/// `tests/`, `benches/` or `examples/` names them; anything else (`build.rs`) uses its whole path.
///
/// The path is relative to the crate, not the workspace: two crates of one workspace may both
/// have an `account::Ledger::new`. The entity's file tells them apart.
pub fn rust_module_path(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let (dirs, file) = parts.split_at(parts.len().saturating_sub(1));
    let start = match dirs.iter().rposition(|d| *d == "src") {
        Some(src) => {
            if dirs.get(src + 1) == Some(&"bin") {
                src + 2
            } else {
                src + 1
            }
        }
        None => dirs
            .iter()
            .rposition(|d| matches!(*d, "tests" | "benches" | "examples"))
            .map_or(0, |at| at + 1),
    };
    let mut module: Vec<String> =
        dirs[start.min(dirs.len())..].iter().map(|d| d.to_string()).collect();
    let stem = file.first().map_or("", |f| f.strip_suffix(".rs").unwrap_or(f));
    if !matches!(stem, "lib" | "main" | "mod") && !stem.is_empty() {
        module.push(stem.to_string());
    }
    module
}

/// The Python module path of a file: its stem, preceded by the chain of enclosing directories
/// that are packages (hold an `__init__.py`), as `import` resolves it.
///
/// `inventory/core.py` is `inventory.core` when `inventory/__init__.py` exists, and
/// `inventory/__init__.py` is `inventory`. A `src/` layout needs no special case: `src` holds no
/// `__init__.py`, so `src/pkg/mod.py` is `pkg.mod`. A test folder without `__init__.py` gives
/// `tests/test_core.py` the module `test_core`, which is how pytest imports it.
pub fn python_module_path(path: &str, packages: &HashSet<String>) -> Vec<String> {
    let (mut dir, file) = match path.rsplit_once('/') {
        Some((dir, file)) => (dir, file),
        None => ("", path),
    };
    let stem = file.strip_suffix(".pyi").or_else(|| file.strip_suffix(".py")).unwrap_or(file);
    let mut reversed = Vec::new();
    if stem != "__init__" {
        reversed.push(stem.to_string());
    }
    // Climb while the directory is a package; the repository root has no name to contribute.
    while !dir.is_empty() && packages.contains(dir) {
        let (parent, name) = match dir.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", dir),
        };
        reversed.push(name.to_string());
        dir = parent;
    }
    reversed.reverse();
    reversed
}

/// Whether every definition in a Rust file is test code because of where the file is: under a
/// `tests/` folder (integration tests), or a module file named `tests.rs` or `test.rs` (the
/// usual home of a `#[cfg(test)] mod tests;` whose marker sits in the parent file, out of sight
/// of a one-file parse).
pub fn is_rust_test_path(path: &str) -> bool {
    in_tests_folder(path) || matches!(file_name(path), "tests.rs" | "test.rs")
}

/// Whether every definition in a Python file is test code because of where the file is: under a
/// `tests/` folder, named `test_*.py` or `*_test.py` (pytest's default file patterns), or a
/// `conftest.py` (pytest fixtures and hooks).
pub fn is_python_test_path(path: &str) -> bool {
    let name = file_name(path);
    let stem = name.strip_suffix(".py").unwrap_or(name);
    in_tests_folder(path)
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem == "conftest"
}

/// Whether a Python function name is collected by pytest: `test` or `test_*`.
pub fn is_pytest_function(name: &str) -> bool {
    name == "test" || name.starts_with("test_")
}

/// Whether a Python class name is collected by pytest: `Test*`.
pub fn is_pytest_class(name: &str) -> bool {
    name.starts_with("Test")
}

fn in_tests_folder(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(dirs, _)| dirs.split('/').any(|d| d == "tests"))
}

fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_rust(path: &str, expected: &str) {
        assert_eq!(rust_module_path(path).join("::"), expected, "module path of {path}");
    }

    #[test]
    fn rust_module_paths_follow_the_cargo_layout() {
        check_rust("src/lib.rs", "");
        check_rust("src/main.rs", "");
        check_rust("src/account.rs", "account");
        check_rust("src/net/mod.rs", "net");
        check_rust("src/net/tcp.rs", "net::tcp");
        check_rust("crates/foo/src/lib.rs", "");
        check_rust("crates/foo/src/a/b.rs", "a::b");
        check_rust("src/bin/tool.rs", "tool");
        check_rust("src/bin/tool/main.rs", "tool");
        check_rust("tests/integration.rs", "integration");
        check_rust("tests/common/mod.rs", "common");
        check_rust("crates/foo/benches/speed.rs", "speed");
        check_rust("examples/demo.rs", "demo");
        check_rust("build.rs", "build");
        check_rust("scripts/gen.rs", "scripts::gen");
        check_rust("src/src.rs", "src");
    }

    fn check_python(path: &str, packages: &[&str], expected: &str) {
        let packages = packages.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            python_module_path(path, &packages).join("."),
            expected,
            "module path of {path}"
        );
    }

    #[test]
    fn python_module_paths_follow_packages() {
        check_python("inventory/core.py", &["inventory"], "inventory.core");
        check_python("inventory/__init__.py", &["inventory"], "inventory");
        check_python("inventory/sub/x.py", &["inventory", "inventory/sub"], "inventory.sub.x");
        check_python("inventory/sub/x.py", &["inventory/sub"], "sub.x");
        check_python("src/pkg/mod.py", &["src/pkg"], "pkg.mod");
        check_python("tests/test_core.py", &["inventory"], "test_core");
        check_python("tests/test_core.py", &["tests"], "tests.test_core");
        check_python("setup.py", &[], "setup");
        check_python("stubs/x.pyi", &["stubs"], "stubs.x");
        check_python("__init__.py", &[""], "");
    }

    #[test]
    fn test_paths_are_recognised() {
        let cases = [
            ("tests/integration.rs", true, true),
            ("crates/a/tests/common/mod.rs", true, true),
            ("src/account/tests.rs", true, false),
            ("src/testsuite.rs", false, false),
            ("src/account.rs", false, false),
            ("tests/test_core.py", true, true),
            ("pkg/test_core.py", false, true),
            ("pkg/core_test.py", false, true),
            ("pkg/conftest.py", false, true),
            ("pkg/testing.py", false, false),
            ("pkg/contest.py", false, false),
            ("tests.py", false, false),
        ];
        for (path, rust, python) in cases {
            assert_eq!(is_rust_test_path(path), rust, "rust {path}");
            assert_eq!(is_python_test_path(path), python, "python {path}");
        }
    }

    #[test]
    fn pytest_names_are_recognised() {
        for (name, function, class) in [
            ("test", true, false),
            ("test_add", true, false),
            ("testify", false, false),
            ("Test", false, true),
            ("TestHistory", false, true),
            ("contest", false, false),
        ] {
            assert_eq!(is_pytest_function(name), function, "function {name}");
            assert_eq!(is_pytest_class(name), class, "class {name}");
        }
    }
}
