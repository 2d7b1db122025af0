//! The model's fused operations: RMSNorm (with rotary embeddings for query and key heads),
//! causal attention, SwiGLU and the weighted negative log-likelihood.
//!
//! On the CPU each is one dfdx tape entry whose forward and backward are the kernels of
//! [`crate::kernels`]. On other devices they are compositions of dfdx operations
//! ([`reference`]), which are also what the CPU kernels are tested against.
//!
//! Inputs must be contiguous (matmul, gather and element-wise outputs all are): the CPU side
//! copies a tensor's physical buffer to the host.

use dfdx::prelude::*;
use dfdx::tensor::{CpuError, Gradients};

use super::{Activations, DeviceBatch, Matrix, Vector};
use crate::kernels::{self, AttnShape, Real};

/// What queries and keys are rotated with, and the scale applied after the rotation.
pub struct RopeArgs<'a, E: Dtype, D: Device<E>> {
    pub tables: &'a RopeTables<E, D>,
    pub batch: &'a DeviceBatch<E, D>,
    pub scale: E,
}

/// The rotary tables, `(context, head_dim)`, on the device and on the host.
// The device copies are read by `reference` only, which the CPU build leaves out.
#[cfg_attr(not(any(test, feature = "cuda")), allow(dead_code))]
pub struct RopeTables<E: Dtype, D: Device<E>> {
    /// cos of each position's angles, each half repeated.
    pub cos: Matrix<E, D>,
    /// sin of the angles, negated in the first half, so that
    /// `rope(x) = x * cos + swap_halves(x) * sin`.
    pub sin: Matrix<E, D>,
    /// `(head_dim, head_dim)`: exchanges the halves of a head (used by `reference::norm`, a test and CUDA-only module).
    pub swap: Matrix<E, D>,
    pub cos_host: Vec<E>,
    pub sin_host: Vec<E>,
}

/// The fused operations a device provides; `x` arguments are `(batch, seq, features)`.
pub trait Fused<E: Dtype>: Device<E> + Cache {
    /// RMSNorm of each row of `gain.len()` features times `gain`; with `rope`, the rows are
    /// heads, rotated by their token's position and scaled.
    fn norm<T: Tape<E, Self>>(
        &self,
        x: Activations<E, Self, T>,
        gain: &Vector<E, Self>,
        eps: E,
        rope: Option<&RopeArgs<'_, E, Self>>,
    ) -> Activations<E, Self, T>;

    /// Causal attention within the batch's segments: `q` has `heads * head_dim` features (and
    /// comes scaled), `k` and `v` `kv_heads * head_dim`. Returns `heads * head_dim` features.
    fn attention<T: Tape<E, Self>>(
        &self,
        q: Activations<E, Self, T>,
        k: Activations<E, Self, T>,
        v: Activations<E, Self, T>,
        batch: &DeviceBatch<E, Self>,
        head_dim: usize,
    ) -> Activations<E, Self, T>;

    /// `silu(gate) * up`.
    fn swiglu<T: Tape<E, Self>>(
        &self,
        gate: Activations<E, Self, T>,
        up: Activations<E, Self, T>,
    ) -> Activations<E, Self, T>;

    /// `-sum(weights * log softmax(logits)[targets])` over the batch's positions.
    fn nll<T: Tape<E, Self>>(
        &self,
        logits: Activations<E, Self, T>,
        batch: &DeviceBatch<E, Self>,
    ) -> Tensor<(), E, Self, T>;
}

