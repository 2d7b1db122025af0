//! The export driver: filters, length handling, dedup, split, and streaming writes.
//!
//! Records flow through in chunks. Within a chunk every trajectory is checked, token-counted
//! and rendered in parallel (rayon); the chunk's results are then applied in input order, so
//! the output is the same for any number of threads. Memory holds one chunk, a fingerprint per
//! kept record (dedup) and a small index entry per truncated record; truncated records
//! themselves wait in a temporary spill file until the end, because SERA's ordered selection
//! adds them after every record that fits, by falling truncation ratio.
//!
//! Filters, in order (reference section 6), each counted under its key in [`ExportStats`]:
//! `not_submitted`, `empty_patch` (also reported as a problem; `drop_empty_patch`), `patch_too_large` (more than
//! `max_patch_lines` added plus removed lines, when set), `recall_below_threshold` (a recall
//! below `min_recall`, when set), the format checks of [`ChatView::new`]
//! (`no_assistant`, `multiple_think`, `unclosed_think`, `no_tool_call`; with
//! [`Compat::Sera`], SERA's: the think rewrite of hermes records), `observations_too_long` (mean tool-output
//! tokens above `max_avg_observation_tokens`, when set), `too_long` (overflows with no assistant turn
//! before the overflow), `truncated_below_ratio`, `duplicate` and `over_max_records`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use sera_chat::hermes;
use sera_core::{ExitStatus, Role, Trajectory};

use crate::format::{ChatView, Format, provenance, render};
use crate::sera::{Compat, SeraOptions};
use crate::{DatasetError, Problem, Tokenizer, card};

/// How many bad records [`ExportStats::problems`] lists one by one.
pub const MAX_PROBLEMS: usize = 10_000;

/// What to keep and how to write it. Defaults are SERA's.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Formats to write; [`Output::File`] takes exactly one.
    pub formats: Vec<Format>,
    /// The token limit of one record with ChatML framing (SERA: 32,768).
    pub max_tokens: usize,
    /// Drop trajectories whose own patch has more added plus removed lines. Off by default, as
    /// in SERA, which used 40 only for one specialisation run.
    pub max_patch_lines: Option<usize>,
    /// Drop trajectories whose mean tool-output length exceeds this many tokens. Off by
    /// default, as in SERA, which used 600 only for the same run.
    pub max_avg_observation_tokens: Option<usize>,
    /// Keep only trajectories whose recall of their target patch is at least this (SERA's
    /// soft-verification threshold), so that one run's rollouts can be exported again at
    /// another threshold without new rollouts. A trajectory without a recall (its target
    /// changes no line, or it has none) is dropped when this is set.
    pub min_recall: Option<f64>,
    /// Keep truncated records down to this ratio of kept to all messages (SERA: 0.88).
    pub min_truncation_ratio: f64,
    /// At most this many records: first every record that fits, then truncated ones by
    /// falling ratio.
    pub max_records: Option<usize>,
    /// Keep only rollouts that ended by submitting.
    pub require_submitted: bool,
    /// Drop (and report) rollouts without a change. SERA's post-processing keeps them (its
    /// evaluation skips empty patches instead).
    pub drop_empty_patch: bool,
    /// Drop records whose rendered conversation equals an earlier one.
    pub dedup: bool,
    /// The share of instances that go to the validation split (by a hash of the instance id).
    pub val_fraction: f64,
    /// Records per parallel chunk.
    pub chunk_size: usize,
    /// SERA's records byte for byte, or sera-rs's lossless rendering.
    pub compat: Compat,
    /// SERA's post-processing options, for [`Compat::Sera`].
    pub sera: SeraOptions,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            formats: vec![Format::Hermes],
            max_tokens: 32_768,
            max_patch_lines: None,
            max_avg_observation_tokens: None,
            min_recall: None,
            min_truncation_ratio: 0.88,
            max_records: None,
            require_submitted: true,
            drop_empty_patch: true,
            dedup: true,
            val_fraction: 0.0,
            chunk_size: 256,
            compat: Compat::Sera,
            sera: SeraOptions::default(),
        }
    }
}

