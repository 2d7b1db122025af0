//! Git-style unified diffs: parse, render, create, apply, reverse.
//!
//! A [`Line`] keeps its own terminator (`"\n"`, `"\r\n"`, or nothing for a last line without a
//! newline), so CRLF files and `\ No newline at end of file` survive a parse/render round trip
//! byte for byte. Hunk bodies are read by their line counts, never by their look, so a removed
//! line whose text starts with `--` (rendered `--- ...`) stays a removed line.
//!
//! Rendering always produces git style (`diff --git a/P b/P`, then the extended header lines,
//! `---`/`+++` and hunks); plain unified diffs without a `diff --git` line are read as well.
//! The diff algorithm (histogram, from `imara-diff`) is used from this module only.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Lines of unchanged context around each change in created patches, as `git diff` does.
const CONTEXT: usize = 3;

/// A unified diff over one or more files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    pub files: Vec<FilePatch>,
}

/// The change to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The path before the change; `None` for a new file.
    pub old_path: Option<String>,
    /// The path after the change; `None` for a deleted file.
    pub new_path: Option<String>,
    /// Git's extended header lines (`new file mode 100644`, `index 1a2b..3c4d 100644`,
    /// `rename from x`, ...), verbatim and without their newline.
    pub header: Vec<String>,
    pub hunks: Vec<Hunk>,
}

/// One `@@ -a,b +c,d @@` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: usize,
    pub old_count: usize,
    pub new_start: usize,
    pub new_count: usize,
    /// Whatever follows the closing `@@` (git puts the enclosing function there), verbatim.
    pub section: String,
    pub lines: Vec<Line>,
}

/// One line of a hunk body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Line {
    pub kind: LineKind,
    /// The line's text with its terminator; no terminator means the file ends here without one.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    Context,
    Removed,
    Added,
}

impl LineKind {
    fn sign(self) -> char {
        match self {
            LineKind::Context => ' ',
            LineKind::Removed => '-',
            LineKind::Added => '+',
        }
    }
}

