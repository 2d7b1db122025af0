//! The `str_replace_editor` tool: view, create, str_replace, insert and undo_edit, done directly
//! on the scratch tree in Rust, with the observation texts of SWE-agent's `str_replace_editor`
//! (`tools/edit_anthropic` of SERA's SWE-agent fork, with SERA's `USE_FILEMAP: 'true'`).
//!
//! The agent names files by their path inside the repository as it sees it (for example
//! `/testbed/src/lib.rs`); the editor maps that path onto the scratch copy and refuses any path
//! that leaves it. Models trained on SWE-agent trajectories are sensitive to the exact texts, so
//! they are kept verbatim, and `tests/swe_agent_conformance.rs` checks them call by call against
//! what the reference tool printed. As there:
//!
//! - a whole Python file of more than [`MAX_RESPONSE_LEN`] characters is shown as a filemap,
//!   every function body of six rows or more elided (see [`Editor::with_filemap`]);
//! - the window after `str_replace` starts five lines above the first replaced line and ends
//!   four lines past it plus the new text's line breaks (SWE-agent's arithmetic, off by one
//!   above); the window after `insert` is four lines either side;
//! - `str_replace` refuses an `old_str` equal to `new_str`, and `create` refuses a path whose
//!   parent directory does not exist;
//! - files are read with Python's universal newlines: `\r\n` and a lone `\r` are shown,
//!   searched and counted as `\n`.
//!
//! The deliberate differences, each a case of the conformance data:
//!
//! - edits never expand tabs in the file itself (SWE-agent rewrites every tab of an edited file
//!   as spaces, which breaks Makefiles and tab-indented Go), only in what is shown; `old_str`
//!   is matched against the file's own tabs;
//! - an edit writes `\r\n` back into a file whose line breaks were all `\r\n` (SWE-agent
//!   turns them into `\n`, so its patch rewrites every line);
//! - `undo_edit` works: SWE-agent's editor never saves its history (its `_file_history`
//!   property hands out a fresh copy each time), so there it always answers `No edit history
//!   found`; here it restores the previous content, and after `create` removes the file;
//! - a file that is not UTF-8 is refused (SWE-agent falls back to Latin-1), a directory is
//!   listed in sorted order (SWE-agent prints `find`'s order), and write errors read `Could not
//!   access PATH: ...`; an argument of the wrong type gets a message instead of `argparse`'s
//!   usage error, and an edit that empties the file gets its (empty) snippet where SWE-agent's
//!   window check stops with an assertion after writing.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use sera_core::pystr;
use serde_json::{Map, Value};

/// Files longer than this many characters are clipped when shown.
pub const MAX_RESPONSE_LEN: usize = 16_000;

/// Appended to clipped file views.
pub const TRUNCATED_MESSAGE: &str = "<response clipped><NOTE>To save on context only part of this file has been shown to you. You should retry this tool after you have searched inside the file with `grep -n` in order to find the line numbers of what you are looking for.</NOTE>";

/// Lines of context shown around an edit.
const SNIPPET_LINES: usize = 4;

/// The editor over one scratch tree, with its per-file undo history.
#[derive(Debug)]
pub struct Editor {
    /// The scratch copy on disk.
    root: PathBuf,
    /// The repository root as the agent sees it, e.g. `/testbed`.
    visible_root: String,
    /// Earlier contents per visible path; `None` records that the file did not exist.
    history: HashMap<String, Vec<Option<String>>>,
    /// Whether a whole long Python file is shown as a filemap (SWE-agent's `USE_FILEMAP`).
    filemap: bool,
}

impl Editor {
    /// An editor over the tree at `root`, which the agent sees as `visible_root`.
    pub fn new(root: impl Into<PathBuf>, visible_root: &str) -> Editor {
        let visible_root = normalize(visible_root).unwrap_or_else(|| "/".to_string());
        Editor { root: root.into(), visible_root, history: HashMap::new(), filemap: true }
    }

    /// Whether viewing a whole Python file of more than [`MAX_RESPONSE_LEN`] characters shows
    /// its filemap (function bodies elided) instead of the clipped text. On by default, as in
    /// SERA's SWE-agent configuration (`USE_FILEMAP: 'true'`).
    pub fn with_filemap(mut self, on: bool) -> Editor {
        self.filemap = on;
        self
    }

    /// Runs one call with the tool's JSON arguments and returns what the agent sees (without
    /// the `OBSERVATION:` prefix). Errors are part of the conversation, so they are text too.
    pub fn call(&mut self, arguments: &Map<String, Value>) -> String {
        match self.dispatch(arguments) {
            Ok(text) | Err(text) => text,
        }
    }

