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
//!
//! A cargo workspace is tested with `--workspace`, and run by the validator with
//! `--message-format=json-render-diagnostics` added ([`TestRunner::runnable`]): cargo then
//! prints each test binary's package on stdout (a `compiler-artifact` line whose `executable`
//! is the path in `Running ... (path)`), and keys get the package in front,
//! `alpha/integration::helpers_agree`, because two members may both have a
//! `tests/integration.rs` and cargo prints their source paths relative to each package.
//! A single package runs without it and keeps the keys above.
//!
//! A test binary that dies (a stack overflow, `std::process::abort`, a signal) leaves its
//! section without `test result:` and its unfinished tests without a result. Rerun with one
//! thread (`--test-threads=1 --exact NAME...`), libtest prints `test NAME ... ` before a test
//! starts, so the one left unfinished is the one that crashed.

use std::collections::BTreeMap;
use std::path::Path;

use sera_core::TestStatus;

use crate::runner::{ParsedLog, Rerun, RerunLog, TestRunner};

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

    fn test_command(&self, repo: &Path) -> Vec<String> {
        // --no-fail-fast: a failing binary must not hide the results of the others.
        let mut command: Vec<String> = ["cargo", "test", "--offline", "--no-fail-fast"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if is_workspace(repo) {
            // Every member's tests, also when the root is a package of its own.
            command.push("--workspace".into());
        }
        command
    }

    /// In a workspace, with the JSON artifact lines that name the package of each test binary
    /// (module docs): the validator reads them, while the instance's command, which agents see
    /// and retype, stays the plain one.
    fn runnable(&self, repo: &Path, command: &[String]) -> Vec<String> {
        let end = command.iter().position(|word| word == "--").unwrap_or(command.len());
        let chosen = command[..end].iter().any(|word| word.starts_with("--message-format"));
        if !is_workspace(repo) || chosen || !command.iter().any(|word| word == "test") {
            return command.to_vec();
        }
        let mut run = command.to_vec();
        run.insert(end, WORKSPACE_FORMAT.to_string());
        run
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
        let has_lib = repo.join("src/lib.rs").is_file()
            || workspace_members(repo).iter().any(|member| member.join("src/lib.rs").is_file());
        self.stages_for(test_command, has_lib)
    }

    fn parse(&self, log: &str) -> ParsedLog {
        parse(log)
    }

    fn crashed(&self, log: &str) -> bool {
        read(log).crashed
    }

    /// The stage again, restricted by libtest to the missing tests, one thread: every test
    /// binary of the stage starts, and those without a missing test run nothing. Doc tests are
    /// left out: rustdoc runs each in its own process and reports a crash as a failure.
    fn harness_parser(&self) -> Option<&'static str> {
        Some("parse_log_cargo")
    }

    /// `parse_log_cargo` reads `test NAME ... ok|FAILED` lines with `NAME` one word: the key
    /// without its binary (so same-named tests of two binaries share one key there), and
    /// nothing for doc tests (`src/lib.rs - f (line 3)` has spaces).
    fn harness_key(&self, key: &str) -> Option<String> {
        let (_binary, name) = key.split_once("::")?;
        (!name.is_empty() && !name.contains(char::is_whitespace)).then(|| name.to_string())
    }

    fn isolate(&self, stage: &[String], tests: &[String], _settled: &[String]) -> Vec<Rerun> {
        let tests: Vec<String> = tests
            .iter()
            .filter(|key| key.split_once("::").is_some_and(|(bin, _)| !bin.ends_with("-doc")))
            .cloned()
            .collect();
        if tests.is_empty() || !stage.iter().any(|word| word == "test") {
            return Vec::new();
        }
        let mut names: Vec<&str> =
            tests.iter().filter_map(|key| key.split_once("::").map(|(_, name)| name)).collect();
        names.sort_unstable();
        names.dedup();
        let mut command = Vec::new();
        let mut after_separator = false;
        let mut words = stage.iter();
        while let Some(word) = words.next() {
            if after_separator {
                // One thread is the point of the rerun; an earlier count would be refused.
                if word == "--test-threads" {
                    words.next();
                    continue;
                }
                if word.starts_with("--test-threads=") || word == "--exact" {
                    continue;
                }
            }
            after_separator |= word == "--";
            command.push(word.clone());
        }
        if !after_separator {
            command.push("--".into());
        }
        command.push("--test-threads=1".into());
        command.push("--exact".into());
        command.extend(names.iter().map(|name| name.to_string()));
        vec![Rerun { command, tests }]
    }

    fn read_rerun(&self, log: &str, _rerun: &Rerun) -> RerunLog {
        let read = read(log);
        RerunLog { parsed: read.parsed, died_in: read.unfinished }
    }
}

