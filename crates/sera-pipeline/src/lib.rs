//! The stages of sera-rs as functions over files: each reads its inputs, calls the stage crate
//! that does the work, and streams JSONL records out. `sera-cli` is a thin argument parser over
//! this crate; the whole-pipeline runner (`sera run`, resumable run directories) builds on the
//! same stage functions.
//!
//! Must not know: how any one stage does its work: it orders stages, reads and writes their files
//! and maps errors to exit codes.
//!
//! Errors carry the exit code class of the CLI contract: usage (1), bad input data (2) and
//! environment problems (3), each with a message naming the file, record or line at fault.

pub mod config;
pub mod env;
mod error;
pub mod eval;
pub mod export;
pub mod index;
pub mod instances;
pub mod jsonl;
pub mod merge;
pub mod mutate;
pub mod plugins;
mod progress;
pub mod report;
pub mod rollout;
pub mod run;
pub mod rundir;
pub mod taxonomy;
pub mod train;
pub mod validate;

pub use error::{Error, Result};
