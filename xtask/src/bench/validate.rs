//! `cargo xtask bench validate [--crate NAME] [--mutants N] [--jobs J]`: validate the same
//! mutants of a real crates.io crate (from `~/.cargo/registry/src`, built offline) with sera and
//! with cargo-mutants, and print the median seconds per mutant of each and their ratio.
//!
//! The mutants are cargo-mutants' own (`cargo mutants --list --json`), every k-th of the list,
//! converted to sera `Mutant`s from their diffs, so both tools build and test identical code.
//! Per-mutant time excludes each tool's baseline: for cargo-mutants the sum of the build and
//! test phases in `mutants.out/outcomes.json`, for sera the time between consecutive outcomes
//! (apply, build, test, compare, reset). Both run `jobs` jobs (default 1) on fresh copies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sera_core::{ByteSpan, Language, Mutant, Patch};
use sera_sandbox::{Sandbox, SandboxConfig};
use sera_verify::{Outcome, ValidateConfig, Validator, VerifyError};

pub fn run(_root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut krate = "strsim".to_string();
    let mut count = 16usize;
    let mut jobs = 1usize;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--crate" => krate = value()?.clone(),
            "--mutants" => count = value()?.parse()?,
            "--jobs" => jobs = value()?.parse()?,
            other => bail!("unknown argument {other:?} (expected --crate, --mutants, --jobs)"),
        }
    }
    ensure_cargo_mutants()?;
    let source = registry_crate(&krate)?;
    let work = std::env::temp_dir().join(format!("sera-bench-validate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    copy_tree(&source, &work.join("for-sera"))?;
    copy_tree(&source, &work.join("for-cargo-mutants"))?;
    println!("bench validate: {} ({}), {count} mutants, {jobs} job(s)", krate, source.display());

    let listed = list_mutants(&work.join("for-sera"))?;
    let step = (listed.len() / count.max(1)).max(1);
    let chosen: Vec<&serde_json::Value> = listed.iter().step_by(step).take(count).collect();
    let names: Vec<String> =
        chosen.iter().map(|m| m["name"].as_str().unwrap_or_default().to_string()).collect();
    let mutants: Vec<Mutant> =
        chosen.iter().map(|m| to_sera_mutant(&krate, m)).collect::<anyhow::Result<_>>()?;
    println!("  {} mutants listed by cargo-mutants, every {step}th taken", listed.len());

    // sera
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let config = ValidateConfig {
        jobs,
        cache_dir: Some(work.join("sera-cache")),
        ..ValidateConfig::default()
    };
    let started = Instant::now();
    let validator = Validator::new(&sandbox, &work.join("for-sera"), &config)?;
    let sera_baseline = started.elapsed();
    let mut sera_times = Vec::new();
    let mut sera_results = Vec::new();
    let mut last = Instant::now();
    let sera_start = last;
    validator.validate::<VerifyError, _>(&mutants, |_, outcome| {
        let now = Instant::now();
        sera_times.push(now - last);
        last = now;
        sera_results.push(match outcome {
            Outcome::Kept(_) => "kept".to_string(),
            Outcome::Rejected(r) => r.reason.name().to_string(),
        });
        Ok(())
    })?;
    let sera_total = sera_start.elapsed();

    // cargo-mutants
    let regex = format!("^({})$", names.iter().map(|n| escape(n)).collect::<Vec<_>>().join("|"));
    let out_dir = work.join("cargo-mutants-out");
    let started = Instant::now();
    #[allow(clippy::disallowed_methods)]
    // xtask is a developer tool; sera itself spawns via sera-sandbox.
    let status = Command::new("cargo")
        .args(["mutants", "--no-shuffle", "--jobs", &jobs.to_string(), "--re", &regex, "--output"])
        .arg(&out_dir)
        .arg("--dir")
        .arg(work.join("for-cargo-mutants"))
        .status()
        .context("running cargo mutants")?;
    let cm_total = started.elapsed();
    // cargo-mutants exits non-zero when mutants are missed; its outcomes file is what counts.
    let _ = status;
    let (cm_times, cm_results, cm_baseline) =
        read_outcomes(&out_dir.join("mutants.out/outcomes.json"))?;
    if cm_times.len() != mutants.len() {
        bail!("cargo-mutants tested {} mutants, sera {}", cm_times.len(), mutants.len());
    }

    println!();
    println!("  {:<60} {:>8} {:>16} {:>8}", "mutant", "sera s", "sera", "c-m s");
    for (i, name) in names.iter().enumerate() {
        let short: String = name.chars().take(60).collect();
        let cm = cm_results.get(name).map(|(s, t)| format!("{t:>8.2} {s}")).unwrap_or_default();
        println!("  {short:<60} {:>8.2} {:>16} {cm}", sera_times[i].as_secs_f64(), sera_results[i]);
    }
    let sera_median = median(&sera_times);
    let cm_median = median(&cm_times);
    println!();
    println!(
        "  sera:          median {:.2} s/mutant (total {:.1} s; baseline {:.1} s: build + 2 clean runs)",
        sera_median,
        sera_total.as_secs_f64(),
        sera_baseline.as_secs_f64()
    );
    println!(
        "  cargo-mutants: median {:.2} s/mutant (total {:.1} s incl. its baseline {:.1} s)",
        cm_median,
        cm_total.as_secs_f64(),
        cm_baseline
    );
    println!("  ratio (cargo-mutants / sera): {:.2}x", cm_median / sera_median.max(1e-9));
    // Same verdict: kept ~ caught, not caught ~ missed, unviable ~ unviable, timeout ~ timeout.
    let agree = names
        .iter()
        .zip(&sera_results)
        .filter(|(name, sera)| {
            let cm = cm_results.get(*name).map_or("", |(s, _)| s.as_str());
            matches!(
                (sera.as_str(), cm),
                ("kept" | "no pass-to-pass", "CaughtMutant")
                    | ("not caught", "MissedMutant")
                    | ("unviable", "Unviable")
                    | ("timeout", "Timeout")
            )
        })
        .count();
    println!("  same verdict from both tools: {agree}/{}", names.len());
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

pub(super) fn ensure_cargo_mutants() -> anyhow::Result<()> {
    #[allow(clippy::disallowed_methods)] // xtask is a developer tool.
    let found = Command::new("cargo").args(["mutants", "--version"]).output();
    match found {
        Ok(out) if out.status.success() => Ok(()),
        _ => bail!("cargo-mutants is not installed: `cargo install cargo-mutants --locked`"),
    }
}

/// The newest `NAME-x.y.z` directory under `$CARGO_HOME/registry/src/*/`.
fn registry_crate(name: &str) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let mut found: Vec<(Vec<u64>, PathBuf)> = Vec::new();
    for index in
        std::fs::read_dir(home.join("registry/src")).context("no cargo registry sources")?
    {
        for entry in std::fs::read_dir(index?.path())? {
            let entry = entry?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(version) = file_name.strip_prefix(&format!("{name}-")) else { continue };
            let Some(parsed) =
                version.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u64>>>()
            else {
                continue;
            };
            found.push((parsed, entry.path()));
        }
    }
    found.sort();
    found.pop().map(|(_, path)| path).with_context(|| format!("no {name}-* in the cargo registry"))
}

pub(super) fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_name() == "target" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

pub(super) fn list_mutants(dir: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    #[allow(clippy::disallowed_methods)] // xtask is a developer tool.
    let out = Command::new("cargo")
        .args(["mutants", "--list", "--json", "--diff", "--dir"])
        .arg(dir)
        .output()
        .context("cargo mutants --list")?;
    if !out.status.success() {
        bail!("cargo mutants --list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// A cargo-mutants mutant as a sera `Mutant`: its diff, with git-style file headers.
pub(super) fn to_sera_mutant(krate: &str, m: &serde_json::Value) -> anyhow::Result<Mutant> {
    let file = m["file"].as_str().context("mutant without file")?.to_string();
    let name = m["name"].as_str().context("mutant without name")?.to_string();
    let diff = m["diff"].as_str().context("mutant without diff (cargo mutants --diff)")?;
    let body = diff.splitn(3, '\n').nth(2).context("diff without hunks")?;
    let patch = Patch::parse(&format!("--- a/{file}\n+++ b/{file}\n{body}"))
        .with_context(|| format!("diff of {name}"))?;
    Ok(Mutant {
        id: sera_core::stable_id("m", &[krate, &name]),
        repo: krate.to_string(),
        commit: None,
        file,
        language: Language::Rust,
        entity: m["function"]["function_name"].as_str().unwrap_or_default().to_string(),
        entity_id: String::new(),
        operator: m["genre"].as_str().unwrap_or("cargo-mutants").to_string(),
        classes: Vec::new(),
        description: name,
        span: ByteSpan { start: 0, end: 0 },
        patch,
    })
}

pub(super) type Outcomes = (Vec<Duration>, std::collections::BTreeMap<String, (String, f64)>, f64);

/// Per-mutant durations (build + test phases) and summaries, and the baseline's duration.
pub(super) fn read_outcomes(path: &Path) -> anyhow::Result<Outcomes> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let mut times = Vec::new();
    let mut results = std::collections::BTreeMap::new();
    let mut baseline = 0.0;
    for outcome in json["outcomes"].as_array().context("no outcomes")? {
        let seconds: f64 = outcome["phase_results"]
            .as_array()
            .map(|phases| phases.iter().filter_map(|p| p["duration"].as_f64()).sum())
            .unwrap_or(0.0);
        match outcome["scenario"]["Mutant"]["name"].as_str() {
            Some(name) => {
                times.push(Duration::from_secs_f64(seconds));
                let summary = outcome["summary"].as_str().unwrap_or("?").to_string();
                results.insert(name.to_string(), (summary, seconds));
            }
            None => baseline = seconds,
        }
    }
    Ok((times, results, baseline))
}

fn median(times: &[Duration]) -> f64 {
    let mut seconds: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    seconds.sort_by(f64::total_cmp);
    match seconds.len() {
        0 => 0.0,
        n if n % 2 == 1 => seconds[n / 2],
        n => (seconds[n / 2 - 1] + seconds[n / 2]) / 2.0,
    }
}

/// Escapes the characters that are special in a `regex` crate pattern.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
