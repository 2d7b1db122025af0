//! Verification of candidate patches: hard verification (the instance's tests, FAIL_TO_PASS and
//! PASS_TO_PASS, run through `sera-sandbox`) and soft verification (line-level recall of a
//! target patch in a candidate patch, SERA's SVG criterion), plus patch dedup.
//!
//! Must not know: models, teachers or export formats: it judges patches by tests and recall.
//!
//! The soft half ([`recall`], [`dedup`]) is pure text processing: it runs no process and needs
//! no sandbox, so downstream crates can use the recall metric on its own.
//!
//! The hard half: a [`TestRunner`] per test tool ([`Cargo`], [`Pytest`]) knows the command
//! and reads its output; the [`Validator`] establishes a clean [`Baseline`] (run twice to find
//! flaky tests, cached on disk per repository content, commit and test command), then checks
//! each candidate bug in a reused sandbox scratch and turns the kept ones into
//! [`sera_core::Instance`]s with a template issue text. It never spawns a process itself: all
//! commands go through [`sera_sandbox::Scratch::run`]. It knows nothing of how candidates were
//! made (`sera-mutation`) or who will solve them (`sera-rollout`).
//!
//! The [`Verifier`] trait turns both halves, and any plugin's checks, into one list of judges
//! whose [`sera_core::Verdict`]s decide which trajectories a run keeps.

pub mod baseline;
mod cargo;
pub mod dedup;
mod error;
pub mod issue;
mod pytest;
pub mod recall;
pub mod runner;
mod validate;
pub mod verifier;

pub use baseline::Baseline;
pub use cargo::Cargo;
pub use error::VerifyError;
pub use pytest::Pytest;
pub use runner::{ParsedLog, Rerun, RerunLog, TestRunner};
pub use validate::{
    Funnel, Outcome, RejectReason, Rejection, SuiteRun, ValidateConfig, Validator, compare,
    resolved,
};
pub use verifier::{Candidate, RecallVerifier, TestsVerifier, Verifier};
