//! The decoder and its gradients: the one module that talks to `dfdx`.
//!
//! A Qwen3-style decoder: token embeddings (tied to the output projection, or with an `lm_head`
//! of their own), pre-norm blocks with RMSNorm, causal self-attention with per-head RMSNorm on
//! queries and keys and rotary position embeddings, and a SwiGLU feed-forward block. Sizes come
//! from a runtime [`ModelConfig`], so every tensor has runtime (`usize`) dimensions. The
//! attention works at `heads * head_dim` features, which need not be the model's width (Qwen3-0.6B
//! attends at 2048 features in a width of 1024).
//!
//! dfdx's `TensorCollection` (which drives its optimizers and its safetensors support) describes
//! a module's fields statically, without access to the value, so it cannot express a layer count
//! read from a config file. The model therefore lists its parameters itself ([`Model::params`]),
//! and the optimizer and the checkpoints work on plain `f32` vectors outside this module.
//!
//! Normalisation, attention, SwiGLU and the loss go through [`fused::Fused`]: single tape
//! operations backed by the CPU kernels of `crate::kernels`, or dfdx compositions elsewhere.
//! Linear layers are dfdx matmuls over `(batch * seq, features)`.

use dfdx::prelude::*;
use dfdx::tensor::Gradients;
use sera_core::SplitMix64;

use crate::config::ModelConfig;
use crate::data::Batch;

mod fused;

use fused::{Fused, RopeArgs, RopeTables};

/// The tensor device: the CPU, or with the `cuda` feature the first CUDA GPU.
#[cfg(not(feature = "cuda"))]
pub type Dev = Cpu;
/// The tensor device: the CPU, or with the `cuda` feature the first CUDA GPU.
#[cfg(feature = "cuda")]
pub type Dev = Cuda;

type Vector<E, D> = Tensor<(usize,), E, D>;
type Matrix<E, D> = Tensor<(usize, usize), E, D>;
type Activations<E, D, T> = Tensor<(usize, usize, usize), E, D, T>;

/// One decoder block. Projection matrices are stored `(in, out)`, so a layer is `x @ w`: `wq`
/// projects the width to `heads * head_dim`, `wk` and `wv` to `kv_heads * head_dim`, and `wo`
/// back from `heads * head_dim` to the width.
struct Block<E: Dtype, D: Device<E>> {
    attn_norm: Vector<E, D>,
    wq: Matrix<E, D>,
    wk: Matrix<E, D>,
    wv: Matrix<E, D>,
    wo: Matrix<E, D>,
    q_norm: Vector<E, D>,
    k_norm: Vector<E, D>,
    mlp_norm: Vector<E, D>,
    w_gate: Matrix<E, D>,
    w_up: Matrix<E, D>,
    w_down: Matrix<E, D>,
}

/// The decoder's parameters and the constant tables of its rotary embeddings.
pub struct Model<E: Dtype, D: Device<E>> {
    cfg: ModelConfig,
    dev: D,
    /// `(vocab, width)`; also the output projection unless `lm_head` is there (tied embeddings,
    /// as in small Qwen3 models).
    embed: Matrix<E, D>,
    blocks: Vec<Block<E, D>>,
    final_norm: Vector<E, D>,
    /// `(width, vocab)`: the output projection of an untied model (`tie_embeddings = false`), or
    /// `None` when the embeddings serve.
    lm_head: Option<Matrix<E, D>>,
    rope: RopeTables<E, D>,
}

