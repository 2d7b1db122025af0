//! Conformance with SWE-agent as SERA configures it: the editor's observations, call by call,
//! against what SWE-agent's own `str_replace_editor` printed for the same calls on the same files.
//!
//! The expected texts in `tests/data/swe-agent-conformance/editor.json` were produced by running
//! the reference tool (SERA's SWE-agent fork, at the commit named in the file) with
//! `generate.py` next to it; neither the tool nor its code is part of this repository. Cases
//! marked `differs_in` are sera-rs's deliberate differences (the module doc of `editor.rs`): the
//! test checks that exactly the named parts still differ, so the documentation stays true.

use std::collections::BTreeMap;
use std::path::Path;

use sera_rollout::editor::Editor;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct Data {
    commit: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    files: BTreeMap<String, String>,
    calls: Vec<Map<String, Value>>,
    observations: Vec<String>,
    final_files: BTreeMap<String, String>,
    #[serde(default)]
    differs_in: Vec<String>,
}

fn data() -> Data {
    serde_json::from_str(include_str!("data/swe-agent-conformance/editor.json"))
        .expect("editor.json parses")
}

/// Every file under `root`, by relative path, as text.
fn files(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("inside").to_string_lossy().into();
                out.insert(relative, std::fs::read_to_string(&path).expect("utf-8 file"));
            }
        }
    }
    out
}

/// Runs a case's calls on a fresh copy of its files: the observations and the files after.
fn run(case: &Case) -> (Vec<String>, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in &case.files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
    let mut editor = Editor::new(dir.path(), "/testbed");
    let observations = case.calls.iter().map(|call| editor.call(call)).collect();
    (observations, files(dir.path()))
}

#[test]
fn the_data_names_its_upstream_commit_and_covers_the_editor() {
    let data = data();
    assert_eq!(data.commit.len(), 40, "{}", data.commit);
    let calls: usize = data.cases.iter().map(|case| case.calls.len()).sum();
    assert!(calls >= 40, "{calls} calls");
    for case in &data.cases {
        assert_eq!(case.calls.len(), case.observations.len(), "{}", case.name);
    }
}

#[test]
fn editor_observations_match_swe_agent_call_by_call() {
    let mut failures = Vec::new();
    for case in data().cases {
        let (observations, final_files) = run(&case);
        let observations_differ = case.differs_in.iter().any(|part| part == "observations");
        let files_differ = case.differs_in.iter().any(|part| part == "final_files");
        if observations_differ {
            if observations == case.observations {
                failures.push(format!(
                    "{}: documented as differing, but the observations match",
                    case.name
                ));
            }
        } else {
            for (index, (got, want)) in observations.iter().zip(&case.observations).enumerate() {
                if got != want {
                    failures.push(format!(
                        "{} call {} {:?}:\n--- sera-rs\n{got}\n--- SWE-agent\n{want}",
                        case.name,
                        index + 1,
                        case.calls[index]
                    ));
                }
            }
        }
        if files_differ != (final_files != case.final_files) {
            failures.push(format!(
                "{}: final files {}:\n{final_files:?}\nSWE-agent: {:?}",
                case.name,
                if files_differ { "documented as differing, but match" } else { "differ" },
                case.final_files
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// SWE-ReX's syntax check, run for real in the sandbox: `bash -n` on the command in a
/// here-document. The expected texts are what SWE-ReX's `_check_bash_command` gets from bash
/// for the same commands (its standard error; standard output is empty).
#[test]
fn bash_syntax_errors_are_what_swe_rex_reports() {
    use sera_rollout::{FormatError, Shell};
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::write(repo.path().join("a.txt"), "hello\n").expect("write");
    let sandbox = sera_sandbox::Sandbox::new(sera_sandbox::SandboxConfig::default())
        .expect("bubblewrap works on the test machine");
    let scratch = sandbox.scratch(repo.path()).expect("scratch");
    let mut shell = sera_rollout::SandboxShell::new(scratch, "/testbed");
    let timeout = std::time::Duration::from_secs(30);
    assert_eq!(
        shell.syntax_error("echo )", timeout).as_deref(),
        Some("bash: line 1: syntax error near unexpected token `)'\nbash: line 1: `echo )'\n")
    );
    assert_eq!(
        shell.syntax_error("if true; then\n  echo hi", timeout).as_deref(),
        Some("bash: line 3: syntax error: unexpected end of file\n")
    );
    for fine in ["ls /testbed", "cat <<'EOF'\n)\nEOF", "echo ')'", "false"] {
        assert_eq!(shell.syntax_error(fine, timeout), None, "{fine:?}");
    }
    assert_eq!(
        FormatError::BashSyntax("bash: line 1: syntax error near unexpected token `)'\n".into())
            .message(),
        "Your bash command contained syntax errors and was NOT executed. Please fix the syntax errors and try again. This can be the result of not adhering to the syntax for multi-line commands. Here is the output of `bash -n`:\n\nbash: line 1: syntax error near unexpected token `)'\n"
    );
}
