//! Test runners: how to build and run a repository's tests, and how to read their output.
//!
//! A [`TestRunner`] knows one tool (cargo, pytest). It runs nothing itself: the validator runs
//! its commands in a sandbox scratch and hands it the output, bracketed by markers.

use std::collections::BTreeMap;
use std::path::Path;

use sera_core::TestStatus;

use crate::cargo::Cargo;
use crate::pytest::Pytest;

/// What a runner read from one test run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedLog {
    /// Test key (for cargo `binary::path::name`, for pytest its node id) to status.
    pub tests: BTreeMap<String, TestStatus>,
    /// The relevant lines of each failing test's output (panic message, assertion), by key.
    pub failures: BTreeMap<String, String>,
}

/// One run of some tests one at a time ([`TestRunner::isolate`]): the command and the keys of
/// the tests it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerun {
    pub command: Vec<String>,
    pub tests: Vec<String>,
}

/// What the output of a [`Rerun`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RerunLog {
    /// The results it printed, keyed like [`TestRunner::parse`]'s.
    pub parsed: ParsedLog,
    /// The tests that were running when their process died (one per process that died), each
    /// with the lines that tell how (`fatal runtime error: stack overflow`, the signal): a
    /// crash is that test's failure.
    pub died_in: Vec<(String, String)>,
}

/// One test tool. Implement the four required methods to add a language; the others have
/// defaults.
pub trait TestRunner: Send + Sync {
    /// Short name recorded in reports: `cargo`, `pytest`.
    fn name(&self) -> &'static str;

    /// Whether `repo` looks like a project this runner handles.
    fn detects(&self, repo: &Path) -> bool;

    /// The default command that runs the whole test suite, as an argument vector.
    fn test_command(&self, repo: &Path) -> Vec<String>;

    /// A command that builds the tests without running them, for a given test command; a
    /// failure means the code does not compile. `None` (the default) when there is no build.
    fn build_command(&self, test_command: &[String]) -> Option<Vec<String>> {
        let _ = test_command;
        None
    }

    /// A command as it is actually run: with any option the log parser needs that a person
    /// reading or retyping the command need not see (default: the command as it is). Instances
    /// keep the plain command; the validator runs this one.
    fn runnable(&self, repo: &Path, command: &[String]) -> Vec<String> {
        let _ = repo;
        command.to_vec()
    }

    /// The test command split into stages run in order (default: one stage, the command).
    /// A candidate that the earlier stages already decide as kept (a test fails, another
    /// passes) is not run through the later ones, so cheap, telling tests belong first.
    fn stages(&self, repo: &Path, test_command: &[String]) -> Vec<Vec<String>> {
        let _ = repo;
        vec![test_command.to_vec()]
    }

    /// Reads the output of the test command (stdout and stderr merged, in order).
    fn parse(&self, log: &str) -> ParsedLog;

    /// Whether the output shows the run cut short by the code under test: a test process died
    /// (a signal, an abort, `os._exit`) or the tool stopped before running the tests (a
    /// collection error). Tests missing from such a run are then rerun through
    /// [`isolate`](Self::isolate) rather than counted as failures. The default, `false`, never
    /// reruns anything.
    fn crashed(&self, log: &str) -> bool {
        let _ = log;
        false
    }

    /// Commands that run `tests` (keys of `stage`'s tests, as [`parse`](Self::parse) makes
    /// them) one at a time, each announced before it runs, so that a crash can be pinned on
    /// the test that was running. `settled` are the tests that already have a result. Empty
    /// (the default) when this runner cannot isolate tests.
    fn isolate(&self, stage: &[String], tests: &[String], settled: &[String]) -> Vec<Rerun> {
        let _ = (stage, tests, settled);
        Vec::new()
    }

    /// The log parser of SWE-bench's harness that reads this runner's output: its name in
    /// `swebench.harness.log_parsers.PARSER_REGISTRY`. `None` (the default) when there is none.
    fn harness_parser(&self) -> Option<&'static str> {
        None
    }

    /// The key that [`harness_parser`](Self::harness_parser) gives the test keyed `key` here,
    /// or `None` where that parser cannot see the test at all (the harness then counts it as
    /// failed). The default sees nothing.
    fn harness_key(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }

    /// Reads the output of one [`isolate`](Self::isolate) command.
    fn read_rerun(&self, log: &str, rerun: &Rerun) -> RerunLog {
        let _ = rerun;
        RerunLog { parsed: self.parse(log), died_in: Vec::new() }
    }
}

/// The built-in runners, in detection order.
pub fn builtin() -> Vec<Box<dyn TestRunner>> {
    vec![Box::new(Cargo), Box::new(Pytest)]
}

/// The first built-in runner that detects `repo`.
pub fn detect(repo: &Path) -> Option<Box<dyn TestRunner>> {
    builtin().into_iter().find(|runner| runner.detects(repo))
}

/// The runner for an explicit test command: chosen by the program it runs where that is
/// unambiguous (`cargo ...`, `pytest ...`, `python -m pytest ...`), else detected from `repo`.
pub fn for_command(command: &[String], repo: &Path) -> Option<Box<dyn TestRunner>> {
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    let program = words.first().map(|p| p.rsplit('/').next().unwrap_or(p));
    match program {
        Some("cargo") => Some(Box::new(Cargo)),
        Some("pytest" | "py.test") => Some(Box::new(Pytest)),
        Some(p) if p.starts_with("python") && words.get(1..3) == Some(&["-m", "pytest"]) => {
            Some(Box::new(Pytest))
        }
        _ => detect(repo),
    }
}

/// Splits a command line into words: whitespace separates, single and double quotes group,
/// a backslash escapes the next character. `None` for an unclosed quote.
pub fn split_command(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        '\\' if c == '"' => word.push(chars.next()?),
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Option<&[&str]>) {
        let expected =
            expected.map(|words| words.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        assert_eq!(split_command(line), expected, "{line}");
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        check("cargo test --lib", Some(&["cargo", "test", "--lib"]));
        check("  pytest  -k 'a and b' ", Some(&["pytest", "-k", "a and b"]));
        check(r#"sh -c "echo \"hi\"""#, Some(&["sh", "-c", "echo \"hi\""]));
        check(r"a\ b c", Some(&["a b", "c"]));
        check("''", Some(&[""]));
        check("", Some(&[]));
        check("'open", None);
    }

    #[test]
    fn explicit_commands_pick_their_runner() {
        let none = Path::new("/nonexistent");
        let name = |line: &str| for_command(&split_command(line).unwrap(), none).map(|r| r.name());
        assert_eq!(name("cargo test -p x"), Some("cargo"));
        assert_eq!(name("python3 -m pytest -x"), Some("pytest"));
        assert_eq!(name("/usr/bin/pytest tests"), Some("pytest"));
        assert_eq!(name("make test"), None);
    }
}