    fn dispatch(&mut self, args: &Map<String, Value>) -> Result<String, String> {
        let command = string_arg(args, "command")?
            .ok_or_else(|| "Parameter `command` is required for str_replace_editor".to_string())?;
        let path = string_arg(args, "path")?
            .ok_or_else(|| format!("Parameter `path` is required for command: {command}"))?;
        let (shown, real) = self.resolve(&path, &command)?;
        match command.as_str() {
            "view" => self.view(&shown, &real, args.get("view_range")),
            "create" => {
                let text = string_arg(args, "file_text")?.ok_or_else(|| {
                    "Parameter `file_text` is required for command: create".to_string()
                })?;
                if !real.parent().is_some_and(Path::exists) {
                    let parent = shown.rsplit_once('/').map_or("/", |(dir, _)| dir);
                    let parent = if parent.is_empty() { "/" } else { parent };
                    return Err(format!(
                        "The parent directory {parent} does not exist. Please create it first."
                    ));
                }
                std::fs::write(&real, &text).map_err(|err| io_message(&shown, &err))?;
                self.history.entry(shown.clone()).or_default().push(None);
                Ok(format!("File created successfully at: {shown}"))
            }
            "str_replace" => {
                let old = string_arg(args, "old_str")?.ok_or_else(|| {
                    "Parameter `old_str` is required for command: str_replace".to_string()
                })?;
                let new = string_arg(args, "new_str")?.unwrap_or_default();
                self.str_replace(&shown, &real, &old, &new)
            }
            "insert" => {
                let line = match args.get("insert_line") {
                    None | Some(Value::Null) => {
                        return Err(
                            "Parameter `insert_line` is required for command: insert".into()
                        );
                    }
                    Some(value) => int_value(value).ok_or_else(|| {
                        format!(
                            "Invalid `insert_line` parameter: {}. It should be an integer.",
                            show_json(value)
                        )
                    })?,
                };
                let new = string_arg(args, "new_str")?.ok_or_else(|| {
                    "Parameter `new_str` is required for command: insert".to_string()
                })?;
                self.insert(&shown, &real, line, &new)
            }
            "undo_edit" => self.undo(&shown, &real),
            other => Err(format!(
                "Unrecognized command {other}. The allowed commands for the str_replace_editor tool are: \"view\", \"create\", \"str_replace\", \"insert\", \"undo_edit\""
            )),
        }
    }

    /// Checks the path as SWE-agent does and maps it onto the scratch tree.
    fn resolve(&self, path: &str, command: &str) -> Result<(String, PathBuf), String> {
        if !path.starts_with('/') {
            let suggested = format!("{}/{}", self.visible_root.trim_end_matches('/'), path);
            return Err(format!(
                "The path {path} is not an absolute path, it should start with `/`. Maybe you meant {suggested}?"
            ));
        }
        let shown = normalize(path).ok_or_else(|| {
            format!("The path {path} does not exist. Please provide a valid path.")
        })?;
        let relative = if shown == self.visible_root {
            ""
        } else {
            let prefix = format!("{}/", self.visible_root.trim_end_matches('/'));
            shown.strip_prefix(&prefix).ok_or_else(|| {
                format!(
                    "The path {shown} is outside the repository. Only files under {} can be viewed or edited.",
                    self.visible_root
                )
            })?
        };
        let real = if relative.is_empty() { self.root.clone() } else { self.root.join(relative) };
        // A symbolic link inside the tree must not lead the editor out of it.
        if let Ok(canonical) = real.canonicalize() {
            let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
            if !canonical.starts_with(&root) {
                return Err(format!(
                    "The path {shown} is outside the repository. Only files under {} can be viewed or edited.",
                    self.visible_root
                ));
            }
        }
        let exists = real.exists();
        if !exists && command != "create" {
            return Err(format!("The path {shown} does not exist. Please provide a valid path."));
        }
        if exists && command == "create" {
            return Err(format!(
                "File already exists at: {shown}. Cannot overwrite files using command `create`."
            ));
        }
        if real.is_dir() && command != "view" {
            return Err(format!(
                "The path {shown} is a directory and only the `view` command can be used on directories"
            ));
        }
        Ok((shown, real))
    }