/// A borrowed parameter of either rank.
pub enum Param<'a, E: Dtype, D: Device<E>> {
    Vector(&'a Vector<E, D>),
    Matrix(&'a Matrix<E, D>),
}

/// A mutably borrowed parameter of either rank.
pub enum ParamMut<'a, E: Dtype, D: Device<E>> {
    Vector(&'a mut Vector<E, D>),
    Matrix(&'a mut Matrix<E, D>),
}

/// A batch moved to the device, with its loss weights; the fused CPU operations read the host
/// copies.
// Only `fused::reference`, which the CPU build leaves out, reads the device tensors but `inputs`.
#[cfg_attr(not(any(test, feature = "cuda")), allow(dead_code))]
pub struct DeviceBatch<E: Dtype, D: Device<E>> {
    inputs: Tensor<(usize, usize), usize, D>,
    positions: Tensor<(usize, usize), usize, D>,
    targets: Tensor<(usize, usize), usize, D>,
    /// `(rows, len)`: the weight of each prediction in the loss (0 on untrained positions).
    weights: Tensor<(usize, usize), E, D>,
    /// Attention stays within a segment (see [`Batch`]).
    segment_host: Vec<u32>,
    position_host: Vec<u32>,
    target_host: Vec<u32>,
    weight_host: Vec<E>,
}

impl<E: Dtype, D: Device<E>> Param<'_, E, D> {
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Param::Vector(t) => vec![t.shape().0],
            Param::Matrix(t) => vec![t.shape().0, t.shape().1],
        }
    }

    pub fn values(&self) -> Vec<E> {
        match self {
            Param::Vector(t) => contiguous_values(*t),
            Param::Matrix(t) => contiguous_values(*t),
        }
    }

    /// This parameter's gradient in `grads`.
    pub fn grad(&self, grads: &Gradients<E, D>) -> Vec<E> {
        match self {
            Param::Vector(t) => contiguous_values(&grads.get(*t)),
            Param::Matrix(t) => contiguous_values(&grads.get(*t)),
        }
    }

    fn alloc_grad(&self, grads: &mut Gradients<E, D>) {
        match self {
            Param::Vector(t) => grads.try_alloc_for(*t),
            Param::Matrix(t) => grads.try_alloc_for(*t),
        }
        .expect("allocating a gradient buffer");
    }
}

impl<E: Dtype, D: Device<E>> ParamMut<'_, E, D> {
    /// Overwrites the values; `values` must have as many elements as the parameter.
    pub fn set(&mut self, values: &[E]) {
        match self {
            ParamMut::Vector(t) => t.copy_from(values),
            ParamMut::Matrix(t) => t.copy_from(values),
        }
    }
}

impl<E: Dtype, D: Fused<E>> Model<E, D> {
    /// A model with seeded random weights: normal(0, init_std) matrices, unit norm gains. Each
    /// parameter draws from its own named stream, so its values do not depend on the others (an
    /// untied model's other parameters are the tied model's).
    pub fn new(cfg: &ModelConfig, dev: &D, seed: u64) -> Self {
        let init = |name: &str, rows: usize, cols: usize| -> Matrix<E, D> {
            let mut rng = SplitMix64::derive(seed, &format!("sera-train/init/{name}"));
            let values: Vec<E> = (0..rows * cols)
                .map(|_| E::from_f64(normal(&mut rng) * cfg.init_std).expect("a float"))
                .collect();
            dev.tensor_from_vec(values, (rows, cols))
        };
        let ones = |n: usize| -> Vector<E, D> { dev.ones_like(&(n,)) };
        let (w, h) = (cfg.width, cfg.mlp_hidden);
        let head_dim = cfg.head_dim();
        let (attn, kv) = (cfg.attention_width(), cfg.key_value_width());
        let blocks = (0..cfg.layers)
            .map(|i| {
                let name = |p: &str| format!("layers.{i}.{p}");
                Block {
                    attn_norm: ones(w),
                    wq: init(&name("wq"), w, attn),
                    wk: init(&name("wk"), w, kv),
                    wv: init(&name("wv"), w, kv),
                    wo: init(&name("wo"), attn, w),
                    q_norm: ones(head_dim),
                    k_norm: ones(head_dim),
                    mlp_norm: ones(w),
                    w_gate: init(&name("w_gate"), w, h),
                    w_up: init(&name("w_up"), w, h),
                    w_down: init(&name("w_down"), h, w),
                }
            })
            .collect();
        let (cos, sin) = rope_tables(cfg);
        Model {
            cfg: cfg.clone(),
            dev: dev.clone(),
            embed: init("embed", cfg.vocab_size, w),
            blocks,
            final_norm: ones(w),
            lm_head: (!cfg.tie_embeddings).then(|| init("lm_head", w, cfg.vocab_size)),
            rope: RopeTables {
                cos: dev.tensor_from_vec(cast(&cos), (cfg.context, head_dim)),
                sin: dev.tensor_from_vec(cast(&sin), (cfg.context, head_dim)),
                swap: dev.tensor_from_vec(cast(&swap_matrix(head_dim)), (head_dim, head_dim)),
                cos_host: cast(&cos),
                sin_host: cast(&sin),
            },
        }
    }