/// The split a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    /// The deterministic split of `instance_id`: every trajectory of one instance lands in the
    /// same split, on every machine and in every run.
    pub fn of(instance_id: &str, val_fraction: f64) -> Split {
        let bucket = fnv1a(instance_id.as_bytes()) % 1_000_000;
        if (bucket as f64) < val_fraction * 1_000_000.0 { Split::Val } else { Split::Train }
    }

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

/// Where records go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Every record of the one format, both splits, into one JSONL file (`-` for stdout).
    File(PathBuf),
    /// A dataset directory: `FORMAT/train.jsonl` and `FORMAT/val.jsonl` per format, the
    /// dataset card `README.md` and `stats.json`.
    Dir(PathBuf),
}

/// Counts of what happened, written to `stats.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportStats {
    /// Records read (good and bad).
    pub read: usize,
    /// Records written, per split.
    pub kept: BTreeMap<&'static str, usize>,
    /// Of the kept records, how many were truncated.
    pub truncated: usize,
    /// Dropped records per reason.
    pub dropped: BTreeMap<&'static str, usize>,
    /// Bad records per kind (also in `problems`).
    pub bad: BTreeMap<&'static str, usize>,
    /// Tokens of the kept records (ChatML framing, after truncation).
    pub tokens: TokenStats,
    /// Kept records per bug class (`unknown` when none is recorded).
    pub bug_classes: BTreeMap<String, usize>,
    /// Kept records per recall level.
    pub recall_levels: BTreeMap<&'static str, usize>,
    pub tokenizer: String,
    /// The bad records, with file and line (the first [`MAX_PROBLEMS`]; `bad` counts all).
    pub problems: Vec<Problem>,
}

/// A summary of token lengths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenStats {
    pub total: u64,
    pub mean: f64,
    pub p50: u32,
    pub p95: u32,
    pub max: u32,
    /// Assistant turns over all kept records.
    pub assistant_turns: u64,
}

/// Where one input record came from, for problem reports.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: Option<usize>,
}

/// One input: a trajectory, or the problem that kept it from being one.
pub type Item = (Origin, Result<Trajectory, Problem>);

/// Exports every trajectory of the JSONL `inputs` to `output`.
pub fn export(
    inputs: &[PathBuf],
    tokenizer: &Tokenizer,
    config: &ExportConfig,
    output: &Output,
) -> Result<ExportStats, DatasetError> {
    let mut exporter = Exporter::new(tokenizer, config, output)?;
    for input in inputs {
        for_each_chunk(input, config.chunk_size, |chunk| exporter.push(chunk))?;
    }
    exporter.finish()
}

/// The non-blank lines of a JSONL file, a chunk at a time, each with its 1-based line number.
pub(crate) struct LineChunks<'a> {
    reader: BufReader<File>,
    path: &'a Path,
    number: usize,
}

