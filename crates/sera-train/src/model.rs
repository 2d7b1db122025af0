//! The decoder and its gradients: the one module that talks to `dfdx`.
//!
//! A Qwen3-style decoder: tied token embeddings, pre-norm blocks with RMSNorm, causal
//! self-attention with per-head RMSNorm on queries and keys and rotary position embeddings, and a
//! SwiGLU feed-forward block. Sizes come from a runtime [`ModelConfig`], so every tensor has
//! runtime (`usize`) dimensions.
//!
//! dfdx's `TensorCollection` (which drives its optimizers and its safetensors support) describes
//! a module's fields statically, without access to the value, so it cannot express a layer count
//! read from a config file. The model therefore lists its parameters itself ([`Model::params`]),
//! and the optimizer and the checkpoints work on plain `f32` vectors outside this module.

use dfdx::prelude::*;
use dfdx::tensor::Gradients;
use sera_core::SplitMix64;

use crate::config::ModelConfig;
use crate::data::Batch;

/// The tensor device: the CPU, or with the `cuda` feature the first CUDA GPU.
#[cfg(not(feature = "cuda"))]
pub type Dev = Cpu;
/// The tensor device: the CPU, or with the `cuda` feature the first CUDA GPU.
#[cfg(feature = "cuda")]
pub type Dev = Cuda;

type Vector<E, D> = Tensor<(usize,), E, D>;
type Matrix<E, D> = Tensor<(usize, usize), E, D>;
type Activations<E, D, T> = Tensor<(usize, usize, usize), E, D, T>;
type Heads<E, D, T> = Tensor<(usize, usize, usize, usize), E, D, T>;

/// One decoder block. Projection matrices are stored `(in, out)`, so a layer is `x @ w`.
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
    /// `(vocab, width)`; also the output projection (tied embeddings, as in small Qwen3 models).
    embed: Matrix<E, D>,
    blocks: Vec<Block<E, D>>,
    final_norm: Vector<E, D>,
    /// `(context, head_dim)`: cos of each position's angles, each half repeated.
    cos: Matrix<E, D>,
    /// `(context, head_dim)`: sin of the angles, negated in the first half, so that
    /// `rope(x) = x * cos + swap_halves(x) * sin`.
    sin: Matrix<E, D>,
    /// `(head_dim, head_dim)`: exchanges the halves of a head (see [`rope`]).
    swap: Matrix<E, D>,
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