    fn view(&self, shown: &str, real: &Path, range: Option<&Value>) -> Result<String, String> {
        let range = range.filter(|value| !value.is_null());
        if real.is_dir() {
            if range.is_some() {
                return Err(
                    "The `view_range` parameter is not allowed when `path` points to a directory."
                        .into(),
                );
            }
            let mut listing = vec![shown.to_string()];
            list_dir(real, shown, 2, &mut listing);
            return Ok(format!(
                "Here's the files and directories up to 2 levels deep in {shown}, excluding hidden items:\n{}\n\n",
                listing.join("\n")
            ));
        }
        let content = read_text(shown, real)?.text;
        let Some(range) = range else {
            let long_python = real.extension().is_some_and(|ext| ext == "py")
                && content.chars().nth(MAX_RESPONSE_LEN).is_some();
            if long_python
                && self.filemap
                && let Some(map) = filemap(&content)
            {
                return Ok(format!(
                    "{FILEMAP_NOTE}\n{}\n{FILEMAP_IMPORTANT}",
                    maybe_truncate(&expand_tabs(&map))
                ));
            }
            return Ok(make_output(&content, shown, 1));
        };
        // Models often send the list as a string ("[10, 20]"); read it as JSON then.
        let parsed = match range {
            Value::String(text) => serde_json::from_str::<Value>(text).ok(),
            other => Some(other.clone()),
        };
        let pair = match parsed {
            Some(Value::Array(items)) if items.len() == 2 => {
                items.iter().map(int_value).collect::<Option<Vec<i64>>>()
            }
            _ => None,
        };
        let Some(pair) = pair else {
            return Err("Invalid `view_range`. It should be a list of two integers.".into());
        };
        let (first, last) = (pair[0], pair[1]);
        let lines: Vec<&str> = content.split('\n').collect();
        let count = lines.len() as i64;
        let shown_range = format!("[{first}, {last}]");
        if first < 1 || first > count {
            return Err(format!(
                "Invalid `view_range`: {shown_range}. Its first element `{first}` should be within the range of lines of the file: [1, {count}]"
            ));
        }
        if last > count {
            return Err(format!(
                "Invalid `view_range`: {shown_range}. Its second element `{last}` should be smaller than the number of lines in the file: `{count}`"
            ));
        }
        if last != -1 && last < first {
            return Err(format!(
                "Invalid `view_range`: {shown_range}. Its second element `{last}` should be larger or equal than its first `{first}`"
            ));
        }
        let start = (first - 1) as usize;
        let end = if last == -1 { lines.len() } else { last as usize };
        Ok(make_output(&lines[start..end].join("\n"), shown, first as usize))
    }

    fn str_replace(
        &mut self,
        shown: &str,
        real: &Path,
        old: &str,
        new: &str,
    ) -> Result<String, String> {
        let FileText { raw, text: content, crlf } = read_text(shown, real)?;
        let occurrences = content.matches(old).count();
        if occurrences == 0 {
            return Err(format!(
                "No replacement was performed, old_str `{old}` did not appear verbatim in {shown}."
            ));
        }
        if occurrences > 1 {
            let lines: Vec<String> = content
                .split('\n')
                .enumerate()
                .filter(|(_, line)| line.contains(old))
                .map(|(index, _)| (index + 1).to_string())
                .collect();
            return Err(format!(
                "No replacement was performed. Multiple occurrences of old_str `{old}` in lines [{}]. Please ensure it is unique",
                lines.join(", ")
            ));
        }
        if new == old {
            return Err(format!(
                "No replacement was performed, old_str `{old}` is the same as new_str `{new}`."
            ));
        }
        let at = content.find(old).expect("counted exactly one occurrence above");
        let updated = format!("{}{}{}", &content[..at], new, &content[at + old.len()..]);
        write_text(shown, real, &updated, crlf)?;
        self.history.entry(shown.to_string()).or_default().push(Some(raw));

        // SWE-agent's window, 1-based and inclusive: from four lines above the 0-based index of
        // the first replaced line (so five lines of context above it), to four lines past
        // that index plus the new text's line breaks, but no further than the last line as
        // Python's `splitlines` counts them.
        let replacement_line = content[..at].matches('\n').count();
        let first = replacement_line.saturating_sub(SNIPPET_LINES).max(1);
        let last = (replacement_line + SNIPPET_LINES + new.matches('\n').count())
            .min(pystr::splitlines(&updated).count());
        let lines: Vec<&str> = updated.split('\n').collect();
        // Where SWE-agent's window check fails (an edit that empties the file), it stops with an
        // assertion after writing; the slice is clamped here instead.
        let low = (first - 1).min(lines.len());
        let snippet = lines[low..last.min(lines.len()).max(low)].join("\n");
        Ok(format!(
            "The file {shown} has been edited. {}Review the changes and make sure they are as expected. Edit the file again if necessary.",
            make_output(&snippet, &format!("a snippet of {shown}"), first)
        ))
    }

