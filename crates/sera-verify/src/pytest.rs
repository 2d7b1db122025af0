//! pytest, run with `-v -rA`: tests keyed by node id (`tests/test_core.py::TestHistory::test_x`).
//!
//! Two places of the output report results: the verbose progress lines
//! (`tests/t.py::test_a PASSED [ 10%]`) and the `short test summary info` section
//! (`FAILED tests/t.py::test_a - AssertionError`). Both are read, the summary winning, and only
//! in those places: the `FAILURES` and `PASSES` sections replay the tests' own output, which
//! could contain lines that look like results.
//!
//! A run the code under test cuts short (`os._exit`, a segfault) ends without pytest's final
//! `== N passed in 0.1s ==` line, and one interrupted by a collection error says
//! `Interrupted: N error(s) during collection`. With `-v`, pytest prints a test's node id
//! before running it, so the last node id without an outcome is the test that was running.

use std::collections::BTreeMap;
use std::path::Path;

use sera_core::TestStatus;

use crate::runner::{ParsedLog, Rerun, RerunLog, TestRunner};

/// The pytest test runner.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pytest;

/// Lines kept from one failing test's output.
const EXCERPT_LINES: usize = 16;

impl TestRunner for Pytest {
    fn name(&self) -> &'static str {
        "pytest"
    }

    fn detects(&self, repo: &Path) -> bool {
        let mentions = |file: &str, needle: &str| {
            std::fs::read_to_string(repo.join(file)).is_ok_and(|text| text.contains(needle))
        };
        repo.join("pytest.ini").is_file()
            || repo.join("conftest.py").is_file()
            || mentions("pyproject.toml", "[tool.pytest")
            || mentions("setup.cfg", "[tool:pytest]")
            || mentions("tox.ini", "[pytest]")
            || has_test_files(&repo.join("tests"))
            || has_test_files(&repo.join("test"))
            // A flat package often keeps its tests next to its code; pytest finds them there.
            || has_test_files(repo)
    }

    fn test_command(&self, _repo: &Path) -> Vec<String> {
        ["python3", "-m", "pytest", "-v", "-rA", "-p", "no:cacheprovider", "--color=no"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn parse(&self, log: &str) -> ParsedLog {
        parse(log)
    }

    fn harness_parser(&self) -> Option<&'static str> {
        Some("parse_log_pytest")
    }

    /// `parse_log_pytest` reads the `-rA` summary (`PASSED tests/t.py::test_a`) split on
    /// whitespace, so a node id is its key unless it holds whitespace (a parameter id with a
    /// space), which the split cuts.
    fn harness_key(&self, key: &str) -> Option<String> {
        (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_string())
    }

    fn crashed(&self, log: &str) -> bool {
        let mut started = false;
        let mut ended = false;
        for line in log.lines() {
            if line.starts_with("!!!") && line.contains("Interrupted: ") {
                return true;
            }
            if let Some(title) = section_title(line) {
                if title.starts_with("test session starts") {
                    started = true;
                    ended = false;
                } else if started && final_line(title) {
                    ended = true;
                }
            }
        }
        started && !ended
    }

    /// The stage again without the tests that already have a result, going on past
    /// collection errors (a file the candidate broke must not keep the other files' tests
    /// from running). pytest runs the rest in one process, announcing each test first.
    fn isolate(&self, stage: &[String], tests: &[String], settled: &[String]) -> Vec<Rerun> {
        if tests.is_empty() {
            return Vec::new();
        }
        let mut command = stage.to_vec();
        command.push("--continue-on-collection-errors".into());
        for id in settled.iter().filter(|id| id.contains("::")) {
            command.push(format!("--deselect={id}"));
        }
        vec![Rerun { command, tests: tests.to_vec() }]
    }

    fn read_rerun(&self, log: &str, rerun: &Rerun) -> RerunLog {
        let mut parsed = parse(log);
        // A file that fails to collect is one error; each of its tests errors with it.
        for id in &rerun.tests {
            let file = id.split("::").next().unwrap_or(id);
            if !parsed.tests.contains_key(id)
                && parsed.tests.get(file).is_some_and(|s| *s == TestStatus::Error)
            {
                parsed.tests.insert(id.clone(), TestStatus::Error);
                if let Some(text) = parsed.failures.get(file).cloned() {
                    parsed.failures.insert(id.clone(), text);
                }
            }
        }
        let mut died_in = Vec::new();
        if self.crashed(log) {
            if let Some((id, rest)) = log.lines().rev().find_map(announced) {
                if !parsed.tests.contains_key(&id) {
                    let mut how: Vec<&str> = std::iter::once(rest)
                        .chain(log.lines().skip_while(|l| !l.starts_with(&id)).skip(1))
                        .filter(|l| !l.trim().is_empty())
                        .take(EXCERPT_LINES)
                        .collect();
                    if how.is_empty() {
                        how.push("the test process exited while this test ran");
                    }
                    died_in.push((id, how.join("\n")));
                }
            }
        }
        RerunLog { parsed, died_in }
    }
}