// One impl per float type rather than `impl<E> Fused<E> for Cpu where Cpu: Device<E>`: under
// that bound `<Cpu as Storage<E>>::Vec` stays opaque, and the gradient buffers could not be
// used as vectors. The generic `cpu_*` functions below need no such bound.
macro_rules! cpu_fused {
    ($e:ty) => {
        impl Fused<$e> for Cpu {
            fn norm<T: Tape<$e, Self>>(
                &self,
                x: Activations<$e, Self, T>,
                gain: &Vector<$e, Self>,
                eps: $e,
                rope: Option<&RopeArgs<'_, $e, Self>>,
            ) -> Activations<$e, Self, T> {
                let rope = rope.map(|r| RopeOwned {
                    cos: r.tables.cos_host.clone(),
                    sin: r.tables.sin_host.clone(),
                    positions: r.batch.position_host.clone(),
                    heads: x.shape().2 / gain.shape().0,
                    scale: r.scale,
                });
                cpu_norm(self, x, gain, eps, rope)
            }

            fn attention<T: Tape<$e, Self>>(
                &self,
                q: Activations<$e, Self, T>,
                k: Activations<$e, Self, T>,
                v: Activations<$e, Self, T>,
                batch: &DeviceBatch<$e, Self>,
                head_dim: usize,
            ) -> Activations<$e, Self, T> {
                cpu_attention(self, q, k, v, batch.segment_host.clone(), head_dim)
            }

            fn swiglu<T: Tape<$e, Self>>(
                &self,
                gate: Activations<$e, Self, T>,
                up: Activations<$e, Self, T>,
            ) -> Activations<$e, Self, T> {
                cpu_swiglu(self, gate, up)
            }

            fn nll<T: Tape<$e, Self>>(
                &self,
                logits: Activations<$e, Self, T>,
                batch: &DeviceBatch<$e, Self>,
            ) -> Tensor<(), $e, Self, T> {
                cpu_nll(self, logits, batch.target_host.clone(), batch.weight_host.clone())
            }
        }
    };
}
cpu_fused!(f32);
cpu_fused!(f64);

/// The host copies behind a [`kernels::Rope`], owned so the backward can keep them.
struct RopeOwned<E> {
    cos: Vec<E>,
    sin: Vec<E>,
    positions: Vec<u32>,
    heads: usize,
    scale: E,
}

impl<E: Copy> RopeOwned<E> {
    fn spec(&self) -> kernels::Rope<'_, E> {
        kernels::Rope {
            cos: &self.cos,
            sin: &self.sin,
            positions: &self.positions,
            heads: self.heads,
            scale: self.scale,
        }
    }
}

fn cpu_norm<E: Dtype + Real, T: Tape<E, Cpu>>(
    dev: &Cpu,
    x: Activations<E, Cpu, T>,
    gain: &Vector<E, Cpu>,
    eps: E,
    owned: Option<RopeOwned<E>>,
) -> Activations<E, Cpu, T> {
    let shape = *x.shape();
    let (x, tape) = x.split_tape();
    let (xs, gs) = (host(&x), host(gain));
    let (y, inv) =
        kernels::norm_forward(&xs, &gs, eps, owned.as_ref().map(RopeOwned::spec).as_ref());
    let out = dev.tensor_from_vec(y, shape);
    let gain = gain.clone();
    with_backward(out, tape, move |grads, dy| {
        let mut dgain = vec![E::default(); gs.len()];
        let rope = owned.as_ref().map(RopeOwned::spec);
        let dx = grad_mut(grads, &x)?;
        kernels::norm_backward(&xs, &gs, &inv, rope.as_ref(), dy, dx, &mut dgain);
        add_to(grad_mut(grads, &gain)?, &dgain);
        Ok(())
    })
}

fn cpu_attention<E: Dtype + Real, T: Tape<E, Cpu>>(
    dev: &Cpu,
    q: Activations<E, Cpu, T>,
    k: Activations<E, Cpu, T>,
    v: Activations<E, Cpu, T>,
    segments: Vec<u32>,
    head_dim: usize,
) -> Activations<E, Cpu, T> {
    let (b, s, qw) = *q.shape();
    let shape = AttnShape {
        batch: b,
        seq: s,
        heads: qw / head_dim,
        kv_heads: k.shape().2 / head_dim,
        head_dim,
    };
    let (q, qt) = q.split_tape();
    let (k, kt) = k.split_tape();
    let (v, vt) = v.split_tape();
    let tape = qt.merge(kt).merge(vt);
    let (qs, ks, vs) = (host(&q), host(&k), host(&v));
    let (o, saved) = kernels::attention_forward(shape, &qs, &ks, &vs, &segments);
    let out = dev.tensor_from_vec(o, (b, s, qw));
    with_backward(out, tape, move |grads, dout| {
        let d = kernels::attention_backward(shape, &qs, &ks, &vs, &saved, dout);
        d.add_to_q(grad_mut(grads, &q)?);
        d.add_to_k(grad_mut(grads, &k)?);
        d.add_to_v(grad_mut(grads, &v)?);
        Ok(())
    })
}

