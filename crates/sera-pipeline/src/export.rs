//! The soft-verification, import and export stages: `sera verify recall`, `sera import` and
//! `sera export`.
//!
//! The work is done by `sera-verify` (line recall) and `sera-dataset` (import, filters,
//! formats); this module reads and writes the files, fills in recall for imported
//! trajectories that carry both patches, maps errors onto the CLI's exit codes and summarises
//! what was skipped. Bad records never stop a stage: each is reported with its file and line
//! and skipped. A stage whose inputs held records but not one good one fails with exit code 2.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

pub use sera_dataset::export::{Exporter, Item, MAX_PROBLEMS};
pub use sera_dataset::{
    Compat, DatasetError, ExportConfig, ExportStats, Format, Output, Problem, Source, Tokenizer,
};
use sera_verify::recall::{self, Pair};

use crate::jsonl::Writer;
use crate::{Error, Result};

/// How many problems a summary lists one by one; the rest are counted.
const LISTED_PROBLEMS: usize = 50;

/// Line recall of the target diff's changed lines in the candidate diff, both files.
pub fn recall_files(target: &Path, candidate: &Path) -> Result<Option<f64>> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|err| Error::io(path, err));
    Ok(recall::recall(&read(target)?, &read(candidate)?).value())
}

/// `{"recall": R}` for two diff files, R null when the target changes no line.
pub fn recall_json(target: &Path, candidate: &Path) -> Result<String> {
    Ok(serde_json::json!({ "recall": recall_files(target, candidate)? }).to_string())
}

/// What a batch recall run did.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub pairs: usize,
    /// Bad lines skipped.
    pub bad: usize,
    /// The first [`sera_dataset::export::MAX_PROBLEMS`] bad lines.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for BatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", problem_lines(&self.problems))?;
        write!(f, "recall: {} pairs scored, {} bad lines skipped", self.pairs, self.bad)
    }
}

/// Scores every pair of the JSONL file `pairs` (`{"id"?, "target", "candidate"}`, or SERA
/// rows with `target_patch` and `rollout_patch`) and writes one result per good line to
/// `out`, in input order.
pub fn recall_batch(pairs: &Path, out: &Path, chunk_size: usize) -> Result<BatchReport> {
    let file = File::open(pairs).map_err(|err| Error::io(pairs, err))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut writer = Writer::create(out)?;
    let mut report = BatchReport::default();
    let mut number = 0;
    loop {
        let mut chunk = Vec::with_capacity(chunk_size);
        let mut line = String::new();
        while chunk.len() < chunk_size.max(1) {
            line.clear();
            if reader.read_line(&mut line).map_err(|err| Error::io(pairs, err))? == 0 {
                break;
            }
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Pair>(line.trim_end_matches(['\n', '\r'])) {
                Ok(pair) => chunk.push(pair),
                Err(err) => {
                    report.bad += 1;
                    if report.problems.len() < MAX_PROBLEMS {
                        let kind = if err.is_eof() { "truncated_json" } else { "bad_record" };
                        let file = pairs.display().to_string();
                        report.problems.push(Problem::new(
                            &file,
                            Some(number),
                            kind,
                            err.to_string(),
                        ));
                    }
                }
            }
        }
        if chunk.is_empty() && line.is_empty() {
            break;
        }
        for result in recall::recall_batch(&chunk) {
            writer.write(&result)?;
        }
        report.pairs += chunk.len();
    }
    writer.finish()?;
    if report.pairs == 0 && report.bad > 0 {
        return Err(Error::Data(format!("{report}\nerror: {}: no good pair", pairs.display())));
    }
    Ok(report)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// Bad records skipped.
    pub bad: usize,
    /// The first [`sera_dataset::export::MAX_PROBLEMS`] bad records.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", problem_lines(&self.problems))?;
        write!(
            f,
            "import: {} trajectories written, {} bad records skipped",
            self.imported, self.bad
        )
    }
}

/// Imports `inputs` (files, or folders searched for the source's file names) as trajectory
/// records into `out`. Recall of the target patch in the trajectory's patch is filled in where
/// both are known and the source did not give it.
pub fn import(source: Source, inputs: &[PathBuf], out: &Path) -> Result<ImportReport> {
    let files = expand_inputs(source, inputs)?;
    let mut writer = Writer::create(out)?;
    let mut report = ImportReport::default();
    let mut failure = None;
    sera_dataset::import::import_files(source, &files, 256, |chunk| {
        for (_, item) in chunk {
            match item {
                Ok(mut trajectory) => {
                    fill_recall(&mut trajectory);
                    if let Err(err) = writer.write(&trajectory) {
                        failure = Some(err);
                        return Err(DatasetError::Config("write failed".into()));
                    }
                    report.imported += 1;
                }
                Err(problem) => {
                    report.bad += 1;
                    if report.problems.len() < MAX_PROBLEMS {
                        report.problems.push(problem);
                    }
                }
            }
        }
        Ok(())
    })
    .map_err(|err| failure.take().unwrap_or_else(|| dataset_error(err)))?;
    writer.finish()?;
    if report.imported == 0 && report.bad > 0 {
        return Err(Error::Data(format!("{report}\nerror: no trajectory could be imported")));
    }
    Ok(report)
}

/// Options of `sera export`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub config: ExportConfig,
    /// A Hugging Face `tokenizer.json`; `None` uses the embedded vocabulary.
    pub tokenizer: Option<PathBuf>,
    pub output: Output,
}