/// Why a patch could not be read or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    #[error("patch line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("{file}: hunk {hunk} (@@ -{old_start}) does not apply: {message}")]
    Apply { file: String, hunk: usize, old_start: usize, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Patch {
    /// Reads a unified diff. Text before the first file header (a commit message, say) is
    /// ignored; anything unexpected after it is an error naming the line.
    pub fn parse(text: &str) -> Result<Patch, PatchError> {
        Parser::new(text).parse()
    }

    /// Renders the patch as git-style unified diff text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            file.render_into(&mut out);
        }
        out
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|file| file.hunks.is_empty() && !file.changes_metadata())
    }

    /// The patch that undoes this one.
    pub fn reverse(&self) -> Patch {
        Patch { files: self.files.iter().map(FilePatch::reverse).collect() }
    }

    /// The patch that takes the patched files back to `original` (their content before this
    /// patch, keyed by path), diffed afresh from the patched text.
    ///
    /// This is what a tool that diffs the repository before and after a fix writes, and so what
    /// an agent's patch looks like. It can differ from [`Patch::reverse`]: when a change moves a
    /// block, the diff of the way back may move the other block instead, and line recall compares
    /// diffs line by line, so a gold fix meant to be compared with agents' patches is made here.
    pub fn undo(&self, original: &BTreeMap<String, String>) -> Result<Patch, PatchError> {
        let mut patched = original.clone();
        self.apply_to_map(&mut patched)?;
        let mut files = Vec::with_capacity(self.files.len());
        for path in self.paths() {
            let file = match (patched.get(path), original.get(path)) {
                (Some(now), Some(before)) if now != before => FilePatch::between(path, now, before),
                (Some(now), None) => FilePatch::deleted(path, now),
                (None, Some(before)) => FilePatch::created(path, before),
                _ => continue,
            };
            files.push(file);
        }
        Ok(Patch { files })
    }

    /// Every added or removed line, in patch order, with the file it belongs to.
    pub fn changed_lines(&self) -> impl Iterator<Item = (&FilePatch, &Line)> {
        self.files.iter().flat_map(|file| {
            file.hunks
                .iter()
                .flat_map(|hunk| hunk.lines.iter())
                .filter(|line| line.kind != LineKind::Context)
                .map(move |line| (file, line))
        })
    }

    /// The number of added plus removed lines.
    pub fn changed_line_count(&self) -> usize {
        self.changed_lines().count()
    }

    /// The repository-relative paths the patch reads or writes, without duplicates, sorted.
    pub fn paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = self
            .files
            .iter()
            .flat_map(|file| [file.old_path.as_deref(), file.new_path.as_deref()])
            .flatten()
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// Applies the patch to files held in memory, keyed by repository-relative path. A deleted
    /// file is removed from the map. Nothing changes unless every file applies.
    pub fn apply_to_map(&self, files: &mut BTreeMap<String, String>) -> Result<(), PatchError> {
        let mut results = Vec::with_capacity(self.files.len());
        for file in &self.files {
            let old = match &file.old_path {
                Some(path) => Some(files.get(path).ok_or_else(|| PatchError::File {
                    file: path.clone(),
                    message: "the file does not exist".into(),
                })?),
                None => None,
            };
            if let (None, Some(new)) = (&file.old_path, &file.new_path) {
                if files.contains_key(new) {
                    return Err(PatchError::File {
                        file: new.clone(),
                        message: "the patch creates this file but it already exists".into(),
                    });
                }
            }
            let new = file.apply_to_text(old.map_or("", String::as_str))?;
            results.push((file, new));
        }
        for (file, new) in results {
            if let Some(old) = &file.old_path {
                files.remove(old);
            }
            if let Some(path) = &file.new_path {
                files.insert(path.clone(), new);
            }
        }
        Ok(())
    }

    /// Applies the patch to a directory tree. Every file is patched in memory first, so a hunk
    /// that does not apply leaves the tree untouched.
    pub fn apply_to_dir(&self, root: &Path) -> Result<(), PatchError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PatchError::Io { path, source }
        };
        let mut writes: Vec<(&FilePatch, String)> = Vec::with_capacity(self.files.len());
        for file in &self.files {
            let old = match &file.old_path {
                Some(path) => {
                    let full = root.join(path);
                    let bytes = std::fs::read(&full).map_err(io(&full))?;
                    String::from_utf8(bytes).map_err(|_| PatchError::File {
                        file: path.clone(),
                        message: "the file is not UTF-8 text".into(),
                    })?
                }
                None => {
                    let path = file.new_path.as_deref().unwrap_or_default();
                    if root.join(path).exists() {
                        return Err(PatchError::File {
                            file: path.to_string(),
                            message: "the patch creates this file but it already exists".into(),
                        });
                    }
                    String::new()
                }
            };
            let new = file.apply_to_text(&old)?;
            writes.push((file, new));
        }
        for (file, new) in writes {
            if let Some(old) = &file.old_path {
                if file.new_path.as_ref() != Some(old) {
                    let full = root.join(old);
                    std::fs::remove_file(&full).map_err(io(&full))?;
                }
            }
            if let Some(path) = &file.new_path {
                let full = root.join(path);
                if let Some(parent) = full.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::write(&full, new).map_err(io(&full))?;
                file.set_mode(&full).map_err(io(&full))?;
            }
        }
        Ok(())
    }

    /// A patch that turns `old` into `new` for the file at `path`, with three lines of context,
    /// or an empty patch when they are equal.
    pub fn between(path: &str, old: &str, new: &str) -> Patch {
        let file = FilePatch::between(path, old, new);
        Patch { files: if file.hunks.is_empty() { Vec::new() } else { vec![file] } }
    }
}

impl FilePatch {
    /// The change from `old` to `new` for an existing file at `path`.
    pub fn between(path: &str, old: &str, new: &str) -> FilePatch {
        FilePatch {
            old_path: Some(path.to_string()),
            new_path: Some(path.to_string()),
            header: Vec::new(),
            hunks: diff_hunks(old, new),
        }
    }

    /// A patch that creates `path` with `content`.
    pub fn created(path: &str, content: &str) -> FilePatch {
        FilePatch {
            old_path: None,
            new_path: Some(path.to_string()),
            header: vec!["new file mode 100644".into()],
            hunks: diff_hunks("", content),
        }
    }

    /// A patch that deletes `path`, whose content is `content`.
    pub fn deleted(path: &str, content: &str) -> FilePatch {
        FilePatch {
            old_path: Some(path.to_string()),
            new_path: None,
            header: vec!["deleted file mode 100644".into()],
            hunks: diff_hunks(content, ""),
        }
    }

