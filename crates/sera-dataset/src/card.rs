//! The dataset card (`README.md` with the YAML header the Hugging Face Hub reads) and
//! `stats.json` of a dataset directory.

use std::fmt::Write as _;
use std::path::Path;

use crate::export::{ExportConfig, ExportStats};
use crate::{DatasetError, Format};

/// Writes `README.md` and `stats.json` into `dir`.
pub(crate) fn write(
    dir: &Path,
    config: &ExportConfig,
    stats: &ExportStats,
) -> Result<(), DatasetError> {
    let json = serde_json::to_string_pretty(stats).expect("statistics serialize");
    let path = dir.join("stats.json");
    std::fs::write(&path, json + "\n").map_err(|err| DatasetError::io(path, err))?;
    let path = dir.join("README.md");
    std::fs::write(&path, render(config, stats)).map_err(|err| DatasetError::io(path, err))
}

fn render(config: &ExportConfig, stats: &ExportStats) -> String {
    let mut out = String::new();
    out.push_str("---\nlicense: other\nlanguage:\n- en\ntask_categories:\n- text-generation\n");
    out.push_str("tags:\n- code\n- agents\n- sft\n- sera-rs\n");
    let _ = writeln!(out, "size_categories:\n- {}", size_category(stats.kept.values().sum()));
    out.push_str("configs:\n");
    for (i, format) in config.formats.iter().enumerate() {
        let name = format.name();
        let _ = writeln!(out, "- config_name: {name}");
        if i == 0 {
            out.push_str("  default: true\n");
        }
        out.push_str("  data_files:\n");
        let _ = writeln!(out, "  - split: train\n    path: {name}/train.jsonl");
        let _ = writeln!(out, "  - split: validation\n    path: {name}/val.jsonl");
    }
    out.push_str("---\n\n# Agent trajectories for supervised fine-tuning\n\n");
    out.push_str(
        "Coding-agent trajectories exported by sera-rs (`sera export`). Each record is one \
         conversation in which an agent solved a task in a repository with the tools `bash`, \
         `str_replace_editor` and `submit`, with provenance in `metadata` (instance, repository, \
         commit, start function, bug class, teacher, recall, exit status, patch).\n\n",
    );
    out.push_str("## Formats\n\n");
    for format in &config.formats {
        let about = match format {
            Format::OpenAi => {
                "chat messages with OpenAI `tool_calls` and a `tools` list (TRL, Hugging Face chat templates)"
            }
            Format::Hermes => {
                "Qwen/Hermes text with `<think>`, `<tool_call>` and `<tool_response>` blocks and a `train` flag on assistant turns (axolotl `chat_template`, `message_field_training: train`)"
            }
            Format::Xml => {
                "SWE-smith/OpenHands text with `<function=NAME>` and `<parameter=KEY>` blocks"
            }
            Format::Raw => "the trajectory records as recorded",
        };
        let _ = writeln!(out, "- `{}`: {about}", format.name());
    }
    out.push_str("\n## Filters\n\n");
    let _ = writeln!(
        out,
        "- only submitted rollouts: {}\n- patch at most {} changed lines\n- mean tool output at most {} tokens\n\
         - recall of the target patch at least {}\n\
         - at most {} tokens with ChatML framing; longer records cut after the last assistant turn before \
         the overflow, kept down to a truncation ratio of {}\n- duplicates removed: {}\n\
         - validation split: {:.1}% of instances, by a hash of the instance id\n- tokenizer: {}",
        config.require_submitted,
        limit(config.max_patch_lines),
        limit(config.max_avg_observation_tokens),
        config.min_recall.map_or_else(|| "any (no threshold)".to_string(), |r| r.to_string()),
        config.max_tokens,
        config.min_truncation_ratio,
        config.dedup,
        config.val_fraction * 100.0,
        stats.tokenizer,
    );
    out.push_str("\n## Statistics\n\n| | |\n| --- | --- |\n");
    let _ = writeln!(out, "| records read | {} |", stats.read);
    for (split, n) in &stats.kept {
        let _ = writeln!(out, "| kept ({split}) | {n} |");
    }
    let _ = writeln!(out, "| truncated | {} |", stats.truncated);
    let _ = writeln!(
        out,
        "| tokens | {} (mean {:.0}, p50 {}, p95 {}, max {}) |",
        stats.tokens.total, stats.tokens.mean, stats.tokens.p50, stats.tokens.p95, stats.tokens.max
    );
    for (reason, n) in &stats.dropped {
        let _ = writeln!(out, "| dropped: {reason} | {n} |");
    }
    for (kind, n) in &stats.bad {
        let _ = writeln!(out, "| bad input: {kind} | {n} |");
    }
    out.push_str("\nFull counts, per bug class and recall level, are in `stats.json`.\n");
    out
}

fn size_category(n: usize) -> &'static str {
    match n {
        0..1_000 => "n<1K",
        1_000..10_000 => "1K<n<10K",
        10_000..100_000 => "10K<n<100K",
        100_000..1_000_000 => "100K<n<1M",
        _ => "n>1M",
    }
}

/// A filter's limit for the card: its value, or that it is off.
fn limit(value: Option<usize>) -> String {
    value.map_or_else(|| "any (off)".to_string(), |n| n.to_string())
}