    /// The parameters with their checkpoint names, in a fixed order: an untied model's `lm_head`
    /// comes last, so a tied model's names and order are those of checkpoints written before
    /// untied models existed.
    pub fn params(&self) -> Vec<(String, Param<'_, E, D>)> {
        let mut out = vec![("embed".to_string(), Param::Matrix(&self.embed))];
        for (i, b) in self.blocks.iter().enumerate() {
            let n = |p: &str| format!("layers.{i}.{p}");
            out.extend([
                (n("attn_norm"), Param::Vector(&b.attn_norm)),
                (n("wq"), Param::Matrix(&b.wq)),
                (n("wk"), Param::Matrix(&b.wk)),
                (n("wv"), Param::Matrix(&b.wv)),
                (n("wo"), Param::Matrix(&b.wo)),
                (n("q_norm"), Param::Vector(&b.q_norm)),
                (n("k_norm"), Param::Vector(&b.k_norm)),
                (n("mlp_norm"), Param::Vector(&b.mlp_norm)),
                (n("w_gate"), Param::Matrix(&b.w_gate)),
                (n("w_up"), Param::Matrix(&b.w_up)),
                (n("w_down"), Param::Matrix(&b.w_down)),
            ]);
        }
        out.push(("final_norm".to_string(), Param::Vector(&self.final_norm)));
        if let Some(head) = &self.lm_head {
            out.push(("lm_head".to_string(), Param::Matrix(head)));
        }
        out
    }