    /// The path the file has after the change, or before it for a deletion.
    pub fn path(&self) -> &str {
        self.new_path.as_deref().or(self.old_path.as_deref()).unwrap_or_default()
    }

    /// Applies the hunks to `old`, the file's current content. Like `git apply`, a hunk may
    /// match a few lines away from where it says (earlier edits shift it) but never fuzzily.
    pub fn apply_to_text(&self, old: &str) -> Result<String, PatchError> {
        let lines: Vec<&str> = old.split_inclusive('\n').collect();
        let mut out = String::with_capacity(old.len() + 64);
        let mut cursor = 0; // First line of `lines` not yet copied.
        let mut offset: isize = 0; // How far earlier hunks matched from where they said.
        for (index, hunk) in self.hunks.iter().enumerate() {
            let expected: Vec<&str> = hunk
                .lines
                .iter()
                .filter(|line| line.kind != LineKind::Added)
                .map(|line| line.text.as_str())
                .collect();
            let stated =
                if hunk.old_count == 0 { hunk.old_start } else { hunk.old_start.saturating_sub(1) };
            let wanted = (stated as isize + offset).max(cursor as isize) as usize;
            let found =
                find_block(&lines, &expected, wanted, cursor).ok_or_else(|| PatchError::Apply {
                    file: self.path().to_string(),
                    hunk: index + 1,
                    old_start: hunk.old_start,
                    message: mismatch_message(&lines, &expected, wanted),
                })?;
            offset = found as isize - stated as isize;
            for line in &lines[cursor..found] {
                out.push_str(line);
            }
            for line in &hunk.lines {
                if line.kind != LineKind::Removed {
                    out.push_str(&line.text);
                }
            }
            cursor = found + expected.len();
        }
        for line in &lines[cursor..] {
            out.push_str(line);
        }
        if self.new_path.is_none() && !out.is_empty() {
            return Err(PatchError::File {
                file: self.path().to_string(),
                message: "the patch deletes this file but its content differs".into(),
            });
        }
        Ok(out)
    }

    /// The change that undoes this one.
    pub fn reverse(&self) -> FilePatch {
        let header = self.header.iter().map(|line| reverse_header_line(line)).collect();
        let hunks =
            self.hunks
                .iter()
                .map(|hunk| {
                    let mut lines = Vec::with_capacity(hunk.lines.len());
                    let mut added = Vec::new();
                    for line in &hunk.lines {
                        match line.kind {
                            // Within a run of changes git lists removals first; keep that order.
                            LineKind::Added => lines
                                .push(Line { kind: LineKind::Removed, text: line.text.clone() }),
                            LineKind::Removed => {
                                added.push(Line { kind: LineKind::Added, text: line.text.clone() })
                            }
                            LineKind::Context => {
                                lines.append(&mut added);
                                lines.push(line.clone());
                            }
                        }
                    }
                    lines.append(&mut added);
                    Hunk {
                        old_start: hunk.new_start,
                        old_count: hunk.new_count,
                        new_start: hunk.old_start,
                        new_count: hunk.old_count,
                        section: hunk.section.clone(),
                        lines,
                    }
                })
                .collect();
        FilePatch {
            old_path: self.new_path.clone(),
            new_path: self.old_path.clone(),
            header,
            hunks,
        }
    }

    fn changes_metadata(&self) -> bool {
        self.old_path != self.new_path
            || self
                .header
                .iter()
                .any(|line| line.starts_with("old mode ") || line.starts_with("new mode "))
    }