/// The message format of workspace runs: artifacts as JSON on stdout (they name each test
/// binary's package), compiler messages rendered as usual.
const WORKSPACE_FORMAT: &str = "--message-format=json-render-diagnostics";

/// Whether `repo`'s manifest declares a workspace with members other than the root.
pub(crate) fn is_workspace(repo: &Path) -> bool {
    !workspace_members(repo).is_empty()
}

/// The member directories of the workspace rooted at `repo` (other than `repo` itself), from
/// the `members` list of its `[workspace]` table, with `dir/*` globs expanded; empty for a
/// single package or an unreadable manifest.
fn workspace_members(repo: &Path) -> Vec<std::path::PathBuf> {
    let Ok(text) = std::fs::read_to_string(repo.join("Cargo.toml")) else {
        return Vec::new();
    };
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let patterns = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|members| members.iter().filter_map(|m| m.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut members = Vec::new();
    for pattern in patterns {
        let (parent, last) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        match last.split_once('*') {
            // `crates/*`, `crates/sera-*`: a glob in the last segment, as most workspaces use.
            Some((prefix, suffix)) => {
                let Ok(entries) = std::fs::read_dir(repo.join(parent)) else { continue };
                let mut found: Vec<_> = entries
                    .flatten()
                    .filter(|entry| {
                        let name = entry.file_name();
                        let name = name.to_string_lossy();
                        name.len() >= prefix.len() + suffix.len()
                            && name.starts_with(prefix)
                            && name.ends_with(suffix)
                    })
                    .map(|entry| entry.path())
                    .filter(|path| path.join("Cargo.toml").is_file())
                    .collect();
                found.sort();
                members.extend(found);
            }
            None if pattern != "." && !pattern.is_empty() => members.push(repo.join(pattern)),
            None => {}
        }
    }
    members
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

/// Lines kept from a crashed test's output.
const CRASH_LINES: usize = 8;

/// Where a line of libtest output is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Outside any binary's run, or in its `test ... ok` lines.
    Results,
    /// After `failures:`, where captured test output is printed: test-like lines here are the
    /// tests' own output and must not be read as results.
    Failures,
}

/// What one read of a cargo log found.
#[derive(Default)]
struct Read {
    parsed: ParsedLog,
    /// A test binary died: its section has no `test result:`, or cargo reports a signal.
    crashed: bool,
    /// Tests announced (`test NAME ... ` with no outcome) in a binary that then died, with
    /// the lines saying how it died.
    unfinished: Vec<(String, String)>,
}

/// One test binary's part of the log.
#[derive(Default)]
struct Binary {
    key: String,
    /// `running N tests` was seen: the binary started.
    started: bool,
    /// `test result:` was seen: the binary finished.
    finished: bool,
    /// The test announced last and not finished, and the output that followed it.
    pending: Option<(String, Vec<String>)>,
    /// Lines after the pending test's announcement are still its own output.
    collecting: bool,
}

fn parse(log: &str) -> ParsedLog {
    read(log).parsed
}

fn read(log: &str) -> Read {
    let mut read = Read::default();
    // Workspace runs: test executables and library crate names, to their package.
    let mut packages: BTreeMap<String, String> = BTreeMap::new();
    let mut libraries: BTreeMap<String, String> = BTreeMap::new();
    let mut binary = Binary { key: "unknown".into(), ..Binary::default() };
    let mut section = Section::Results;
    let mut excerpt: Option<(String, Vec<&str>)> = None;
    let mut signal: Option<String> = None;
    let finish = |excerpt: &mut Option<(String, Vec<&str>)>, parsed: &mut ParsedLog| {
        if let Some((key, lines)) = excerpt.take() {
            let text = relevant(&lines);
            if !text.is_empty() {
                parsed.failures.insert(key, text);
            }
        }
    };
    let end_binary = |binary: &mut Binary, read: &mut Read, signal: &mut Option<String>| {
        if binary.started && !binary.finished {
            read.crashed = true;
            if let Some((key, mut lines)) = binary.pending.take() {
                lines.extend(signal.take());
                let lines: Vec<String> =
                    lines.into_iter().filter(|l| !l.trim().is_empty()).take(CRASH_LINES).collect();
                read.unfinished.push((key, lines.join("\n")));
            }
        }
        *binary = Binary::default();
    };
    for line in log.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("{\"reason\":\"compiler-artifact\"") {
            artifact(trimmed, &mut packages, &mut libraries);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            finish(&mut excerpt, &mut read.parsed);
            end_binary(&mut binary, &mut read, &mut signal);
            let executable = rest.rsplit_once(" (").map_or(rest, |(_, path)| path);
            let executable = executable.trim().trim_end_matches(')');
            // cargo prints the path as given by CARGO_TARGET_DIR, the JSON line an absolute
            // one: a relative path matches the absolute path it ends.
            let package = packages.get(executable).or_else(|| {
                packages.iter().find_map(|(path, package)| {
                    path.strip_suffix(executable)
                        .is_some_and(|head| head.ends_with('/'))
                        .then_some(package)
                })
            });
            binary.key = match package {
                Some(package) => format!("{package}/{}", binary_key(rest)),
                None => binary_key(rest),
            };
            section = Section::Results;
            continue;
        }
        if let Some(krate) = trimmed.strip_prefix("Doc-tests ") {
            finish(&mut excerpt, &mut read.parsed);
            end_binary(&mut binary, &mut read, &mut signal);
            let krate = krate.trim();
            binary.key = match libraries.get(krate) {
                Some(package) => format!("{package}/{krate}-doc"),
                None => format!("{krate}-doc"),
            };
            section = Section::Results;
            continue;
        }
        if trimmed.starts_with("running ") && trimmed.ends_with(" tests")
            || trimmed == "running 1 test"
        {
            binary.started = true;
        }
        if trimmed.starts_with("test result: ") {
            finish(&mut excerpt, &mut read.parsed);
            binary.finished = true;
            binary.pending = None;
            section = Section::Results;
            continue;
        }
        if let Some(at) = line.find("process didn't exit successfully: ") {
            // `... (signal: 6, SIGABRT: process abort signal)`: killed, not a test failure.
            if let Some(how) = line[at..].rfind(" (signal: ").map(|s| &line[at + s + 1..]) {
                read.crashed = true;
                signal = Some(format!("the test binary was killed {how}"));
            }
        }
        if line == "failures:" {
            finish(&mut excerpt, &mut read.parsed);
            section = Section::Failures;
            continue;
        }
        match section {
            Section::Results => {
                if let Some((name, status)) = result_line(line) {
                    let key = format!("{}::{name}", binary.key);
                    if binary.pending.as_ref().is_some_and(|(k, _)| *k == key) {
                        binary.pending = None;
                    }
                    // A test reported twice keeps its worst status.
                    let entry = read.parsed.tests.entry(key).or_insert(status);
                    if !status.is_pass() {
                        *entry = status;
                    }
                } else if let Some((name, rest)) = started_line(line) {
                    let key = format!("{}::{name}", binary.key);
                    let first = (!rest.is_empty() && !rest.starts_with("error: test failed"))
                        .then(|| rest.to_string());
                    binary.collecting = first.is_some() || rest.is_empty();
                    binary.pending = Some((key, first.into_iter().collect()));
                } else if let Some((_, lines)) =
                    binary.pending.as_mut().filter(|_| binary.collecting)
                {
                    // What the dying test printed, up to cargo's own report of the failure.
                    if line.starts_with("error: test failed") || trimmed == "Caused by:" {
                        binary.collecting = false;
                    } else {
                        lines.push(line.to_string());
                    }
                }
            }
            Section::Failures => {
                if let Some(name) =
                    line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----"))
                {
                    finish(&mut excerpt, &mut read.parsed);
                    excerpt = Some((format!("{}::{name}", binary.key), Vec::new()));
                } else if let Some((_, lines)) = &mut excerpt {
                    lines.push(line);
                }
            }
        }
    }
    finish(&mut excerpt, &mut read.parsed);
    end_binary(&mut binary, &mut read, &mut signal);
    read.parsed = stable_doc_test_names(std::mem::take(&mut read.parsed));
    read
}

