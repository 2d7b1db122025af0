//! The training loop: batches in a seeded order, gradient accumulation, AdamW steps, evaluation,
//! metrics, checkpoints and resume.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checkpoint::{self, Checkpoint, Tensors};
use crate::config::Config;
use crate::data::{self, Batch, Splits};
use crate::error::{Error, Result};
use crate::model::{Dev, Model, device};
use crate::optim::{AdamW, learning_rate};
use crate::plot;
use crate::tokenizer::Tokenizer;

/// What `sera train` asks for.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// A JSONL file of `hermes` or `openai` records.
    pub data: PathBuf,
    /// The run directory: `metrics.jsonl`, `loss.png`, `checkpoints/`.
    pub out: PathBuf,
    pub config: Config,
}

/// One optimizer step's numbers, as written to `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepMetrics {
    /// Optimizer steps completed, counting from 1.
    pub step: usize,
    pub lr: f64,
    /// Mean negative log-likelihood per trained token over the step's micro-batches.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Trained tokens (predictions with loss) in this step.
    pub tokens: usize,
    /// Token positions processed in this step, padding included.
    pub positions: usize,
    /// Mean validation loss per trained token, on steps that evaluate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
}

/// What a finished (or resumed and finished) run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    pub steps: usize,
    pub resumed_from: Option<usize>,
    pub train_records: usize,
    pub val_records: usize,
    pub train_windows: usize,
    pub last: Option<StepMetrics>,
    pub checkpoint: PathBuf,
}

/// A model, its optimizer state and its data, stepping deterministically.
pub struct Trainer {
    cfg: Config,
    model: Model<f32, Dev>,
    opt: AdamW,
    step: usize,
    train: Vec<Batch>,
    val: Vec<Batch>,
    order: Option<(usize, Vec<usize>)>,
    tokenizer_json: Option<String>,
}

impl Trainer {
    /// A freshly initialised model over splits made with `tokenizer`.
    pub fn new(cfg: &Config, tokenizer: &Tokenizer, splits: &Splits) -> Result<Trainer> {
        let (m, t) = (&cfg.model, &cfg.train);
        if m.vocab_size < tokenizer.vocab_size() {
            return Err(Error::Config(format!(
                "model.vocab_size = {} is smaller than the tokenizer's {}",
                m.vocab_size,
                tokenizer.vocab_size()
            )));
        }
        let pad = tokenizer.specials().pad;
        let train = data::batches(&splits.train, t.micro_batch, m.context, t.packing, pad);
        if train.is_empty() {
            return Err(Error::Data("no training samples: every record is in the validation split or has no assistant turn".into()));
        }
        let val = data::batches(&splits.val, t.micro_batch, m.context, t.packing, pad);
        let model = Model::new(m, &device(t.seed), t.seed);
        let sizes: Vec<usize> =
            model.params().iter().map(|(_, p)| p.dims().iter().product()).collect();
        Ok(Trainer {
            cfg: cfg.clone(),
            model,
            opt: AdamW::new(&sizes),
            step: 0,
            train,
            val,
            order: None,
            tokenizer_json: tokenizer.json().map(str::to_string),
        })
    }

