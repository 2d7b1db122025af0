//! Plain shared data of sera-rs: stable ids, the unified-diff [`Patch`], and the records that
//! flow between stages ([`Entity`], [`Mutant`], [`Instance`], [`TestReport`], [`Trajectory`],
//! [`Verdict`]).
//!
//! Must not know: any other crate of the workspace, the file system beyond `Patch::apply_to_dir`,
//! processes, languages, test runners or models.
//!
//! This crate deliberately does no I/O beyond [`Patch::apply_to_dir`], spawns nothing and knows
//! no language, test runner or model. Every stage crate depends on it and talks to its siblings
//! only through these records; JSON schemas in `schemas/` are generated from them by
//! `cargo xtask codegen`.

mod dirs;
mod ids;
mod patch;
pub mod pystr;
mod records;
mod rng;

pub use dirs::user_cache_dir;
pub use ids::stable_id;
pub use patch::{FilePatch, Hunk, Line, LineKind, Patch, PatchError};
pub use records::*;
pub use rng::SplitMix64;

/// The README's examples run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
