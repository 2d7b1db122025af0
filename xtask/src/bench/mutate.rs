//! `cargo xtask bench mutate [CRATE_DIR]`: mutant enumeration speed of `sera mutate` against
//! `cargo mutants --list`, on the same large real Rust crate in the same run.
//!
//! The crate defaults to the newest `syn` 2.x source in the local cargo registry (then
//! `regex-syntax`, then `clap_builder`), copied to a temporary directory so neither tool sees
//! anything else. Each command runs three times; the fastest wall time counts, which is the
//! least noisy figure on a shared machine.
//!
//! Three figures for sera, because they answer different questions:
//! - `sera mutate --limit 0`: index, parse and enumerate every candidate, write nothing; the
//!   like-for-like counterpart of `cargo mutants --list`, which enumerates and prints names;
//! - `sera mutate --per-function 0`: additionally re-parse-check every candidate and write its
//!   unified diff, i.e. the full stage output;
//! - the candidates count, next to cargo-mutants' count, to show the enumeration is comparable.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let source = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => default_crate()?,
    };
    let scratch = std::env::temp_dir().join(format!("sera-bench-mutate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let krate = scratch.join(source.file_name().context("crate directory has a name")?);
    copy_dir(&source, &krate)?;
    let result = measure(root, &krate, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure(root: &Path, krate: &Path, scratch: &Path) -> anyhow::Result<()> {
    ensure_cargo_mutants()?;
    // A target directory of its own: other checkouts sharing `target/` may overwrite
    // `target/release/sera` with a build of different sources while the bench runs.
    let target = root.join("target/bench-mutate");
    eprintln!("building sera (release) in {}...", target.display());
    let status = Command::new("cargo")
        .args(["build", "--release", "-q", "-p", "sera-cli", "--target-dir"])
        .arg(&target)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p sera-cli failed");
    }
    let sera = target.join("release/sera");
    let rust_lines = count_rust_lines(krate)?;
    println!("crate: {} ({rust_lines} lines of Rust)", krate.display());

    // cargo-mutants: enumerate only. Offline, so that `cargo metadata` uses the local registry.
    let (cm_time, cm_out) = best_of(3, || {
        let mut cmd = Command::new("cargo");
        cmd.args(["mutants", "--list", "--dir"]).arg(krate).env("CARGO_NET_OFFLINE", "true");
        cmd
    })?;
    let cm_count = cm_out.stdout.lines().filter(|l| !l.trim().is_empty()).count();

    // sera: enumerate only (candidates counted, nothing sampled or written).
    let (enum_time, enum_out) = best_of(3, || {
        let mut cmd = Command::new(&sera);
        cmd.arg("mutate")
            .arg(krate)
            .args(["--limit", "0", "--out"])
            .arg(scratch.join("none.jsonl"));
        cmd
    })?;
    let candidates = candidates_from(&enum_out.stderr)?;

    // sera: every candidate re-parse-checked and written with its patch.
    let all = scratch.join("all.jsonl");
    let (full_time, _) = best_of(3, || {
        let mut cmd = Command::new(&sera);
        cmd.arg("mutate").arg(krate).args(["--per-function", "0", "--out"]).arg(&all);
        cmd
    })?;
    let written = std::fs::read_to_string(&all)?.lines().count();

    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    let cm_rate = rate(cm_count, cm_time);
    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>12} {:>8}",
        "command", "mutants", "seconds", "mutants/s", "ratio"
    );
    let row = |name: &str, n: usize, t: Duration| {
        let r = rate(n, t);
        println!("{name:<44} {n:>9} {:>9.3} {r:>12.0} {:>7.1}x", t.as_secs_f64(), r / cm_rate);
    };
    row("cargo mutants --list", cm_count, cm_time);
    row("sera mutate --limit 0 (candidates)", candidates, enum_time);
    row("sera mutate --per-function 0 (with patches)", written, full_time);
    println!();
    println!("ratio = mutants per second relative to cargo mutants --list; fastest of 3 runs each");
    Ok(())
}

struct Output {
    stdout: String,
    stderr: String,
}

/// Runs the command `n` times and returns the fastest wall time and that run's output.
fn best_of(n: usize, make: impl Fn() -> Command) -> anyhow::Result<(Duration, Output)> {
    let mut best: Option<(Duration, Output)> = None;
    for _ in 0..n {
        let mut cmd = make();
        cmd.stdin(Stdio::null());
        let started = Instant::now();
        let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
        let took = started.elapsed();
        if !out.status.success() {
            bail!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        let output = Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if best.as_ref().is_none_or(|(t, _)| took < *t) {
            best = Some((took, output));
        }
    }
    best.context("at least one run")
}

/// The candidates count from `sera mutate`'s summary ("... N mutants from M candidates ...").
fn candidates_from(stderr: &str) -> anyhow::Result<usize> {
    let words: Vec<&str> = stderr.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "candidates")
        .context("no candidates count in the summary")?;
    Ok(words[at - 1].parse()?)
}

fn ensure_cargo_mutants() -> anyhow::Result<()> {
    let installed = Command::new("cargo")
        .args(["mutants", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(());
    }
    eprintln!("installing cargo-mutants from crates.io (takes a few minutes)...");
    let status = Command::new("cargo").args(["install", "cargo-mutants", "--locked"]).status()?;
    if !status.success() {
        bail!("cargo install cargo-mutants --locked failed");
    }
    Ok(())
}

/// The newest of a few large, dependency-light crates found in the local cargo registry.
fn default_crate() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let mut dirs = Vec::new();
    for registry in std::fs::read_dir(home.join("registry/src"))? {
        for entry in std::fs::read_dir(registry?.path())? {
            dirs.push(entry?.path());
        }
    }
    for prefix in ["syn-2.", "regex-syntax-", "clap_builder-"] {
        let mut found: Vec<&PathBuf> = dirs
            .iter()
            .filter(|d| d.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
            .collect();
        found.sort_by_key(|d| version_key(d));
        if let Some(dir) = found.last() {
            return Ok((*dir).clone());
        }
    }
    bail!(
        "no syn, regex-syntax or clap_builder source in {}; pass a crate directory",
        home.display()
    )
}

fn version_key(dir: &Path) -> Vec<u64> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let version = name.rsplit('-').next().unwrap_or("");
    version.split(['.', '+']).map(|p| p.parse().unwrap_or(0)).collect()
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn count_rust_lines(dir: &Path) -> anyhow::Result<usize> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            total += count_rust_lines(&path)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            total += std::fs::read_to_string(&path).map(|t| t.lines().count()).unwrap_or(0);
        }
    }
    Ok(total)
}
