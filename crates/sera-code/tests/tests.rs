//! Integration tests of sera-code, in one binary.
//!
//! - `fixtures`: snapshots of the index of the fixture repositories under `tests/data/`
//!   (`rust-demo`, `py-demo`), copied to a temporary directory first.
//! - `bad_input`: repositories and files the index must survive: missing paths, empty
//!   repositories, non-UTF-8, syntax errors, huge and generated files, ignored files.
//! - `sampling`: seeded start functions.
//! - `util`: copying fixtures, writing small repositories.

mod bad_input;
mod fixtures;
mod sampling;
mod util;