    fn insert(&mut self, shown: &str, real: &Path, line: i64, new: &str) -> Result<String, String> {
        let FileText { raw, text: content, crlf } = read_text(shown, real)?;
        let lines: Vec<&str> = content.split('\n').collect();
        let count = lines.len() as i64;
        if line < 0 || line > count {
            return Err(format!(
                "Invalid `insert_line` parameter: {line}. It should be within the range of lines of the file: [0, {count}]"
            ));
        }
        let at = line as usize;
        let new_lines: Vec<&str> = new.split('\n').collect();
        let mut updated: Vec<&str> = Vec::with_capacity(lines.len() + new_lines.len());
        updated.extend_from_slice(&lines[..at]);
        updated.extend_from_slice(&new_lines);
        updated.extend_from_slice(&lines[at..]);
        let mut snippet: Vec<&str> = lines[at.saturating_sub(SNIPPET_LINES)..at].to_vec();
        snippet.extend_from_slice(&new_lines);
        snippet.extend_from_slice(&lines[at..(at + SNIPPET_LINES).min(lines.len())]);
        write_text(shown, real, &updated.join("\n"), crlf)?;
        self.history.entry(shown.to_string()).or_default().push(Some(raw));
        let first = (at + 1).saturating_sub(SNIPPET_LINES).max(1);
        Ok(format!(
            "The file {shown} has been edited. {}Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.",
            make_output(&snippet.join("\n"), "a snippet of the edited file", first)
        ))
    }

    fn undo(&mut self, shown: &str, real: &Path) -> Result<String, String> {
        let previous = self.history.get_mut(shown).and_then(Vec::pop);
        match previous {
            None => Err(format!("No edit history found for {shown}.")),
            Some(None) => {
                std::fs::remove_file(real).map_err(|err| io_message(shown, &err))?;
                Ok(format!("Last edit to {shown} undone successfully. The file no longer exists."))
            }
            Some(Some(raw)) => {
                std::fs::write(real, &raw).map_err(|err| io_message(shown, &err))?;
                Ok(format!(
                    "Last edit to {shown} undone successfully. {}",
                    make_output(&universal_newlines(&raw), shown, 1)
                ))
            }
        }
    }
}

/// Printed above a filemap.
const FILEMAP_NOTE: &str = "<NOTE>This file is too large to display entirely. Showing abbreviated version. Please use `str_replace_editor view` with the `view_range` parameter to show selected lines next.</NOTE>";

/// Printed below a filemap (SWE-agent's text, `str_replace editor` and all).
const FILEMAP_IMPORTANT: &str = "<IMPORTANT><NOTE>The above file has been abbreviated. Please use `str_replace editor view` with `view_range` to look at relevant files in detail.</NOTE></IMPORTANT>";

/// A function body of at least this many rows past its first is elided in a filemap.
const FILEMAP_MIN_ELIDED_ROWS: usize = 5;

/// SWE-agent's `Filemap.show_filemap`: the file's lines, numbered 6 wide and a space, with the
/// body of every function that spans [`FILEMAP_MIN_ELIDED_ROWS`] rows or more replaced by one
/// `... eliding lines A-B ...` line at its first row. Nested bodies give their own elision
/// line inside the outer one, as SWE-agent's do. Lines are Python's `splitlines`, rows are
/// tree-sitter's (`\n` only), as in SWE-agent. `None` when the file cannot be parsed, where
/// SWE-agent falls back to the clipped text too.
fn filemap(content: &str) -> Option<String> {
    let bodies = sera_code::python_function_body_rows(content).ok()?;
    let elided: Vec<(usize, usize)> =
        bodies.into_iter().filter(|(start, end)| end - start >= FILEMAP_MIN_ELIDED_ROWS).collect();
    let hidden: std::collections::HashSet<usize> =
        elided.iter().flat_map(|&(start, end)| start..=end).collect();
    let mut entries: Vec<(usize, String)> = elided
        .iter()
        .map(|&(start, end)| (start, format!("... eliding lines {}-{} ...", start + 1, end + 1)))
        .collect();
    entries.extend(
        pystr::splitlines(content)
            .enumerate()
            .filter(|(row, _)| !hidden.contains(row))
            .map(|(row, line)| (row, line.to_string())),
    );
    entries.sort();
    let lines: Vec<String> =
        entries.iter().map(|(row, text)| format!("{:6} {text}", row + 1)).collect();
    Some(lines.join("\n"))
}

