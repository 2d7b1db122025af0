//! `str_replace_editor`: exact observation strings, one case per line of behaviour.

use sera_rollout::editor::Editor;
use serde_json::{Map, Value, json};

/// A scratch tree with `src/a.py` (three lines), `notes.txt`, a hidden dir and a nested dir.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("src/deep/deeper")).expect("mkdir");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::write(root.join("src/a.py"), "def f(x):\n    return x + 1\n\nvalue = f(1)\n")
        .expect("write");
    std::fs::write(root.join("src/deep/deeper/z.txt"), "z\n").expect("write");
    std::fs::write(root.join("notes.txt"), "one\ntwo\none\n").expect("write");
    std::fs::write(root.join(".hidden"), "h\n").expect("write");
    dir
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("arguments must be an object"),
    }
}

/// Runs the calls in order on a fresh tree and checks the last observation.
fn check(calls: &[Value], expected: &str) {
    let dir = tree();
    let mut editor = Editor::new(dir.path(), "/testbed");
    let mut last = String::new();
    for call in calls {
        last = editor.call(&args(call.clone()));
    }
    assert_eq!(last, expected);
}

fn file(dir: &tempfile::TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).expect("read")
}

#[test]
fn view_numbers_lines_six_wide_with_a_tab() {
    check(
        &[json!({"command": "view", "path": "/testbed/src/a.py"})],
        "Here's the result of running `cat -n` on /testbed/src/a.py:\n     1\tdef f(x):\n     2\t    return x + 1\n     3\t\n     4\tvalue = f(1)\n     5\t\n",
    );
}

#[test]
fn view_range_shows_only_those_lines_and_minus_one_means_to_the_end() {
    check(
        &[json!({"command": "view", "path": "/testbed/src/a.py", "view_range": [2, 3]})],
        "Here's the result of running `cat -n` on /testbed/src/a.py:\n     2\t    return x + 1\n     3\t\n",
    );
    check(
        &[json!({"command": "view", "path": "/testbed/src/a.py", "view_range": [4, -1]})],
        "Here's the result of running `cat -n` on /testbed/src/a.py:\n     4\tvalue = f(1)\n     5\t\n",
    );
}

#[test]
fn view_range_errors_name_the_bad_element() {
    let view =
        |range: Value| json!({"command": "view", "path": "/testbed/src/a.py", "view_range": range});
    check(
        &[view(json!([0, 2]))],
        "Invalid `view_range`: [0, 2]. Its first element `0` should be within the range of lines of the file: [1, 5]",
    );
    check(
        &[view(json!([2, 9]))],
        "Invalid `view_range`: [2, 9]. Its second element `9` should be smaller than the number of lines in the file: `5`",
    );
    check(
        &[view(json!([3, 2]))],
        "Invalid `view_range`: [3, 2]. Its second element `2` should be larger or equal than its first `3`",
    );
    check(&[view(json!([1]))], "Invalid `view_range`. It should be a list of two integers.");
    check(
        &[view(json!("[2, 3]"))],
        "Here's the result of running `cat -n` on /testbed/src/a.py:\n     2\t    return x + 1\n     3\t\n",
    );
}

#[test]
fn view_of_a_directory_lists_two_levels_without_hidden_entries() {
    check(
        &[json!({"command": "view", "path": "/testbed"})],
        "Here's the files and directories up to 2 levels deep in /testbed, excluding hidden items:\n/testbed\n/testbed/notes.txt\n/testbed/src\n/testbed/src/a.py\n/testbed/src/deep\n\n",
    );
    check(
        &[json!({"command": "view", "path": "/testbed/src", "view_range": [1, 2]})],
        "The `view_range` parameter is not allowed when `path` points to a directory.",
    );
}

#[test]
fn paths_must_be_absolute_existing_and_inside_the_repository() {
    check(
        &[json!({"command": "view", "path": "src/a.py"})],
        "The path src/a.py is not an absolute path, it should start with `/`. Maybe you meant /testbed/src/a.py?",
    );
    check(
        &[json!({"command": "view", "path": "/testbed/nope.py"})],
        "The path /testbed/nope.py does not exist. Please provide a valid path.",
    );
    check(
        &[json!({"command": "view", "path": "/testbed/../etc/passwd"})],
        "The path /etc/passwd is outside the repository. Only files under /testbed can be viewed or edited.",
    );
    check(
        &[json!({"command": "str_replace", "path": "/testbed/src", "old_str": "a"})],
        "The path /testbed/src is a directory and only the `view` command can be used on directories",
    );
}

#[test]
fn create_makes_a_file_and_refuses_to_overwrite() {
    check(
        &[json!({"command": "create", "path": "/testbed/src/b.py", "file_text": "print(2)\n"})],
        "File created successfully at: /testbed/src/b.py",
    );
    check(
        &[json!({"command": "create", "path": "/testbed/new/b.py", "file_text": "print(2)\n"})],
        "The parent directory /testbed/new does not exist. Please create it first.",
    );
    check(
        &[json!({"command": "create", "path": "/testbed/notes.txt", "file_text": "x"})],
        "File already exists at: /testbed/notes.txt. Cannot overwrite files using command `create`.",
    );
    check(
        &[json!({"command": "create", "path": "/testbed/c.py"})],
        "Parameter `file_text` is required for command: create",
    );
}