impl<'a> LineChunks<'a> {
    pub(crate) fn open(path: &'a Path) -> Result<LineChunks<'a>, DatasetError> {
        let file = File::open(path).map_err(|err| DatasetError::io(path, err))?;
        Ok(LineChunks { reader: BufReader::with_capacity(1 << 20, file), path, number: 0 })
    }

    /// Up to `size` more non-blank lines (with their terminators); empty at the end.
    pub(crate) fn next(&mut self, size: usize) -> Result<Vec<(usize, String)>, DatasetError> {
        let mut lines = Vec::with_capacity(size);
        while lines.len() < size.max(1) {
            let mut line = String::new();
            let read =
                self.reader.read_line(&mut line).map_err(|err| DatasetError::io(self.path, err))?;
            if read == 0 {
                break;
            }
            self.number += 1;
            if !line.trim().is_empty() {
                lines.push((self.number, line));
            }
        }
        Ok(lines)
    }
}

/// Reads the trajectory JSONL `path` in chunks of `chunk_size` lines, parsing each chunk in
/// parallel. Malformed lines (including a torn last line) become problems.
pub fn for_each_chunk(
    path: &Path,
    chunk_size: usize,
    each: impl FnMut(Vec<Item>) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    parse_chunks(path, chunk_size, each, |text, origin| {
        serde_json::from_str::<Trajectory>(text).map_err(|err| {
            let kind = if err.is_eof() { "truncated_json" } else { "bad_record" };
            Problem::new(&origin.file, origin.line, kind, err.to_string())
        })
    })
}

/// Reads the JSONL `path` in chunks of `chunk_size` non-blank lines and turns each line into an
/// [`Item`] with `parse` (given the line without its terminator, so a torn line reads as
/// truncated JSON), in parallel within a chunk, handing each chunk to `each` in file order.
pub(crate) fn parse_chunks(
    path: &Path,
    chunk_size: usize,
    mut each: impl FnMut(Vec<Item>) -> Result<(), DatasetError>,
    parse: impl Fn(&str, &Origin) -> Result<Trajectory, Problem> + Sync,
) -> Result<(), DatasetError> {
    let file = Arc::<str>::from(path.display().to_string());
    let mut chunks = LineChunks::open(path)?;
    loop {
        let lines = chunks.next(chunk_size)?;
        if lines.is_empty() {
            return Ok(());
        }
        let items = lines
            .into_par_iter()
            .map(|(line, text): (usize, String)| {
                let origin = Origin { file: file.clone(), line: Some(line) };
                let parsed = parse(text.trim_end_matches(['\n', '\r']), &origin);
                (origin, parsed)
            })
            .collect();
        each(items)?;
    }
}

/// The streaming exporter: push chunks of items, then finish.
pub struct Exporter<'a> {
    tokenizer: &'a Tokenizer,
    config: &'a ExportConfig,
    output: Output,
    sinks: HashMap<(Format, Split), BufWriter<Box<dyn Write + Send>>>,
    spill: BufWriter<File>,
    spill_len: u64,
    spilled: Vec<Spilled>,
    seen: HashSet<u64>,
    written: usize,
    token_counts: Vec<u32>,
    stats: ExportStats,
}

impl std::fmt::Debug for Exporter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("output", &self.output)
            .field("stats", &self.stats)
            .finish()
    }
}

/// A truncated record waiting for the end: where its rendered lines are in the spill file.
struct Spilled {
    ratio: f64,
    seq: usize,
    offset: u64,
    lens: Vec<usize>,
    summary: Summary,
}

/// What statistics need from a kept record.
#[derive(Clone)]
struct Summary {
    split: Split,
    tokens: u32,
    assistant_turns: u32,
    bug_class: Option<String>,
    recall_level: &'static str,
}

/// The verdict on one item, computed in parallel.
enum Verdict {
    Bad(Problem),
    Drop(&'static str),
    Keep(Box<Kept>),
}

struct Kept {
    lines: Vec<String>,
    ratio: f64,
    fingerprint: u64,
    summary: Summary,
}

impl<'a> Exporter<'a> {
    pub fn new(
        tokenizer: &'a Tokenizer,
        config: &'a ExportConfig,
        output: &Output,
    ) -> Result<Self, DatasetError> {
        if config.formats.is_empty() {
            return Err(DatasetError::Config("no export format given".into()));
        }
        let mut sinks = HashMap::new();
        match output {
            Output::File(path) => {
                let [format] = config.formats[..] else {
                    return Err(DatasetError::Config(
                        "a single output file takes exactly one format".into(),
                    ));
                };
                let writer = open(path)?;
                // Both splits share the one file; a second handle would interleave badly, so the
                // validation split is disabled for single-file output.
                sinks.insert((format, Split::Train), writer);
            }
            Output::Dir(dir) => {
                for &format in &config.formats {
                    for split in [Split::Train, Split::Val] {
                        let path = dir.join(format.name()).join(format!("{}.jsonl", split.name()));
                        sinks.insert((format, split), open(&path)?);
                    }
                }
            }
        }
        let spill =
            tempfile::tempfile().map_err(|err| DatasetError::io(std::env::temp_dir(), err))?;
        let stats =
            ExportStats { tokenizer: tokenizer.name().to_string(), ..ExportStats::default() };
        Ok(Exporter {
            tokenizer,
            config,
            output: output.clone(),
            sinks,
            spill: BufWriter::new(spill),
            spill_len: 0,
            spilled: Vec::new(),
            seen: HashSet::new(),
            written: 0,
            token_counts: Vec::new(),
            stats,
        })
    }

