//! Reads a repository into [`sera_core::Entity`] records: walks its files (honouring
//! `.gitignore`), detects Rust and Python, parses them with tree-sitter, extracts functions and
//! methods with stable qualified names, spans and test markers, builds a call graph by name
//! resolution, and samples start functions with a seed.
//!
//! Must not know: mutation, tests, processes or models: it reads source and describes it.
//!
//! This crate deliberately is not a compiler front end: it resolves no imports, types or macros,
//! so its call graph keeps only edges whose callee name is unique in the repository (see
//! [`graph`](crate#call-graph)), and it never runs the code or its build. It does no mutation
//! either: `sera-mutation` pairs with it, taking these entities and their spans as the places
//! to change. Problems with single files (unreadable, not UTF-8, too large, generated, syntax
//! errors) are counted in the [`IndexReport`], never raised; only a repository path that cannot
//! be indexed at all is an [`IndexError`].
//!
//! # Languages
//!
//! Each language is a [`LanguageSupport`] implementation; [`Rust`] and [`Python`] are built in.
//! All tree-sitter code lives in one module, behind that trait. Naming rules are documented on
//! [`Rust`], [`Python`], [`naming::rust_module_path`] and [`naming::python_module_path`].
//!
//! # Call graph
//!
//! Each function's body is searched for call sites: in Rust, call expressions through an
//! identifier, a path (`a::b::f`, last segment) or a method (`x.f()`), plus `name(..)` patterns
//! inside macro arguments; in Python, calls of a name or an attribute (`obj.f()`). Calls inside
//! closures and lambdas belong to the enclosing function, calls inside a nested function to that
//! function. As in SERA, an edge is kept only when the callee's bare name resolves to exactly one
//! definition in the repository, so the graph misses calls to ambiguous names rather than
//! guessing; [`Entity::callees`](sera_core::Entity) lists the resolved callees' qualified names.
//!
//! # Example
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir(dir.path().join("src")).unwrap();
//! std::fs::write(dir.path().join("src/lib.rs"), "pub fn area(w: u32, h: u32) -> u32 { mul(w, h) }\nfn mul(a: u32, b: u32) -> u32 { a * b }\n").unwrap();
//! let index = sera_code::index(dir.path(), &sera_code::IndexConfig::default()).unwrap();
//! assert_eq!(index.entities.len(), 2);
//! assert_eq!(index.entities[0].callees, ["mul"]);
//! let start = sera_code::sample_start_functions(&index.entities, 1, 7);
//! assert_eq!(start.len(), 1);
//! ```

mod graph;
mod index;
mod lang;
pub mod naming;
mod report;
mod sample;
mod syntax;
mod walk;

// The README's example is compiled and run as a doctest, so that it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use index::{IndexConfig, IndexError, IndexedFile, RepoIndex, index, index_each, index_with};
pub use lang::{
    Definition, LanguageSupport, Outline, ParseFailure, RepoLayout, SourceFile, builtin_languages,
};
pub use report::{IndexReport, PartialFile, SkipReason, SkippedFile};
pub use sample::{StartDraw, draw_start_functions, sample_start_functions};
pub use syntax::{Python, Rust, python_function_body_rows};