/// SWE-agent's `_make_output`: clip, expand tabs, number each line 6 wide, then a tab.
fn make_output(content: &str, descriptor: &str, first_line: usize) -> String {
    let clipped = maybe_truncate(content);
    let expanded = expand_tabs(&clipped);
    let mut out = format!("Here's the result of running `cat -n` on {descriptor}:\n");
    for (index, line) in expanded.split('\n').enumerate() {
        out.push_str(&format!("{:6}\t{line}\n", index + first_line));
    }
    out
}

/// Keeps the first [`MAX_RESPONSE_LEN`] characters and appends [`TRUNCATED_MESSAGE`].
pub(crate) fn maybe_truncate(content: &str) -> std::borrow::Cow<'_, str> {
    match content.char_indices().nth(MAX_RESPONSE_LEN) {
        None => std::borrow::Cow::Borrowed(content),
        Some((cut, _)) => {
            std::borrow::Cow::Owned(format!("{}{TRUNCATED_MESSAGE}", &content[..cut]))
        }
    }
}

/// Python's `str.expandtabs()` with its default tab size of 8.
fn expand_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut column = 0;
    for ch in text.chars() {
        match ch {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(ch);
                column = 0;
            }
            _ => {
                out.push(ch);
                column += 1;
            }
        }
    }
    out
}

/// `find DIR -maxdepth N -not -path '*/.*'`, in sorted order so that the listing is the same on
/// every file system.
fn list_dir(dir: &Path, shown: &str, depth: usize, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    names.sort();
    for (name, path) in names {
        let child = format!("{}/{name}", shown.trim_end_matches('/'));
        out.push(child.clone());
        if path.is_dir() && !path.is_symlink() {
            list_dir(&path, &child, depth - 1, out);
        }
    }
}

/// Collapses `.`, `..` and repeated slashes of an absolute path; `None` if it climbs above `/`.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// A file as the editor works on it.
struct FileText {
    /// The bytes on disk, for the undo history.
    raw: String,
    /// The text with Python's universal newlines (`\r\n` and a lone `\r` read as `\n`), as
    /// SWE-agent's `Path.read_text` gives it: what is shown, searched and edited.
    text: String,
    /// Every line break on disk is `\r\n`: an edit writes them back that way.
    crlf: bool,
}

fn read_text(shown: &str, real: &Path) -> Result<FileText, String> {
    let bytes = std::fs::read(real).map_err(|err| io_message(shown, &err))?;
    let raw = String::from_utf8(bytes).map_err(|_| {
        format!("The file {shown} is not UTF-8 text and cannot be shown or edited.")
    })?;
    let crlfs = raw.matches("\r\n").count();
    let crlf =
        crlfs > 0 && crlfs == raw.matches('\n').count() && crlfs == raw.matches('\r').count();
    let text = universal_newlines(&raw);
    Ok(FileText { raw, text, crlf })
}

/// Python's universal newlines on reading: `\r\n` and `\r` become `\n`.
fn universal_newlines(raw: &str) -> String {
    if raw.contains('\r') { raw.replace("\r\n", "\n").replace('\r', "\n") } else { raw.to_string() }
}

/// Writes an edited text, with `\r\n` line breaks where the file had only those.
fn write_text(shown: &str, real: &Path, text: &str, crlf: bool) -> Result<(), String> {
    let result = if crlf {
        std::fs::write(real, text.replace('\n', "\r\n"))
    } else {
        std::fs::write(real, text)
    };
    result.map_err(|err| io_message(shown, &err))
}

fn io_message(shown: &str, err: &std::io::Error) -> String {
    format!("Could not access {shown}: {err}")
}

/// A string argument; a present non-string value is an error the agent sees.
fn string_arg(args: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => {
            Err(format!("Parameter `{name}` must be a string, got {}", show_json(other)))
        }
    }
}

/// An integer, also accepted as a numeric string (models often quote numbers).
fn int_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn show_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines_read_crlf_and_lone_cr_as_lf() {
        assert_eq!(universal_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn filemap_elides_long_bodies_and_keeps_short_ones() {
        let text = "def long(a):\n    a += 1\n    a += 1\n    a += 1\n    a += 1\n    a += 1\n    return a\n\ndef short():\n    return 1\n";
        assert_eq!(
            filemap(text).unwrap(),
            "     1 def long(a):\n     2 ... eliding lines 2-7 ...\n     8 \n     9 def short():\n    10     return 1"
        );
    }
}