/// Whether a section title is pytest's last line: `3 passed, 1 failed in 0.12s`,
/// `no tests ran in 0.01s`.
fn final_line(title: &str) -> bool {
    title.rsplit_once(" in ").is_some_and(|(counts, time)| {
        time.trim_end().ends_with('s')
            && (counts.contains("passed")
                || counts.contains("failed")
                || counts.contains("error")
                || counts.contains("skipped")
                || counts.contains("deselected")
                || counts.contains("xfailed")
                || counts.contains("xpassed")
                || counts.contains("warning")
                || counts.contains("no tests ran"))
    })
}

/// A verbose progress line whose test never got an outcome: `tests/t.py::test_a ` (the
/// process died there), possibly followed by what it printed while dying → (node id, rest).
fn announced(line: &str) -> Option<(String, &str)> {
    if progress_line(line).is_some() {
        return None;
    }
    let (file, _) = line.split_once("::")?;
    if file.contains(' ') || !file.ends_with(".py") {
        return None;
    }
    // The node id runs to the first space outside brackets (parameters may hold spaces).
    let mut depth = 0usize;
    let end = line
        .char_indices()
        .find(|(_, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            *c == ' ' && depth == 0
        })
        .map_or(line.len(), |(at, _)| at);
    Some((line[..end].to_string(), line[end..].trim()))
}

fn has_test_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
        })
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// The session header and the verbose progress lines.
    Progress,
    /// `short test summary info`.
    Summary,
    /// `FAILURES` or `ERRORS`: tracebacks, read for excerpts only.
    Failures,
    /// Anything else (`PASSES`, warnings): ignored.
    Other,
}

fn parse(log: &str) -> ParsedLog {
    let mut parsed = ParsedLog::default();
    let mut summary: BTreeMap<String, TestStatus> = BTreeMap::new();
    let mut section = Section::Progress;
    // Failure blocks by their pytest heading (`test_a`, `TestHistory.test_b`, `test_c[1-2]`).
    let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
    for line in log.lines() {
        if let Some(title) = section_title(line) {
            section = match title {
                "short test summary info" => Section::Summary,
                "FAILURES" | "ERRORS" => Section::Failures,
                _ if title.starts_with("test session starts") => Section::Progress,
                _ => Section::Other,
            };
            continue;
        }
        match section {
            Section::Progress => {
                if let Some((id, status)) = progress_line(line) {
                    parsed.tests.insert(id, status);
                }
            }
            Section::Summary => {
                if let Some((id, status)) = summary_line(line) {
                    summary.insert(id, status);
                }
            }
            Section::Failures => {
                if let Some(heading) = block_heading(line) {
                    blocks.push((heading.to_string(), Vec::new()));
                } else if let Some((_, lines)) = blocks.last_mut() {
                    lines.push(line);
                }
            }
            Section::Other => {}
        }
    }
    parsed.tests.extend(summary);
    for (heading, lines) in blocks {
        let text = relevant(&lines);
        if text.is_empty() {
            continue;
        }
        // `TestHistory.test_b` is node id `path::TestHistory::test_b`; collection errors are
        // headed `ERROR collecting tests/t.py` and keyed by the file.
        let wanted =
            heading.strip_prefix("ERROR collecting ").unwrap_or(&heading).replace('.', "::");
        let key =
            parsed.tests.iter().filter(|(_, status)| !status.is_pass()).map(|(id, _)| id).find(
                |id| {
                    *id == &wanted
                        || id.ends_with(&format!("::{wanted}"))
                        || id.as_str() == heading.as_str()
                },
            );
        if let Some(key) = key {
            parsed.failures.insert(key.clone(), text);
        }
    }
    parsed
}

/// `==== title ====` → `title`.
fn section_title(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("==")?.trim_start_matches('=');
    let inner = inner.strip_suffix("==")?.trim_end_matches('=');
    let title = inner.trim();
    (!title.is_empty() && line.len() > 20).then_some(title)
}

/// `____ test_name ____` → `test_name` (separator lines of `_ _ _` are not headings).
fn block_heading(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("__")?.trim_start_matches('_');
    let inner = inner.strip_suffix("__")?.trim_end_matches('_');
    let heading = inner.trim();
    (!heading.is_empty() && !heading.starts_with("_ ")).then_some(heading)
}

fn status_word(word: &str) -> Option<TestStatus> {
    Some(match word {
        "PASSED" | "XPASS" => TestStatus::Passed,
        "FAILED" => TestStatus::Failed,
        "ERROR" => TestStatus::Error,
        "SKIPPED" => TestStatus::Skipped,
        "XFAIL" => TestStatus::Xfail,
        _ => return None,
    })
}

