//! The fixed texts of the environment: system prompt, task message, tool schemas, observation
//! framing and the messages for empty output, clipped output, format errors and review.
//!
//! They follow SWE-agent as SERA configures it (`sera/configs/sweagent/e2e.yaml` of SERA, the
//! `FunctionCallingParser` of its SWE-agent fork) because trained models are sensitive to the
//! exact formats (reference: algorithms.md section 4). The format-error texts are SWE-agent's
//! Jinja template rendered for each error code, whitespace control included. Every text here
//! is deterministic.

use serde_json::{Value, json};

/// The one-sentence system prompt.
pub const SYSTEM_PROMPT: &str =
    "You are a helpful assistant that can interact with a computer to solve tasks.";

/// Shown instead of an output that is empty or only whitespace: SERA's
/// `next_step_no_output_template`, which has no `OBSERVATION:` prefix.
pub const EMPTY_OUTPUT: &str = "Your last command ran successfully and did not produce any output.";

/// Prefix of every tool observation.
pub const OBSERVATION_PREFIX: &str = "OBSERVATION:\n";

/// Bash output longer than this many characters is clipped.
pub const MAX_BASH_OUTPUT: usize = 100_000;

/// Sent back when a reply carries no tool call: SWE-agent's format error, code `missing`.
pub const FORMAT_ERROR: &str = "Your last output did not use any tool calls!\n\
Please make sure your output includes exactly _ONE_ function call!\n\
You must invoke the function directly using the function call format.\n\
You cannot invoke commands with ```, you have to use the function call format.\n\
If you think you have already resolved the issue, please submit your changes by running the `submit` command.\n\
If you think you cannot solve the problem, please run `exit_forfeit` (if available) or `submit`.\n\
Else, please continue with a new tool call!";

/// Sent back when a reply carries more than one tool call: code `multiple`.
pub const MULTIPLE_TOOL_CALLS: &str = "Your last output included multiple tool calls!\n\
Please make sure your output includes a thought and exactly _ONE_ function call.";

/// Sent back for a call that names unexpected arguments: code `unexpected_arg`, with
/// SWE-agent's exception message (`Unexpected argument(s): a, b`).
pub fn unexpected_arguments_error(message: &str) -> String {
    format!(
        "Your action could not be parsed properly: {message}.\n\
Make sure your function call doesn't include any extra arguments that are not in the allowed arguments, and only use the allowed commands."
    )
}

/// Sent back for every other call that cannot be run (the template's `else` branch: an
/// unknown tool, arguments that are not JSON, missing arguments, an unreadable `<tool_call>`
/// block). SWE-agent's exception messages end with a period, and the template adds another;
/// the branch ends with a line break because its `{% endif %}` does not strip it.
pub fn unparsable_action_error(message: &str) -> String {
    format!("Your action could not be parsed properly: {message}.\n")
}

/// The source language of a task, which decides how the task message suggests reproducing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskLanguage {
    Python,
    Rust,
    Other,
}

impl TaskLanguage {
    /// Guesses from a file path's extension.
    pub fn from_path(path: &str) -> TaskLanguage {
        if path.ends_with(".py") {
            TaskLanguage::Python
        } else if path.ends_with(".rs") {
            TaskLanguage::Rust
        } else {
            TaskLanguage::Other
        }
    }
}

/// The first user message: the issue inside `<pr_description>` and the steps to follow.
pub fn task_message(workdir: &str, problem_statement: &str, language: TaskLanguage) -> String {
    let (kind, reproduce) = match language {
        TaskLanguage::Python => {
            ("python", "execute it with `python <filename.py>` using the bash tool")
        }
        TaskLanguage::Rust => (
            "rust",
            "execute it using the bash tool (for example as an example program run with `cargo run --example <name>`)",
        ),
        TaskLanguage::Other => ("", "execute it using the bash tool"),
    };
    let kind = if kind.is_empty() { String::new() } else { format!("{kind} ") };
    format!(
        "<uploaded_files>
{workdir}
</uploaded_files>
I've uploaded a {kind}code repository in the directory {workdir}. Consider the following PR description:

<pr_description>
{problem_statement}
</pr_description>

Can you help me implement the necessary changes to the repository so that the requirements specified in the <pr_description> are met?
I've already taken care of all changes to any of the test files described in the <pr_description>. This means you DON'T have to modify the testing logic or any of the tests in any way!
Your task is to make the minimal changes to non-tests files in the {workdir} directory to ensure the <pr_description> is satisfied.
Follow these steps to resolve the issue:
1. As a first step, it might be a good idea to find and read code relevant to the <pr_description>
2. Create a script to reproduce the error and {reproduce}, to confirm the error
3. Edit the sourcecode of the repo to resolve the issue
4. Rerun your reproduce script and confirm that the error is fixed!
5. Think about edgecases and make sure your fix handles them as well
Your thinking should be thorough and so it's fine if it's very long."
    )
}