    /// Optimizer steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.opt.m.iter().map(Vec::len).sum()
    }

    /// One optimizer step over `grad_accum` micro-batches.
    pub fn step(&mut self) -> StepMetrics {
        let t = self.cfg.train.clone();
        let batches: Vec<Batch> = (0..t.grad_accum)
            .map(|k| self.micro_batch(self.step * t.grad_accum + k).clone())
            .collect();
        let tokens: usize = batches.iter().map(data::trained_tokens).sum();
        let positions: usize = batches.iter().map(|b| b.rows * b.len).sum();
        let scale = 1.0 / tokens.max(1) as f64;
        let mut loss = 0.0;
        let mut grads: Vec<Vec<f32>> = Vec::new();
        for batch in &batches {
            let (l, g) = self.model.loss_and_grads(&self.model.upload(batch, scale));
            loss += l;
            if grads.is_empty() {
                grads = g;
            } else {
                for (acc, g) in grads.iter_mut().zip(g) {
                    acc.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                }
            }
        }
        let lr = learning_rate(&t, self.step);
        let (mut values, decay): (Vec<Vec<f32>>, Vec<bool>) =
            self.model.params().iter().map(|(_, p)| (p.values(), p.dims().len() == 2)).unzip();
        let grad_norm = self.opt.update(&t, lr, &mut values, &grads, &decay);
        self.set_values(&values);
        self.step += 1;
        StepMetrics { step: self.step, lr, loss, grad_norm, tokens, positions, val_loss: None }
    }

    /// Mean loss per trained token over the validation split; `None` when it is empty.
    pub fn eval(&self) -> Option<f64> {
        let tokens: usize = self.val.iter().map(data::trained_tokens).sum();
        if tokens == 0 {
            return None;
        }
        let scale = 1.0 / tokens as f64;
        Some(self.val.iter().map(|b| self.model.loss_only(&self.model.upload(b, scale))).sum())
    }

    /// The weights by name.
    pub fn weights(&self) -> Tensors {
        self.model.params().iter().map(|(n, p)| (n.clone(), p.dims(), p.values())).collect()
    }

    /// Everything needed to continue this run exactly.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            config: self.cfg.clone(),
            step: self.step,
            weights: self.weights(),
            m: self.opt.m.clone(),
            v: self.opt.v.clone(),
            tokenizer: self.tokenizer_json.clone(),
        }
    }

    /// Restores weights, optimizer state and step from a checkpoint of the same model.
    pub fn restore(&mut self, ckpt: &Checkpoint) {
        let values: Vec<Vec<f32>> = ckpt.weights.iter().map(|(_, _, v)| v.clone()).collect();
        self.set_values(&values);
        self.opt = AdamW { step: ckpt.step as u64, m: ckpt.m.clone(), v: ckpt.v.clone() };
        self.step = ckpt.step;
    }

    /// Replaces the initial weights with `weights` (named and shaped as [`Self::param_shapes`]),
    /// before the first step: a fine-tuning run from a pretrained model.
    pub fn start_from(&mut self, weights: &Tensors) -> Result<()> {
        let shapes = self.param_shapes();
        if shapes.len() != weights.len() {
            return Err(Error::Usage(format!(
                "the initial weights have {} tensors, the model {}",
                weights.len(),
                shapes.len()
            )));
        }
        for ((name, dims), (given, given_dims, _)) in shapes.iter().zip(weights) {
            if name != given || dims != given_dims {
                return Err(Error::Usage(format!(
                    "initial weight {given} {given_dims:?} where the model has {name} {dims:?}"
                )));
            }
        }
        let values: Vec<Vec<f32>> = weights.iter().map(|(_, _, v)| v.clone()).collect();
        self.set_values(&values);
        Ok(())
    }

    /// Parameter names and shapes, in checkpoint order.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.model.params().iter().map(|(n, p)| (n.clone(), p.dims())).collect()
    }

    fn set_values(&mut self, values: &[Vec<f32>]) {
        for (mut p, v) in self.model.params_mut().into_iter().zip(values) {
            p.set(v);
        }
    }

    /// The micro-batch at a global index: epochs of the training batches, each in its own
    /// seeded order.
    fn micro_batch(&mut self, index: usize) -> &Batch {
        let n = self.train.len();
        let epoch = index / n;
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.order = Some((epoch, data::epoch_order(n, self.cfg.train.seed, epoch)));
        }
        let (_, order) = self.order.as_ref().expect("set just above");
        &self.train[order[index % n]]
    }
}

