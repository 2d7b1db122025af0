//! The agent environment: a scratch tree, the three tools, and the submit protocol.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sera_core::{Patch, ToolCall};
use serde_json::Value;

use crate::agent::FormatError;
use crate::editor::Editor;
use crate::prompts;
use crate::tree::Baseline;

/// The tools this environment runs, as [`prompts::tool_schemas`] names them.
pub const TOOLS: [&str; 3] = ["bash", "str_replace_editor", "submit"];

/// Runs shell commands in the repository root of a scratch tree. The production
/// implementation sits on `sera-sandbox` (the only crate that spawns processes); tests and
/// benchmarks may use their own.
pub trait Shell: Send {
    /// Runs `command` with bash in the repository root, stopping it after `timeout`.
    fn run(&mut self, command: &str, timeout: Duration) -> Result<ShellOutput, String>;

    /// What `bash -n` printed when it finds a syntax error in `command`, or `None` to run it.
    /// SWE-ReX checks every command so before running it (`_check_bash_command`: the command
    /// in a here-document to `/usr/bin/env bash -n`), and SWE-agent requeries the model
    /// instead of running a command that fails. The default runs that same check through
    /// [`Shell::run`]; a check that cannot be run, is killed, or exits without a code lets
    /// the command run.
    fn syntax_error(&mut self, command: &str, timeout: Duration) -> Option<String> {
        let check = format!("/usr/bin/env bash -n << '{SYNTAX_EOF}'\n{command}\n{SYNTAX_EOF}");
        match self.run(&check, timeout) {
            Ok(ShellOutput { output, exit_code: Some(code), timed_out: false }) if code != 0 => {
                Some(output)
            }
            _ => None,
        }
    }
}

/// The here-document delimiter of SWE-ReX's syntax check.
const SYNTAX_EOF: &str = "SOUNIQUEEOF";

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Standard output and standard error, merged.
    pub output: String,
    /// `None` when the command was killed.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

/// The outcome of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// What the agent sees, `OBSERVATION:` prefix included.
    pub observation: String,
    /// Set by the second `submit`: the run is over and this is its patch.
    pub submitted: Option<Patch>,
}

/// A scratch tree the agent works in, with its tools.
pub struct Environment {
    root: PathBuf,
    workdir: String,
    shell: Box<dyn Shell>,
    editor: Editor,
    baseline: Baseline,
    command_timeout: Duration,
    reviewed: bool,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("root", &self.root)
            .field("workdir", &self.workdir)
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// An environment over the tree at `root` (already holding the starting state, e.g. the
    /// bug applied), which the agent sees as `workdir`. The starting state is fingerprinted
    /// here; the submitted patch is the change from it.
    pub fn new(
        root: &Path,
        workdir: &str,
        shell: Box<dyn Shell>,
        command_timeout: Duration,
    ) -> std::io::Result<Self> {
        let baseline = Baseline::capture(root)?;
        Ok(Environment {
            root: root.to_path_buf(),
            workdir: workdir.to_string(),
            shell,
            editor: Editor::new(root, workdir),
            baseline,
            command_timeout,
            reviewed: false,
        })
    }

    /// The scratch tree on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The change the agent has made so far.
    pub fn diff(&self) -> std::io::Result<Patch> {
        self.baseline.diff(&self.root)
    }

    /// Runs one tool call; the step loop has checked its name and arguments against the
    /// schemas offered (see [`crate::agent::check_reply`]). A tool other than [`TOOLS`] is not
    /// answered with an observation but refused, untouched, as SWE-agent's `invalid_command`
    /// format error, and so is a `bash` command on SWE-agent's blocklist (see
    /// [`blocked_action`]) or one that `bash -n` rejects (see [`Shell::syntax_error`]).
    pub fn execute(&mut self, call: &ToolCall) -> Result<ToolResult, FormatError> {
        let output = match call.name.as_str() {
            "bash" => match call.arguments.get("command") {
                Some(Value::String(command)) => {
                    if let Some(action) = blocked_action(command) {
                        return Err(FormatError::Blocked(action));
                    }
                    if let Some(output) = self.shell.syntax_error(command, self.command_timeout) {
                        return Err(FormatError::BashSyntax(output));
                    }
                    self.bash(command)
                }
                _ => "Parameter `command` is required for the bash tool and must be a string."
                    .to_string(),
            },
            "str_replace_editor" => self.editor.call(&call.arguments),
            "submit" => match self.diff() {
                Err(err) => format!("Could not compute the diff of your changes: {err}"),
                Ok(patch) if self.reviewed => {
                    return Ok(ToolResult {
                        observation: prompts::observation(&patch.render()),
                        submitted: Some(patch),
                    });
                }
                Ok(patch) => {
                    self.reviewed = true;
                    prompts::review_message(&patch.render())
                }
            },
            other => return Err(FormatError::UnknownTool(other.to_string())),
        };
        Ok(ToolResult { observation: prompts::observation(&output), submitted: None })
    }