/// The first `submit`: a review checklist and the current diff. The run goes on.
pub fn review_message(diff: &str) -> String {
    format!(
        "Thank you for your work on this issue. Please carefully follow the steps below to help review your changes.

1. If you made any changes to your code after running the reproduction script, please run the reproduction script again.
  If the reproduction script is failing, please revisit your changes and make sure they are correct.
  If you have already removed your reproduction script, please ignore this step.
2. Remove your reproduction script (if you haven't done so already).
3. If you have modified any TEST files, please revert them to the state they had before you started fixing the issue.
  You can do this with the `undo_edit` command of `str_replace_editor`, or by restoring their original content. Use below <diff> to find the files you need to revert.
4. Run the submit command again to confirm.

Here is a list of all of your changes:

<diff>
{diff}
</diff>
"
    )
}

/// The note after clipped bash output.
pub fn bash_clipped_note(total_chars: usize) -> String {
    format!(
        "\n<output clipped: showing the first {MAX_BASH_OUTPUT} of {total_chars} characters. \
Please try a different command that produces less output: use head, tail or sed to view a smaller number of lines, \
a more selective search pattern, or redirect the output to a file and search in that file.>"
    )
}

/// The note after a command that ran out of time.
pub fn timeout_note(command: &str, seconds: u64) -> String {
    format!(
        "The command '{command}' was cancelled because it took more than {seconds} seconds. \
Please try a different command that completes more quickly. Note: A common source of this error is if the command is \
interactive or requires user input (it is impossible to receive user input in the current environment, so the \
command will never complete)."
    )
}

/// Sent back for a command on SWE-agent's blocklist: `ToolFilterConfig.blocklist_error_template`.
pub fn blocked_error(action: &str) -> String {
    format!("Operation '{action}' is not supported by this environment.")
}

/// Sent back for a `bash` command with a syntax error: SWE-agent's `shell_check_error_template`
/// with what `bash -n` printed as its standard error (its standard output, which `bash -n`
/// leaves empty, comes first in the template).
pub fn bash_syntax_error(bash_output: &str) -> String {
    format!(
        "Your bash command contained syntax errors and was NOT executed. Please fix the syntax errors and try again. \
This can be the result of not adhering to the syntax for multi-line commands. Here is the output of `bash -n`:\n\n{bash_output}"
    )
}

/// Frames a tool's output as the agent sees it: SERA's `next_step_template`
/// (`OBSERVATION:\n{{observation}}`), or [`EMPTY_OUTPUT`] alone when `output.strip() == ""`
/// in Python's sense.
pub fn observation(output: &str) -> String {
    if output.chars().all(is_python_whitespace) {
        EMPTY_OUTPUT.to_string()
    } else {
        format!("{OBSERVATION_PREFIX}{output}")
    }
}

pub use sera_core::pystr::is_space as is_python_whitespace;

/// The three tools in OpenAI function format, in the order they are offered.
pub fn tool_schemas(workdir: &str) -> Vec<Value> {
    vec![
        json!({
            "type": "function",
            "function": {
                "name": "bash",
                "description": "runs the given command directly in bash",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string", "description": "The bash command to execute."}
                    },
                    "required": ["command"]
                }
            }
        }),
        json!({
            "type": "function",
            "function": {
                "name": "str_replace_editor",
                "description": "Custom editing tool for viewing, creating and editing files\n* State is persistent across command calls and discussions with the user\n* If `path` is a file, `view` displays the result of applying `cat -n`. If `path` is a directory, `view` lists non-hidden files and directories up to 2 levels deep\n* The `create` command cannot be used if the specified `path` already exists as a file\n* If a `command` generates a long output, it will be truncated and marked with `<response clipped>`\n* The `undo_edit` command will revert the last edit made to the file at `path`\n\nNotes for using the `str_replace` command:\n* The `old_str` parameter should match EXACTLY one or more consecutive lines from the original file. Be mindful of whitespaces!\n* If the `old_str` parameter is not unique in the file, the replacement will not be performed. Make sure to include enough context in `old_str` to make it unique\n* The `new_str` parameter should contain the edited lines that should replace the `old_str`\n",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {
                            "type": "string",
                            "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
                            "description": "The commands to run. Allowed options are: `view`, `create`, `str_replace`, `insert`, `undo_edit`."
                        },
                        "path": {
                            "type": "string",
                            "description": format!("Absolute path to file or directory, e.g. `{workdir}/file.py` or `{workdir}`.")
                        },
                        "file_text": {
                            "type": "string",
                            "description": "Required parameter of `create` command, with the content of the file to be created."
                        },
                        "old_str": {
                            "type": "string",
                            "description": "Required parameter of `str_replace` command containing the string in `path` to replace."
                        },
                        "new_str": {
                            "type": "string",
                            "description": "Optional parameter of `str_replace` command containing the new string (if not given, no string will be added). Required parameter of `insert` command containing the string to insert."
                        },
                        "insert_line": {
                            "type": "integer",
                            "description": "Required parameter of `insert` command. The `new_str` will be inserted AFTER the line `insert_line` of `path`."
                        },
                        "view_range": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "Optional parameter of `view` command when `path` points to a file. If none is given, the full file is shown. If provided, the file will be shown in the indicated line number range, e.g. [11, 12] will show lines 11 and 12. Indexing at 1 to start. Setting `[start_line, -1]` shows all lines from `start_line` to the end of the file."
                        }
                    },
                    "required": ["command", "path"]
                }
            }
        }),
        json!({
            "type": "function",
            "function": {
                "name": "submit",
                "description": "submits the current file",
                "parameters": {"type": "object", "properties": {}, "required": []}
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_errors_are_swe_agents_template_rendered_per_error_code() {
        // jinja2 3.1 rendering FunctionCallingParser.error_message (SERA's SWE-agent fork,
        // ffbef4bf) with error_code and exception_message as its parser raises them.
        assert_eq!(
            FORMAT_ERROR,
            "Your last output did not use any tool calls!\nPlease make sure your output includes exactly _ONE_ function call!\nYou must invoke the function directly using the function call format.\nYou cannot invoke commands with ```, you have to use the function call format.\nIf you think you have already resolved the issue, please submit your changes by running the `submit` command.\nIf you think you cannot solve the problem, please run `exit_forfeit` (if available) or `submit`.\nElse, please continue with a new tool call!"
        );
        assert_eq!(
            MULTIPLE_TOOL_CALLS,
            "Your last output included multiple tool calls!\nPlease make sure your output includes a thought and exactly _ONE_ function call."
        );
        assert_eq!(
            unexpected_arguments_error("Unexpected argument(s): foo"),
            "Your action could not be parsed properly: Unexpected argument(s): foo.\nMake sure your function call doesn't include any extra arguments that are not in the allowed arguments, and only use the allowed commands."
        );
        assert_eq!(
            unparsable_action_error("Command 'foo' not found in list of available commands."),
            "Your action could not be parsed properly: Command 'foo' not found in list of available commands..\n"
        );
        assert_eq!(
            unparsable_action_error("Required argument(s) missing: command"),
            "Your action could not be parsed properly: Required argument(s) missing: command.\n"
        );
    }

    #[test]
    fn empty_output_is_seras_no_output_template_without_the_prefix() {
        assert_eq!(observation("x"), "OBSERVATION:\nx");
        assert_eq!(observation(" x \n"), "OBSERVATION:\n x \n");
        for empty in ["", " \n\t", "\u{a0}\u{3000}", "\x1c\x1d\x1e\x1f\x0b\x0c\r", "\u{85}\u{2028}"]
        {
            assert_eq!(
                observation(empty),
                "Your last command ran successfully and did not produce any output.",
                "{empty:?}"
            );
        }
        // Not white space to Python either: zero-width space, byte-order mark, NUL.
        for kept in ["\u{200b}", "\u{feff}", "\0"] {
            assert_eq!(observation(kept), format!("OBSERVATION:\n{kept}"));
        }
    }
}