    fn set_mode(&self, full: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = self.header.iter().find_map(|line| {
                line.strip_prefix("new file mode ").or_else(|| line.strip_prefix("new mode "))
            });
            if let Some(mode) = mode.and_then(|mode| u32::from_str_radix(mode.trim(), 8).ok()) {
                std::fs::set_permissions(full, std::fs::Permissions::from_mode(mode & 0o777))?;
            }
        }
        #[cfg(not(unix))]
        let _ = full;
        Ok(())
    }

    fn render_into(&self, out: &mut String) {
        let old = self.old_path.as_deref().or(self.new_path.as_deref()).unwrap_or_default();
        let new = self.new_path.as_deref().or(self.old_path.as_deref()).unwrap_or_default();
        let _ = writeln!(out, "diff --git a/{old} b/{new}");
        for line in &self.header {
            out.push_str(line);
            out.push('\n');
        }
        if self.hunks.is_empty() {
            return;
        }
        match &self.old_path {
            Some(path) => {
                let _ = writeln!(out, "--- a/{path}");
            }
            None => out.push_str("--- /dev/null\n"),
        }
        match &self.new_path {
            Some(path) => {
                let _ = writeln!(out, "+++ b/{path}");
            }
            None => out.push_str("+++ /dev/null\n"),
        }
        for hunk in &self.hunks {
            let _ = writeln!(
                out,
                "@@ -{} +{} @@{}",
                range(hunk.old_start, hunk.old_count),
                range(hunk.new_start, hunk.new_count),
                hunk.section
            );
            for line in &hunk.lines {
                out.push(line.kind.sign());
                out.push_str(&line.text);
                if !line.text.ends_with('\n') {
                    out.push_str("\n\\ No newline at end of file\n");
                }
            }
        }
    }
}

/// Git writes a range's count only when it is not 1.
fn range(start: usize, count: usize) -> String {
    if count == 1 { start.to_string() } else { format!("{start},{count}") }
}

