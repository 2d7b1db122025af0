//! `cargo xtask bench train`: training throughput of sera-train's `tiny` model against the same
//! model, batch and optimizer in PyTorch, on the CPU with 2 threads each, in float32.
//!
//! 1. Builds sera-train's `throughput` example in release.
//! 2. Makes sure PyTorch imports (installs it with `python3 -m pip install torch` if missing,
//!    a large download).
//! 3. Alternates the two, `--rounds` times each, so that both see the same machine load (on 2
//!    shared cores a busy neighbour slows 2-thread training several times), and reports the
//!    median tokens/s of each, the ratio (target: sera-train at least 0.7 of PyTorch) and each
//!    side's peak resident memory.
//! 4. With `--cuda`, also builds the example with the `cuda` feature and reports its throughput
//!    (needs the CUDA toolkit and a GPU).
//!
//! PyTorch runs with `OMP_WAIT_POLICY=PASSIVE`, which keeps it from collapsing when the cores
//! are shared; numbers taken while other work runs on the machine are still only indicative.
//!
//! Both sides train every position of the same `--rows` random byte sequences of `--len` tokens per
//! step (no accumulation) with AdamW and global-norm clipping; each process does one untimed
//! warm-up step, then `--steps` timed steps. Options: `--steps N` (5), `--rows N` (4),
//! `--len N` (512), `--rounds N` (3), `--threads N` (2), `--cuda`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let o = Options::parse(args)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    println!("building sera-train's throughput example (release) ...");
    build(root, &[])?;
    let example = target.join("release/examples/throughput");

    let config = output(command(&example).args(["--print-config", "tiny"]))?;
    ensure_torch()?;
    let script = target.join("bench-train.py");
    std::fs::write(&script, include_str!("train_torch.py"))?;

    let shape = [o.steps.to_string(), o.rows.to_string(), o.len.to_string()];
    let threads = o.threads.to_string();
    println!(
        "cores: {}; {} rounds of {} steps of {} x {} tokens, {} threads each",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        o.rounds,
        o.steps,
        o.rows,
        o.len,
        o.threads
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 1..=o.rounds {
        let r =
            measure(command(&example).arg("tiny").args(&shape).env("RAYON_NUM_THREADS", &threads))?;
        println!("  round {round} sera-train: {}", r.line);
        ours.push(r);
        let r = measure(
            command("python3")
                .arg(&script)
                .arg(config.trim())
                .args(&shape)
                .arg(&threads)
                .env("OMP_NUM_THREADS", &threads)
                // Idle OpenMP threads sleep instead of spinning: on 2 shared cores a spinning
                // thread steals the other's time slice and PyTorch slows several times.
                .env("OMP_WAIT_POLICY", "PASSIVE"),
        )?;
        println!("  round {round} pytorch:    {}", r.line);
        theirs.push(r);
    }
    let (a, b) = (median(&ours), median(&theirs));
    println!("\nsera-train (dfdx, f32, CPU): {:>8.0} tokens/s   peak RSS {:>5.0} MB", a.0, a.1);
    println!("pytorch    (f32, CPU):       {:>8.0} tokens/s   peak RSS {:>5.0} MB", b.0, b.1);
    println!("ratio sera-train / pytorch:  {:.2}   (target >= 0.70)", a.0 / b.0);

    if o.cuda {
        println!("\nbuilding with --features cuda ...");
        build(root, &["--features", "cuda"])?;
        let r = measure(command(&example).arg("tiny").args(&shape))?;
        println!("sera-train (dfdx, f32, CUDA): {}", r.line);
    }
    Ok(())
}

struct Options {
    steps: usize,
    rows: usize,
    len: usize,
    rounds: usize,
    threads: usize,
    cuda: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut o = Options { steps: 5, rows: 4, len: 512, rounds: 3, threads: 2, cuda: false };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--cuda" {
                o.cuda = true;
                continue;
            }
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            let n: usize = value.parse().with_context(|| format!("{flag} {value}"))?;
            match flag.as_str() {
                "--steps" => o.steps = n,
                "--rows" => o.rows = n,
                "--len" => o.len = n,
                "--rounds" => o.rounds = n,
                "--threads" => o.threads = n,
                _ => bail!("unknown option {flag}"),
            }
        }
        if o.steps == 0 || o.rows == 0 || o.len == 0 || o.rounds == 0 || o.threads == 0 {
            bail!("every option must be positive");
        }
        Ok(o)
    }
}

struct Run {
    tokens_per_s: f64,
    peak_mb: f64,
    line: String,
}

fn build(root: &Path, extra: &[&str]) -> anyhow::Result<()> {
    let status = command("cargo")
        .args(["build", "--release", "--quiet", "-p", "sera-train", "--example", "throughput"])
        .args(extra)
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the throughput example failed");
    }
    Ok(())
}

fn ensure_torch() -> anyhow::Result<()> {
    let probe = command("python3").args(["-c", "import torch"]).output();
    if probe.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    println!("PyTorch is missing; installing it with pip (a large download) ...");
    let status = command("python3")
        .args(["-m", "pip", "install", "--quiet", "torch"])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install torch failed");
    }
    Ok(())
}

fn measure(cmd: &mut Command) -> anyhow::Result<Run> {
    let line = output(cmd)?;
    let line = line.lines().last().unwrap_or_default().to_string();
    let value: serde_json::Value =
        serde_json::from_str(&line).with_context(|| format!("not a JSON result: {line}"))?;
    let get = |key: &str| value.get(key).and_then(serde_json::Value::as_f64);
    let (Some(tokens_per_s), Some(peak_mb)) = (get("tokens_per_s"), get("peak_rss_mb")) else {
        bail!("result without tokens_per_s or peak_rss_mb: {line}");
    };
    Ok(Run { tokens_per_s, peak_mb, line })
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Median tokens/s and the peak memory of the same run.
fn median(runs: &[Run]) -> (f64, f64) {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.tokens_per_s.total_cmp(&b.tokens_per_s));
    let mid = sorted[sorted.len() / 2];
    (mid.tokens_per_s, mid.peak_mb)
}

#[allow(clippy::disallowed_methods)]
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    Command::new(program)
}
