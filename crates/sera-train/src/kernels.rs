//! Fused CPU kernels on plain slices: RMSNorm with rotary embeddings, causal attention, SwiGLU
//! and the weighted negative log-likelihood, each with its hand-written backward pass.
//!
//! dfdx 0.13 builds these from many single-threaded element-wise passes, each allocating a
//! tensor (softmax alone is five passes over `batch x heads x len x len`), which cost more than
//! half of a `tiny` training step on two cores. Here each is one or two passes, split over rayon
//! in fixed-size blocks, and attention computes only the causal half of its scores with the
//! `gemm` crate (the one dfdx's matmul uses).
//!
//! Results do not depend on the number of threads: work is split in blocks whose size is fixed,
//! every block writes its own output, and partial sums are added in block order afterwards.
//! This module knows nothing of dfdx; `model` wires these kernels into its tape.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use rayon::prelude::*;

/// The float types the kernels run on (`f32` for training, `f64` for gradient checks).
pub trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn from_usize(n: usize) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn from_usize(n: usize) -> Self {
                n as $t
            }
        }
    };
}
real!(f32);
real!(f64);

/// Rotary embedding and output scale applied after an RMSNorm of head-sized rows.
///
/// Rows are heads: row `r` belongs to token `r / heads`, whose rotary position is
/// `positions[r / heads]`. `cos` and `sin` are `(context, head_dim)` tables, `sin` negated in
/// its first half, so that `rope(z) = z * cos + swap_halves(z) * sin`.
#[derive(Debug, Clone, Copy)]
pub struct Rope<'a, E> {
    pub cos: &'a [E],
    pub sin: &'a [E],
    pub positions: &'a [u32],
    pub heads: usize,
    /// Multiplies the output (the attention's `1 / sqrt(head_dim)` on queries).
    pub scale: E,
}

/// `y = rope(gain * x / rms(x)) * scale` per row of `gain.len()` values (without `rope`, just
/// the RMSNorm times the gain). Returns `y` and each row's `1 / rms`, which the backward reuses.
pub fn norm_forward<E: Real>(
    x: &[E],
    gain: &[E],
    eps: E,
    rope: Option<&Rope<'_, E>>,
) -> (Vec<E>, Vec<E>) {
    let d = gain.len();
    let rows = x.len() / d;
    let mut y = vec![E::ZERO; x.len()];
    let mut inv = vec![E::ZERO; rows];
    y.par_chunks_mut(ROWS * d).zip(inv.par_chunks_mut(ROWS)).enumerate().for_each(
        |(block, (y, inv))| {
            let mut z = vec![E::ZERO; d];
            for (i, (y, inv)) in y.chunks_exact_mut(d).zip(inv.iter_mut()).enumerate() {
                let r = block * ROWS + i;
                let x = &x[r * d..(r + 1) * d];
                *inv = inv_rms(x, eps);
                for j in 0..d {
                    z[j] = x[j] * *inv * gain[j];
                }
                match rope {
                    None => y.copy_from_slice(&z),
                    Some(rope) => {
                        let (cos, sin) = rope.tables(r, d);
                        let half = d / 2;
                        for j in 0..d {
                            let swapped = if j < half { z[j + half] } else { z[j - half] };
                            y[j] = (z[j] * cos[j] + swapped * sin[j]) * rope.scale;
                        }
                    }
                }
            }
        },
    );
    (y, inv)
}

/// The backward of [`norm_forward`]: adds the input gradient to `dx` and the gain gradient to
/// `dgain`, given the output gradient `dy` and the forward's `inv`.
pub fn norm_backward<E: Real>(
    x: &[E],
    gain: &[E],
    inv: &[E],
    rope: Option<&Rope<'_, E>>,
    dy: &[E],
    dx: &mut [E],
    dgain: &mut [E],
) {
    let d = gain.len();
    let partials: Vec<Vec<E>> = dx
        .par_chunks_mut(ROWS * d)
        .enumerate()
        .map(|(block, dx)| {
            let mut dg = vec![E::ZERO; d];
            let mut dz = vec![E::ZERO; d];
            for (i, dx) in dx.chunks_exact_mut(d).enumerate() {
                let r = block * ROWS + i;
                let (x, dy) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
                match rope {
                    None => dz.copy_from_slice(dy),
                    Some(rope) => {
                        let (cos, sin) = rope.tables(r, d);
                        let half = d / 2;
                        for j in 0..d {
                            let k = if j < half { j + half } else { j - half };
                            dz[j] = (dy[j] * cos[j] + dy[k] * sin[k]) * rope.scale;
                        }
                    }
                }
                let mut dot = E::ZERO;
                for j in 0..d {
                    let n = x[j] * inv[r];
                    dg[j] += dz[j] * n;
                    dz[j] = dz[j] * gain[j];
                    dot += dz[j] * n;
                }
                let dot = dot / E::from_usize(d);
                for j in 0..d {
                    dx[j] += inv[r] * (dz[j] - x[j] * inv[r] * dot);
                }
            }
            dg
        })
        .collect();
    for partial in partials {
        for (acc, g) in dgain.iter_mut().zip(partial) {
            *acc += g;
        }
    }
}