    /// Processes one chunk of items: evaluates them in parallel, then applies the results in
    /// order.
    pub fn push(&mut self, chunk: Vec<Item>) -> Result<(), DatasetError> {
        let (tokenizer, config) = (self.tokenizer, self.config);
        let single_file = matches!(self.output, Output::File(_));
        let verdicts: Vec<Verdict> = chunk
            .into_par_iter()
            .map(|(origin, item)| match item {
                Err(problem) => Verdict::Bad(problem),
                Ok(trajectory) => evaluate(&trajectory, &origin, tokenizer, config, single_file),
            })
            .collect();
        for verdict in verdicts {
            self.stats.read += 1;
            match verdict {
                Verdict::Bad(problem) => {
                    *self.stats.bad.entry(problem.kind).or_default() += 1;
                    // Keep memory bounded on a corpus of garbage; `bad` still counts them all.
                    if self.stats.problems.len() < MAX_PROBLEMS {
                        self.stats.problems.push(problem);
                    }
                }
                Verdict::Drop(reason) => *self.stats.dropped.entry(reason).or_default() += 1,
                Verdict::Keep(kept) => self.keep(*kept)?,
            }
        }
        Ok(())
    }

    fn keep(&mut self, kept: Kept) -> Result<(), DatasetError> {
        if self.config.dedup && !self.seen.insert(kept.fingerprint) {
            *self.stats.dropped.entry("duplicate").or_default() += 1;
            return Ok(());
        }
        if kept.ratio < 1.0 {
            let offset = self.spill_len;
            let mut lens = Vec::with_capacity(kept.lines.len());
            for line in &kept.lines {
                self.spill
                    .write_all(line.as_bytes())
                    .map_err(|err| DatasetError::io("(spill file)", err))?;
                self.spill_len += line.len() as u64;
                lens.push(line.len());
            }
            let seq = self.spilled.len();
            self.spilled.push(Spilled {
                ratio: kept.ratio,
                seq,
                offset,
                lens,
                summary: kept.summary,
            });
            return Ok(());
        }
        self.write(&kept.lines, kept.summary)
    }

    fn write(&mut self, lines: &[String], summary: Summary) -> Result<(), DatasetError> {
        if self.config.max_records.is_some_and(|max| self.written >= max) {
            *self.stats.dropped.entry("over_max_records").or_default() += 1;
            return Ok(());
        }
        for (format, line) in self.config.formats.iter().zip(lines) {
            let sink = self
                .sinks
                .get_mut(&(*format, summary.split))
                .ok_or_else(|| DatasetError::Config(format!("no output for {}", format.name())))?;
            sink.write_all(line.as_bytes())
                .map_err(|err| DatasetError::io(output_path(&self.output), err))?;
        }
        self.written += 1;
        *self.stats.kept.entry(summary.split.name()).or_default() += 1;
        self.token_counts.push(summary.tokens);
        self.stats.tokens.assistant_turns += u64::from(summary.assistant_turns);
        let class = summary.bug_class.unwrap_or_else(|| "unknown".into());
        *self.stats.bug_classes.entry(class).or_default() += 1;
        *self.stats.recall_levels.entry(summary.recall_level).or_default() += 1;
        Ok(())
    }