/// Trains on `req.data` into `req.out`, resuming from the newest checkpoint there if any.
/// `progress` sees every step's metrics as it completes.
pub fn train(req: &TrainRequest, progress: &mut dyn FnMut(&StepMetrics)) -> Result<TrainSummary> {
    let mut cfg = req.config.clone();
    cfg.validate()?;
    if let Some(dir) = cfg.train.init.clone() {
        // A pretrained model brings its sizes and its tokenizer (Trainer::new checks that they
        // agree); its weights are read below, unless a checkpoint is resumed instead.
        cfg.model = crate::hf::load_config(&dir, cfg.model.context)?;
        cfg.train.tokenizer = Some(dir.join("tokenizer.json"));
        cfg.validate()?;
    }
    let tokenizer = Tokenizer::load(cfg.train.tokenizer.as_deref())?;
    if tokenizer.json().is_some() && cfg.train.init.is_none() {
        // The model's vocabulary follows a tokenizer file's.
        cfg.model.vocab_size = tokenizer.vocab_size();
    }
    let cfg = &cfg;
    let conversations = data::read_conversations(&req.data)?;
    let splits = data::split(&tokenizer, &conversations, cfg.model.context, cfg.train.val_percent)?;
    let mut trainer = Trainer::new(cfg, &tokenizer, &splits)?;
    std::fs::create_dir_all(&req.out).map_err(|e| Error::io(&req.out, e))?;

    let metrics_path = req.out.join("metrics.jsonl");
    let mut history: Vec<StepMetrics> = Vec::new();
    let mut kept_lines = String::new();
    let mut resumed_from = None;
    if let Some(dir) = checkpoint::latest(&req.out)? {
        let saved = checkpoint::load_config(&dir)?;
        let mut comparable = saved.clone();
        comparable.train.steps = cfg.train.steps;
        if comparable != *cfg {
            return Err(Error::Usage(format!(
                "{} holds a run with a different configuration; pass the same --config or a new --out",
                req.out.display()
            )));
        }
        let ckpt = checkpoint::load(&dir, &trainer.param_shapes())?;
        if ckpt.tokenizer.as_deref() != tokenizer.json() {
            return Err(Error::Usage(format!(
                "{} holds a run with a different tokenizer; pass the same tokenizer.json or a new --out",
                req.out.display()
            )));
        }
        trainer.restore(&ckpt);
        resumed_from = Some(ckpt.step);
        (history, kept_lines) = read_metrics(&metrics_path, ckpt.step)?;
    } else if let Some(dir) = &cfg.train.init {
        let names: Vec<String> = trainer.param_shapes().into_iter().map(|(n, _)| n).collect();
        trainer.start_from(&crate::hf::load_weights(dir, &names)?)?;
    }
    std::fs::write(&metrics_path, &kept_lines).map_err(|e| Error::io(&metrics_path, e))?;
    let mut metrics_file = std::fs::OpenOptions::new()
        .append(true)
        .open(&metrics_path)
        .map_err(|e| Error::io(&metrics_path, e))?;

    let t = &cfg.train;
    let mut last_checkpoint = checkpoint::latest(&req.out)?;
    while trainer.step_count() < t.steps {
        let mut metrics = trainer.step();
        let s = metrics.step;
        let last = s == t.steps;
        if t.eval_every > 0 && (s % t.eval_every == 0 || last) {
            metrics.val_loss = trainer.eval();
        }
        let line = serde_json::to_string(&metrics).expect("metrics serialise");
        writeln!(metrics_file, "{line}").map_err(|e| Error::io(&metrics_path, e))?;
        progress(&metrics);
        history.push(metrics);
        if last || (t.checkpoint_every > 0 && s % t.checkpoint_every == 0) {
            last_checkpoint = Some(checkpoint::save(&req.out, &trainer.checkpoint())?);
            write_plot(&req.out, &history)?;
        }
    }
    let checkpoint = match last_checkpoint {
        Some(dir) => dir,
        None => checkpoint::save(&req.out, &trainer.checkpoint())?,
    };
    write_plot(&req.out, &history)?;
    Ok(TrainSummary {
        steps: trainer.step_count(),
        resumed_from,
        train_records: splits.train_records,
        val_records: splits.val_records,
        train_windows: splits.train.len(),
        last: history.last().cloned(),
        checkpoint,
    })
}

fn write_plot(out: &Path, history: &[StepMetrics]) -> Result<()> {
    let train: Vec<(usize, f64)> = history.iter().map(|m| (m.step, m.loss)).collect();
    let val: Vec<(usize, f64)> =
        history.iter().filter_map(|m| m.val_loss.map(|v| (m.step, v))).collect();
    plot::loss_png(&out.join("loss.png"), &train, &val)
}

/// The metrics of steps up to `upto` from an existing file (a resumed run drops the steps after
/// its checkpoint, which it is about to redo), and those lines as they were written.
///
/// The lines are kept verbatim rather than serialised again: serde_json (without its
/// `float_roundtrip` feature) can read a float one unit in the last place off, so a resumed
/// run's `metrics.jsonl` would not be the uninterrupted run's bytes. The parsed values only feed
/// the plot.
fn read_metrics(path: &Path, upto: usize) -> Result<(Vec<StepMetrics>, String)> {
    let mut out = Vec::new();
    let mut kept = String::new();
    if !path.exists() {
        return Ok((out, kept));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // A torn last line from a crash.
        };
        let get = |key: &str| value.get(key).and_then(serde_json::Value::as_f64);
        let (Some(step), Some(lr), Some(loss), Some(grad_norm)) =
            (get("step"), get("lr"), get("loss"), get("grad_norm"))
        else {
            continue;
        };
        if step as usize > upto {
            break;
        }
        out.push(StepMetrics {
            step: step as usize,
            lr,
            loss,
            grad_norm,
            tokens: get("tokens").unwrap_or(0.0) as usize,
            positions: get("positions").unwrap_or(0.0) as usize,
            val_loss: get("val_loss"),
        });
        kept.push_str(line);
        kept.push('\n');
    }
    Ok((out, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_kept_on_resume_are_the_lines_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metrics.jsonl");
        // serde_json reads this grad_norm one unit in the last place high (…517).
        let first = r#"{"step":1,"lr":0.002,"loss":5.605028033256531,"grad_norm":1.2066652896782515,"tokens":475,"positions":896}"#;
        let second = r#"{"step":2,"lr":0.004,"loss":5.4,"grad_norm":1.0,"tokens":1,"positions":2}"#;
        std::fs::write(&path, format!("{first}\n{second}\n{{\"step\": 3, \"lr")).expect("write");
        let (history, kept) = read_metrics(&path, 1).expect("reads");
        assert_eq!(kept, format!("{first}\n"));
        assert_eq!(history.len(), 1);
        let (history, kept) = read_metrics(&path, 5).expect("reads");
        assert_eq!(kept, format!("{first}\n{second}\n"), "the torn line is dropped");
        assert_eq!(history.len(), 2);
    }
}