/// Records a `compiler-artifact` JSON line's executable and library name under its package.
fn artifact(
    line: &str,
    packages: &mut BTreeMap<String, String>,
    libraries: &mut BTreeMap<String, String>,
) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { return };
    let Some(package) = value["package_id"].as_str().and_then(package_name) else { return };
    if let Some(executable) = value["executable"].as_str() {
        packages.insert(executable.to_string(), package.clone());
    }
    let kinds = value["target"]["kind"].as_array();
    if kinds.is_some_and(|kinds| kinds.iter().any(|k| k == "lib")) {
        if let Some(name) = value["target"]["name"].as_str() {
            libraries.insert(name.to_string(), package);
        }
    }
}

/// The package name in a package id: `path+file:///w/crates/beta#beta-core@0.1.0` →
/// `beta-core`; `path+file:///w/crates/alpha#0.1.0` (name and directory agree) → `alpha`.
fn package_name(id: &str) -> Option<String> {
    let (source, fragment) = id.rsplit_once('#')?;
    match fragment.split_once('@') {
        Some((name, _)) => Some(name.to_string()),
        None => source.rsplit('/').next().filter(|n| !n.is_empty()).map(str::to_string),
    }
}

/// `test a::b ... ` with no outcome (one thread: libtest announces a test before running it),
/// or followed by what the dying test printed on the same line → (`a::b`, the rest).
fn started_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("test ")?;
    let (name, after) = rest.split_once(" ... ")?;
    let name = name.strip_suffix(" - should panic").unwrap_or(name).trim();
    (!name.is_empty()).then_some((name, after.trim()))
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

    fn manifest(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative).join("Cargo.toml");
        std::fs::create_dir_all(path.parent().expect("has a parent")).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn workspaces_are_roots_with_members_virtual_or_not() {
        let package = "[package]\nname = \"x\"\nversion = \"0.1.0\"\n";
        let single = tempfile::tempdir().unwrap();
        manifest(single.path(), "", &format!("{package}\n[workspace]\n"));
        assert!(!is_workspace(single.path()));
        assert_eq!(
            Cargo.test_command(single.path()).join(" "),
            "cargo test --offline --no-fail-fast"
        );

        let virtual_root = tempfile::tempdir().unwrap();
        manifest(virtual_root.path(), "", "[workspace]\nmembers = [\"crates/sera-*\", \"tool\"]\n");
        manifest(virtual_root.path(), "crates/sera-a", package);
        manifest(virtual_root.path(), "crates/other", package);
        manifest(virtual_root.path(), "tool", package);
        let members = workspace_members(virtual_root.path());
        let names: Vec<_> = members
            .iter()
            .map(|m| m.strip_prefix(virtual_root.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["crates/sera-a", "tool"]);
        assert!(Cargo.test_command(virtual_root.path()).contains(&"--workspace".to_string()));
        // No member has src/lib.rs yet: no --lib stage.
        let command = Cargo.test_command(virtual_root.path());
        assert_eq!(Cargo.stages(virtual_root.path(), &command).len(), 2);
        std::fs::create_dir_all(virtual_root.path().join("tool/src")).unwrap();
        std::fs::write(virtual_root.path().join("tool/src/lib.rs"), "").unwrap();
        assert_eq!(Cargo.stages(virtual_root.path(), &command).len(), 3);

        let rooted = tempfile::tempdir().unwrap();
        manifest(rooted.path(), "", &format!("{package}\n[workspace]\nmembers = [\"sub\"]\n"));
        manifest(rooted.path(), "sub", package);
        assert!(is_workspace(rooted.path()));
    }

    #[test]
    fn package_ids_name_their_package() {
        assert_eq!(
            package_name("path+file:///w/crates/beta#beta-core@0.1.0").as_deref(),
            Some("beta-core")
        );
        assert_eq!(package_name("path+file:///w/crates/alpha#0.1.0").as_deref(), Some("alpha"));
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.228")
                .as_deref(),
            Some("serde")
        );
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
    fn harness_keys_drop_the_binary_and_doc_tests() {
        let key = |k: &str| Cargo.harness_key(k);
        assert_eq!(key("ledger::tests::deposit_adds"), Some("tests::deposit_adds".into()));
        assert_eq!(key("integration::transfer_moves"), Some("transfer_moves".into()));
        assert_eq!(key("alpha/integration::helpers_agree"), Some("helpers_agree".into()));
        assert_eq!(key("ledger:src/main.rs::tests::cli"), Some("tests::cli".into()));
        assert_eq!(key("ledger-doc::src/lib.rs - Account::deposit"), None);
        assert_eq!(key("no-binary"), None);
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