fn cpu_swiglu<E: Dtype + Real, T: Tape<E, Cpu>>(
    dev: &Cpu,
    gate: Activations<E, Cpu, T>,
    up: Activations<E, Cpu, T>,
) -> Activations<E, Cpu, T> {
    let shape = *gate.shape();
    let (gate, gt) = gate.split_tape();
    let (up, ut) = up.split_tape();
    let tape = gt.merge(ut);
    let (gs, us) = (host(&gate), host(&up));
    let out = dev.tensor_from_vec(kernels::swiglu_forward(&gs, &us), shape);
    with_backward(out, tape, move |grads, dout| {
        kernels::swiglu_backward_gate(&gs, &us, dout, grad_mut(grads, &gate)?);
        kernels::swiglu_backward_up(&gs, dout, grad_mut(grads, &up)?);
        Ok(())
    })
}

fn cpu_nll<E: Dtype + Real, T: Tape<E, Cpu>>(
    dev: &Cpu,
    logits: Activations<E, Cpu, T>,
    targets: Vec<u32>,
    weights: Vec<E>,
) -> Tensor<(), E, Cpu, T> {
    let vocab = logits.shape().2;
    let (logits, tape) = logits.split_tape();
    let ls = host(&logits);
    let (loss, lse) = kernels::nll_forward(&ls, vocab, &targets, &weights);
    let out = dev.tensor_from_vec(vec![loss], ());
    with_backward(out, tape, move |grads, grad| {
        let d = grad_mut(grads, &logits)?;
        kernels::nll_backward(&ls, vocab, &targets, &weights, &lse, grad[0], d);
        Ok(())
    })
}

#[cfg(feature = "cuda")]
impl<E: Dtype> Fused<E> for Cuda
where
    Cuda: Device<E>,
{
    fn norm<T: Tape<E, Self>>(
        &self,
        x: Activations<E, Self, T>,
        gain: &Vector<E, Self>,
        eps: E,
        rope: Option<&RopeArgs<'_, E, Self>>,
    ) -> Activations<E, Self, T> {
        reference::norm(x, gain, eps, rope)
    }

    fn attention<T: Tape<E, Self>>(
        &self,
        q: Activations<E, Self, T>,
        k: Activations<E, Self, T>,
        v: Activations<E, Self, T>,
        batch: &DeviceBatch<E, Self>,
        head_dim: usize,
    ) -> Activations<E, Self, T> {
        reference::attention(q, k, v, batch, head_dim)
    }

    fn swiglu<T: Tape<E, Self>>(
        &self,
        gate: Activations<E, Self, T>,
        up: Activations<E, Self, T>,
    ) -> Activations<E, Self, T> {
        reference::swiglu(gate, up)
    }

    fn nll<T: Tape<E, Self>>(
        &self,
        logits: Activations<E, Self, T>,
        batch: &DeviceBatch<E, Self>,
    ) -> Tensor<(), E, Self, T> {
        reference::nll(logits, batch)
    }
}

/// The same operations composed of dfdx operations, for any device: what other devices run,
/// and what the CPU kernels are tested against.
#[cfg(any(test, feature = "cuda"))]
pub mod reference {
    use super::*;

    type Heads<E, D, T> = Tensor<(usize, usize, usize, usize), E, D, T>;

    /// Large negative logit for masked attention: `exp` of it underflows to exactly zero, and
    /// unlike `-inf` it keeps sums finite.
    const MASKED: f64 = -1e9;