    /// Appends the truncated records by falling ratio, flushes every file and, for a dataset
    /// directory, writes the card and `stats.json`.
    pub fn finish(mut self) -> Result<ExportStats, DatasetError> {
        let mut spilled = std::mem::take(&mut self.spilled);
        spilled.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then(a.seq.cmp(&b.seq)));
        let mut spill = self
            .spill
            .into_inner()
            .map_err(|err| DatasetError::io("(spill file)", err.into_error()))?;
        self.spill = BufWriter::new(
            tempfile::tempfile().map_err(|err| DatasetError::io("(spill file)", err))?,
        );
        for entry in spilled {
            if self.config.max_records.is_some_and(|max| self.written >= max) {
                *self.stats.dropped.entry("over_max_records").or_default() += 1;
                continue;
            }
            spill
                .seek(SeekFrom::Start(entry.offset))
                .map_err(|err| DatasetError::io("(spill file)", err))?;
            let mut lines = Vec::with_capacity(entry.lens.len());
            for len in &entry.lens {
                let mut buf = vec![0; *len];
                spill.read_exact(&mut buf).map_err(|err| DatasetError::io("(spill file)", err))?;
                lines.push(
                    String::from_utf8(buf)
                        .expect("the spill file holds the UTF-8 lines written to it"),
                );
            }
            self.stats.truncated += 1;
            self.write(&lines, entry.summary)?;
        }
        for (_, mut sink) in self.sinks.drain() {
            sink.flush().map_err(|err| DatasetError::io(output_path(&self.output), err))?;
        }
        self.stats.tokens = token_stats(&mut self.token_counts, self.stats.tokens.assistant_turns);
        if let Output::Dir(dir) = &self.output {
            card::write(dir, self.config, &self.stats)?;
        }
        Ok(self.stats)
    }
}

fn output_path(output: &Output) -> PathBuf {
    match output {
        Output::File(path) | Output::Dir(path) => path.clone(),
    }
}

fn open(path: &Path) -> Result<BufWriter<Box<dyn Write + Send>>, DatasetError> {
    let out: Box<dyn Write + Send> = if path == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| DatasetError::io(parent, err))?;
        }
        Box::new(File::create(path).map_err(|err| DatasetError::io(path, err))?)
    };
    Ok(BufWriter::with_capacity(1 << 20, out))
}

