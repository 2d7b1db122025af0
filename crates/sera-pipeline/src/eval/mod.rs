//! `sera eval`: did the agent get better on my repository? An agent (a served model, or the
//! oracle as a sanity baseline) is run on the repository's test-verified instances that were
//! held out of training, each patch is hard-verified with its FAIL_TO_PASS and PASS_TO_PASS
//! tests, and the resolve rate is reported overall, per bug class and per operator, pooled
//! over seeds with 95% Wilson intervals. Every unresolved rollout is classified (its exit
//! status, or `submitted_unresolved`).
//!
//! The held-out instances are the ones `sera export` puts in its validation split: the same
//! stable hash of the instance id and the same fraction, so a model trained on that export's
//! train split has never seen them.
//!
//! Every rollout's outcome is kept in `eval.json`, so that [`compare`] can set several agents'
//! evaluations of the same instances side by side (base against fine-tuned), paired by
//! instance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sera_core::{ExitStatus, Instance, Trajectory};
use sera_dataset::Split;
use serde::{Deserialize, Serialize};

use crate::rollout::{self, RolloutOptions};
use crate::{Error, Result, jsonl};

pub mod compare;

pub use compare::{Comparison, Paired, compare, compare_dirs};

/// Options of `sera eval`. Plain data; start from `EvalOptions::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Who plays the agent, and how its rollouts are verified (verification is always on).
    pub rollout: RolloutOptions,
    /// One rollout per instance per seed.
    pub seeds: Vec<u64>,
    /// The share of instances held out of training (`sera export --val-fraction`); 1.0
    /// evaluates every instance.
    pub held_out: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { rollout: RolloutOptions::default(), seeds: vec![0], held_out: 0.05 }
    }
}

/// Resolved out of attempted, with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub resolved: usize,
    pub attempted: usize,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    /// The rate of `resolved` in `attempted` with its Wilson interval (z = 1.96).
    pub fn of(resolved: usize, attempted: usize) -> Rate {
        if attempted == 0 {
            return Rate { resolved, attempted, rate: 0.0, low: 0.0, high: 0.0 };
        }
        let (k, n, z) = (resolved as f64, attempted as f64, 1.959_963_984_540_054);
        let p = k / n;
        let denominator = 1.0 + z * z / n;
        let centre = (p + z * z / (2.0 * n)) / denominator;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
        Rate {
            resolved,
            attempted,
            rate: p,
            // Exactly 0 and 1 at the ends, where rounding would leave 1e-17 or 0.99999...
            low: if resolved == 0 { 0.0 } else { (centre - half).max(0.0) },
            high: if resolved == attempted { 1.0 } else { (centre + half).min(1.0) },
        }
    }

    pub(crate) fn text(&self) -> String {
        format!(
            "{}/{} = {:.1}% (95% CI {:.1}-{:.1}%)",
            self.resolved,
            self.attempted,
            self.rate * 100.0,
            self.low * 100.0,
            self.high * 100.0
        )
    }
}

/// What `sera eval` measured; written as `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The agent's name as trajectories record it (`oracle`, `openai:MODEL`).
    pub agent: String,
    /// Instances read, and how many of them are held out (evaluated).
    pub instances: usize,
    pub held_out: usize,
    pub held_out_fraction: f64,
    pub seeds: Vec<u64>,
    pub overall: Rate,
    pub by_class: BTreeMap<String, Rate>,
    pub by_operator: BTreeMap<String, Rate>,
    /// Unresolved rollouts by why: an exit status, or `submitted_unresolved`.
    pub failures: BTreeMap<String, usize>,
    /// The trajectory files, one per seed, relative to the output folder.
    pub trajectories: Vec<String>,
    /// Every rollout's outcome, by instance id and then seed.
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
}