    pub fn norm<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        x: Activations<E, D, T>,
        gain: &Vector<E, D>,
        eps: E,
        rope: Option<&RopeArgs<'_, E, D>>,
    ) -> Activations<E, D, T> {
        let (b, s, width) = *x.shape();
        let d = gain.shape().0;
        let rows = (b, s * (width / d), d);
        let x = x.reshape_like(&rows);
        let mean_square: Tensor<(usize, usize), E, D, T> =
            x.with_empty_tape().square().mean::<_, Axis<2>>();
        let inv = (mean_square + eps).sqrt().recip();
        let normed = x * inv.broadcast_like::<_, Axis<2>>(&rows);
        let mut y = normed * gain.retaped::<T>().broadcast_like::<_, Axes2<0, 1>>(&rows);
        if let Some(r) = rope {
            let heads = (b, s, width / d, d);
            let table = |t: &Matrix<E, D>| -> Activations<E, D, NoneTape> {
                let t: Activations<E, D, NoneTape> = t.clone().gather(r.batch.positions.clone());
                t.broadcast_like::<_, Axis<2>>(&heads).reshape_like(&rows)
            };
            let swapped = y.with_empty_tape().matmul(r.tables.swap.clone());
            y = (y * table(&r.tables.cos) + swapped * table(&r.tables.sin)) * r.scale;
        }
        y.reshape_like(&(b, s, width))
    }

    pub fn attention<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        q: Activations<E, D, T>,
        k: Activations<E, D, T>,
        v: Activations<E, D, T>,
        batch: &DeviceBatch<E, D>,
        head_dim: usize,
    ) -> Activations<E, D, T> {
        let (b, s, width) = *q.shape();
        let (nh, kvh) = (width / head_dim, k.shape().2 / head_dim);
        let heads = (b, s, nh, head_dim);
        // Key/value head g serves query heads g * group .. (g + 1) * group.
        let expand = |t: Activations<E, D, T>| -> Heads<E, D, T> {
            if kvh == nh {
                return t.reshape_like(&heads);
            }
            let t: Heads<E, D, T> = t.reshape_like(&(b, s, kvh, head_dim));
            let t: Tensor<(usize, usize, usize, usize, usize), E, D, T> =
                t.broadcast_like::<_, Axis<3>>(&(b, s, kvh, nh / kvh, head_dim));
            t.reshape_like(&heads)
        };
        let q = q.reshape_like(&heads).permute::<_, Axes4<0, 2, 1, 3>>();
        let k = expand(k).permute::<_, Axes4<0, 2, 3, 1>>();
        let v = expand(v).permute::<_, Axes4<0, 2, 1, 3>>();
        let mut mask = vec![E::from_f64(MASKED).expect("a float"); b * s * s];
        let seg = &batch.segment_host;
        for r in 0..b {
            for i in 0..s {
                for j in 0..=i {
                    if seg[r * s + j] == seg[r * s + i] {
                        mask[(r * s + i) * s + j] = E::default();
                    }
                }
            }
        }
        let dev = batch.positions.device().clone();
        let mask: Heads<E, D, NoneTape> =
            dev.tensor_from_vec(mask, (b, s, s)).broadcast_like::<_, Axis<1>>(&(b, nh, s, s));
        let scores = q.matmul(k) + mask;
        let attn = scores.softmax::<Axis<3>>().matmul(v);
        attn.permute::<_, Axes4<0, 2, 1, 3>>().reshape_like(&(b, s, width))
    }

    pub fn swiglu<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        gate: Activations<E, D, T>,
        up: Activations<E, D, T>,
    ) -> Activations<E, D, T> {
        gate.with_empty_tape() * gate.sigmoid() * up
    }

    pub fn nll<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        logits: Activations<E, D, T>,
        batch: &DeviceBatch<E, D>,
    ) -> Tensor<(), E, D, T> {
        let logp = logits.log_softmax::<Axis<2>>();
        let picked: Tensor<(usize, usize), E, D, T> = logp.select(batch.targets.clone());
        (picked * batch.weights.clone()).sum::<(), _>().negate()
    }
}

