//! Model and training configuration: named presets (`tiny`, `micro`) or a TOML file.
//!
//! A TOML file has two optional tables, `[model]` and `[train]`; every key it leaves out keeps
//! the value of the `tiny` preset. Unknown keys are errors, so a misspelt key is reported by name
//! rather than silently ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tokenizer::ByteTokenizer;

/// The shape of the decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of token ids: at least the byte tokenizer's 259. With `train.tokenizer`, the
    /// tokenizer's size replaces this value.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub width: usize,
    /// Number of decoder blocks.
    pub layers: usize,
    /// Number of attention heads. Without `head_dim` it must divide `width`, and `width / heads`
    /// must be even (RoPE).
    pub heads: usize,
    /// Number of key/value heads (grouped-query attention): each serves `heads / kv_heads`
    /// query heads, so it must divide `heads`. Left out, it equals `heads` (multi-head
    /// attention), which is also what checkpoints written before the key existed mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<usize>,
    /// Hidden width of the SwiGLU feed-forward block.
    pub mlp_hidden: usize,
    /// Longest sequence the model sees, in tokens.
    pub context: usize,
    /// Base of the rotary position embedding frequencies.
    pub rope_theta: f64,
    /// Epsilon inside every RMSNorm.
    pub norm_eps: f64,
    /// Standard deviation of the normal initialisation of weight matrices.
    pub init_std: f64,
    /// Size of one attention head; it must be even (RoPE). Left out, it is `width / heads`, which
    /// is also what checkpoints written before the key existed mean. Set, the attention works at
    /// `heads * head_dim` features whatever the width, as in Qwen3-0.6B (width 1024, 16 heads
    /// of 128).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// Whether the output projection is the embedding table (true, as in small Qwen3 models and
    /// every checkpoint written before the key existed) or a parameter of its own, `lm_head`
    /// (false, as in Qwen3-8B and larger). Written only when false, so tied configurations
    /// serialise as they always have.
    #[serde(skip_serializing_if = "is_true")]
    pub tie_embeddings: bool,
}

/// The optimisation recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed for initialisation and data order.
    pub seed: u64,
    /// Optimizer steps to run.
    pub steps: usize,
    /// Sequences per forward pass (micro-batch).
    pub micro_batch: usize,
    /// Micro-batches whose gradients are summed into one optimizer step.
    pub grad_accum: usize,
    /// Peak learning rate, reached at the end of warm-up.
    pub lr: f64,
    /// Learning rate at the end of the cosine decay, as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Linear warm-up steps from zero to `lr`.
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay (applied to matrices, not to norm gains).
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub adam_eps: f64,
    /// Clip the global gradient norm to this value; 0 disables clipping.
    pub grad_clip: f64,
    /// Pack several samples into one row (attention never crosses their boundaries) instead of
    /// padding each sample to the longest in its batch.
    pub packing: bool,
    /// Percent of records (by a stable hash of their id) held out for validation.
    pub val_percent: u32,
    /// Evaluate the validation loss every this many steps (and after the last); 0 disables it.
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (and after the last); 0 writes only the last.
    pub checkpoint_every: usize,
    /// A Hugging Face `tokenizer.json` to tokenize with instead of bytes; it must have the
    /// ChatML tokens and a pad token. Checkpoints keep a copy, which `sample` decodes with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// A Hugging Face Qwen3 folder (`config.json`, `model.safetensors`, `tokenizer.json`) to
    /// start from instead of a random initialisation: its sizes (the head size and whether the
    /// embeddings are tied among them) replace `[model]`'s (all but `context`) and its tokenizer
    /// replaces `tokenizer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

/// A whole configuration: the model and how to train it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub model: ModelConfig,
    pub train: TrainConfig,
}

/// Names accepted by [`Config::named`].
pub const PRESETS: &[&str] = &["tiny", "micro"];

impl Default for ModelConfig {
    /// The `tiny` model: about 3.3 million parameters.
    fn default() -> Self {
        ModelConfig {
            vocab_size: ByteTokenizer::VOCAB_SIZE,
            width: 256,
            layers: 4,
            heads: 4,
            kv_heads: None,
            mlp_hidden: 688,
            context: 512,
            rope_theta: 10_000.0,
            norm_eps: 1e-6,
            init_std: 0.02,
            head_dim: None,
            tie_embeddings: true,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            steps: 200,
            micro_batch: 4,
            grad_accum: 2,
            lr: 1e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 20,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.95,
            adam_eps: 1e-8,
            grad_clip: 1.0,
            packing: false,
            val_percent: 10,
            eval_every: 50,
            checkpoint_every: 100,
            tokenizer: None,
            init: None,
        }
    }
}

impl ModelConfig {
    /// The number of key/value heads: `kv_heads`, or `heads` when it is left out.
    pub fn key_value_heads(&self) -> usize {
        self.kv_heads.unwrap_or(self.heads)
    }

