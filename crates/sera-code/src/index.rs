//! Indexing a repository: walk, detect, read, outline in parallel, then resolve calls.

use std::path::Path;

use rayon::prelude::*;
use sera_core::Entity;

use crate::graph;
use crate::lang::{LanguageSupport, RepoLayout, SourceFile, builtin_languages};
use crate::report::{IndexReport, PartialFile, SkipReason, SkippedFile};
use crate::walk::{WalkedFile, walk};

/// Options of [`index`]. `IndexConfig::default()` is what `sera index` uses.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Files larger than this are skipped unread. The default, 1 MiB, is far above hand-written
    /// source (the largest hand-written files of big projects are a few hundred KiB) and well
    /// below the multi-megabyte tables and bindings that generators emit, which would only
    /// flood the index with functions nobody should mutate.
    pub max_file_bytes: u64,
    /// Skip files whose first lines say they are generated (`@generated`, `DO NOT EDIT`, ...):
    /// bugs injected there would be overwritten by the next regeneration.
    pub skip_generated: bool,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { max_file_bytes: 1 << 20, skip_generated: true }
    }
}

/// The index of one repository.
#[derive(Debug, Clone, Default)]
pub struct RepoIndex {
    /// Functions and methods, sorted by file, then start byte.
    pub entities: Vec<Entity>,
    pub report: IndexReport,
}

/// Why a repository could not be indexed at all. Problems with single files are not errors:
/// they are counted in [`IndexReport`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    #[error("{path}: no such repository directory")]
    NotFound { path: String },
    #[error("{path}: not a directory; give the root folder of a repository")]
    NotADirectory { path: String },
    #[error("{path}: cannot be read: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Indexes the repository at `root` with the built-in languages (Rust and Python).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("app.py"), "def main():\n    helper()\n\ndef helper():\n    pass\n").unwrap();
/// let index = sera_code::index(dir.path(), &sera_code::IndexConfig::default()).unwrap();
/// let names: Vec<_> = index.entities.iter().map(|e| e.qualified_name.as_str()).collect();
/// assert_eq!(names, ["app.main", "app.helper"]);
/// assert_eq!(index.entities[0].callees, ["app.helper"]);
/// ```
pub fn index(root: &Path, config: &IndexConfig) -> Result<RepoIndex, IndexError> {
    index_with(root, config, &builtin_languages())
}

/// Indexes the repository at `root`, reading the files that one of `languages` owns (the first
/// that owns a path wins).
pub fn index_with(
    root: &Path,
    config: &IndexConfig,
    languages: &[Box<dyn LanguageSupport>],
) -> Result<RepoIndex, IndexError> {
    index_each(root, config, languages, |_| ()).map(|(index, _)| index)
}

/// One indexed file as [`index_each`] hands it over, its tree still alive.
#[derive(Debug, Clone, Copy)]
pub struct IndexedFile<'a> {
    /// Relative to the repository root, `/`-separated, as in [`Entity::file`].
    pub path: &'a str,
    pub language: sera_core::Language,
    pub text: &'a str,
    /// `None` for languages not built on tree-sitter; may contain syntax errors.
    pub tree: Option<&'a tree_sitter::Tree>,
    /// The file's functions, in the order [`RepoIndex::entities`] will have them; their
    /// `callees` are not resolved yet.
    pub entities: &'a [Entity],
}