    fn bash(&mut self, command: &str) -> String {
        match self.shell.run(command, self.command_timeout) {
            Err(err) => format!("The command could not be run: {err}"),
            Ok(result) => {
                let mut text = clip_bash(&result.output);
                if result.timed_out {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&prompts::timeout_note(command, self.command_timeout.as_secs()));
                }
                text
            }
        }
    }
}

/// Commands SWE-agent refuses when they start with one of these (`ToolFilterConfig.blocklist`):
/// interactive programs, and a few that hang or take over the shell.
pub const BLOCKLIST: [&str; 10] =
    ["vim", "vi", "emacs", "nano", "nohup", "gdb", "less", "tail -f", "python -m venv", "make"];

/// Commands SWE-agent refuses when they are exactly one of these
/// (`ToolFilterConfig.blocklist_standalone`): an interpreter or shell with no script waits for
/// input.
pub const BLOCKLIST_STANDALONE: [&str; 13] = [
    "python",
    "python3",
    "ipython",
    "bash",
    "sh",
    "/bin/bash",
    "/bin/sh",
    "nohup",
    "vi",
    "vim",
    "emacs",
    "nano",
    "su",
];

/// The action SWE-agent's `should_block_action` refuses, stripped as it strips it, or `None`
/// when `command` may run: a prefix in [`BLOCKLIST`] (a plain prefix: `make` blocks
/// `makemigrations` too, as there), an exact [`BLOCKLIST_STANDALONE`] command, or `radare2` /
/// `r2` without `-c` (`block_unless_regex`). The step loop answers it as a format error.
pub fn blocked_action(command: &str) -> Option<String> {
    let action = command.trim_matches(prompts::is_python_whitespace);
    if action.is_empty() {
        return None;
    }
    let blocked = BLOCKLIST.iter().any(|prefix| action.starts_with(prefix))
        || BLOCKLIST_STANDALONE.contains(&action)
        || (matches!(action.split(prompts::is_python_whitespace).next(), Some("radare2" | "r2"))
            && !radare2_with_script(action));
    blocked.then(|| action.to_string())
}

/// Python's `re.search(r"\b(?:radare2)\b.*\s+-c\s+.*", action)`.
fn radare2_with_script(action: &str) -> bool {
    let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
    action.match_indices("radare2").any(|(at, _)| {
        let end = at + "radare2".len();
        if word(action[..at].chars().next_back()) || word(action[end..].chars().next()) {
            return false;
        }
        // `.*` may stop anywhere before the next line break; then `\s+-c\s+`.
        let line_end = action[end..].find('\n').map_or(action.len(), |n| end + n);
        (end..=line_end).filter(|k| action.is_char_boundary(*k)).any(|k| {
            let rest = &action[k..];
            let after = rest.trim_start_matches(prompts::is_python_whitespace);
            after.len() < rest.len()
                && after
                    .strip_prefix("-c")
                    .is_some_and(|tail| tail.starts_with(prompts::is_python_whitespace))
        })
    })
}

/// Keeps the first [`prompts::MAX_BASH_OUTPUT`] characters and says how much was cut.
fn clip_bash(output: &str) -> String {
    match output.char_indices().nth(prompts::MAX_BASH_OUTPUT) {
        None => output.to_string(),
        Some((cut, _)) => {
            let total = output.chars().count();
            format!("{}{}", &output[..cut], prompts::bash_clipped_note(total))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocklist_is_swe_agents() {
        for blocked in [
            "vim a.py",
            "  nano  ",
            "make test",
            "makemigrations",
            "tail -f log.txt",
            "python -m venv .venv",
            "python",
            " python3\n",
            "/bin/bash",
            "su",
            "r2 binary",
            "radare2 -q binary",
        ] {
            assert_eq!(blocked_action(blocked).as_deref(), Some(blocked.trim()), "{blocked:?}");
        }
        for allowed in [
            "",
            "python a.py",
            "python3 -c 'print(1)'",
            "cat Makefile",
            "tail -n 5 log.txt",
            "sudo ls",
            "cargo test",
            "radare2 -c 'pd 10' binary",
            "r2 x; radare2 -q -c px binary",
        ] {
            assert_eq!(blocked_action(allowed), None, "{allowed:?}");
        }
    }
}
