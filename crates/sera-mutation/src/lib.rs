//! The mutation engine of sera-rs: operators on tree-sitter syntax that inject small, realistic
//! bugs into Rust and Python functions, each tagged with the bug classes of `sera-taxonomy`.
//!
//! Must not know: tests, processes, rollouts or models: it only proposes byte-range edits.
//!
//! Every mutant is one byte-range splice (`text[start..end] -> replacement`), so its patch
//! touches only what changed and the file's formatting survives. The operators are the union of
//! SWE-smith's procedural modifiers (removed loops, conditionals and assignments, inverted
//! if/else, swapped statements, operator changes and flips, broken call chains, off-by-one
//! constants) and cargo-mutants' (function bodies replaced by a value of the return type,
//! deleted match arms, binary-operator swaps); see [`OPERATORS`].
//!
//! What it deliberately is not: it does not walk repositories or decide which functions exist
//! (that is `sera-code`, whose [`Entity`] records it takes as input, with the parse trees its
//! index can keep, see [`SourceFile::tree`]), and it never compiles or
//! tests a mutant (that is `sera-verify` in the sandbox). A mutant here is a *candidate* bug
//! that parses; whether a test notices it is decided later.
//!
//! ```
//! use sera_core::{ByteSpan, Entity, EntityKind, Language, LineSpan};
//! use sera_mutation::{MutateConfig, SourceFile, mutate};
//!
//! let text = "fn clamp_low(x: i64) -> i64 {\n    if x < 0 { 0 } else { x }\n}\n";
//! let entity = Entity {
//!     id: "f-demo".into(), name: "clamp_low".into(), qualified_name: "clamp_low".into(),
//!     kind: EntityKind::Function, language: Language::Rust, file: "src/lib.rs".into(),
//!     bytes: ByteSpan { start: 0, end: text.len() }, lines: LineSpan { start: 1, end: 3 },
//!     is_test: false, is_async: false, parent: None, callees: vec![],
//! };
//! let file = SourceFile::new("src/lib.rs", Language::Rust, text);
//! let config = MutateConfig { repo: "demo".into(), ..MutateConfig::default() };
//! let outcome = mutate(&[file], &[entity], &config).unwrap();
//! assert!(outcome.mutants.iter().any(|m| m.operator == "boundary-comparison"));
//! assert!(outcome.mutants.len() <= config.per_function);
//! ```

mod engine;
mod external;
mod operators;
mod syntax;

pub use engine::{
    Error, FileScan, MutateConfig, Mutator, Outcome, SourceFile, Stats, mutate, mutate_with,
};
pub use external::{Edit, ExternalOperator};
pub use operators::{OPERATORS, Operator, operator};
pub use sera_core::{Entity, Language, Mutant};

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