    /// The parameters, mutably, in the order of [`Model::params`].
    pub fn params_mut(&mut self) -> Vec<ParamMut<'_, E, D>> {
        let mut out = vec![ParamMut::Matrix(&mut self.embed)];
        for b in &mut self.blocks {
            out.extend([
                ParamMut::Vector(&mut b.attn_norm),
                ParamMut::Matrix(&mut b.wq),
                ParamMut::Matrix(&mut b.wk),
                ParamMut::Matrix(&mut b.wv),
                ParamMut::Matrix(&mut b.wo),
                ParamMut::Vector(&mut b.q_norm),
                ParamMut::Vector(&mut b.k_norm),
                ParamMut::Vector(&mut b.mlp_norm),
                ParamMut::Matrix(&mut b.w_gate),
                ParamMut::Matrix(&mut b.w_up),
                ParamMut::Matrix(&mut b.w_down),
            ]);
        }
        out.push(ParamMut::Vector(&mut self.final_norm));
        if let Some(head) = &mut self.lm_head {
            out.push(ParamMut::Matrix(head));
        }
        out
    }

    /// Moves a batch to the device; each trained prediction weighs `scale` in the loss.
    pub fn upload(&self, batch: &Batch, scale: f64) -> DeviceBatch<E, D> {
        let (rows, len) = (batch.rows, batch.len);
        let ids = |v: &[u32]| -> Tensor<(usize, usize), usize, D> {
            self.dev.tensor_from_vec(v.iter().map(|&x| x as usize).collect(), (rows, len))
        };
        let weights: Vec<E> = batch
            .mask
            .iter()
            .map(|&m| E::from_f64(if m { scale } else { 0.0 }).expect("a float"))
            .collect();
        DeviceBatch {
            inputs: ids(&batch.inputs),
            positions: ids(&batch.position),
            targets: ids(&batch.targets),
            weights: self.dev.tensor_from_vec(weights.clone(), (rows, len)),
            segment_host: batch.segment.clone(),
            position_host: batch.position.clone(),
            target_host: batch.targets.clone(),
            weight_host: weights,
        }
    }

    /// The weighted negative log-likelihood of a batch and its gradient, one host vector per
    /// parameter in the order of [`Model::params`].
    ///
    /// Gradients come back to the host after every backward pass because dfdx 0.13 can only mark
    /// which gradients to keep (and free the temporaries') through `TensorCollection`, which needs
    /// compile-time shapes; a fresh gradient store per pass frees everything else on return.
    pub fn loss_and_grads(&self, batch: &DeviceBatch<E, D>) -> (f64, Vec<Vec<E>>) {
        let mut grads = Gradients::leaky();
        let params = self.params();
        for (_, p) in &params {
            p.alloc_grad(&mut grads);
        }
        let loss = self.loss(batch, self.embed.clone().traced(grads));
        let value = scalar(&loss.retaped::<NoneTape>());
        let grads = loss.backward();
        (value, params.iter().map(|(_, p)| p.grad(&grads)).collect())
    }

    /// The weighted negative log-likelihood of a batch, without gradients.
    pub fn loss_only(&self, batch: &DeviceBatch<E, D>) -> f64 {
        scalar(&self.loss(batch, self.embed.clone()))
    }

    /// Logits `(rows, len, vocab)` for a batch, without gradients.
    pub fn logits(&self, batch: &DeviceBatch<E, D>) -> Vec<E> {
        self.forward(batch, self.embed.clone()).as_vec()
    }

    /// `-sum(weights * log p(target))`; `embed` is the embedding table carrying the tape.
    fn loss<T: Tape<E, D>>(
        &self,
        batch: &DeviceBatch<E, D>,
        embed: Tensor<(usize, usize), E, D, T>,
    ) -> Tensor<(), E, D, T> {
        self.dev.nll(self.forward(batch, embed), batch)
    }

    fn forward<T: Tape<E, D>>(
        &self,
        batch: &DeviceBatch<E, D>,
        embed: Tensor<(usize, usize), E, D, T>,
    ) -> Activations<E, D, T> {
        let dev = &self.dev;
        // The fused CPU operations make their outputs from plain vectors, which dfdx's cache
        // keeps when they are dropped but never hands out again (its allocations look for
        // buffers it made); emptying it once per pass bounds memory to one pass's buffers.
        dev.empty_cache();
        let dh = self.cfg.head_dim();
        let eps = E::from_f64(self.cfg.norm_eps).expect("a float");
        let scale = E::from_f64(1.0 / (dh as f64).sqrt()).expect("a float");
        // Scaling the queries is 1/(s / head_dim) of the work of scaling the scores.
        let rope_q = RopeArgs { tables: &self.rope, batch, scale };
        let rope_k = RopeArgs { tables: &self.rope, batch, scale: E::ONE };

        let mut x: Activations<E, D, T> = embed.gather(batch.inputs.clone());
        for blk in &self.blocks {
            let h = dev.norm(x.with_empty_tape(), &blk.attn_norm, eps, None);
            let q = linear(h.with_empty_tape(), &blk.wq);
            let k = linear(h.with_empty_tape(), &blk.wk);
            let v = linear(h, &blk.wv);
            let q = dev.norm(q, &blk.q_norm, eps, Some(&rope_q));
            let k = dev.norm(k, &blk.k_norm, eps, Some(&rope_k));
            x = x + linear(dev.attention(q, k, v, batch, dh), &blk.wo);

            let h = dev.norm(x.with_empty_tape(), &blk.mlp_norm, eps, None);
            let gate = linear(h.with_empty_tape(), &blk.w_gate);
            let up = linear(h, &blk.w_up);
            x = x + linear(dev.swiglu(gate, up), &blk.w_down);
        }
        let h = dev.norm(x, &self.final_norm, eps, None);
        match &self.lm_head {
            Some(head) => linear(h, head),
            None => {
                let (b, s, w) = *h.shape();
                let logits = h
                    .reshape_like(&(b * s, w))
                    .matmul(self.embed.retaped::<T>().permute::<_, Axes2<1, 0>>());
                let vocab = logits.shape().1;
                logits.reshape_like(&(b, s, vocab))
            }
        }
    }
}

