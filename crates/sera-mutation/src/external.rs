//! Operators defined outside this crate, such as a plugin's. Their changes go through the same
//! pipeline as the built-in operators' (selection by slug and class, weights, the per-function
//! cap, sampling, the re-parse check and dedup), so a plugin operator's mutants are
//! indistinguishable in kind from built-in ones.

use sera_core::Entity;

use crate::SourceFile;

/// A mutation operator implemented elsewhere: given a file and one non-test function in it,
/// the changes it proposes inside that function.
///
/// Implementations must be deterministic (the same file and entity give the same edits) for
/// runs to be reproducible, and `Sync` because files are scanned in parallel.
pub trait ExternalOperator: Send + Sync {
    /// Kebab-case name used in records and on the command line; must not be a built-in slug.
    fn slug(&self) -> &str;

    /// Bug-class slugs its mutants are tagged with; the first is the most typical.
    fn classes(&self) -> &[String];

    /// Relative sampling weight of each of its candidates (built-in operators weigh 0.3 to 1).
    fn weight(&self) -> f64 {
        1.0
    }

    /// The edits proposed for `entity`, each a splice of `file.text` inside `entity.bytes`.
    /// An error (a plugin's own, or a caught panic) stops the run with the operator and file
    /// named: a run that silently skipped an operator would produce different data.
    fn edits(&self, file: &SourceFile, entity: &Entity) -> Result<Vec<Edit>, String>;
}

/// One change an [`ExternalOperator`] proposes: `text[start..end] -> replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub replacement: String,
    /// What changes, without the function's name, e.g. "swap `a` and `b` in the call to `max`".
    pub description: String,
}