/// [`index_with`], calling `each` on every indexed file while its syntax tree is at hand (on
/// the indexing threads, in no particular order). It is for a caller that works on the files
/// it indexes: the mutate stage scans each tree there and lets it go, rather than keeping all
/// trees (several times the memory of the text) or parsing every file again; a caller that
/// does want them all returns `file.tree.cloned()`. The results come back one per indexed
/// file, in path order.
pub fn index_each<T: Send>(
    root: &Path,
    config: &IndexConfig,
    languages: &[Box<dyn LanguageSupport>],
    each: impl Fn(IndexedFile<'_>) -> T + Sync,
) -> Result<(RepoIndex, Vec<T>), IndexError> {
    let display = root.display().to_string();
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(IndexError::NotADirectory { path: display }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(IndexError::NotFound { path: display });
        }
        Err(source) => return Err(IndexError::Unreadable { path: display, source }),
    }
    // A root the walk cannot list would otherwise look like an empty repository.
    if let Err(source) = std::fs::read_dir(root) {
        return Err(IndexError::Unreadable { path: display, source });
    }

    let (files, mut skipped) = walk(root);
    let mut report = IndexReport::default();
    let mut owned: Vec<(&WalkedFile, &dyn LanguageSupport)> = Vec::new();
    for file in &files {
        match languages.iter().find(|l| l.owns(&file.relative)) {
            Some(language) => owned.push((file, language.as_ref())),
            None => report.other_files += 1,
        }
    }
    let layout = RepoLayout {
        python_packages: files
            .iter()
            .filter_map(|f| match f.relative.rsplit_once('/') {
                Some((dir, "__init__.py")) => Some(dir.to_string()),
                None if f.relative == "__init__.py" => Some(String::new()),
                _ => None,
            })
            .collect(),
    };

    // Largest files first, so that one big file does not finish alone while the other threads
    // idle; the outcomes are then put back in the walk's (sorted) order.
    let mut by_size: Vec<usize> = (0..owned.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(owned[i].0.size));
    let mut outcomes: Vec<(usize, FileOutcome<T>)> = by_size
        .par_iter()
        .map(|&i| (i, index_file(owned[i].0, owned[i].1, &layout, config, &each)))
        .collect();
    outcomes.sort_unstable_by_key(|(i, _)| *i);
    let outcomes = outcomes.into_iter().map(|(_, outcome)| outcome);

    let mut entities = Vec::new();
    let mut calls = Vec::new();
    let mut results = Vec::new();
    for outcome in outcomes {
        match outcome {
            FileOutcome::Skipped(skip) => skipped.push(skip),
            FileOutcome::Indexed { bytes, entities: found, calls: called, partial, result } => {
                report.files_indexed += 1;
                report.bytes_indexed += bytes;
                report.partial.extend(partial);
                entities.extend(found);
                calls.extend(called);
                results.push(result);
            }
        }
    }
    report.call_edges = graph::resolve(&mut entities, &calls);
    report.functions = entities.len();
    report.test_functions = entities.iter().filter(|e| e.is_test).count();
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    report.skipped = skipped;
    Ok((RepoIndex { entities, report }, results))
}

enum FileOutcome<T> {
    Skipped(SkippedFile),
    Indexed {
        bytes: u64,
        entities: Vec<Entity>,
        calls: Vec<Vec<String>>,
        partial: Option<PartialFile>,
        result: T,
    },
}