fn reverse_header_line(line: &str) -> String {
    let swaps = [
        ("new file mode ", "deleted file mode "),
        ("deleted file mode ", "new file mode "),
        ("old mode ", "new mode "),
        ("new mode ", "old mode "),
        ("rename from ", "rename to "),
        ("rename to ", "rename from "),
        ("copy from ", "copy to "),
        ("copy to ", "copy from "),
    ];
    for (from, to) in swaps {
        if let Some(rest) = line.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    if let Some(rest) = line.strip_prefix("index ") {
        let (hashes, mode) = rest.split_once(' ').map_or((rest, None), |(h, m)| (h, Some(m)));
        if let Some((a, b)) = hashes.split_once("..") {
            return match mode {
                Some(mode) => format!("index {b}..{a} {mode}"),
                None => format!("index {b}..{a}"),
            };
        }
    }
    line.to_string()
}

/// Finds `expected` in `lines` at `wanted`, or the nearest position to it at or after `floor`.
fn find_block(lines: &[&str], expected: &[&str], wanted: usize, floor: usize) -> Option<usize> {
    let fits = |at: usize| {
        at + expected.len() <= lines.len() && lines[at..at + expected.len()] == *expected
    };
    let last = lines.len().checked_sub(expected.len())?;
    for distance in 0..=lines.len() {
        let after = wanted + distance;
        if after <= last && fits(after) {
            return Some(after);
        }
        if let Some(before) = wanted.checked_sub(distance) {
            if before >= floor && before <= last && fits(before) {
                return Some(before);
            }
        }
        if after > last && wanted.checked_sub(distance).is_none_or(|before| before < floor) {
            break;
        }
    }
    None
}

fn mismatch_message(lines: &[&str], expected: &[&str], at: usize) -> String {
    for (i, want) in expected.iter().enumerate() {
        match lines.get(at + i) {
            Some(have) if have == want => continue,
            Some(have) => {
                return format!(
                    "line {} is {:?}, the patch expects {:?}",
                    at + i + 1,
                    have.trim_end_matches('\n'),
                    want.trim_end_matches('\n')
                );
            }
            None => {
                return format!(
                    "the file has {} lines, the patch expects {:?} at line {}",
                    lines.len(),
                    want.trim_end_matches('\n'),
                    at + i + 1
                );
            }
        }
    }
    "its lines were not found anywhere in the file".into()
}

/// Hunks turning `old` into `new`, with [`CONTEXT`] lines of context and git's numbering.
fn diff_hunks(old: &str, new: &str) -> Vec<Hunk> {
    use imara_diff::{Algorithm, Diff, InternedInput};
    let input = InternedInput::new(old, new);
    let mut diff = Diff::compute(Algorithm::Histogram, &input);
    diff.postprocess_lines(&input);
    let before: Vec<&str> = old.split_inclusive('\n').collect();
    let after: Vec<&str> = new.split_inclusive('\n').collect();

    // Group changes whose context windows touch into one hunk.
    let mut groups: Vec<Vec<imara_diff::Hunk>> = Vec::new();
    for change in diff.hunks() {
        match groups.last_mut() {
            Some(group)
                if change.before.start as usize
                    <= group.last().expect("groups are never empty").before.end as usize
                        + 2 * CONTEXT =>
            {
                group.push(change)
            }
            _ => groups.push(vec![change]),
        }
    }

    let line = |kind, text: &str| Line { kind, text: text.to_string() };
    groups
        .into_iter()
        .map(|group| {
            let first = &group[0];
            let last = group.last().expect("groups are never empty");
            let old_begin = (first.before.start as usize).saturating_sub(CONTEXT);
            let old_end = (last.before.end as usize + CONTEXT).min(before.len());
            let new_begin = first.after.start as usize - (first.before.start as usize - old_begin);
            let mut lines = Vec::new();
            let mut at = old_begin;
            for change in &group {
                for text in &before[at..change.before.start as usize] {
                    lines.push(line(LineKind::Context, text));
                }
                for text in &before[change.before.start as usize..change.before.end as usize] {
                    lines.push(line(LineKind::Removed, text));
                }
                for text in &after[change.after.start as usize..change.after.end as usize] {
                    lines.push(line(LineKind::Added, text));
                }
                at = change.before.end as usize;
            }
            for text in &before[at..old_end] {
                lines.push(line(LineKind::Context, text));
            }
            let old_count = old_end - old_begin;
            let new_count = lines.iter().filter(|l| l.kind != LineKind::Removed).count();
            Hunk {
                old_start: if old_count == 0 { old_begin } else { old_begin + 1 },
                old_count,
                new_start: if new_count == 0 { new_begin } else { new_begin + 1 },
                new_count,
                section: String::new(),
                lines,
            }
        })
        .collect()
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self { lines: text.split_inclusive('\n').collect(), at: 0 }
    }

    fn error(&self, message: impl Into<String>) -> PatchError {
        PatchError::Parse { line: self.at + 1, message: message.into() }
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).copied()
    }

    fn parse(mut self) -> Result<Patch, PatchError> {
        let mut files = Vec::new();
        while let Some(line) = self.peek() {
            if line.starts_with("diff --git ") || line.starts_with("--- ") && self.next_is("+++ ") {
                files.push(self.file()?);
            } else if files.is_empty() || line.trim().is_empty() {
                self.at += 1;
            } else {
                return Err(self.error(format!("expected a file header, found {:?}", chomp(line))));
            }
        }
        Ok(Patch { files })
    }

    fn next_is(&self, prefix: &str) -> bool {
        self.lines.get(self.at + 1).is_some_and(|line| line.starts_with(prefix))
    }

    fn file(&mut self) -> Result<FilePatch, PatchError> {
        let mut file =
            FilePatch { old_path: None, new_path: None, header: Vec::new(), hunks: Vec::new() };
        let mut created = false;
        let mut deleted = false;
        if let Some(rest) = self.peek().and_then(|l| chomp(l).strip_prefix("diff --git ")) {
            // `a/P b/P`: with equal halves the split is unambiguous even if P has spaces.
            let half = rest.len() / 2;
            if rest.len() % 2 == 1 && rest.as_bytes()[half] == b' ' {
                let (a, b) = (&rest[..half], &rest[half + 1..]);
                file.old_path = Some(strip_prefix_dir(a, "a/"));
                file.new_path = Some(strip_prefix_dir(b, "b/"));
            } else if let Some((a, b)) = rest.split_once(" b/") {
                file.old_path = Some(strip_prefix_dir(a, "a/"));
                file.new_path = Some(b.to_string());
            }
            self.at += 1;
            while let Some(line) = self.peek() {
                if line.starts_with("diff --git ")
                    || line.starts_with("--- ")
                    || line.starts_with("@@")
                {
                    break;
                }
                let line = chomp(line);
                if line.starts_with("new file mode ") {
                    created = true;
                } else if line.starts_with("deleted file mode ") {
                    deleted = true;
                } else if let Some(path) = line.strip_prefix("rename from ") {
                    file.old_path = Some(path.to_string());
                } else if let Some(path) = line.strip_prefix("rename to ") {
                    file.new_path = Some(path.to_string());
                } else if line.starts_with("GIT binary patch") || line.starts_with("Binary files ")
                {
                    return Err(self.error("binary patches are not supported"));
                }
                file.header.push(line.to_string());
                self.at += 1;
            }
        }
        if let Some(line) = self.peek().filter(|l| l.starts_with("--- ")) {
            file.old_path = header_path(&line[4..], "a/");
            self.at += 1;
            let Some(line) = self.peek().filter(|l| l.starts_with("+++ ")) else {
                return Err(self.error("a `---` header must be followed by `+++`"));
            };
            file.new_path = header_path(&line[4..], "b/");
            self.at += 1;
        }
        if created {
            file.old_path = None;
        }
        if deleted {
            file.new_path = None;
        }
        if file.old_path.is_none() && file.new_path.is_none() {
            return Err(self.error("a file patch names no path"));
        }
        while self.peek().is_some_and(|l| l.starts_with("@@")) {
            file.hunks.push(self.hunk()?);
        }
        Ok(file)
    }

    fn hunk(&mut self) -> Result<Hunk, PatchError> {
        let header = chomp(self.peek().expect("caller checked there is a line"));
        let bad = || self.error(format!("malformed hunk header {header:?}"));
        let rest = header.strip_prefix("@@ -").ok_or_else(bad)?;
        let (ranges, section) = rest.split_once(" @@").ok_or_else(bad)?;
        let (old, new) = ranges.split_once(" +").ok_or_else(bad)?;
        let (old_start, old_count) = parse_range(old).ok_or_else(bad)?;
        let (new_start, new_count) = parse_range(new).ok_or_else(bad)?;
        self.at += 1;

        let mut lines: Vec<Line> = Vec::new();
        let (mut old_left, mut new_left) = (old_count, new_count);
        while old_left > 0 || new_left > 0 {
            let Some(raw) = self.peek() else {
                return Err(self.error(format!(
                    "the patch ends inside hunk {header:?} ({old_left} old and {new_left} new lines missing)"
                )));
            };
            let (kind, text) = match raw.as_bytes().first() {
                Some(b' ') => (LineKind::Context, &raw[1..]),
                Some(b'-') => (LineKind::Removed, &raw[1..]),
                Some(b'+') => (LineKind::Added, &raw[1..]),
                // Some tools strip the space of an empty context line.
                Some(b'\n') => (LineKind::Context, raw),
                Some(b'\r') if raw == "\r\n" => (LineKind::Context, raw),
                Some(b'\\') => {
                    self.no_newline(&mut lines)?;
                    continue;
                }
                _ => {
                    return Err(self.error(format!(
                        "expected a hunk line of {header:?}, found {:?}",
                        chomp(raw)
                    )));
                }
            };
            let (old_use, new_use) = match kind {
                LineKind::Context => (1, 1),
                LineKind::Removed => (1, 0),
                LineKind::Added => (0, 1),
            };
            if old_left < old_use || new_left < new_use {
                return Err(
                    self.error(format!("hunk {header:?} has more lines than its header says"))
                );
            }
            old_left -= old_use;
            new_left -= new_use;
            lines.push(Line { kind, text: text.to_string() });
            self.at += 1;
        }
        if self.peek().is_some_and(|l| l.starts_with('\\')) {
            self.no_newline(&mut lines)?;
        }
        Ok(Hunk { old_start, old_count, new_start, new_count, section: section.to_string(), lines })
    }

    /// `\ No newline at end of file`: the previous line has no terminator.
    fn no_newline(&mut self, lines: &mut [Line]) -> Result<(), PatchError> {
        let Some(previous) = lines.last_mut() else {
            return Err(self.error("`\\ No newline at end of file` without a line before it"));
        };
        if previous.text.ends_with('\n') {
            previous.text.pop();
        }
        self.at += 1;
        Ok(())
    }
}

