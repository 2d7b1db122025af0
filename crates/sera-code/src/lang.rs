//! The seam between the index and a source language: the [`LanguageSupport`] trait and the plain
//! data it returns.
//!
//! The index walks files, detects their language and turns each file's [`Outline`] into
//! [`sera_core::Entity`] records; everything syntax-specific (parsing, naming, test markers, call
//! sites) sits behind this trait, so adding a language means one more implementation and no change
//! to the walker, the call graph or the sampler.

use std::collections::HashSet;

use sera_core::{ByteSpan, EntityKind, Language, LineSpan};

/// What the index needs from a source language (the design's `Language` trait; named so that
/// it does not clash with the [`Language`] tag of the records).
///
/// Two facts are required: which files the language owns and how to outline one of them.
/// Implementations must not panic on any input, including source with syntax errors.
pub trait LanguageSupport: Send + Sync {
    /// The tag written into each [`sera_core::Entity`].
    fn language(&self) -> Language;

    /// File extensions this language owns, without the dot (`"rs"`, `"py"`).
    fn extensions(&self) -> &'static [&'static str];

    /// The functions and methods defined in one file, with their qualified names, test markers
    /// and the bare names they call.
    /// A file that cannot be parsed at all is an error; a file with syntax errors is not: its
    /// outline holds what parsed and counts the rest.
    fn outline(&self, file: &SourceFile<'_>) -> Result<Outline, ParseFailure>;

    /// [`outline`](Self::outline), also returning the tree-sitter tree it was read from, for
    /// callers that would otherwise parse the file again (the mutation engine). Languages not
    /// built on tree-sitter keep this default, which returns no tree.
    fn outline_with_tree(
        &self,
        file: &SourceFile<'_>,
    ) -> Result<(Outline, Option<tree_sitter::Tree>), ParseFailure> {
        self.outline(file).map(|outline| (outline, None))
    }

    /// Whether `path` (relative, `/`-separated) belongs to this language. Defaults to a match on
    /// [`extensions`](Self::extensions).
    fn owns(&self, path: &str) -> bool {
        path.rsplit_once('.').is_some_and(|(_, ext)| self.extensions().contains(&ext))
    }
}

/// One file handed to [`LanguageSupport::outline`].
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    /// Path relative to the repository root, `/`-separated.
    pub path: &'a str,
    /// The whole file, already checked to be UTF-8.
    pub text: &'a str,
    /// Facts about the repository that a qualified name may depend on.
    pub layout: &'a RepoLayout,
}

/// Repository-wide facts gathered by the walk before any file is parsed.
#[derive(Debug, Clone, Default)]
pub struct RepoLayout {
    /// Directories (relative, `/`-separated, `""` for the root) that hold an `__init__.py`:
    /// Python module paths follow these packages, as `import` does.
    pub python_packages: HashSet<String>,
}

/// The definitions found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// In source order.
    pub definitions: Vec<Definition>,
    /// How many `ERROR` or `MISSING` nodes the parse produced; zero for a clean file.
    pub error_nodes: usize,
    /// Definitions left out because they contain, or sit inside, a syntax error: their spans
    /// and names cannot be trusted.
    pub dropped: usize,
}

/// One function or method, before it gets an id and its resolved callees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub qualified_name: String,
    pub kind: EntityKind,
    /// The enclosing type, trait, class or function, by qualified name.
    pub parent: Option<String>,
    pub bytes: ByteSpan,
    pub lines: LineSpan,
    pub is_test: bool,
    pub is_async: bool,
    /// Bare names of the functions called in this definition's own body (calls inside a nested
    /// function belong to that function; calls inside closures and lambdas belong to this one),
    /// in order of first appearance, without repeats.
    pub calls: Vec<String>,
}

/// Why a file could not be outlined at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseFailure(pub String);

/// The languages built into sera-code: Rust and Python.
pub fn builtin_languages() -> Vec<Box<dyn LanguageSupport>> {
    vec![Box::new(crate::syntax::Rust), Box::new(crate::syntax::Python)]
}