/// `x @ w` for `x` of `(b, s, in)` and `w` of `(in, out)`, as one `(b * s, in)` matmul: dfdx
/// runs a batched matmul as one small product per batch row, which keeps fewer cores busy.
fn linear<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    x: Activations<E, D, T>,
    w: &Matrix<E, D>,
) -> Activations<E, D, T> {
    let (b, s, d) = *x.shape();
    let out = w.shape().1;
    x.reshape_like(&(b * s, d)).matmul(w.retaped::<T>()).reshape_like(&(b, s, out))
}

/// The `(head_dim, head_dim)` permutation matrix exchanging the two halves of a head.
fn swap_matrix(head_dim: usize) -> Vec<f64> {
    let half = head_dim / 2;
    let mut m = vec![0.0; head_dim * head_dim];
    for j in 0..head_dim {
        let i = if j < half { j + half } else { j - half };
        m[i * head_dim + j] = 1.0;
    }
    m
}

/// The cos and signed sin tables, `(context, head_dim)` row-major, in f64.
fn rope_tables(cfg: &ModelConfig) -> (Vec<f64>, Vec<f64>) {
    let dh = cfg.head_dim();
    let half = dh / 2;
    let mut cos = vec![0.0; cfg.context * dh];
    let mut sin = vec![0.0; cfg.context * dh];
    for p in 0..cfg.context {
        for i in 0..half {
            let freq = cfg.rope_theta.powf(-(2.0 * i as f64) / dh as f64);
            let angle = p as f64 * freq;
            cos[p * dh + i] = angle.cos();
            cos[p * dh + half + i] = angle.cos();
            sin[p * dh + i] = -angle.sin();
            sin[p * dh + half + i] = angle.sin();
        }
    }
    (cos, sin)
}