fn chomp(line: &str) -> &str {
    line.strip_suffix('\n').unwrap_or(line)
}

fn strip_prefix_dir(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix).unwrap_or(path).to_string()
}

/// The path of a `---`/`+++` line: `/dev/null` is none; a tab ends the path (timestamps).
fn header_path(rest: &str, prefix: &str) -> Option<String> {
    let rest = chomp(rest);
    let rest = rest.strip_suffix('\r').unwrap_or(rest);
    let path = rest.split('\t').next().unwrap_or(rest);
    (path != "/dev/null").then(|| strip_prefix_dir(path, prefix))
}

fn parse_range(text: &str) -> Option<(usize, usize)> {
    match text.split_once(',') {
        Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

impl std::fmt::Display for Patch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::str::FromStr for Patch {
    type Err = PatchError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Patch::parse(text)
    }
}

/// In records a patch is its unified-diff text.
impl Serialize for Patch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.render())
    }
}

impl<'de> Deserialize<'de> for Patch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Patch::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Patch {
    fn schema_name() -> Cow<'static, str> {
        "Patch".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A unified diff in git style (`diff --git a/P b/P`, `---`, `+++`, hunks)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_roundtrip(text: &str) {
        let patch = Patch::parse(text).unwrap();
        assert_eq!(patch.render(), text);
        assert_eq!(patch.reverse().reverse(), patch);
    }