#[test]
fn str_replace_edits_once_and_shows_a_snippet_with_context() {
    // The window stops at the last line as Python's `splitlines` counts them, so the empty
    // "line" after the final newline is not shown (SWE-agent's `len(splitlines())` bound).
    check(
        &[
            json!({"command": "str_replace", "path": "/testbed/src/a.py", "old_str": "x + 1", "new_str": "x + 2"}),
        ],
        "The file /testbed/src/a.py has been edited. Here's the result of running `cat -n` on a snippet of /testbed/src/a.py:\n     1\tdef f(x):\n     2\t    return x + 2\n     3\t\n     4\tvalue = f(1)\nReview the changes and make sure they are as expected. Edit the file again if necessary.",
    );
}

#[test]
fn str_replace_requires_exactly_one_occurrence() {
    check(
        &[
            json!({"command": "str_replace", "path": "/testbed/notes.txt", "old_str": "three", "new_str": "3"}),
        ],
        "No replacement was performed, old_str `three` did not appear verbatim in /testbed/notes.txt.",
    );
    check(
        &[
            json!({"command": "str_replace", "path": "/testbed/notes.txt", "old_str": "one", "new_str": "1"}),
        ],
        "No replacement was performed. Multiple occurrences of old_str `one` in lines [1, 3]. Please ensure it is unique",
    );
    check(
        &[json!({"command": "str_replace", "path": "/testbed/notes.txt"})],
        "Parameter `old_str` is required for command: str_replace",
    );
}

#[test]
fn insert_goes_after_the_given_line() {
    check(
        &[
            json!({"command": "insert", "path": "/testbed/notes.txt", "insert_line": 1, "new_str": "one and a half"}),
        ],
        "The file /testbed/notes.txt has been edited. Here's the result of running `cat -n` on a snippet of the edited file:\n     1\tone\n     2\tone and a half\n     3\ttwo\n     4\tone\n     5\t\nReview the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.",
    );
    check(
        &[
            json!({"command": "insert", "path": "/testbed/notes.txt", "insert_line": 7, "new_str": "x"}),
        ],
        "Invalid `insert_line` parameter: 7. It should be within the range of lines of the file: [0, 4]",
    );
    check(
        &[json!({"command": "insert", "path": "/testbed/notes.txt", "new_str": "x"})],
        "Parameter `insert_line` is required for command: insert",
    );
}

#[test]
fn undo_edit_restores_the_previous_content() {
    check(
        &[
            json!({"command": "str_replace", "path": "/testbed/notes.txt", "old_str": "two", "new_str": "2"}),
            json!({"command": "undo_edit", "path": "/testbed/notes.txt"}),
        ],
        "Last edit to /testbed/notes.txt undone successfully. Here's the result of running `cat -n` on /testbed/notes.txt:\n     1\tone\n     2\ttwo\n     3\tone\n     4\t\n",
    );
    check(
        &[json!({"command": "undo_edit", "path": "/testbed/notes.txt"})],
        "No edit history found for /testbed/notes.txt.",
    );
}

#[test]
fn unknown_commands_list_the_allowed_ones() {
    check(
        &[json!({"command": "delete", "path": "/testbed/notes.txt"})],
        "Unrecognized command delete. The allowed commands for the str_replace_editor tool are: \"view\", \"create\", \"str_replace\", \"insert\", \"undo_edit\"",
    );
}

#[test]
fn long_files_are_clipped_with_the_grep_note() {
    let dir = tree();
    let long: String = (0..3000).map(|i| format!("line number {i}\n")).collect();
    std::fs::write(dir.path().join("long.txt"), &long).expect("write");
    let mut editor = Editor::new(dir.path(), "/testbed");
    let out = editor.call(&args(json!({"command": "view", "path": "/testbed/long.txt"})));
    assert!(out.ends_with("<response clipped><NOTE>To save on context only part of this file has been shown to you. You should retry this tool after you have searched inside the file with `grep -n` in order to find the line numbers of what you are looking for.</NOTE>\n"));
    assert!(out.len() < 16_000 + 2_000 * 8, "{}", out.len());
}

#[test]
fn edits_keep_tabs_in_the_file_but_show_them_expanded() {
    let dir = tree();
    std::fs::write(dir.path().join("Makefile"), "all:\n\techo hi\n").expect("write");
    let mut editor = Editor::new(dir.path(), "/testbed");
    let out = editor.call(&args(json!({"command": "str_replace", "path": "/testbed/Makefile", "old_str": "hi", "new_str": "ho"})));
    assert!(out.contains("     2\t        echo ho\n"), "{out}");
    assert_eq!(file(&dir, "Makefile"), "all:\n\techo ho\n");
}