/// Sizes of an attention call: `q` is `(batch, seq, heads, head_dim)`, `k` and `v` are
/// `(batch, seq, kv_heads, head_dim)`, row-major; query head `h` reads key/value head
/// `h / (heads / kv_heads)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttnShape {
    pub batch: usize,
    pub seq: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// What the attention backward needs from the forward: the attention probabilities of each
/// (batch row, key/value head) group, `group x seq x seq`, zero above the diagonal.
#[derive(Debug)]
pub struct AttnSaved<E> {
    probs: Vec<Vec<E>>,
}

/// Causal softmax attention `softmax(q k^T + mask) v` (queries come scaled), where position `i`
/// attends to `j` when `j <= i` and both have the same `segments` value. Returns the output,
/// `(batch, seq, heads, head_dim)`, and what the backward needs.
pub fn attention_forward<E: Real>(
    a: AttnShape,
    q: &[E],
    k: &[E],
    v: &[E],
    segments: &[u32],
) -> (Vec<E>, AttnSaved<E>) {
    let (s, dh, group) = (a.seq, a.head_dim, a.heads / a.kv_heads);
    let units: Vec<(Vec<E>, Vec<E>)> = (0..a.batch * a.kv_heads)
        .into_par_iter()
        .map(|unit| {
            let (b, g) = (unit / a.kv_heads, unit % a.kv_heads);
            let seg = &segments[b * s..(b + 1) * s];
            let mut probs = vec![E::ZERO; group * s * s];
            let mut out = vec![E::ZERO; group * s * dh];
            for local in 0..group {
                let h = g * group + local;
                let p = &mut probs[local * s * s..(local + 1) * s * s];
                for i0 in (0..s).step_by(CHUNK) {
                    let i1 = (i0 + CHUNK).min(s);
                    // Scores of rows i0..i1 against keys 0..i1, the causal part.
                    let m = Mat { rows: i1 - i0, cols: i1 };
                    matmul(
                        m,
                        dh,
                        (&mut p[i0 * s..], s),
                        false,
                        q_rows(a, q, b, i0, h),
                        kt(a, k, b, g),
                    );
                    for i in i0..i1 {
                        softmax_row(&mut p[i * s..i * s + i1], i, seg);
                    }
                    let m = Mat { rows: i1 - i0, cols: dh };
                    matmul(
                        m,
                        i1,
                        (&mut out[(local * s + i0) * dh..], dh),
                        false,
                        View { data: &p[i0 * s..], rs: s, cs: 1 },
                        kv_rows(a, v, b, g),
                    );
                }
            }
            (out, probs)
        })
        .collect();
    let mut out = vec![E::ZERO; q.len()];
    out.par_chunks_mut(s * a.heads * dh).enumerate().for_each(|(b, out)| {
        for g in 0..a.kv_heads {
            let o = &units[b * a.kv_heads + g].0;
            for local in 0..group {
                for i in 0..s {
                    let at = (i * a.heads + g * group + local) * dh;
                    out[at..at + dh].copy_from_slice(&o[(local * s + i) * dh..][..dh]);
                }
            }
        }
    });
    let probs = units.into_iter().map(|(_, p)| p).collect();
    (out, AttnSaved { probs })
}

