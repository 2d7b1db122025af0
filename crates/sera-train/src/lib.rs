//! `sera-train`: a small-model supervised fine-tuning trainer on `dfdx`, for tests and research
//! on one machine, and a writer of axolotl configs for training real models at scale.
//!
//! Must not know: how the data was made or exported (`sera-dataset`): it reads chat records and
//! trains.
//!
//! It reads the `hermes` and `openai` exports of `sera-dataset` (parsing their JSON itself, so
//! it depends on `sera-core` only), renders them as ChatML with a byte-level tokenizer (or any
//! Hugging Face `tokenizer.json` with the ChatML tokens, `train.tokenizer`), masks the loss to
//! assistant turns, and trains a Qwen3-style decoder (RMSNorm, rotary embeddings, causal
//! self-attention with query/key norms and optional grouped-query attention, SwiGLU) with AdamW, warm-up and cosine decay, gradient
//! clipping and accumulation. Checkpoints are safetensors and resume bit-identically; every run
//! writes `metrics.jsonl` and `loss.png`.
//!
//! It is deliberately not a replacement for axolotl and DeepSpeed: no multi-GPU, no mixed
//! precision, no pretrained weights. For an 8B or 32B model, [`axolotl_config`] writes the
//! configuration that reproduces SERA's recipe. The CPU is the default device; the `cuda`
//! feature runs the same code on dfdx's CUDA backend.
//!
//! Module map: [`config`] (presets and TOML), [`data`] (exports, ChatML, masks, batches),
//! [`tokenizer`], `model` (the only module that uses dfdx; its fused operations run the CPU
//! kernels of `kernels` on dfdx's tape), `malloc` (glibc tunables), `optim` (AdamW and the
//! schedule),
//! `checkpoint` (safetensors), `plot` (plotters), `train` (the loop), `sample`, `axolotl`.
//!
//! ```no_run
//! use sera_train::{Config, TrainRequest, train};
//!
//! let mut config = Config::named("tiny").expect("a preset");
//! config.train.steps = 100;
//! let request = TrainRequest { data: "dataset/train.hermes.jsonl".into(), out: "runs/t".into(), config };
//! let summary = train(&request, &mut |m| eprintln!("step {} loss {:.3}", m.step, m.loss))?;
//! println!("checkpoint at {}", summary.checkpoint.display());
//! # Ok::<(), sera_train::Error>(())
//! ```

mod axolotl;
mod checkpoint;
pub mod config;
pub mod data;
mod error;
pub mod hf;
mod kernels;
mod malloc;
mod model;
mod optim;
mod plot;
mod sample;
pub mod tokenizer;
mod train;

pub use axolotl::{AxolotlRequest, axolotl_config};
pub use checkpoint::{Checkpoint, Tensors};
pub use config::{Config, ModelConfig, PRESETS, TrainConfig};
pub use error::{Error, Result};
pub use optim::learning_rate;
pub use sample::{SampleOptions, Trace, sample, trace};
pub use train::{StepMetrics, TrainRequest, TrainSummary, Trainer, train};
