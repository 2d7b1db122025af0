//! Turns recorded agent trajectories into fine-tuning datasets: the export formats (`openai`,
//! `hermes`, `xml`, `raw`; the last three by default exactly as SERA's post-processing writes
//! them, see [`sera`]), SERA's filters and length handling (patch size, observation
//! length, ChatML token length, ordered truncation), dedup, a deterministic train/validation
//! split, the dataset card and statistics; and import of trajectories recorded by SWE-agent,
//! mini-swe-agent and SERA's released datasets; and task instances as SWE-bench and SWE-smith
//! rows ([`instances`]).
//!
//! Must not know: how trajectories were made (rollouts, sandboxes, teachers) or how they are
//! trained on.
//!
//! It depends on `sera-core` records only: it knows nothing about how trajectories were made
//! (rollout, sandbox, teachers) and does no training (that is `sera-train`, which consumes the
//! files written here). Bad records never stop a run: each is counted, reported with its file
//! and line, and skipped. Inputs are streamed line by line and processed in parallel chunks,
//! so memory stays flat as the corpus grows.

mod card;
mod error;
pub mod export;
pub mod format;
pub mod import;
pub mod instances;
pub mod sera;
pub mod tokenizer;

pub use error::{DatasetError, Problem};
pub use export::{ExportConfig, ExportStats, Output, Split, export};
pub use format::Format;
pub use import::Source;
pub use instances::TaskFormat;
pub use sera::{Compat, Reformat, SeraOptions};
pub use tokenizer::Tokenizer;