/// A batch moved to the device, with its attention mask and loss weights.
pub struct DeviceBatch<E: Dtype, D: Device<E>> {
    rows: usize,
    len: usize,
    inputs: Tensor<(usize, usize), usize, D>,
    positions: Tensor<(usize, usize), usize, D>,
    targets: Tensor<(usize, usize), usize, D>,
    /// `(rows, len, len)`: 0 where attention is allowed, a large negative number elsewhere.
    mask: Tensor<(usize, usize, usize), E, D>,
    /// `(rows, len)`: the weight of each prediction in the loss (0 on untrained positions).
    weights: Tensor<(usize, usize), E, D>,
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
            Param::Vector(t) => t.as_vec(),
            Param::Matrix(t) => t.as_vec(),
        }
    }

    /// This parameter's gradient in `grads`.
    pub fn grad(&self, grads: &Gradients<E, D>) -> Vec<E> {
        match self {
            Param::Vector(t) => grads.get(*t).as_vec(),
            Param::Matrix(t) => grads.get(*t).as_vec(),
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

/// Large negative logit for masked attention: `exp` of it underflows to exactly zero, and unlike
/// `-inf` it keeps sums finite.
const MASKED: f64 = -1e9;

impl<E: Dtype, D: Device<E>> Model<E, D> {
    /// A model with seeded random weights: normal(0, init_std) matrices, unit norm gains. Each
    /// parameter draws from its own named stream, so its values do not depend on the others.
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
        let head_dim = cfg.width / cfg.heads;
        let blocks = (0..cfg.layers)
            .map(|i| {
                let name = |p: &str| format!("layers.{i}.{p}");
                Block {
                    attn_norm: ones(w),
                    wq: init(&name("wq"), w, w),
                    wk: init(&name("wk"), w, w),
                    wv: init(&name("wv"), w, w),
                    wo: init(&name("wo"), w, w),
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
            cos: dev.tensor_from_vec(cast(&cos), (cfg.context, head_dim)),
            sin: dev.tensor_from_vec(cast(&sin), (cfg.context, head_dim)),
            swap: dev.tensor_from_vec(cast(&swap_matrix(head_dim)), (head_dim, head_dim)),
        }
    }

    /// The parameters with their checkpoint names, in a fixed order.
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
        out
    }

    /// Moves a batch to the device; each trained prediction weighs `scale` in the loss.
    pub fn upload(&self, batch: &Batch, scale: f64) -> DeviceBatch<E, D> {
        let (rows, len) = (batch.rows, batch.len);
        let ids = |v: &[u32]| -> Tensor<(usize, usize), usize, D> {
            self.dev.tensor_from_vec(v.iter().map(|&x| x as usize).collect(), (rows, len))
        };
        let mut mask = vec![E::from_f64(MASKED).expect("a float"); rows * len * len];
        for r in 0..rows {
            for i in 0..len {
                let seg = batch.segment[r * len + i];
                for j in 0..=i {
                    if batch.segment[r * len + j] == seg {
                        mask[(r * len + i) * len + j] = E::from_f64(0.0).expect("a float");
                    }
                }
            }
        }
        let weights: Vec<E> = batch
            .mask
            .iter()
            .map(|&m| E::from_f64(if m { scale } else { 0.0 }).expect("a float"))
            .collect();
        DeviceBatch {
            rows,
            len,
            inputs: ids(&batch.inputs),
            positions: ids(&batch.position),
            targets: ids(&batch.targets),
            mask: self.dev.tensor_from_vec(mask, (rows, len, len)),
            weights: self.dev.tensor_from_vec(weights, (rows, len)),
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
        let logits = self.forward(batch, embed);
        let logp = logits.log_softmax::<Axis<2>>();
        let picked: Tensor<(usize, usize), E, D, T> = logp.select(batch.targets.clone());
        (picked * batch.weights.clone()).sum::<(), _>().negate()
    }

    fn forward<T: Tape<E, D>>(
        &self,
        batch: &DeviceBatch<E, D>,
        embed: Tensor<(usize, usize), E, D, T>,
    ) -> Activations<E, D, T> {
        let (b, s) = (batch.rows, batch.len);
        let (w, nh) = (self.cfg.width, self.cfg.heads);
        let dh = w / nh;
        let eps = E::from_f64(self.cfg.norm_eps).expect("a float");
        let scale = E::from_f64(1.0 / (dh as f64).sqrt()).expect("a float");
        let heads_shape = (b, s, nh, dh);
        let cos: Activations<E, D, NoneTape> = self.cos.clone().gather(batch.positions.clone());
        let sin: Activations<E, D, NoneTape> = self.sin.clone().gather(batch.positions.clone());
        // Per-head norms and RoPE act on (b, s * heads, head_dim), a free reshape of the
        // projection; the tables are repeated for every head of a position.
        let per_head = (b, s * nh, dh);
        let cos = cos.broadcast_like::<_, Axis<2>>(&heads_shape).reshape_like(&per_head);
        let sin = sin.broadcast_like::<_, Axis<2>>(&heads_shape).reshape_like(&per_head);
        let mask: Heads<E, D, NoneTape> =
            batch.mask.clone().broadcast_like::<_, Axis<1>>(&(b, nh, s, s));

        let mut x: Activations<E, D, T> = embed.gather(batch.inputs.clone());
        for blk in &self.blocks {
            let h = rms_norm(x.with_empty_tape(), &blk.attn_norm, eps);
            let q = h.with_empty_tape().matmul(blk.wq.retaped::<T>()).reshape_like(&per_head);
            let k = h.with_empty_tape().matmul(blk.wk.retaped::<T>()).reshape_like(&per_head);
            let v = h.matmul(blk.wv.retaped::<T>()).reshape_like(&heads_shape);
            let q = rope(rms_norm(q, &blk.q_norm, eps), &cos, &sin, &self.swap);
            let k = rope(rms_norm(k, &blk.k_norm, eps), &cos, &sin, &self.swap);
            // Scaling the queries is 1/(s / head_dim) of the work of scaling the scores.
            let q = (q * scale).reshape_like(&heads_shape);
            let k = k.reshape_like(&heads_shape);
            let q = q.permute::<_, Axes4<0, 2, 1, 3>>();
            let k = k.permute::<_, Axes4<0, 2, 3, 1>>();
            let v = v.permute::<_, Axes4<0, 2, 1, 3>>();
            let scores = q.matmul(k) + mask.clone();
            let attn = scores.softmax::<Axis<3>>().matmul(v);
            let attn = attn.permute::<_, Axes4<0, 2, 1, 3>>().reshape_like(&(b, s, w));
            x = x + attn.matmul(blk.wo.retaped::<T>());

            let h = rms_norm(x.with_empty_tape(), &blk.mlp_norm, eps);
            let gate = h.with_empty_tape().matmul(blk.w_gate.retaped::<T>());
            let up = h.matmul(blk.w_up.retaped::<T>());
            let act = gate.with_empty_tape() * gate.sigmoid() * up;
            x = x + act.matmul(blk.w_down.retaped::<T>());
        }
        let h = rms_norm(x, &self.final_norm, eps);
        h.matmul(self.embed.retaped::<T>().permute::<_, Axes2<1, 0>>())
    }
}

/// RMSNorm over the last axis of `(b, s, d)`, times a learned gain `(d,)`.
fn rms_norm<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    x: Activations<E, D, T>,
    gain: &Vector<E, D>,
    eps: E,
) -> Activations<E, D, T> {
    let shape = *x.shape();
    let mean_square: Tensor<(usize, usize), E, D, T> =
        x.with_empty_tape().square().mean::<_, Axis<2>>();
    let inv = (mean_square + eps).sqrt().recip();
    let normed = x * inv.broadcast_like::<_, Axis<2>>(&shape);
    normed * gain.retaped::<T>().broadcast_like::<_, Axes2<0, 1>>(&shape)
}

/// Rotary position embedding on `(b, s * heads, head_dim)`, rotating the two halves of each head:
/// `x * cos + (x @ swap) * sin`, where `swap` exchanges the halves and `sin` carries the signs.
///
/// The exchange is a matmul with a permutation matrix rather than slices and a concatenation:
/// in dfdx 0.13 the gradient through `slice` + `concat_along` of a tensor that is also used
/// elsewhere came out wrong (the finite-difference test caught it), and the matmul costs about 4%
/// of the block's arithmetic at `tiny` size.
fn rope<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    x: Activations<E, D, T>,
    cos: &Activations<E, D, NoneTape>,
    sin: &Activations<E, D, NoneTape>,
    swap: &Matrix<E, D>,
) -> Activations<E, D, T> {
    let swapped = x.with_empty_tape().matmul(swap.clone());
    x * cos.clone() + swapped * sin.clone()
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
    let dh = cfg.width / cfg.heads;
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
/// pages for each attention-sized temporary, which cost about an eighth of a `tiny` step on the
/// CPU. Nothing in this model is drawn on the device, but the seed keeps it reproducible if that
/// changes.
pub fn device(seed: u64) -> Dev {
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
        let batch = batches(&[a, b, c], 2, 6, true).remove(0);
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
    fn gradients_match_finite_differences_in_f64() {
        let dev = Cpu::seed_from_u64(0);
        let mut model = Model::<f64, Cpu>::new(&micro(), &dev, 7);
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
                let err = (numeric - analytic).abs() / (1e-6 + numeric.abs().max(analytic.abs()));
                assert!(err < 1e-6, "{name}[{at}]: numeric {numeric}, analytic {analytic}");
                checked += 1;
            }
        }
        assert_eq!(checked, names.len() * 4);
    }
}