    /// The size of one attention head: `head_dim`, or `width / heads` when it is left out.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.width / self.heads)
    }

    /// The width of the queries and of the attention's output, `heads * head_dim`: what `wq`
    /// projects to and `wo` projects from. It equals `width` unless `head_dim` says otherwise.
    pub fn attention_width(&self) -> usize {
        self.heads * self.head_dim()
    }

    /// The width of the keys and of the values, `kv_heads * head_dim`.
    pub fn key_value_width(&self) -> usize {
        self.key_value_heads() * self.head_dim()
    }
}

impl Config {
    /// A preset by name: `tiny` (the default model) or `micro` (a toy for tests).
    pub fn named(name: &str) -> Option<Config> {
        match name {
            "tiny" => Some(Config::default()),
            "micro" => Some(Config {
                model: ModelConfig {
                    width: 32,
                    layers: 2,
                    heads: 2,
                    mlp_hidden: 64,
                    context: 128,
                    init_std: 0.05,
                    ..ModelConfig::default()
                },
                train: TrainConfig {
                    steps: 40,
                    micro_batch: 4,
                    grad_accum: 1,
                    lr: 1e-2,
                    warmup_steps: 5,
                    eval_every: 10,
                    checkpoint_every: 20,
                    ..TrainConfig::default()
                },
            }),
            _ => None,
        }
    }

    /// A preset name, or else the path of a TOML file.
    pub fn resolve(spec: &str) -> Result<Config> {
        if let Some(config) = Config::named(spec) {
            return Ok(config);
        }
        let path = Path::new(spec);
        if !path.exists() {
            return Err(Error::Usage(format!(
                "--config {spec:?} is neither a preset ({}) nor an existing TOML file",
                PRESETS.join(", ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Config::from_toml(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parses a TOML document (keys left out keep the `tiny` values) and validates it.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between keys; each error names the keys at fault.
    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        let t = &self.train;
        let fail = |msg: String| Err(Error::Config(msg));
        for (key, value) in [
            ("model.width", m.width),
            ("model.layers", m.layers),
            ("model.heads", m.heads),
            ("model.mlp_hidden", m.mlp_hidden),
            ("model.context", m.context),
            ("train.micro_batch", t.micro_batch),
            ("train.grad_accum", t.grad_accum),
        ] {
            if value == 0 {
                return fail(format!("{key} must be positive"));
            }
        }
        if t.tokenizer.is_none() && m.vocab_size < ByteTokenizer::VOCAB_SIZE {
            return fail(format!(
                "model.vocab_size = {} is smaller than the byte tokenizer's {}",
                m.vocab_size,
                ByteTokenizer::VOCAB_SIZE
            ));
        }
        if let Some(kv) = m.kv_heads {
            if kv == 0 || m.heads % kv != 0 {
                return fail(format!(
                    "model.heads = {} must be a multiple of model.kv_heads = {kv}",
                    m.heads
                ));
            }
        }
        match m.head_dim {
            Some(head_dim) if head_dim == 0 || head_dim % 2 != 0 => {
                return fail(format!(
                    "model.head_dim = {head_dim} must be a positive even number (RoPE)"
                ));
            }
            Some(_) => {}
            None if m.width % m.heads != 0 || (m.width / m.heads) % 2 != 0 => {
                return fail(format!(
                    "model.heads = {} must divide model.width = {} into an even head size \
                     (RoPE), or model.head_dim must give the head size",
                    m.heads, m.width
                ));
            }
            None => {}
        }
        for (key, value) in [
            ("model.rope_theta", m.rope_theta),
            ("model.norm_eps", m.norm_eps),
            ("model.init_std", m.init_std),
            ("train.lr", t.lr),
            ("train.adam_eps", t.adam_eps),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return fail(format!("{key} = {value} must be a positive number"));
            }
        }
        for (key, value) in [("train.beta1", t.beta1), ("train.beta2", t.beta2)] {
            if !(0.0..1.0).contains(&value) {
                return fail(format!("{key} = {value} must lie in [0, 1)"));
            }
        }
        if !(0.0..=1.0).contains(&t.min_lr_ratio) {
            return fail(format!("train.min_lr_ratio = {} must lie in [0, 1]", t.min_lr_ratio));
        }
        if !(t.weight_decay >= 0.0 && t.grad_clip >= 0.0) {
            return fail("train.weight_decay and train.grad_clip must not be negative".into());
        }
        if t.val_percent >= 100 {
            return fail(format!("train.val_percent = {} must be below 100", t.val_percent));
        }
        Ok(())
    }

    /// This configuration as TOML (what a checkpoint stores next to its weights).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Config of numbers and booleans always serialises")
    }
}

/// `skip_serializing_if` for flags whose default is true.
fn is_true(value: &bool) -> bool {
    *value
}