/// The values of a tensor in standard layout (parameters and their gradients are), copied as one
/// block rather than element by element as `as_vec` does.
fn contiguous_values<S: Shape, E: Dtype, D: Device<E>>(t: &Tensor<S, E, D>) -> Vec<E> {
    let mut out = vec![E::default(); t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}

fn scalar<E: Dtype, D: Device<E>>(t: &Tensor<(), E, D>) -> f64 {
    t.as_vec().first().and_then(|v| v.to_f64()).unwrap_or(f64::NAN)
}

fn cast<E: Dtype>(values: &[f64]) -> Vec<E> {
    values.iter().map(|&v| E::from_f64(v).expect("a float")).collect()
}

/// A standard normal draw (Box-Muller), from the project's pinned generator.
fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.next_f64();
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A seeded device with dfdx's allocation cache on.
///
/// dfdx leaves the cache off by default; without it every step maps, zero-fills and unmaps fresh
/// pages for the temporaries of its operations (before the fused operations, an eighth of a
/// `tiny` step on the CPU). Each forward pass empties it (see `Model::forward`), and freed memory
/// stays in the process (see `crate::malloc`). Nothing in this model is drawn on the device, but
/// the seed keeps it reproducible if that changes.
pub fn device(seed: u64) -> Dev {
    crate::malloc::keep_freed_memory();
    let dev = Dev::seed_from_u64(seed);
    dev.enable_cache();
    dev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Sample, batches};

    fn micro() -> ModelConfig {
        ModelConfig {
            width: 8,
            layers: 1,
            heads: 2,
            mlp_hidden: 12,
            context: 8,
            init_std: 0.5,
            ..ModelConfig::default()
        }
    }

    /// Two samples packed into one row and a third padded in a second row: every kind of
    /// attention mask the trainer builds.
    fn batch() -> Batch {
        let a = Sample {
            tokens: vec![256, 10, 20, 30, 257],
            train: vec![false, false, true, true, true],
        };
        let b = Sample { tokens: vec![256, 40, 50], train: vec![false, true, true] };
        let c = Sample { tokens: vec![256, 60, 70], train: vec![false, false, true] };
        let batch = batches(&[a, b, c], 2, 6, true, 258).remove(0);
        assert_eq!((batch.rows, batch.len), (2, 6));
        assert_eq!(batch.segment, vec![1, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0]);
        batch
    }

    #[test]
    fn masked_and_padded_positions_contribute_exactly_zero_gradient() {
        let dev = Cpu::seed_from_u64(0);
        let model = Model::<f64, Cpu>::new(&micro(), &dev, 7);
        let batch = batch();
        let (loss, grads) = model.loss_and_grads(&model.upload(&batch, 0.1));
        let mut changed = batch.clone();
        for i in 0..changed.mask.len() {
            if !changed.mask[i] {
                // Another target where the loss is masked, another input where there is padding.
                changed.targets[i] = 99;
                if changed.segment[i] == 0 {
                    changed.inputs[i] = 123;
                }
            }
        }
        assert_ne!(changed, batch);
        let (loss2, grads2) = model.loss_and_grads(&model.upload(&changed, 0.1));
        assert_eq!(loss.to_bits(), loss2.to_bits());
        for (g1, g2) in grads.iter().zip(&grads2) {
            let same = g1.iter().zip(g2).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "a masked or padded position changed a gradient");
        }
    }

    #[test]
    fn loss_and_gradients_are_bit_identical_whatever_the_thread_count() {
        // Big enough that every kernel splits its work into several blocks.
        let cfg = ModelConfig {
            width: 32,
            layers: 1,
            heads: 4,
            mlp_hidden: 600,
            context: 160,
            ..ModelConfig::default()
        };
        let mut rng = SplitMix64::new(5);
        let samples: Vec<Sample> = (0..3)
            .map(|_| Sample {
                tokens: (0..150).map(|_| rng.below(256) as u32).collect(),
                train: vec![true; 150],
            })
            .collect();
        let batch = batches(&samples, 3, 160, false, 258).remove(0);
        let run = |threads: usize| {
            let pool =
                rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            pool.install(|| {
                let model = Model::<f32, Cpu>::new(&cfg, &device(0), 7);
                let (loss, grads) = model.loss_and_grads(&model.upload(&batch, 0.01));
                let bits: Vec<Vec<u32>> =
                    grads.iter().map(|g| g.iter().map(|v| v.to_bits()).collect()).collect();
                (loss.to_bits(), bits)
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn gradients_match_finite_differences_in_f64() {
        check_gradients(&micro());
    }

    #[test]
    fn gradients_with_grouped_query_attention_match_finite_differences_in_f64() {
        // Four query heads share two key/value heads, two each.
        let cfg = ModelConfig { width: 16, heads: 4, kv_heads: Some(2), ..micro() };
        let model = Model::<f64, Cpu>::new(&cfg, &Cpu::seed_from_u64(0), 7);
        let shapes: Vec<(String, Vec<usize>)> =
            model.params().iter().map(|(n, p)| (n.clone(), p.dims())).collect();
        assert!(shapes.contains(&("layers.0.wk".into(), vec![16, 8])), "{shapes:?}");
        assert!(shapes.contains(&("layers.0.wq".into(), vec![16, 16])), "{shapes:?}");
        check_gradients(&cfg);
    }

    #[test]
    fn gradients_with_a_head_size_other_than_width_over_heads_match_finite_differences_in_f64() {
        // Two heads of 6 attend at 12 features in a width of 8: wq widens, wo narrows back.
        let cfg = ModelConfig { head_dim: Some(6), ..micro() };
        let shapes = param_shapes(&cfg);
        for (name, dims) in [("wq", [8, 12]), ("wk", [8, 12]), ("wo", [12, 8])] {
            let entry = (format!("layers.0.{name}"), dims.to_vec());
            assert!(shapes.contains(&entry), "{shapes:?}");
        }
        assert!(shapes.contains(&("layers.0.q_norm".into(), vec![6])), "{shapes:?}");
        check_gradients(&cfg);
    }

    #[test]
    fn gradients_of_an_untied_model_with_its_own_head_size_match_finite_differences_in_f64() {
        // Four query heads of 2 over two key/value heads (8 and 4 features in a width of 16),
        // and an output projection of its own, listed after every tied parameter.
        let cfg = ModelConfig {
            width: 16,
            heads: 4,
            kv_heads: Some(2),
            head_dim: Some(2),
            tie_embeddings: false,
            ..micro()
        };
        let shapes = param_shapes(&cfg);
        let tied = param_shapes(&ModelConfig { tie_embeddings: true, ..cfg.clone() });
        assert_eq!(shapes[..tied.len()], tied[..]);
        assert_eq!(shapes[tied.len()..], [("lm_head".to_string(), vec![16, 259])]);
        assert!(shapes.contains(&("layers.0.wq".into(), vec![16, 8])), "{shapes:?}");
        assert!(shapes.contains(&("layers.0.wk".into(), vec![16, 4])), "{shapes:?}");
        check_gradients(&cfg);
    }

    #[test]
    fn an_untied_model_whose_lm_head_is_the_transposed_embeddings_is_the_tied_model() {
        let tied_cfg = ModelConfig { head_dim: Some(6), ..micro() };
        let dev = Cpu::seed_from_u64(0);
        let tied = Model::<f64, Cpu>::new(&tied_cfg, &dev, 7);
        let untied_cfg = ModelConfig { tie_embeddings: false, ..tied_cfg };
        let mut untied = Model::<f64, Cpu>::new(&untied_cfg, &dev, 7);
        let (vocab, width) = (untied_cfg.vocab_size, untied_cfg.width);
        let embed = tied.params()[0].1.values();
        let mut head = vec![0.0; embed.len()];
        for v in 0..vocab {
            for w in 0..width {
                head[w * vocab + v] = embed[v * width + w];
            }
        }
        let batch = batch();
        let logits = |model: &Model<f64, Cpu>| model.logits(&model.upload(&batch, 0.1));
        // With its own random lm_head the untied model is another function...
        assert_ne!(logits(&tied), logits(&untied), "the output projection is not lm_head");
        // ...and with the embeddings, transposed, as its lm_head, the same one.
        let last = untied.params().len() - 1;
        untied.params_mut()[last].set(&head);
        let (a, b) = (logits(&tied), logits(&untied));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "tied {x}, untied {y}");
        }
    }

    /// The parameter names and shapes of a model of `cfg`.
    fn param_shapes(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
        let model = Model::<f64, Cpu>::new(cfg, &Cpu::seed_from_u64(0), 7);
        model.params().iter().map(|(n, p)| (n.clone(), p.dims())).collect()
    }

    /// Central finite differences against the analytic gradient, four entries per parameter.
    fn check_gradients(cfg: &ModelConfig) {
        let dev = Cpu::seed_from_u64(0);
        let mut model = Model::<f64, Cpu>::new(cfg, &dev, 7);
        // Perturb the norm gains away from one so their gradients are exercised generically.
        let mut rng = SplitMix64::new(3);
        for mut p in model.params_mut() {
            if let ParamMut::Vector(t) = &mut p {
                let v: Vec<f64> = (0..t.shape().0).map(|_| 0.5 + rng.next_f64()).collect();
                t.copy_from(&v);
            }
        }
        let batch = batch();
        let device_batch = model.upload(&batch, 0.1);
        let (_, grads) = model.loss_and_grads(&device_batch);
        let h = 1e-5;
        let mut checked = 0;
        let names: Vec<String> = model.params().into_iter().map(|(n, _)| n).collect();
        for (index, name) in names.iter().enumerate() {
            let values = model.params()[index].1.values();
            for k in 0..4 {
                let at = (k * 7919 + index * 31) % values.len();
                let mut plus = values.clone();
                plus[at] += h;
                model.params_mut()[index].set(&plus);
                let up = model.loss_only(&device_batch);
                let mut minus = values.clone();
                minus[at] -= h;
                model.params_mut()[index].set(&minus);
                let down = model.loss_only(&device_batch);
                model.params_mut()[index].set(&values);
                let numeric = (up - down) / (2.0 * h);
                let analytic = grads[index][at];
                // The central difference carries rounding noise of about eps * loss / h (near
                // 1e-10 here), which is all an untied lm_head's smallest gradients (those of
                // tokens no target names, about 1e-5) are compared to with a relative bound
                // alone; so differences below 1e-9 pass too, still 1e-4 of such a gradient.
                let diff = (numeric - analytic).abs();
                let err = diff / (1e-6 + numeric.abs().max(analytic.abs()));
                assert!(
                    err < 1e-6 || diff < 1e-9,
                    "{name}[{at}]: numeric {numeric}, analytic {analytic}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, names.len() * 4);
    }
}