/// A copy of a contiguous tensor's values.
fn host<S: Shape, E: Dtype, T>(t: &Tensor<S, E, Cpu, T>) -> Vec<E> {
    let mut out = vec![E::default(); t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}

/// `out` carrying `tape`, with `backward` recorded on it when the tape records: `backward` gets
/// the gradient store and the gradient that reached `out`, and adds to its inputs' gradients.
fn with_backward<S: Shape, E: Dtype, T: Tape<E, Cpu>>(
    out: Tensor<S, E, Cpu>,
    mut tape: T,
    backward: impl 'static + FnOnce(&mut Gradients<E, Cpu>, &[E]) -> Result<(), CpuError>,
) -> Tensor<S, E, Cpu, T> {
    if T::OWNS_TAPE {
        let out_id = out.clone();
        tape.add_backward_op(move |grads| {
            let dout = take_grad(grads, &out_id)?;
            backward(grads, &dout)?;
            restore_grad(grads, &out_id, dout)
        });
    }
    out.put_tape(tape)
}

/// Moves the gradient of `t` out of the store (allocating zeros if nothing reached it); the
/// backward hands it back with [`restore_grad`] so the store keeps its shape.
fn take_grad<S: Shape, E: Dtype>(
    grads: &mut Gradients<E, Cpu>,
    t: &Tensor<S, E, Cpu>,
) -> Result<Vec<E>, CpuError> {
    Ok(std::mem::take(&mut **grads.get_or_alloc_mut(t)?))
}

fn restore_grad<S: Shape, E: Dtype>(
    grads: &mut Gradients<E, Cpu>,
    t: &Tensor<S, E, Cpu>,
    values: Vec<E>,
) -> Result<(), CpuError> {
    **grads.get_or_alloc_mut(t)? = values;
    Ok(())
}

fn grad_mut<'g, S: Shape, E: Dtype>(
    grads: &'g mut Gradients<E, Cpu>,
    t: &Tensor<S, E, Cpu>,
) -> Result<&'g mut [E], CpuError> {
    Ok(&mut grads.get_or_alloc_mut(t)?[..])
}

