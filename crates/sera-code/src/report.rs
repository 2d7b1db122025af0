//! What an index run saw: counts, and every file it skipped or only partly understood.

use std::fmt;

/// The summary of one [`crate::index`] run. Its `Display` is the few lines a person reads after
/// `sera index`: totals, then skipped and partly parsed files grouped by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Files of a supported language that were parsed (including those in `partial`).
    pub files_indexed: usize,
    /// Their total size.
    pub bytes_indexed: u64,
    /// Functions and methods found.
    pub functions: usize,
    /// Of which test code.
    pub test_functions: usize,
    /// Resolved call edges, summed over all functions.
    pub call_edges: usize,
    /// Files of no supported language, not read.
    pub other_files: usize,
    /// Files (or folders) left out, sorted by path.
    pub skipped: Vec<SkippedFile>,
    /// Files with syntax errors, indexed as far as they parsed, sorted by path.
    pub partial: Vec<PartialFile>,
}

/// A file the index left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// Relative to the repository root; empty if the walk could not say.
    pub file: String,
    pub reason: SkipReason,
}

/// Why a file was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The walk could not list or open an entry (a folder without read permission, a broken
    /// ignore file).
    Unwalkable { error: String },
    /// The file's path is not valid UTF-8, so no record could name it faithfully.
    PathNotUtf8,
    /// Reading the file failed.
    Unreadable { error: String },
    /// The file is larger than [`crate::IndexConfig::max_file_bytes`].
    TooLarge { bytes: u64, limit: u64 },
    /// The file is not UTF-8; `valid_up_to` is the offset of the first bad byte.
    NotUtf8 { valid_up_to: usize },
    /// The file says it is generated (a marker such as `@generated` in its first lines).
    Generated { marker: &'static str },
    /// The parser could not produce a tree at all, or took longer than its time limit (10 s).
    Unparsable { error: String },
}

/// A file with syntax errors: its clean definitions are indexed, the rest left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialFile {
    pub file: String,
    /// `ERROR` and `MISSING` nodes in its syntax tree.
    pub error_nodes: usize,
    /// Definitions left out because they contain, or sit inside, an error.
    pub dropped_functions: usize,
}

impl SkipReason {
    /// A short label to group skips by.
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Unwalkable { .. } => "unwalkable",
            SkipReason::PathNotUtf8 => "path not UTF-8",
            SkipReason::Unreadable { .. } => "unreadable",
            SkipReason::TooLarge { .. } => "too large",
            SkipReason::NotUtf8 { .. } => "not UTF-8",
            SkipReason::Generated { .. } => "generated",
            SkipReason::Unparsable { .. } => "unparsable",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Unwalkable { error } => write!(f, "cannot be listed: {error}"),
            SkipReason::PathNotUtf8 => f.write_str("path is not UTF-8"),
            SkipReason::Unreadable { error } => write!(f, "cannot be read: {error}"),
            SkipReason::TooLarge { bytes, limit } => {
                write!(f, "{bytes} bytes, over the {limit}-byte limit")
            }
            SkipReason::NotUtf8 { valid_up_to } => {
                write!(f, "not UTF-8 (first bad byte at offset {valid_up_to})")
            }
            SkipReason::Generated { marker } => write!(f, "generated (says {marker:?})"),
            SkipReason::Unparsable { error } => write!(f, "cannot be parsed: {error}"),
        }
    }
}

/// A size in bytes as a person reads it: `512 B`, `16.2 kB`, `220.4 MB`.
fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// How many files of each kind the summary names before it only counts the rest.
const LISTED: usize = 10;

impl fmt::Display for IndexReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "indexed {} files ({}): {} functions ({} test), {} call edges",
            self.files_indexed,
            size(self.bytes_indexed),
            self.functions,
            self.test_functions,
            self.call_edges
        )?;
        if self.other_files > 0 {
            write!(f, "; {} files of other languages not read", self.other_files)?;
        }
        if !self.skipped.is_empty() {
            let mut labels: Vec<&str> = self.skipped.iter().map(|s| s.reason.label()).collect();
            labels.sort_unstable();
            labels.dedup();
            let counts: Vec<String> = labels
                .iter()
                .map(|label| {
                    format!(
                        "{} {label}",
                        self.skipped.iter().filter(|s| s.reason.label() == *label).count()
                    )
                })
                .collect();
            write!(f, "\nskipped {} files ({}):", self.skipped.len(), counts.join(", "))?;
            for skip in self.skipped.iter().take(LISTED) {
                let file = if skip.file.is_empty() { "(unknown path)" } else { skip.file.as_str() };
                write!(f, "\n  {file}: {}", skip.reason)?;
            }
            if self.skipped.len() > LISTED {
                write!(f, "\n  ... and {} more", self.skipped.len() - LISTED)?;
            }
        }
        if !self.partial.is_empty() {
            let dropped: usize = self.partial.iter().map(|p| p.dropped_functions).sum();
            write!(
                f,
                "\nsyntax errors in {} files (indexed what parsed; {dropped} functions left out):",
                self.partial.len()
            )?;
            for partial in self.partial.iter().take(LISTED) {
                write!(
                    f,
                    "\n  {}: {} error nodes, {} functions left out",
                    partial.file, partial.error_nodes, partial.dropped_functions
                )?;
            }
            if self.partial.len() > LISTED {
                write!(f, "\n  ... and {} more", self.partial.len() - LISTED)?;
            }
        }
        Ok(())
    }
}