/// What an export did.
#[derive(Debug)]
pub struct ExportReport {
    pub stats: ExportStats,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stats = &self.stats;
        write!(f, "{}", problem_lines(&stats.problems))?;
        let kept: usize = stats.kept.values().sum();
        write!(f, "export: {} read, {kept} kept", stats.read)?;
        for (split, n) in &stats.kept {
            write!(f, " ({split} {n})")?;
        }
        write!(
            f,
            ", {} truncated, {} tokens (tokenizer {})",
            stats.truncated, stats.tokens.total, stats.tokenizer
        )?;
        for (reason, n) in &stats.dropped {
            write!(f, "\n  dropped {reason}: {n}")?;
        }
        for (kind, n) in &stats.bad {
            write!(f, "\n  bad input {kind}: {n}")?;
        }
        Ok(())
    }
}

/// Exports the trajectory JSONL files `inputs`.
pub fn export(inputs: &[PathBuf], options: &ExportOptions) -> Result<ExportReport> {
    export_from(None, inputs, options)
}

/// Exports `inputs`: trajectory JSONL files, or with a `source` another tool's files imported
/// on the fly (`sera export --from SOURCE`).
pub fn export_from(
    source: Option<Source>,
    inputs: &[PathBuf],
    options: &ExportOptions,
) -> Result<ExportReport> {
    let tokenizer = match &options.tokenizer {
        Some(path) => Tokenizer::from_file(path).map_err(dataset_error)?,
        None => Tokenizer::embedded(),
    };
    let stats = match source {
        Some(source) => {
            import_and_export(source, inputs, &tokenizer, &options.config, &options.output)?
        }
        None => sera_dataset::export(inputs, &tokenizer, &options.config, &options.output)
            .map_err(dataset_error)?,
    };
    if stats.read > 0 && stats.read == stats.bad.values().sum::<usize>() {
        return Err(Error::Data(format!(
            "{}\nerror: no good trajectory in the input",
            ExportReport { stats }
        )));
    }
    Ok(ExportReport { stats })
}

/// Imports `inputs` and exports them in one pass, without an intermediate file
/// (`sera export --from SOURCE`, what `cargo xtask bench export` measures). Recall is filled in
/// as in [`import`].
pub fn import_and_export(
    source: Source,
    inputs: &[PathBuf],
    tokenizer: &Tokenizer,
    config: &ExportConfig,
    output: &Output,
) -> Result<ExportStats> {
    let files = expand_inputs(source, inputs)?;
    let mut exporter = Exporter::new(tokenizer, config, output).map_err(dataset_error)?;
    sera_dataset::import::import_files(
        source,
        &files,
        config.chunk_size,
        |mut chunk: Vec<Item>| {
            for (_, item) in &mut chunk {
                if let Ok(trajectory) = item {
                    fill_recall(trajectory);
                }
            }
            exporter.push(chunk)
        },
    )
    .map_err(dataset_error)?;
    exporter.finish().map_err(dataset_error)
}

/// Parses a comma-separated list of formats.
pub fn parse_formats(text: &str) -> Result<Vec<Format>> {
    text.split(',').map(|name| name.trim().parse::<Format>().map_err(Error::Usage)).collect()
}

/// Recall of the target patch in the trajectory's own patch, where both are known and the
/// source gave none.
fn fill_recall(trajectory: &mut sera_core::Trajectory) {
    if trajectory.recall.is_none()
        && let (Some(target), Some(patch)) = (&trajectory.target_patch, &trajectory.patch)
    {
        trajectory.recall = recall::recall(&target.render(), &patch.render()).value();
    }
}

fn dataset_error(err: DatasetError) -> Error {
    match err {
        DatasetError::Io { path, source } => Error::io(&path, source),
        DatasetError::Tokenizer { .. } => Error::Data(err.to_string()),
        DatasetError::Config(message) => Error::Usage(message),
        other => Error::Environment(other.to_string()),
    }
}

/// Files as given, and inside folders the files that the source writes (`*.traj`,
/// `*.traj.json`, `*.jsonl`), sorted, so a SWE-agent run folder can be passed whole.
fn expand_inputs(source: Source, inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let suffix = match source {
        Source::SweAgent => ".traj",
        Source::MiniSweAgent => ".traj.json",
        Source::Sera => ".jsonl",
    };
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let mut stack = vec![input.clone()];
        let mut found = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|err| Error::io(&dir, err))? {
                let path = entry.map_err(|err| Error::io(&dir, err))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(suffix) {
                    found.push(path);
                }
            }
        }
        if found.is_empty() {
            return Err(Error::Data(format!("{}: no *{suffix} file inside", input.display())));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn problem_lines(problems: &[Problem]) -> String {
    let mut out = String::new();
    for problem in problems.iter().take(LISTED_PROBLEMS) {
        let _ = writeln!(out, "skipped {problem}");
    }
    if problems.len() > LISTED_PROBLEMS {
        let _ = writeln!(out, "... and {} more skipped records", problems.len() - LISTED_PROBLEMS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_recall_scores_good_lines_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = dir.path().join("pairs.jsonl");
        let out = dir.path().join("out.jsonl");
        std::fs::write(
            &pairs,
            "{\"id\":\"a\",\"target\":\"-x\\n+y\\n\",\"candidate\":\"-x\\n\"}\nnot json\n\
             {\"target_patch\":\"\",\"rollout_patch\":\"+z\\n\"}\n",
        )
        .unwrap();
        let report = recall_batch(&pairs, &out, 1).unwrap();
        assert_eq!(report.pairs, 2);
        assert_eq!(report.problems[0].line, Some(2));
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["recall"], 0.5);
        assert_eq!(lines[0]["id"], "a");
        assert!(lines[1]["recall"].is_null());
    }
}