/// Checks, measures and renders one trajectory.
fn evaluate(
    trajectory: &Trajectory,
    origin: &Origin,
    tokenizer: &Tokenizer,
    config: &ExportConfig,
    single_file: bool,
) -> Verdict {
    if config.require_submitted && trajectory.exit_status != ExitStatus::Submitted {
        return Verdict::Drop("not_submitted");
    }
    let patch_lines = trajectory.patch.as_ref().map_or(0, |patch| patch.changed_line_count());
    if patch_lines == 0 && config.drop_empty_patch {
        return Verdict::Bad(Problem {
            file: origin.file.to_string(),
            line: origin.line,
            kind: "empty_patch",
            message: format!("trajectory {} has no patch or an empty one", trajectory.id),
        });
    }
    if config.max_patch_lines.is_some_and(|most| patch_lines > most) {
        return Verdict::Drop("patch_too_large");
    }
    if let Some(threshold) = config.min_recall {
        if !trajectory.recall.is_some_and(|recall| recall >= threshold) {
            return Verdict::Drop("recall_below_threshold");
        }
    }
    let view = match ChatView::new(trajectory, config.compat, &config.sera, &config.formats) {
        Ok(view) => view,
        Err(invalid) => return Verdict::Drop(invalid.key()),
    };
    let tokens: Vec<usize> =
        view.messages.iter().map(|m| tokenizer.count_chatml(m.role, &m.content)).collect();

    // Observation length: each tool message's tokens as a `<tool_response>` turn, less the
    // framing.
    if let Some(most) = config.max_avg_observation_tokens {
        let framing = tokenizer.count_chatml("user", &hermes::tool_response(""));
        let observations: Vec<usize> = trajectory.messages[..view.source_len()]
            .iter()
            .filter(|m| m.role == Role::Tool)
            .map(|m| {
                let turn = hermes::tool_response(&m.content);
                tokenizer.count_chatml("user", &turn).saturating_sub(framing)
            })
            .collect();
        if !observations.is_empty()
            && observations.iter().sum::<usize>() / observations.len() > most
        {
            return Verdict::Drop("observations_too_long");
        }
    }

    // Truncation: cut after the last assistant message before the one that overflows.
    let mut total = 0;
    let mut keep = view.messages.len();
    for (i, count) in tokens.iter().enumerate() {
        if total + count > config.max_tokens {
            match view.messages[..i].iter().rposition(|m| m.role == "assistant") {
                Some(last) => keep = last + 1,
                None => return Verdict::Drop("too_long"),
            }
            break;
        }
        total += count;
    }
    // The share of the trajectory's messages kept, whichever format is written.
    let source_keep = view.source_keep(keep);
    let ratio = source_keep as f64 / view.source_len() as f64;
    if ratio < config.min_truncation_ratio {
        return Verdict::Drop("truncated_below_ratio");
    }
    let kept_tokens: usize = tokens[..keep].iter().sum();
    let fingerprint = view.messages[..keep].iter().fold(0xcbf2_9ce4_8422_2325, |hash, m| {
        let hash = fnv1a_from(hash, m.role.as_bytes());
        fnv1a_from(fnv1a_from(hash, &[0]), m.content.as_bytes())
    });

    let mut metadata = provenance(trajectory);
    metadata.insert("tokens".into(), kept_tokens.into());
    if keep < view.messages.len() {
        metadata.insert("truncation_ratio".into(), ratio.into());
    }
    let lines = config
        .formats
        .iter()
        .map(|&format| {
            let record = render(
                trajectory,
                format,
                &view,
                source_keep,
                &metadata,
                config.compat,
                &config.sera,
            );
            let mut line = serde_json::to_string(&record).expect("JSON values serialize");
            line.push('\n');
            line
        })
        .collect();
    let val_fraction = if single_file { 0.0 } else { config.val_fraction };
    let summary = Summary {
        split: Split::of(&trajectory.instance_id, val_fraction),
        tokens: u32::try_from(kept_tokens).unwrap_or(u32::MAX),
        assistant_turns: view.messages[..keep].iter().filter(|m| m.role == "assistant").count()
            as u32,
        bug_class: trajectory.bug_class.clone(),
        recall_level: match trajectory.recall {
            None => "undefined",
            Some(r) if r >= 1.0 => "hard-verified",
            Some(r) if r > 0.0 => "soft-verified",
            Some(_) => "unverified",
        },
    };
    Verdict::Keep(Box::new(Kept { lines, ratio, fingerprint, summary }))
}

fn token_stats(counts: &mut [u32], assistant_turns: u64) -> TokenStats {
    if counts.is_empty() {
        return TokenStats { assistant_turns, ..TokenStats::default() };
    }
    counts.sort_unstable();
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let at = |q: f64| counts[((counts.len() - 1) as f64 * q).round() as usize];
    TokenStats {
        total,
        mean: total as f64 / counts.len() as f64,
        p50: at(0.5),
        p95: at(0.95),
        max: counts[counts.len() - 1],
        assistant_turns,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(0xcbf2_9ce4_8422_2325, bytes)
}

fn fnv1a_from(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_and_near_the_fraction() {
        let val =
            (0..10_000).filter(|i| Split::of(&format!("inst-{i}"), 0.1) == Split::Val).count();
        assert!((800..1200).contains(&val), "{val}");
        assert_eq!(Split::of("a", 0.5), Split::of("a", 0.5));
        assert_eq!(Split::of("a", 0.0), Split::Train);
        assert_eq!(Split::of("a", 1.0), Split::Val);
    }
}