    #[test]
    fn removed_line_starting_with_dashes_stays_a_removed_line() {
        let text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n--- not a header\n+++ nor this\n keep\n";
        let patch = Patch::parse(text).unwrap();
        let kinds: Vec<_> = patch.changed_lines().map(|(_, l)| (l.kind, l.text.as_str())).collect();
        assert_eq!(
            kinds,
            [(LineKind::Removed, "-- not a header\n"), (LineKind::Added, "++ nor this\n")]
        );
        check_roundtrip(text);
    }

    #[test]
    fn missing_newline_marker_and_crlf_round_trip() {
        check_roundtrip(
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\r\n\\ No newline at end of file\n+b\r\n",
        );
        let patch = Patch::between("x", "one\r\ntwo", "one\r\nthree\n");
        assert_eq!(patch.files[0].apply_to_text("one\r\ntwo").unwrap(), "one\r\nthree\n");
        check_roundtrip(&patch.render());
    }

    #[test]
    fn created_patch_applies_and_its_reverse_restores() {
        let old = (1..=20).map(|i| format!("line {i}\n")).collect::<String>();
        let new = old.replace("line 3\n", "line three\n").replace("line 17\n", "");
        let patch = Patch::between("f.txt", &old, &new);
        assert_eq!(patch.files[0].hunks.len(), 2);
        let mut files = BTreeMap::from([("f.txt".to_string(), old.clone())]);
        patch.apply_to_map(&mut files).unwrap();
        assert_eq!(files["f.txt"], new);
        patch.reverse().apply_to_map(&mut files).unwrap();
        assert_eq!(files["f.txt"], old);
    }

    #[test]
    fn undo_of_a_moved_block_is_diffed_afresh() {
        let clean = "a\nif x:\n    raise\nif y:\n    raise\nb\n";
        let bugged = "a\nif y:\n    raise\nif x:\n    raise\nb\n";
        let bug = Patch::between("f.py", clean, bugged);
        let original = BTreeMap::from([("f.py".to_string(), clean.to_string())]);
        let undo = bug.undo(&original).unwrap();
        assert_eq!(undo, Patch::between("f.py", bugged, clean));
        assert_eq!(undo.files[0].apply_to_text(bugged).unwrap(), clean);
    }

    #[test]
    fn hunk_that_does_not_apply_names_the_file_and_line() {
        let patch = Patch::between("f.txt", "a\nb\nc\n", "a\nB\nc\n");
        let err = patch.files[0].apply_to_text("a\nx\nc\n").unwrap_err().to_string();
        assert!(err.starts_with("f.txt: hunk 1 (@@ -1) does not apply: line 2 is \"x\""), "{err}");
    }

    #[test]
    fn shifted_hunk_still_applies() {
        let patch = Patch::between("f", "a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nD\ne\nf\ng\n");
        let shifted = "new\nnew\na\nb\nc\nd\ne\nf\ng\n";
        assert_eq!(
            patch.files[0].apply_to_text(shifted).unwrap(),
            "new\nnew\na\nb\nc\nD\ne\nf\ng\n"
        );
    }

    #[test]
    fn malformed_hunk_header_is_an_error_with_its_line() {
        let err = Patch::parse("--- a/x\n+++ b/x\n@@ -1,x +1 @@\n").unwrap_err().to_string();
        assert_eq!(err, "patch line 3: malformed hunk header \"@@ -1,x +1 @@\"");
    }
}
