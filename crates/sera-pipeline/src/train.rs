//! `sera train`, `sera train export-axolotl` and `sera sample`: glue over `sera-train`, mapping
//! its errors onto the CLI's exit-code classes.

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use sera_train::SampleOptions;

use crate::{Error, Result};

/// What `sera train` was asked for.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    /// A preset name (`tiny`, `micro`) or a TOML file.
    pub config: String,
    /// Overrides the configuration's step count.
    pub steps: Option<usize>,
    /// Overrides the configuration's seed.
    pub seed: Option<u64>,
    /// Print a progress line every this many steps (0: only the summary).
    pub log_every: usize,
    /// A Hugging Face `tokenizer.json` to train with instead of bytes; replaces the
    /// configuration's `train.tokenizer`.
    pub tokenizer: Option<PathBuf>,
    /// A Hugging Face Qwen3 folder to start from; replaces the configuration's `train.init`.
    pub init: Option<PathBuf>,
}

/// Trains (or resumes training) and returns a summary for the terminal; progress lines go to
/// `log`.
pub fn train(opts: &TrainOptions, log: &mut dyn FnMut(&str)) -> Result<String> {
    let mut config = sera_train::Config::resolve(&opts.config).map_err(map_err)?;
    if let Some(steps) = opts.steps {
        config.train.steps = steps;
    }
    if let Some(seed) = opts.seed {
        config.train.seed = seed;
    }
    if let Some(tokenizer) = &opts.tokenizer {
        config.train.tokenizer = Some(tokenizer.clone());
    }
    if let Some(init) = &opts.init {
        config.train.init = Some(init.clone());
    }
    let request =
        sera_train::TrainRequest { data: opts.data.clone(), out: opts.out.clone(), config };
    let start = Instant::now();
    let mut positions = 0usize;
    let log_every = opts.log_every;
    let summary = sera_train::train(&request, &mut |m| {
        positions += m.positions;
        if log_every > 0 && (m.step % log_every == 0 || m.val_loss.is_some()) {
            let rate = positions as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let val = m.val_loss.map(|v| format!(" val_loss {v:.4}")).unwrap_or_default();
            log(&format!(
                "step {:>5}  loss {:.4}{val}  lr {:.2e}  grad_norm {:.3}  {rate:.0} tokens/s",
                m.step, m.loss, m.lr, m.grad_norm
            ));
        }
    })
    .map_err(map_err)?;
    let last = summary
        .last
        .as_ref()
        .map(|m| {
            let val = m.val_loss.map(|v| format!(", val_loss {v:.4}")).unwrap_or_default();
            format!("final loss {:.4}{val}", m.loss)
        })
        .unwrap_or_else(|| "no steps run".into());
    let resumed =
        summary.resumed_from.map(|s| format!(" (resumed from step {s})")).unwrap_or_default();
    Ok(format!(
        "trained {} steps{resumed} on {} records ({} windows; {} validation records): {last}\ncheckpoint: {}\nmetrics: {}  plot: {}",
        summary.steps,
        summary.train_records,
        summary.train_windows,
        summary.val_records,
        summary.checkpoint.display(),
        opts.out.join("metrics.jsonl").display(),
        opts.out.join("loss.png").display(),
    ))
}

/// Writes the axolotl configuration reproducing SERA's recipe to `out`.
pub fn export_axolotl(base_model: &str, data: &Path, out: &Path) -> Result<()> {
    let yaml = sera_train::axolotl_config(&sera_train::AxolotlRequest {
        base_model: base_model.to_string(),
        data: data.display().to_string(),
        output_dir: "outputs/sera".to_string(),
    });
    std::fs::write(out, yaml).map_err(|e| Error::io(out, e))
}

/// Generates the assistant's reply to `prompt` from a checkpoint or run directory.
pub fn sample(
    checkpoint: &Path,
    prompt: &str,
    max_tokens: usize,
    temperature: f64,
    seed: u64,
) -> Result<String> {
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(Error::Usage(format!("--temperature {temperature} must be 0 or more")));
    }
    let opts = sera_train::SampleOptions { max_tokens, temperature, seed };
    sera_train::sample(checkpoint, prompt, &opts).map_err(map_err)
}

/// [`sample`], also writing the prompt's ids, its logits at every position and the generated
/// ids to `trace_out` as JSON.
pub fn sample_with_trace(
    checkpoint: &Path,
    prompt: &str,
    opts: &sera_train::SampleOptions,
    trace_out: &Path,
) -> Result<String> {
    let trace = sera_train::trace(checkpoint, prompt, opts).map_err(map_err)?;
    let json = serde_json::to_string(&trace)
        .map_err(|err| Error::Environment(format!("{}: {err}", trace_out.display())))?;
    std::fs::write(trace_out, json + "\n").map_err(|e| Error::io(trace_out, e))?;
    Ok(trace.text)
}

/// Writes the checkpoint (or a run directory's newest) as a Hugging Face Qwen3 folder.
pub fn export_model(checkpoint: &Path, out: &Path) -> Result<()> {
    sera_train::hf::export(checkpoint, out).map_err(map_err)
}

fn map_err(err: sera_train::Error) -> Error {
    use sera_train::Error as E;
    match err {
        E::Io { path, source } => Error::io(&path, source),
        E::Usage(_) | E::Config(_) => Error::Usage(err.to_string()),
        E::Backend(_) | E::Plot { .. } => Error::Environment(err.to_string()),
        _ => Error::Data(err.to_string()),
    }
}
