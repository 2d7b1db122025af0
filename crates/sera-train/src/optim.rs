//! AdamW with decoupled weight decay, global-norm gradient clipping, and a warm-up then cosine
//! learning-rate schedule, on plain `f32` vectors.
//!
//! The optimizer lives outside the tensor backend so that its whole state (both moments and the
//! step count) can be checkpointed and restored exactly: dfdx 0.13's `Adam` keeps its moments in
//! private fields, which would make a resumed run diverge from an uninterrupted one.

use rayon::prelude::*;

use crate::config::TrainConfig;

/// Elements per parallel block of the update: a fixed size, so that the result does not depend
/// on the number of threads.
const BLOCK: usize = 1 << 14;

/// The learning rate of 0-based optimizer step `step`: linear warm-up to `lr` over
/// `warmup_steps`, then cosine decay to `lr * min_lr_ratio` at the last step.
pub fn learning_rate(cfg: &TrainConfig, step: usize) -> f64 {
    if step < cfg.warmup_steps {
        return cfg.lr * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    let decay_steps = cfg.steps.saturating_sub(cfg.warmup_steps).max(1);
    let progress = ((step - cfg.warmup_steps) as f64 / decay_steps as f64).min(1.0);
    let min = cfg.lr * cfg.min_lr_ratio;
    min + 0.5 * (cfg.lr - min) * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// The optimizer state: first and second moments per parameter, and the steps taken.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    pub step: u64,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

impl AdamW {
    /// Zero moments shaped like `sizes`.
    pub fn new(sizes: &[usize]) -> Self {
        AdamW {
            step: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// One update of `params` from `grads` at learning rate `lr`; `decay[i]` says whether
    /// parameter i is weight-decayed (matrices are, norm gains are not). Returns the global
    /// gradient norm before clipping.
    pub fn update(
        &mut self,
        cfg: &TrainConfig,
        lr: f64,
        params: &mut [Vec<f32>],
        grads: &[Vec<f32>],
        decay: &[bool],
    ) -> f64 {
        // Sums of squares per fixed block, added in order: deterministic whatever the threads.
        let norm = grads
            .iter()
            .flat_map(|g| {
                g.par_chunks(BLOCK)
                    .map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>())
                    .collect::<Vec<f64>>()
            })
            .sum::<f64>()
            .sqrt();
        let clip =
            if cfg.grad_clip > 0.0 && norm > cfg.grad_clip { cfg.grad_clip / norm } else { 1.0 };
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (cfg.beta1 as f32, cfg.beta2 as f32);
        let bias1 = 1.0 - cfg.beta1.powi(t);
        let bias2 = 1.0 - cfg.beta2.powi(t);
        let step_size = (lr / bias1) as f32;
        let bias2_sqrt = bias2.sqrt() as f32;
        let eps = cfg.adam_eps as f32;
        let clip = clip as f32;
        for i in 0..params.len() {
            let shrink = if decay[i] { 1.0 - (lr * cfg.weight_decay) as f32 } else { 1.0 };
            params[i]
                .par_chunks_mut(BLOCK)
                .zip(grads[i].par_chunks(BLOCK))
                .zip(self.m[i].par_chunks_mut(BLOCK))
                .zip(self.v[i].par_chunks_mut(BLOCK))
                .for_each(|(((p, g), m), v)| {
                    for j in 0..p.len() {
                        let g = g[j] * clip;
                        m[j] = b1 * m[j] + (1.0 - b1) * g;
                        v[j] = b2 * v[j] + (1.0 - b2) * g * g;
                        p[j] = p[j] * shrink - step_size * m[j] / (v[j].sqrt() / bias2_sqrt + eps);
                    }
                });
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_linearly_then_decays_to_the_floor() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup_steps: 4,
            steps: 14,
            min_lr_ratio: 0.1,
            ..TrainConfig::default()
        };
        assert_eq!(learning_rate(&cfg, 0), 0.25);
        assert_eq!(learning_rate(&cfg, 3), 1.0);
        assert!((learning_rate(&cfg, 4) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&cfg, 14) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn adamw_first_step_moves_each_weight_by_the_learning_rate() {
        let cfg = TrainConfig { weight_decay: 0.0, grad_clip: 0.0, ..TrainConfig::default() };
        let mut params = vec![vec![1.0f32, -1.0]];
        let mut opt = AdamW::new(&[2]);
        opt.update(&cfg, 0.1, &mut params, &[vec![3.0, -0.5]], &[true]);
        assert!((params[0][0] - 0.9).abs() < 1e-6 && (params[0][1] + 0.9).abs() < 1e-6);
    }
}
