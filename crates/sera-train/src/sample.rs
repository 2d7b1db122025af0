//! Generating text from a checkpoint: greedy, or seeded sampling at a temperature.

use std::path::Path;

use sera_core::SplitMix64;

use crate::checkpoint;
use crate::data::{self, Batch, Turn};
use crate::error::Result;
use crate::model::{Dev, Model, device};
use crate::tokenizer::Specials;

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Most tokens to generate; generation also stops at `<|im_end|>`.
    pub max_tokens: usize,
    /// 0 decodes greedily; above 0 samples from the softmax at this temperature.
    pub temperature: f64,
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions { max_tokens: 200, temperature: 0.0, seed: 0 }
    }
}

/// The assistant's reply to `prompt` (one user turn) from the checkpoint at `path` (a checkpoint
/// directory or a run directory, whose newest checkpoint is used).
pub fn sample(path: &Path, prompt: &str, opts: &SampleOptions) -> Result<String> {
    Ok(trace(path, prompt, opts)?.text)
}

/// Everything one [`sample`] computed: the prompt's ids, the model's logits at each of its
/// positions, and the generated ids and text. For comparing with another implementation of the
/// same model (Hugging Face `transformers` on an exported checkpoint).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trace {
    pub prompt: Vec<u32>,
    /// `prompt.len()` rows of `vocab_size` logits.
    pub logits: Vec<Vec<f32>>,
    pub generated: Vec<u32>,
    pub text: String,
}

/// [`sample`], with the prompt's logits and the generated ids.
pub fn trace(path: &Path, prompt: &str, opts: &SampleOptions) -> Result<Trace> {
    let dir = checkpoint::resolve(path)?;
    let cfg = checkpoint::load_config(&dir)?;
    let mut model: Model<f32, Dev> =
        Model::new(&cfg.model, &device(cfg.train.seed), cfg.train.seed);
    let shapes: Vec<(String, Vec<usize>)> =
        model.params().iter().map(|(n, p)| (n.clone(), p.dims())).collect();
    let ckpt = checkpoint::load(&dir, &shapes)?;
    for (mut p, (_, _, values)) in model.params_mut().into_iter().zip(&ckpt.weights) {
        p.set(values);
    }
    let tokenizer = checkpoint::load_tokenizer(&dir, &cfg)?;
    let specials = tokenizer.specials();
    let turn = Turn::new("user", prompt, false);
    let mut tokens = data::prompt_tokens(&tokenizer, &[turn])?;
    let prompt_ids = tokens.clone();
    let mut prompt_logits = Vec::new();
    let mut generated = Vec::new();
    let mut rng = SplitMix64::derive(opts.seed, "sera-train/sample");
    let vocab = cfg.model.vocab_size;
    for round in 0..opts.max_tokens.max(1) {
        let window = &tokens[tokens.len().saturating_sub(cfg.model.context)..];
        let n = window.len();
        let batch = Batch {
            rows: 1,
            len: n,
            inputs: window.to_vec(),
            targets: vec![specials.pad; n],
            mask: vec![false; n],
            segment: vec![1; n],
            position: (0..n as u32).collect(),
        };
        let logits = model.logits(&model.upload(&batch, 0.0));
        if round == 0 {
            prompt_logits = logits.chunks(vocab).map(<[f32]>::to_vec).collect();
        }
        if round == opts.max_tokens {
            break;
        }
        let last = &logits[(n - 1) * vocab..n * vocab];
        let next = pick(last, opts.temperature, &mut rng, specials);
        if next == specials.im_end {
            break;
        }
        tokens.push(next);
        generated.push(next);
    }
    let text = tokenizer.decode(&generated)?;
    Ok(Trace { prompt: prompt_ids, logits: prompt_logits, generated, text })
}

/// Greedy (lowest id among ties) at temperature 0, else a draw from softmax(logits / t).
/// Pad and `<|im_start|>` are never produced.
fn pick(logits: &[f32], temperature: f64, rng: &mut SplitMix64, specials: Specials) -> u32 {
    let allowed = |i: usize| i != specials.pad as usize && i != specials.im_start as usize;
    let candidates: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .filter(|(i, _)| allowed(*i))
        .map(|(i, &l)| (i, f64::from(l)))
        .collect();
    let best =
        candidates.iter().fold((0, f64::NEG_INFINITY), |b, &c| if c.1 > b.1 { c } else { b });
    if temperature <= 0.0 {
        return best.0 as u32;
    }
    let weights: Vec<f64> =
        candidates.iter().map(|&(_, l)| ((l - best.1) / temperature).exp()).collect();
    let mut draw = rng.next_f64() * weights.iter().sum::<f64>();
    for (&(i, _), w) in candidates.iter().zip(&weights) {
        if draw < *w {
            return i as u32;
        }
        draw -= w;
    }
    best.0 as u32
}