/// The backward of [`attention_forward`] given the output gradient `dout`: the gradients of
/// `q`, `k` and `v`, which [`AttnGrads`] adds to the caller's buffers.
pub fn attention_backward<E: Real>(
    a: AttnShape,
    q: &[E],
    k: &[E],
    v: &[E],
    saved: &AttnSaved<E>,
    dout: &[E],
) -> AttnGrads<E> {
    let (s, dh, group) = (a.seq, a.head_dim, a.heads / a.kv_heads);
    let units: Vec<[Vec<E>; 3]> = saved
        .probs
        .par_iter()
        .enumerate()
        .map(|(unit, probs)| {
            let (b, g) = (unit / a.kv_heads, unit % a.kv_heads);
            let mut dq_u = vec![E::ZERO; group * s * dh];
            let mut dk_u = vec![E::ZERO; s * dh];
            let mut dv_u = vec![E::ZERO; s * dh];
            let mut ds = vec![E::ZERO; CHUNK.min(s) * s];
            for local in 0..group {
                let h = g * group + local;
                let p = &probs[local * s * s..(local + 1) * s * s];
                for i0 in (0..s).step_by(CHUNK) {
                    let i1 = (i0 + CHUNK).min(s);
                    let rows = i1 - i0;
                    // dP = dO V^T, then dS = P * (dP - rowsum(P * dP)).
                    matmul(
                        Mat { rows, cols: i1 },
                        dh,
                        (&mut ds, s),
                        false,
                        q_rows(a, dout, b, i0, h),
                        kt(a, v, b, g),
                    );
                    for i in 0..rows {
                        let (p, ds) = (&p[(i0 + i) * s..][..i1], &mut ds[i * s..][..i1]);
                        let mut delta = E::ZERO;
                        for j in 0..i1 {
                            delta += p[j] * ds[j];
                        }
                        for j in 0..i1 {
                            ds[j] = p[j] * (ds[j] - delta);
                        }
                    }
                    // dQ = dS K, dK += dS^T Q, dV += P^T dO.
                    matmul(
                        Mat { rows, cols: dh },
                        i1,
                        (&mut dq_u[(local * s + i0) * dh..], dh),
                        false,
                        View { data: &ds, rs: s, cs: 1 },
                        kv_rows(a, k, b, g),
                    );
                    matmul(
                        Mat { rows: i1, cols: dh },
                        rows,
                        (&mut dk_u, dh),
                        true,
                        View { data: &ds, rs: 1, cs: s },
                        q_rows(a, q, b, i0, h),
                    );
                    matmul(
                        Mat { rows: i1, cols: dh },
                        rows,
                        (&mut dv_u, dh),
                        true,
                        View { data: &p[i0 * s..], rs: 1, cs: s },
                        q_rows(a, dout, b, i0, h),
                    );
                }
            }
            [dq_u, dk_u, dv_u]
        })
        .collect();
    AttnGrads { a, units }
}

/// The gradients of an attention call per (batch row, key/value head) group.
#[derive(Debug)]
pub struct AttnGrads<E> {
    a: AttnShape,
    /// `group x seq x head_dim` for the queries, `seq x head_dim` for the key and the value.
    units: Vec<[Vec<E>; 3]>,
}

impl<E: Real> AttnGrads<E> {
    /// Adds the query gradient to `dq`, `(batch, seq, heads, head_dim)`.
    pub fn add_to_q(&self, dq: &mut [E]) {
        let a = self.a;
        let (s, dh, group) = (a.seq, a.head_dim, a.heads / a.kv_heads);
        // Batch rows are disjoint blocks of the gradient, each written by its own units.
        dq.par_chunks_mut(s * a.heads * dh).enumerate().for_each(|(b, dq)| {
            for g in 0..a.kv_heads {
                let dq_u = &self.units[b * a.kv_heads + g][0];
                for i in 0..s {
                    for local in 0..group {
                        let at = (i * a.heads + g * group + local) * dh;
                        add(&mut dq[at..at + dh], &dq_u[(local * s + i) * dh..][..dh]);
                    }
                }
            }
        });
    }

    /// Adds the key gradient to `dk`, `(batch, seq, kv_heads, head_dim)`.
    pub fn add_to_k(&self, dk: &mut [E]) {
        self.add_kv(1, dk);
    }

    /// Adds the value gradient to `dv`, `(batch, seq, kv_heads, head_dim)`.
    pub fn add_to_v(&self, dv: &mut [E]) {
        self.add_kv(2, dv);
    }

    fn add_kv(&self, which: usize, d: &mut [E]) {
        let a = self.a;
        let (s, dh) = (a.seq, a.head_dim);
        d.par_chunks_mut(s * a.kv_heads * dh).enumerate().for_each(|(b, d)| {
            for g in 0..a.kv_heads {
                let unit = &self.units[b * a.kv_heads + g][which];
                for i in 0..s {
                    let at = (i * a.kv_heads + g) * dh;
                    add(&mut d[at..at + dh], &unit[i * dh..][..dh]);
                }
            }
        });
    }
}