/// `tests/t.py::test_a[x y] PASSED [ 10%]` or `tests/t.py::test_s SKIPPED (why) [ 54%]`.
fn progress_line(line: &str) -> Option<(String, TestStatus)> {
    let line = line.trim_end();
    // Drop the percentage, then find the last status word that follows the node id.
    let line = match line.rsplit_once(" [") {
        Some((head, pct)) if pct.ends_with("%]") => head.trim_end(),
        _ => line,
    };
    let (id, rest) = line.split_once("::").map(|(file, _)| file).and_then(|file| {
        [" PASSED", " FAILED", " ERROR", " SKIPPED", " XFAIL", " XPASS"]
            .iter()
            .filter_map(|word| line.rfind(word).map(|at| (at, *word)))
            .max_by_key(|(at, _)| *at)
            .filter(|(at, _)| *at > file.len())
            .map(|(at, word)| (&line[..at], &line[at + 1..at + word.len()]))
    })?;
    let status = status_word(rest)?;
    (!id.contains(' ') || id.contains('[')).then(|| (id.to_string(), status))
}

/// `FAILED tests/t.py::test_a - AssertionError: ...` or `PASSED tests/t.py::test_b`.
fn summary_line(line: &str) -> Option<(String, TestStatus)> {
    let (word, rest) = line.split_once(' ')?;
    let status = status_word(word)?;
    if status == TestStatus::Skipped && rest.starts_with('[') {
        // `SKIPPED [1] tests/t.py:2: reason` names no node id; the progress line has it.
        return None;
    }
    let id = match rest.split_once(" - ") {
        Some((id, _)) => id,
        None => rest,
    };
    let id = id.trim();
    (!id.is_empty()).then(|| (id.to_string(), status))
}

/// From a failure block: the test's own failing line (`>` in the first frame) and every
/// `E   ` line; the frames of the code under test are left out.
fn relevant(lines: &[&str]) -> String {
    let first_frame_end = lines.iter().position(|l| l.starts_with("_ _ _")).unwrap_or(lines.len());
    let mut kept: Vec<&str> = Vec::new();
    if let Some(arrow) = lines[..first_frame_end].iter().find(|l| l.starts_with('>')) {
        kept.push(arrow);
    }
    kept.extend(lines.iter().filter(|l| l.starts_with("E ")));
    kept.truncate(EXCERPT_LINES);
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_progress(line: &str, expected: Option<(&str, TestStatus)>) {
        assert_eq!(progress_line(line), expected.map(|(i, s)| (i.to_string(), s)), "{line}");
    }

    #[test]
    fn harness_keys_are_node_ids_without_whitespace() {
        let key = |k: &str| Pytest.harness_key(k);
        assert_eq!(key("tests/t.py::TestA::test_b"), Some("tests/t.py::TestA::test_b".into()));
        assert_eq!(
            key("tests/t.py::test_p[1000-10-900]"),
            Some("tests/t.py::test_p[1000-10-900]".into())
        );
        assert_eq!(key("tests/t.py::test_p[a b]"), None);
    }

    #[test]
    fn verbose_progress_lines() {
        use TestStatus::*;
        check_progress(
            "tests/t.py::test_a PASSED                 [  4%]",
            Some(("tests/t.py::test_a", Passed)),
        );
        check_progress(
            "tests/t.py::C::test_b FAILED [ 40%]",
            Some(("tests/t.py::C::test_b", Failed)),
        );
        check_progress(
            "tests/t.py::test_s SKIPPED (no)     [ 54%]",
            Some(("tests/t.py::test_s", Skipped)),
        );
        check_progress("tests/t.py::test_x XFAIL", Some(("tests/t.py::test_x", Xfail)));
        check_progress(
            "tests/t.py::test_p[a b-PASSED] PASSED [ 9%]",
            Some(("tests/t.py::test_p[a b-PASSED]", Passed)),
        );
        check_progress("tests/t.py::test_e ERROR [100%]", Some(("tests/t.py::test_e", Error)));
        check_progress("collecting ... collected 22 items", None);
        check_progress("PASSED tests/t.py::test_a", None);
    }

    fn check_summary(line: &str, expected: Option<(&str, TestStatus)>) {
        assert_eq!(summary_line(line), expected.map(|(i, s)| (i.to_string(), s)), "{line}");
    }

    #[test]
    fn short_summary_lines() {
        use TestStatus::*;
        check_summary("PASSED tests/t.py::test_a", Some(("tests/t.py::test_a", Passed)));
        check_summary(
            "FAILED tests/t.py::test_a - assert 1 == 2",
            Some(("tests/t.py::test_a", Failed)),
        );
        check_summary("ERROR tests/t.py - ImportError: x", Some(("tests/t.py", Error)));
        check_summary("XFAIL tests/t.py::test_x", Some(("tests/t.py::test_x", Xfail)));
        check_summary("SKIPPED [1] tests/t.py:2: no", None);
        check_summary("some other line", None);
    }

    #[test]
    fn headings() {
        assert_eq!(
            section_title("=================== FAILURES ==================="),
            Some("FAILURES")
        );
        assert_eq!(block_heading("_____ TestHistory.test_b _____"), Some("TestHistory.test_b"));
        assert_eq!(block_heading("_ _ _ _ _ _ _ _ _ _"), None);
    }
}