fn index_file<T>(
    file: &WalkedFile,
    language: &dyn LanguageSupport,
    layout: &RepoLayout,
    config: &IndexConfig,
    each: &impl Fn(IndexedFile<'_>) -> T,
) -> FileOutcome<T> {
    let skip = |reason| FileOutcome::Skipped(SkippedFile { file: file.relative.clone(), reason });
    let limit = config.max_file_bytes;
    if file.size > limit {
        return skip(SkipReason::TooLarge { bytes: file.size, limit });
    }
    let bytes = match std::fs::read(&file.path) {
        Ok(bytes) => bytes,
        Err(err) => return skip(SkipReason::Unreadable { error: err.to_string() }),
    };
    // The file may have grown since the walk looked at it.
    if bytes.len() as u64 > limit {
        return skip(SkipReason::TooLarge { bytes: bytes.len() as u64, limit });
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(err) => return skip(SkipReason::NotUtf8 { valid_up_to: err.valid_up_to() }),
    };
    if config.skip_generated {
        if let Some(marker) = generated_marker(text) {
            return skip(SkipReason::Generated { marker });
        }
    }
    let source = SourceFile { path: &file.relative, text, layout };
    let outlined = language.outline_with_tree(&source);
    let (outline, tree) = match outlined {
        Ok(outlined) => outlined,
        Err(err) => return skip(SkipReason::Unparsable { error: err.to_string() }),
    };
    let partial = (outline.error_nodes > 0).then(|| PartialFile {
        file: file.relative.clone(),
        error_nodes: outline.error_nodes,
        dropped_functions: outline.dropped,
    });
    let mut entities = Vec::with_capacity(outline.definitions.len());
    let mut calls = Vec::with_capacity(outline.definitions.len());
    for definition in outline.definitions {
        let start = definition.bytes.start.to_string();
        entities.push(Entity {
            id: sera_core::stable_id("f", &[&file.relative, &definition.qualified_name, &start]),
            name: definition.name,
            qualified_name: definition.qualified_name,
            kind: definition.kind,
            language: language.language(),
            file: file.relative.clone(),
            bytes: definition.bytes,
            lines: definition.lines,
            is_test: definition.is_test,
            is_async: definition.is_async,
            parent: definition.parent,
            callees: Vec::new(),
        });
        calls.push(definition.calls);
    }
    let result = each(IndexedFile {
        path: &file.relative,
        language: language.language(),
        text,
        tree: tree.as_ref(),
        entities: &entities,
    });
    FileOutcome::Indexed { bytes: bytes.len() as u64, entities, calls, partial, result }
}

/// Markers that generators write near the top of their output, matched case-insensitively in
/// the first lines only, so that a hand-written file that merely mentions one further down is
/// still indexed.
const GENERATED_MARKERS: &[&str] = &[
    "@generated",
    "do not edit",
    "automatically generated",
    "auto-generated by",
    "autogenerated by",
    "generated by the protocol buffer compiler",
];

/// How many lines from the top [`GENERATED_MARKERS`] are looked for in.
const GENERATED_HEADER_LINES: usize = 8;

/// The generated-file marker in `text`'s header, if any.
pub(crate) fn generated_marker(text: &str) -> Option<&'static str> {
    let header: String =
        text.lines().take(GENERATED_HEADER_LINES).collect::<Vec<_>>().join("\n").to_lowercase();
    GENERATED_MARKERS.iter().copied().find(|marker| header.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `index_each` sees every indexed file once, with its tree and its entities as the index
    /// reports them, and returns the results in path order.
    #[test]
    fn index_each_hands_over_every_file_with_its_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/b.rs"), "fn b() { a(); }\nfn c() {}\n").unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}\n").unwrap();
        std::fs::write(dir.path().join("m.py"), "def f(:\n    pass\ndef g():\n    pass\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not code\n").unwrap();
        let languages = crate::lang::builtin_languages();
        let (index, seen) = index_each(dir.path(), &IndexConfig::default(), &languages, |file| {
            let tree = file.tree.expect("built-in languages have trees");
            assert_eq!(tree.root_node().end_byte(), file.text.len());
            let names: Vec<String> = file.entities.iter().map(|e| e.name.clone()).collect();
            (file.path.to_string(), names, tree.root_node().has_error())
        })
        .unwrap();
        let expected = [
            ("m.py", vec!["g"], true),
            ("src/a.rs", vec!["a"], false),
            ("src/b.rs", vec!["b", "c"], false),
        ];
        let expected: Vec<(String, Vec<String>, bool)> = expected
            .into_iter()
            .map(|(p, n, e)| (p.to_string(), n.into_iter().map(String::from).collect(), e))
            .collect();
        assert_eq!(seen, expected);
        let plain = index_with(dir.path(), &IndexConfig::default(), &languages).unwrap();
        assert_eq!(index.entities, plain.entities);
    }

    #[test]
    fn generated_headers_are_recognised() {
        let cases = [
            ("// @generated by build.rs\nfn a() {}\n", Some("@generated")),
            ("# Generated by the protocol buffer compiler.  DO NOT EDIT!\n", Some("do not edit")),
            (
                "/* automatically generated by rust-bindgen 0.69 */\n",
                Some("automatically generated"),
            ),
            ("fn a() {}\n", None),
            (
                "//! Parses code.\n\nfn a() {}\n\n\n\n\n\n\n// @generated is a marker we look for\n",
                None,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(generated_marker(text), expected, "{text:?}");
        }
    }
}
