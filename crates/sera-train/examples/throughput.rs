//! Training throughput of a preset on synthetic data, for `cargo xtask bench train`.
//!
//! Usage: `throughput [PRESET] [STEPS] [ROWS] [LEN]` (defaults: tiny 5 4 512), or
//! `throughput --print-config PRESET` for the preset as JSON. Every position
//! is trained, the micro-batch is the whole step (no accumulation), and the first step is a
//! warm-up that is not timed. Prints one JSON line: tokens per second, seconds per step, peak
//! resident memory (VmHWM) and the parameter count.

use std::time::Instant;

use sera_core::SplitMix64;
use sera_train::data::{Sample, Splits};
use sera_train::tokenizer::Tokenizer;
use sera_train::{Config, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--print-config") {
        // The baseline builds the same model from this.
        let preset = args.get(1).map_or("tiny", String::as_str);
        let config = Config::named(preset).ok_or(format!("unknown preset {preset}"))?;
        println!("{}", serde_json::to_string(&config)?);
        return Ok(());
    }
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let preset = arg(0, "tiny");
    let steps: usize = arg(1, "5").parse()?;
    let rows: usize = arg(2, "4").parse()?;
    let len: usize = arg(3, "512").parse()?;
    let mut config = Config::named(&preset).ok_or(format!("unknown preset {preset}"))?;
    config.train.micro_batch = rows;
    config.train.grad_accum = 1;
    config.train.steps = steps + 1;
    // A constant learning rate, as the PyTorch baseline uses, so that their losses can be
    // compared as a sanity check that both train the same model.
    config.train.warmup_steps = 0;
    config.train.min_lr_ratio = 1.0;
    let mut rng = SplitMix64::new(1);
    // One batch, trained on every step, as in the PyTorch baseline.
    let samples: Vec<Sample> = (0..rows)
        .map(|_| Sample {
            tokens: (0..=len).map(|_| rng.below(256) as u32).collect(),
            train: vec![true; len + 1],
        })
        .collect();
    let splits = Splits { train: samples, val: Vec::new(), train_records: rows, val_records: 0 };
    let mut trainer = Trainer::new(&config, &Tokenizer::Bytes, &splits)?;
    let first = trainer.step();
    let start = Instant::now();
    let mut last = first.clone();
    for _ in 0..steps {
        last = trainer.step();
    }
    let seconds = start.elapsed().as_secs_f64();
    let tokens = (steps * rows * len) as f64;
    let peak_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .unwrap_or(f64::NAN);
    println!(
        "{{\"impl\": \"dfdx\", \"tokens_per_s\": {:.1}, \"step_s\": {:.3}, \"peak_rss_mb\": {:.0}, \"params\": {}, \"first_loss\": {:.4}, \"last_loss\": {:.4}}}",
        tokens / seconds,
        seconds / steps as f64,
        peak_kb / 1024.0,
        trainer.num_params(),
        first.loss,
        last.loss
    );
    Ok(())
}