fn add_to<E: Dtype>(acc: &mut [E], values: &[E]) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += *v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sera_core::SplitMix64;

    const B: usize = 2;
    const S: usize = 7;
    const DH: usize = 4;

    fn random(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect()
    }

    /// Row 0 packs two samples (segments 1 and 2), row 1 holds one sample and padding.
    fn batch(dev: &Cpu, rng: &mut SplitMix64) -> DeviceBatch<f64, Cpu> {
        let segment: Vec<u32> = vec![1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0];
        let mut position = Vec::new();
        for row in segment.chunks(S) {
            let mut p = 0;
            for (i, &s) in row.iter().enumerate() {
                p = if i > 0 && s != row[i - 1] {
                    0
                } else if i > 0 {
                    p + 1
                } else {
                    0
                };
                position.push(p);
            }
        }
        let targets: Vec<u32> = (0..(B * S) as u32).map(|i| i % 5).collect();
        let weights: Vec<f64> =
            segment.iter().map(|&s| if s == 0 { 0.0 } else { rng.next_f64() }).collect();
        let ids = |v: &[u32]| dev.tensor_from_vec(v.iter().map(|&x| x as usize).collect(), (B, S));
        DeviceBatch {
            inputs: ids(&targets),
            positions: ids(&position),
            targets: ids(&targets),
            weights: dev.tensor_from_vec(weights.clone(), (B, S)),
            segment_host: segment,
            position_host: position,
            target_host: targets,
            weight_host: weights,
        }
    }

    fn tables(dev: &Cpu, rng: &mut SplitMix64) -> RopeTables<f64, Cpu> {
        let (cos, sin) = (random(rng, S * DH), random(rng, S * DH));
        let mut swap = vec![0.0; DH * DH];
        for j in 0..DH {
            swap[((j + DH / 2) % DH) * DH + j] = 1.0;
        }
        RopeTables {
            cos: dev.tensor_from_vec(cos.clone(), (S, DH)),
            sin: dev.tensor_from_vec(sin.clone(), (S, DH)),
            swap: dev.tensor_from_vec(swap, (DH, DH)),
            cos_host: cos,
            sin_host: sin,
        }
    }

    /// Asserts that two runs agree to rounding: values, then each gradient.
    fn assert_close(fused: &[Vec<f64>], reference: &[Vec<f64>]) {
        for (k, (a, b)) in fused.iter().zip(reference).enumerate() {
            assert_eq!(a.len(), b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let err = (x - y).abs() / (1e-9 + x.abs().max(y.abs()));
                assert!(err < 1e-9, "output {k}[{i}]: fused {x}, reference {y}");
            }
        }
    }

    /// `sum(out * r)` for a fixed random `r`, whose gradient reaches every input.
    fn project(out: Activations<f64, Cpu, OwnedTape<f64, Cpu>>, r: &[f64]) -> Gradients<f64, Cpu> {
        let r = out.device().tensor_from_vec(r.to_vec(), *out.shape());
        (out * r).sum::<(), _>().backward()
    }

    #[test]
    fn fused_norm_with_and_without_rope_matches_the_dfdx_composition() {
        let dev = Cpu::seed_from_u64(0);
        let mut rng = SplitMix64::new(1);
        let batch = batch(&dev, &mut rng);
        let tables = tables(&dev, &mut rng);
        let rope = RopeArgs { tables: &tables, batch: &batch, scale: 0.5 };
        for (width, gain_len, rope) in [(12, 12, None), (12, DH, Some(&rope))] {
            let x = dev.tensor_from_vec(random(&mut rng, B * S * width), (B, S, width));
            let gain = dev.tensor_from_vec(random(&mut rng, gain_len), (gain_len,));
            let r = random(&mut rng, B * S * width);
            let run = |fused: bool| {
                let out = if fused {
                    dev.norm(x.leaky_trace(), &gain, 1e-6, rope)
                } else {
                    reference::norm(x.leaky_trace(), &gain, 1e-6, rope)
                };
                let values = out.retaped::<NoneTape>().as_vec();
                let g = project(out, &r);
                vec![values, g.get(&x).as_vec(), g.get(&gain).as_vec()]
            };
            assert_close(&run(true), &run(false));
        }
    }

    #[test]
    fn fused_attention_with_shared_kv_heads_matches_the_dfdx_composition() {
        let dev = Cpu::seed_from_u64(0);
        let mut rng = SplitMix64::new(2);
        let batch = batch(&dev, &mut rng);
        for (heads, kv_heads) in [(2, 2), (4, 2), (3, 1)] {
            let t = |rng: &mut SplitMix64, h: usize| {
                dev.tensor_from_vec(random(rng, B * S * h * DH), (B, S, h * DH))
            };
            let (q, k, v) = (t(&mut rng, heads), t(&mut rng, kv_heads), t(&mut rng, kv_heads));
            let r = random(&mut rng, B * S * heads * DH);
            let run = |fused: bool| {
                let (qt, kt, vt) = (q.leaky_trace(), k.leaky_trace(), v.leaky_trace());
                let out = if fused {
                    dev.attention(qt, kt, vt, &batch, DH)
                } else {
                    reference::attention(qt, kt, vt, &batch, DH)
                };
                let values = out.retaped::<NoneTape>().as_vec();
                let g = project(out, &r);
                vec![values, g.get(&q).as_vec(), g.get(&k).as_vec(), g.get(&v).as_vec()]
            };
            assert_close(&run(true), &run(false));
        }
    }

    #[test]
    fn fused_swiglu_and_nll_match_the_dfdx_composition() {
        let dev = Cpu::seed_from_u64(0);
        let mut rng = SplitMix64::new(3);
        let batch = batch(&dev, &mut rng);
        let gate = dev.tensor_from_vec(random(&mut rng, B * S * 6), (B, S, 6));
        let up = dev.tensor_from_vec(random(&mut rng, B * S * 6), (B, S, 6));
        let r = random(&mut rng, B * S * 6);
        let run = |fused: bool| {
            let (g, u) = (gate.leaky_trace(), up.leaky_trace());
            let out = if fused { dev.swiglu(g, u) } else { reference::swiglu(g, u) };
            let values = out.retaped::<NoneTape>().as_vec();
            let grads = project(out, &r);
            vec![values, grads.get(&gate).as_vec(), grads.get(&up).as_vec()]
        };
        assert_close(&run(true), &run(false));

        let logits = dev.tensor_from_vec(random(&mut rng, B * S * 5), (B, S, 5));
        let run = |fused: bool| {
            let loss = if fused {
                dev.nll(logits.leaky_trace(), &batch)
            } else {
                reference::nll(logits.leaky_trace(), &batch)
            };
            let value = loss.retaped::<NoneTape>().as_vec();
            let g = loss.backward();
            vec![value, g.get(&logits).as_vec()]
        };
        assert_close(&run(true), &run(false));
    }
}
