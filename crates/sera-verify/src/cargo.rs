//! `cargo test`: libtest's output, with tests keyed by test binary and name.
//!
//! cargo announces each test binary on stderr (`Running unittests src/lib.rs
//! (target/debug/deps/ledger-1a2b...)`, `Running tests/integration.rs (...)`, `Doc-tests
//! ledger`) and libtest prints `test path::name ... ok|FAILED|ignored` on stdout; the two are
//! read merged, in order. The same test name can exist in several binaries, so keys are
//! `binary::name` with the binary named without its hash: `ledger` (library unit tests),
//! `integration` (tests/integration.rs), `ledger:src/main.rs` (unit tests of another target),
//! `ledger-doc` (doc tests).

use std::path::Path;

use sera_core::TestStatus;

use crate::runner::{ParsedLog, TestRunner};

/// The cargo test runner.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cargo;

/// Lines kept from one failing test's output.
const EXCERPT_LINES: usize = 16;

impl TestRunner for Cargo {
    fn name(&self) -> &'static str {
        "cargo"
    }

    fn detects(&self, repo: &Path) -> bool {
        repo.join("Cargo.toml").is_file()
    }

    fn test_command(&self, _repo: &Path) -> Vec<String> {
        // --no-fail-fast: a failing binary must not hide the results of the others.
        ["cargo", "test", "--offline", "--no-fail-fast"].iter().map(|s| s.to_string()).collect()
    }

    fn build_command(&self, test_command: &[String]) -> Option<Vec<String>> {
        let at = test_command.iter().position(|word| word == "test")?;
        let mut build = test_command.to_vec();
        build.insert(at + 1, "--no-run".to_string());
        Some(build)
    }

    fn parse(&self, log: &str) -> ParsedLog {
        parse(log)
    }
}

/// Where a line of libtest output is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Outside any binary's run, or in its `test ... ok` lines.
    Results,
    /// After `failures:`, where captured test output is printed: test-like lines here are the
    /// tests' own output and must not be read as results.
    Failures,
}

fn parse(log: &str) -> ParsedLog {
    let mut parsed = ParsedLog::default();
    let mut binary = "unknown".to_string();
    let mut section = Section::Results;
    let mut excerpt: Option<(String, Vec<&str>)> = None;
    let finish = |excerpt: &mut Option<(String, Vec<&str>)>, parsed: &mut ParsedLog| {
        if let Some((key, lines)) = excerpt.take() {
            let text = relevant(&lines);
            if !text.is_empty() {
                parsed.failures.insert(key, text);
            }
        }
    };
    for line in log.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            finish(&mut excerpt, &mut parsed);
            binary = binary_key(rest);
            section = Section::Results;
            continue;
        }
        if let Some(krate) = trimmed.strip_prefix("Doc-tests ") {
            finish(&mut excerpt, &mut parsed);
            binary = format!("{}-doc", krate.trim());
            section = Section::Results;
            continue;
        }
        if trimmed.starts_with("test result: ") {
            finish(&mut excerpt, &mut parsed);
            section = Section::Results;
            continue;
        }
        if line == "failures:" {
            finish(&mut excerpt, &mut parsed);
            section = Section::Failures;
            continue;
        }
        match section {
            Section::Results => {
                if let Some((name, status)) = result_line(line) {
                    let key = format!("{binary}::{name}");
                    // A test reported twice keeps its worst status.
                    let entry = parsed.tests.entry(key).or_insert(status);
                    if !status.is_pass() {
                        *entry = status;
                    }
                }
            }
            Section::Failures => {
                if let Some(name) =
                    line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----"))
                {
                    finish(&mut excerpt, &mut parsed);
                    excerpt = Some((format!("{binary}::{name}"), Vec::new()));
                } else if let Some((_, lines)) = &mut excerpt {
                    lines.push(line);
                }
            }
        }
    }
    finish(&mut excerpt, &mut parsed);
    parsed
}

