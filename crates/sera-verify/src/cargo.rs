//! `cargo test`: libtest's output, with tests keyed by test binary and name.
//!
//! cargo announces each test binary on stderr (`Running unittests src/lib.rs
//! (target/debug/deps/ledger-1a2b...)`, `Running tests/integration.rs (...)`, `Doc-tests
//! ledger`) and libtest prints `test path::name ... ok|FAILED|ignored` on stdout; the two are
//! read merged, in order. The same test name can exist in several binaries, so keys are
//! `binary::name` with the binary named without its hash: `ledger` (library unit tests),
//! `integration` (tests/integration.rs), `ledger:src/main.rs` (unit tests of another target),
//! `ledger-doc` (doc tests, named without their line number, which moves with every edit above
//! them).

use std::collections::BTreeMap;
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
        // Doc tests are compiled when they run; cargo refuses `--doc --no-run`.
        if test_command.iter().any(|word| word == "--doc") {
            return None;
        }
        let at = test_command.iter().position(|word| word == "test")?;
        let mut build = test_command.to_vec();
        build.insert(at + 1, "--no-run".to_string());
        Some(build)
    }

    /// Library unit tests first (`--lib`, when the package has `src/lib.rs`), then unit and
    /// integration tests (`--tests`), then doc tests (`--doc`). Each stage builds only what it
    /// runs: the library's unit-test harness alone compiles in about half the time of every
    /// test target, and rustdoc compiles every doc test on its own, which makes them most of a
    /// small crate's test time. Most candidates are decided by the first stage. Only a command
    /// that selects no targets itself is split.
    fn stages(&self, repo: &Path, test_command: &[String]) -> Vec<Vec<String>> {
        self.stages_for(test_command, repo.join("src/lib.rs").is_file())
    }

    fn parse(&self, log: &str) -> ParsedLog {
        parse(log)
    }
}

impl Cargo {
    /// The stages of `test_command`, with a `--lib` stage first when `has_lib`.
    pub fn stages_for(&self, test_command: &[String], has_lib: bool) -> Vec<Vec<String>> {
        let selects = |word: &String| {
            let word = word.split('=').next().unwrap_or(word);
            TARGET_FLAGS.contains(&word)
        };
        let Some(at) = test_command.iter().position(|word| word == "test") else {
            return vec![test_command.to_vec()];
        };
        let end = test_command.iter().position(|word| word == "--").unwrap_or(test_command.len());
        if test_command[..end].iter().any(selects) {
            return vec![test_command.to_vec()];
        }
        let flags: &[&str] =
            if has_lib { &["--lib", "--tests", "--doc"] } else { &["--tests", "--doc"] };
        flags
            .iter()
            .map(|flag| {
                let mut stage = test_command.to_vec();
                stage.insert(at + 1, flag.to_string());
                stage
            })
            .collect()
    }
}

/// cargo options that choose which targets to test.
const TARGET_FLAGS: &[&str] = &[
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--bench",
    "--benches",
    "--example",
    "--examples",
    "--all-targets",
    "--doc",
];

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
    stable_doc_test_names(parsed)
}

/// Doc tests are named by the line they start on (`src/lib.rs - f (line 12)`), which moves
/// whenever a candidate adds or removes a line above them; left as is, every doc test below a
/// change would look like a test that vanished. Their keys drop the line: `src/lib.rs - f`, or
/// `src/lib.rs - f (example 2)` for the second example of the same item, in line order.
fn stable_doc_test_names(parsed: ParsedLog) -> ParsedLog {
    let mut groups: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for key in parsed.tests.keys() {
        if let Some((base, line)) = doc_test_line(key) {
            groups.entry(base.to_string()).or_default().push((line, key.clone()));
        }
    }
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for (base, mut members) in groups {
        members.sort();
        let single = members.len() == 1;
        for (ordinal, (_, key)) in members.into_iter().enumerate() {
            let name =
                if single { base.clone() } else { format!("{base} (example {})", ordinal + 1) };
            renames.insert(key, name);
        }
    }
    let rename = |key: String| renames.get(&key).cloned().unwrap_or(key);
    ParsedLog {
        tests: parsed.tests.into_iter().map(|(k, v)| (rename(k), v)).collect(),
        failures: parsed.failures.into_iter().map(|(k, v)| (rename(k), v)).collect(),
    }
}

/// `ledger-doc::src/lib.rs - f (line 12)` → (`ledger-doc::src/lib.rs - f`, 12).
fn doc_test_line(key: &str) -> Option<(&str, u64)> {
    let (binary, _) = key.split_once("::")?;
    if !binary.ends_with("-doc") {
        return None;
    }
    let (base, rest) = key.rsplit_once(" (line ")?;
    let line = rest.strip_suffix(')')?.parse().ok()?;
    Some((base, line))
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
    fn default_command_is_staged_and_explicit_targets_are_not() {
        let words = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
        let stages = Cargo.stages_for(&words("cargo test --offline -- --test-threads 1"), true);
        let expected = ["--lib", "--tests", "--doc"]
            .map(|flag| words(&format!("cargo test {flag} --offline -- --test-threads 1")));
        assert_eq!(stages, expected);
        assert_eq!(
            Cargo.stages_for(&words("cargo test"), false),
            [words("cargo test --tests"), words("cargo test --doc")]
        );
        assert_eq!(Cargo.stages_for(&words("cargo test --lib"), true), [words("cargo test --lib")]);
        let one = words("cargo test --test=integration");
        let stages = Cargo.stages_for(&one, true);
        assert_eq!(stages, vec![one]);
        assert_eq!(Cargo.build_command(&words("cargo test --doc")), None);
    }

    #[test]
    fn doc_tests_are_keyed_without_their_line() {
        let log = "   Doc-tests ledger\n\nrunning 3 tests\ntest src/lib.rs - f (line 30) ... ok\n\
                   test src/lib.rs - g (line 12) ... FAILED\ntest src/lib.rs - f (line 9) ... ok\n";
        let keys: Vec<String> = parse(log).tests.into_keys().collect();
        assert_eq!(
            keys,
            [
                "ledger-doc::src/lib.rs - f (example 1)",
                "ledger-doc::src/lib.rs - f (example 2)",
                "ledger-doc::src/lib.rs - g"
            ]
        );
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
