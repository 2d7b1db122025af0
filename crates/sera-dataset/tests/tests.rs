//! Integration tests of sera-dataset, one binary.
//!
//! - `formats`: snapshots of each lossless export format for the native fixture trajectory, and the
//!   Hermes rules (tool schemas in the system message, think blocks, train flags).
//! - `import`: SWE-agent, mini-swe-agent and SERA rows, and what their export carries.
//! - `sera_conformance`: import -> export with `compat = "sera"` equals SERA's own
//!   post-processing on every case of the conformance corpus (tests/data/sera-conformance/).
//! - `bad_input`: truncated lines, unknown roles, invalid tool arguments and empty patches are
//!   counted, reported by file and line, and skipped.
//! - `filters`: patch size, observation length, token length and ordered truncation, dedup,
//!   max records, splits, the dataset card.

use std::path::{Path, PathBuf};

use serde_json::Value;

use sera_core::Trajectory;
use sera_dataset::export::{Exporter, Item, Origin};
use sera_dataset::import::import_files;
use sera_dataset::{ExportConfig, ExportStats, Format, Output, Problem, Source, Tokenizer};

mod bad_input;
mod filters;
mod formats;
mod import;
mod sera_conformance;

/// The default export configuration with sera-rs's lossless rendering, which the format and
/// filter tests describe (SERA's rendering is held to SERA's outputs in `sera_conformance`).
fn lossless() -> ExportConfig {
    ExportConfig { compat: sera_dataset::Compat::Lossless, ..ExportConfig::default() }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/trajectories").join(path)
}

fn native() -> Trajectory {
    let text = std::fs::read_to_string(fixture("native.jsonl")).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Imports `paths` and returns the trajectories and the problems, in order.
fn import(source: Source, paths: &[PathBuf]) -> (Vec<Trajectory>, Vec<Problem>) {
    let mut trajectories = Vec::new();
    let mut problems = Vec::new();
    import_files(source, paths, 3, |chunk| {
        for (_, item) in chunk {
            match item {
                Ok(t) => trajectories.push(t),
                Err(p) => problems.push(p),
            }
        }
        Ok(())
    })
    .unwrap();
    (trajectories, problems)
}

/// Exports `trajectories` in one format to a temporary file and reads the records back.
fn export(
    trajectories: Vec<Trajectory>,
    format: Format,
    config: ExportConfig,
) -> (Vec<Value>, ExportStats) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let config = ExportConfig { formats: vec![format], chunk_size: 2, ..config };
    let tokenizer = Tokenizer::embedded();
    let mut exporter = Exporter::new(&tokenizer, &config, &Output::File(path.clone())).unwrap();
    let items: Vec<Item> = trajectories
        .into_iter()
        .enumerate()
        .map(|(i, t)| (Origin { file: "mem".into(), line: Some(i + 1) }, Ok(t)))
        .collect();
    for chunk in items.chunks(2) {
        exporter.push(chunk.to_vec()).unwrap();
    }
    let stats = exporter.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    (text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), stats)
}