/// `test a::b ... ok` → (`a::b`, Passed). Doc tests read `test src/lib.rs - f (line 3) ... ok`.
fn result_line(line: &str) -> Option<(String, TestStatus)> {
    let rest = line.strip_prefix("test ")?;
    let (name, outcome) = rest.rsplit_once(" ... ")?;
    let status = match outcome.trim() {
        "ok" => TestStatus::Passed,
        "FAILED" => TestStatus::Failed,
        other if other.starts_with("ignored") => TestStatus::Skipped,
        _ => return None,
    };
    let name = name.strip_suffix(" - should panic").unwrap_or(name).trim();
    (!name.is_empty()).then(|| (name.to_string(), status))
}

/// `unittests src/lib.rs (target/debug/deps/ledger-0123456789abcdef)` → `ledger`;
/// `tests/integration.rs (.../integration-0123...)` → `integration`;
/// `unittests src/main.rs (.../ledger-0123...)` → `ledger:src/main.rs`.
fn binary_key(running: &str) -> String {
    let (source, path) = match running.rsplit_once(" (") {
        Some((source, path)) => (source.trim(), path.trim_end_matches(')')),
        // Old cargo: `Running target/debug/deps/ledger-0123...`.
        None => ("", running.trim()),
    };
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let file = file.strip_suffix(".exe").unwrap_or(file);
    let name = match file.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => file,
    };
    match source.strip_prefix("unittests ") {
        Some(src) if !src.ends_with("lib.rs") => format!("{name}:{src}"),
        _ => name.to_string(),
    }
}

/// The lines of a failing test's captured output worth quoting: the panic and what follows
/// it, without the backtrace hint.
fn relevant(lines: &[&str]) -> String {
    let start = lines.iter().position(|l| l.starts_with("thread '")).unwrap_or(0);
    let kept: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .filter(|l| {
            !l.starts_with("note: run with `RUST_BACKTRACE") && !l.starts_with("stack backtrace:")
        })
        .take_while(|l| !l.starts_with("   0: "))
        .collect();
    let text = kept.join("\n");
    let mut lines: Vec<&str> = text.trim().lines().collect();
    lines.truncate(EXCERPT_LINES);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_binary(running: &str, expected: &str) {
        assert_eq!(binary_key(running), expected, "{running}");
    }

    #[test]
    fn binaries_are_named_without_their_hash() {
        check_binary("unittests src/lib.rs (target/debug/deps/ledger-6bc935356f631c94)", "ledger");
        check_binary(
            "unittests src/lib.rs (/tmp/s/target/debug/deps/ledger-6bc935356f631c94)",
            "ledger",
        );
        check_binary(
            "tests/integration.rs (target/debug/deps/integration-a779ea6b6718bc68)",
            "integration",
        );
        check_binary(
            "unittests src/main.rs (target/debug/deps/ledger-0123456789abcdef)",
            "ledger:src/main.rs",
        );
        check_binary("target/debug/deps/my_crate-0123456789abcdef", "my_crate");
        check_binary(
            "unittests src/lib.rs (target/debug/deps/semi-colon-name-0123456789abcdef)",
            "semi-colon-name",
        );
    }

    fn check_line(line: &str, expected: Option<(&str, TestStatus)>) {
        assert_eq!(result_line(line), expected.map(|(n, s)| (n.to_string(), s)), "{line}");
    }

    #[test]
    fn libtest_result_lines() {
        check_line("test a::b ... ok", Some(("a::b", TestStatus::Passed)));
        check_line("test a::b ... FAILED", Some(("a::b", TestStatus::Failed)));
        check_line("test a::b ... ignored", Some(("a::b", TestStatus::Skipped)));
        check_line("test a::b ... ignored, needs a network", Some(("a::b", TestStatus::Skipped)));
        check_line("test a::b - should panic ... ok", Some(("a::b", TestStatus::Passed)));
        check_line(
            "test src/lib.rs - f (line 3) ... ok",
            Some(("src/lib.rs - f (line 3)", TestStatus::Passed)),
        );
        check_line("test a::b ... bench:         12 ns/iter (+/- 1)", None);
        check_line("test result: ok. 9 passed; 0 failed", None);
        check_line("running 9 tests", None);
    }
}