/// SwiGLU's gate: `silu(gate) * up`, element-wise.
pub fn swiglu_forward<E: Real>(gate: &[E], up: &[E]) -> Vec<E> {
    // An indexed parallel collect: each block writes its part, and no serial zeroing first.
    gate.par_iter().zip(up).with_min_len(ELEMS).map(|(&g, &u)| g * sigmoid(g) * u).collect()
}

/// The backward of [`swiglu_forward`] for `gate`: adds to `dgate`.
pub fn swiglu_backward_gate<E: Real>(gate: &[E], up: &[E], dout: &[E], dgate: &mut [E]) {
    dgate.par_chunks_mut(ELEMS).enumerate().for_each(|(block, dgate)| {
        let at = block * ELEMS;
        for (i, dg) in dgate.iter_mut().enumerate() {
            let (g, u, d) = (gate[at + i], up[at + i], dout[at + i]);
            let sg = sigmoid(g);
            *dg += d * u * sg * (E::ONE + g * (E::ONE - sg));
        }
    });
}

/// The backward of [`swiglu_forward`] for `up`: adds to `dup`.
pub fn swiglu_backward_up<E: Real>(gate: &[E], dout: &[E], dup: &mut [E]) {
    dup.par_chunks_mut(ELEMS).enumerate().for_each(|(block, dup)| {
        let at = block * ELEMS;
        for (i, du) in dup.iter_mut().enumerate() {
            let g = gate[at + i];
            *du += dout[at + i] * g * sigmoid(g);
        }
    });
}

/// `-sum_r weights[r] * log softmax(logits[r])[targets[r]]` over rows of `vocab` logits.
/// Rows of weight zero are skipped, so their logits and targets cannot affect anything.
/// Returns the loss and each row's log-sum-exp for the backward.
pub fn nll_forward<E: Real>(
    logits: &[E],
    vocab: usize,
    targets: &[u32],
    weights: &[E],
) -> (E, Vec<E>) {
    let mut lse = vec![E::ZERO; targets.len()];
    let mut terms = vec![E::ZERO; targets.len()];
    lse.par_chunks_mut(ROWS).zip(terms.par_chunks_mut(ROWS)).enumerate().for_each(
        |(block, (lse, terms))| {
            for (i, (lse, term)) in lse.iter_mut().zip(terms.iter_mut()).enumerate() {
                let r = block * ROWS + i;
                if weights[r] == E::ZERO {
                    continue;
                }
                let row = &logits[r * vocab..(r + 1) * vocab];
                *lse = log_sum_exp(row);
                *term = weights[r] * (*lse - row[targets[r] as usize]);
            }
        },
    );
    let mut loss = E::ZERO;
    for t in terms {
        loss += t;
    }
    (loss, lse)
}

/// The backward of [`nll_forward`] for a loss gradient `grad`: adds to `dlogits`.
pub fn nll_backward<E: Real>(
    logits: &[E],
    vocab: usize,
    targets: &[u32],
    weights: &[E],
    lse: &[E],
    grad: E,
    dlogits: &mut [E],
) {
    dlogits.par_chunks_mut(ROWS * vocab).enumerate().for_each(|(block, dlogits)| {
        for (i, d) in dlogits.chunks_exact_mut(vocab).enumerate() {
            let r = block * ROWS + i;
            if weights[r] == E::ZERO {
                continue;
            }
            let row = &logits[r * vocab..(r + 1) * vocab];
            let w = grad * weights[r];
            for j in 0..vocab {
                d[j] += w * (row[j] - lse[r]).exp();
            }
            d[targets[r] as usize] += -w;
        }
    });
}

/// Rows per parallel block of the row-wise kernels: a fixed size, so that results do not depend
/// on the thread count.
const ROWS: usize = 64;
/// Elements per parallel block of the element-wise kernels.
const ELEMS: usize = 1 << 14;
/// Query rows per attention block: scores are computed for keys up to the block's last row only.
const CHUNK: usize = 64;

impl<E: Real> Rope<'_, E> {
    /// The cos and sin rows of row `r`'s position.
    fn tables(&self, r: usize, d: usize) -> (&[E], &[E]) {
        let p = self.positions[r / self.heads] as usize;
        (&self.cos[p * d..(p + 1) * d], &self.sin[p * d..(p + 1) * d])
    }
}