/// How one rollout of one held-out instance ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Outcome {
    pub instance_id: String,
    pub seed: u64,
    pub resolved: bool,
    /// Why it is not resolved: its exit status, or `submitted_unresolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl EvalReport {
    /// A few lines for stderr.
    pub fn summary(&self) -> String {
        let mut lines = vec![format!(
            "eval {}: {} held-out instances of {} x {} seeds: resolved {}",
            self.agent,
            self.held_out,
            self.instances,
            self.seeds.len(),
            self.overall.text()
        )];
        for (class, rate) in &self.by_class {
            lines.push(format!("  class {class}: {}", rate.text()));
        }
        if !self.failures.is_empty() {
            let failures: Vec<String> =
                self.failures.iter().map(|(why, n)| format!("{why} {n}")).collect();
            lines.push(format!("  unresolved: {}", failures.join(" · ")));
        }
        lines.join("\n")
    }
}

/// Whether the instance `id` is held out of training at `fraction`: in `sera export`'s
/// validation split, or always at 1.
pub fn is_held_out(id: &str, fraction: f64) -> bool {
    fraction >= 1.0 || Split::of(id, fraction) == Split::Val
}

/// Runs the evaluation of the instances in `instances`, writing the held-out instances, one
/// trajectory file per seed, `eval.json` and `report.html` into `out_dir`.
pub fn run(instances: &Path, out_dir: &Path, options: &EvalOptions) -> Result<EvalReport> {
    if !(0.0..=1.0).contains(&options.held_out) || options.held_out == 0.0 {
        return Err(Error::Usage("the held-out fraction lies in (0, 1]".into()));
    }
    if options.seeds.is_empty() {
        return Err(Error::Usage("give at least one seed".into()));
    }
    let read: jsonl::Records<Instance> = jsonl::read(instances)?;
    let held: Vec<&Instance> = read
        .records
        .iter()
        .filter(|instance| is_held_out(&instance.id, options.held_out))
        .collect();
    if held.is_empty() {
        return Err(Error::Data(format!(
            "{}: none of its {} instances is held out at fraction {} (pass --held-out 1 to \
             evaluate them all)",
            instances.display(),
            read.records.len(),
            options.held_out
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|err| Error::io(out_dir, err))?;
    let held_path = out_dir.join("held-out.jsonl");
    let mut writer = jsonl::Writer::create(&held_path)?;
    for instance in &held {
        writer.write(instance)?;
    }
    writer.finish()?;

    let by_id: BTreeMap<&str, &Instance> = held.iter().map(|i| (i.id.as_str(), *i)).collect();
    let mut tallies = Tallies::default();
    let mut outcomes = Vec::new();
    let mut files = Vec::new();
    let mut agent = String::new();
    for seed in &options.seeds {
        let mut rollout = options.rollout.clone();
        rollout.agent.seed = *seed;
        rollout.verify = true;
        let name = format!("trajectories-seed-{seed}.jsonl");
        let path: PathBuf = out_dir.join(&name);
        rollout::run(&held_path, &path, &rollout)?;
        let trajectories: jsonl::Records<Trajectory> = jsonl::read(&path)?;
        for trajectory in &trajectories.records {
            agent.clone_from(&trajectory.teacher);
            let instance = by_id.get(trajectory.instance_id.as_str()).copied();
            let failure = tallies.add(trajectory, instance);
            outcomes.push(Outcome {
                instance_id: trajectory.instance_id.clone(),
                seed: *seed,
                resolved: failure.is_none(),
                failure,
            });
        }
        files.push(name);
    }
    let report = EvalReport {
        agent,
        instances: read.records.len(),
        held_out: held.len(),
        held_out_fraction: options.held_out,
        seeds: options.seeds.clone(),
        overall: Rate::of(tallies.overall.0, tallies.overall.1),
        by_class: rates(&tallies.by_class),
        by_operator: rates(&tallies.by_operator),
        failures: tallies.failures,
        trajectories: files,
        outcomes: {
            outcomes.sort();
            outcomes
        },
    };
    compare::write_json(&report, &out_dir.join("eval.json"))?;
    let label = out_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    compare::write_page(&compare(vec![(label, report.clone())])?, out_dir, &[String::new()])?;
    Ok(report)
}

/// How many rollouts 2 one SVG run keeps at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rescored {
    pub threshold: f64,
    pub kept: usize,
    /// Rollouts 2 read (kept and discarded).
    pub of: usize,
}

/// SERA's own eval stage: finished SVG rollouts (the kept file and `svg-discarded.jsonl` of
/// one run) scored again at each of `thresholds`, without new rollouts. Only rollouts 2 count;
/// `sera export --min-recall` writes the trajectories kept at one of them.
pub fn rescore(files: &[PathBuf], thresholds: &[f64]) -> Result<Vec<Rescored>> {
    if let Some(bad) = thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(Error::Usage(format!("threshold {bad} does not lie in 0..=1")));
    }
    let mut seconds = Vec::new();
    for file in files {
        let read: jsonl::Records<Trajectory> = jsonl::read(file)?;
        seconds.extend(
            read.records.into_iter().filter(|t| t.kind == sera_core::RolloutKind::SvgSecond),
        );
    }
    if seconds.is_empty() {
        return Err(Error::Data(format!(
            "no SVG rollout 2 in {}",
            files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(thresholds
        .iter()
        .map(|&threshold| Rescored {
            threshold,
            kept: seconds.iter().filter(|t| rollout::keeps_second(t, threshold)).count(),
            of: seconds.len(),
        })
        .collect())
}

/// Resolved and attempted counts as they accumulate.
#[derive(Default)]
struct Tallies {
    overall: (usize, usize),
    by_class: BTreeMap<String, (usize, usize)>,
    by_operator: BTreeMap<String, (usize, usize)>,
    failures: BTreeMap<String, usize>,
}

impl Tallies {
    /// Counts one rollout; returns why it is not resolved, or `None` when it is.
    fn add(&mut self, trajectory: &Trajectory, instance: Option<&Instance>) -> Option<String> {
        let resolved = trajectory.resolved == Some(true);
        let count = |slot: &mut (usize, usize)| {
            slot.0 += usize::from(resolved);
            slot.1 += 1;
        };
        count(&mut self.overall);
        if let Some(instance) = instance {
            for class in &instance.classes {
                count(self.by_class.entry(class.clone()).or_default());
            }
            count(self.by_operator.entry(instance.operator.clone()).or_default());
        }
        if resolved {
            return None;
        }
        let why = match trajectory.exit_status {
            ExitStatus::Submitted => "submitted_unresolved".to_string(),
            other => rollout::status_name(other),
        };
        *self.failures.entry(why.clone()).or_default() += 1;
        Some(why)
    }
}

fn rates(counts: &BTreeMap<String, (usize, usize)>) -> BTreeMap<String, Rate> {
    counts.iter().map(|(key, (k, n))| (key.clone(), Rate::of(*k, *n))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_the_textbook_values() {
        // Wilson score intervals at z = 1.96 (statsmodels proportion_confint, method="wilson")
        let r = Rate::of(8, 10);
        assert!((r.low - 0.490_162).abs() < 1e-6 && (r.high - 0.943_318).abs() < 1e-6, "{r:?}");
        let all = Rate::of(5, 5);
        assert_eq!(all.rate, 1.0);
        assert!((all.low - 0.565_518).abs() < 1e-6 && all.high == 1.0, "{all:?}");
        let none = Rate::of(0, 20);
        assert!(none.low == 0.0 && (none.high - 0.161_125).abs() < 1e-6, "{none:?}");
        for n in 1..40 {
            assert_eq!((Rate::of(0, n).low, Rate::of(n, n).high), (0.0, 1.0), "n = {n}");
        }
        assert_eq!(Rate::of(0, 0).attempted, 0);
    }
}