fn inv_rms<E: Real>(x: &[E], eps: E) -> E {
    let mut sum = E::ZERO;
    for &v in x {
        sum += v * v;
    }
    E::ONE / (sum / E::from_usize(x.len()) + eps).sqrt()
}

fn sigmoid<E: Real>(x: E) -> E {
    E::ONE / (E::ONE + (-x).exp())
}

fn log_sum_exp<E: Real>(row: &[E]) -> E {
    let mut max = row[0];
    for &v in row {
        if v > max {
            max = v;
        }
    }
    let mut sum = E::ZERO;
    for &v in row {
        sum += (v - max).exp();
    }
    max + sum.ln()
}

/// Softmax in place over the entries of query `i` that it may attend to (keys `j <= i` of its
/// segment); every other entry becomes exactly zero.
fn softmax_row<E: Real>(row: &mut [E], i: usize, seg: &[u32]) {
    let allowed = |j: usize| j <= i && seg[j] == seg[i];
    let mut max = row[i];
    for (j, &v) in row.iter().enumerate() {
        if allowed(j) && v > max {
            max = v;
        }
    }
    let mut sum = E::ZERO;
    for (j, v) in row.iter_mut().enumerate() {
        *v = if allowed(j) { (*v - max).exp() } else { E::ZERO };
        sum += *v;
    }
    let inv = E::ONE / sum;
    for v in row.iter_mut() {
        *v = *v * inv;
    }
}

fn add<E: Real>(acc: &mut [E], values: &[E]) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += *v;
    }
}

/// Rows `i0..` of head `h` of batch row `b` in a `(batch, seq, heads, head_dim)` array.
fn q_rows<E: Real>(a: AttnShape, x: &[E], b: usize, i0: usize, h: usize) -> View<'_, E> {
    View {
        data: &x[((b * a.seq + i0) * a.heads + h) * a.head_dim..],
        rs: a.heads * a.head_dim,
        cs: 1,
    }
}

/// Rows `0..` of key/value head `g` of batch row `b` in a `(batch, seq, kv_heads, head_dim)`
/// array.
fn kv_rows<E: Real>(a: AttnShape, x: &[E], b: usize, g: usize) -> View<'_, E> {
    View {
        data: &x[(b * a.seq * a.kv_heads + g) * a.head_dim..],
        rs: a.kv_heads * a.head_dim,
        cs: 1,
    }
}

/// The transpose of [`kv_rows`]: `(head_dim, seq)`.
fn kt<E: Real>(a: AttnShape, x: &[E], b: usize, g: usize) -> View<'_, E> {
    let rows = kv_rows(a, x, b, g);
    View { data: rows.data, rs: 1, cs: rows.rs }
}

/// A strided matrix view starting at `data[0]`: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
struct View<'a, E> {
    data: &'a [E],
    rs: usize,
    cs: usize,
}

/// The size of a matmul's output.
#[derive(Clone, Copy)]
struct Mat {
    rows: usize,
    cols: usize,
}

/// `dst = lhs (out.rows x inner) . rhs (inner x out.cols)`, or `dst += ...` with `accumulate`;
/// `dst` is `(slice, row stride)` with unit column stride. Single-threaded: callers parallelise
/// over independent problems.
fn matmul<E: Real>(
    out: Mat,
    inner: usize,
    dst: (&mut [E], usize),
    accumulate: bool,
    lhs: View<'_, E>,
    rhs: View<'_, E>,
) {
    let (dst, dst_rs) = dst;
    if out.rows == 0 || out.cols == 0 || inner == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(last(out.rows, out.cols, dst_rs, 1) < dst.len(), "matmul: dst out of bounds");
    assert!(last(out.rows, inner, lhs.rs, lhs.cs) < lhs.data.len(), "matmul: lhs out of bounds");
    assert!(last(inner, out.cols, rhs.rs, rhs.cs) < rhs.data.len(), "matmul: rhs out of bounds");
    // SAFETY: the assertions above keep every element gemm reads or writes inside the slices,
    // `dst` is borrowed mutably so it aliases neither input, and the strides fit in isize
    // because each is at most a slice length.
    unsafe {
        gemm::gemm(
            out.rows,
            out.cols,
            inner,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            E::ONE,
            E::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
