//! Agents side by side: several evaluations of the same held-out instances (say, the base model
//! and the fine-tuned one), each agent's rates in its own column, and every agent after the
//! first set against that first one, the baseline, paired by instance.
//!
//! The pairing is by instance, not by rollout: each agent's share of its seeds that resolved
//! one instance is that instance's score, and the difference of two agents is the mean of the
//! per-instance differences (the difference of their overall rates when they ran the same
//! seeds). Its 95% interval is a percentile bootstrap over instances, so rollouts of one
//! instance under several seeds are not counted as independent; it is seeded and exact to
//! repeat. The two-sided sign test over the instances where the agents differ gives the
//! p-value; with one seed it is the exact McNemar test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sera_core::SplitMix64;
use serde::{Deserialize, Serialize};

use super::{EvalReport, Rate};
use crate::report::{STYLE, bar_chart, escape};
use crate::rundir::write_atomic;
use crate::{Error, Result};

/// Bootstrap resamples behind each interval of a difference.
const RESAMPLES: usize = 10_000;

/// One agent's evaluation under the name it is shown with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    /// The name of its column: the folder its evaluation was written to, or the `[eval]`
    /// agent's name.
    pub label: String,
    #[serde(flatten)]
    pub report: EvalReport,
}

/// One agent set against the baseline over the instances both evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub agent: String,
    pub baseline: String,
    pub instances: usize,
    /// The agent's resolve rate minus the baseline's (mean of the per-instance differences).
    pub difference: f64,
    /// Its 95% paired-bootstrap interval.
    pub low: f64,
    pub high: f64,
    /// Instances the agent resolves more often than the baseline, less often, as often.
    pub better: usize,
    pub worse: usize,
    pub same: usize,
    /// Two-sided sign test over the `better + worse` instances where they differ.
    pub p_value: f64,
}

/// Several agents' evaluations of the same instances; written as `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The first agent's label: the one every other agent is set against.
    pub baseline: String,
    pub agents: Vec<Labelled>,
    /// Every agent but the baseline, against the baseline.
    pub paired: Vec<Paired>,
}

impl Comparison {
    /// A few lines for stderr.
    pub fn summary(&self) -> String {
        let mut lines: Vec<String> = self
            .agents
            .iter()
            .map(|a| {
                format!("{} ({}): resolved {}", a.label, a.report.agent, a.report.overall.text())
            })
            .collect();
        for paired in &self.paired {
            lines.push(format!("  {}", paired.text()));
        }
        lines.join("\n")
    }
}

impl Paired {
    fn text(&self) -> String {
        format!(
            "{} - {}: {:+.1} points (95% CI {:+.1} to {:+.1}), better on {}, worse on {}, \
             same on {} of {} instances, sign test p = {:.3}",
            self.agent,
            self.baseline,
            self.difference * 100.0,
            self.low * 100.0,
            self.high * 100.0,
            self.better,
            self.worse,
            self.same,
            self.instances,
            self.p_value
        )
    }
}

/// Sets the evaluations side by side, the first as the baseline. They must have evaluated the
/// same held-out instances (the same instances file and held-out fraction); the seeds may
/// differ.
pub fn compare(reports: Vec<(String, EvalReport)>) -> Result<Comparison> {
    let Some((baseline, first)) = reports.first() else {
        return Err(Error::Usage("compare needs at least one evaluation".into()));
    };
    let mut labels = BTreeSet::new();
    for (label, report) in &reports {
        if !labels.insert(label.as_str()) {
            return Err(Error::Usage(format!(
                "two evaluations are both named {label:?}; give each its own folder or name"
            )));
        }
        if report.outcomes.is_empty() {
            return Err(Error::Data(format!(
                "{label}: its eval.json lists no outcomes (an older sera wrote it); run \
                 `sera eval` again"
            )));
        }
    }
    let base_scores = scores(first);
    let mut paired = Vec::new();
    for (label, report) in &reports[1..] {
        let agent_scores = scores(report);
        if agent_scores.keys().ne(base_scores.keys()) {
            let odd = agent_scores
                .keys()
                .find(|id| !base_scores.contains_key(*id))
                .or_else(|| base_scores.keys().find(|id| !agent_scores.contains_key(*id)))
                .expect("the sets differ");
            return Err(Error::Data(format!(
                "{label} and {baseline} evaluated different instances ({odd} is in one only); \
                 evaluate both on the same instances file with the same --held-out"
            )));
        }
        let differences: Vec<f64> =
            agent_scores.iter().map(|(id, score)| score - base_scores[id]).collect();
        paired.push(pair(label, baseline, &differences));
    }
    Ok(Comparison {
        baseline: baseline.clone(),
        agents: reports.into_iter().map(|(label, report)| Labelled { label, report }).collect(),
        paired,
    })
}

/// Reads `eval.json` from each folder (labelled with the folder's name), compares them, and
/// writes the comparison's `eval.json` and `report.html` into `out_dir`.
pub fn compare_dirs(dirs: &[PathBuf], out_dir: &Path) -> Result<Comparison> {
    let mut reports = Vec::new();
    for dir in dirs {
        let path = dir.join("eval.json");
        let bytes = std::fs::read(&path).map_err(|err| Error::io(&path, err))?;
        let report: EvalReport = serde_json::from_slice(&bytes).map_err(|err| {
            Error::Data(format!("{}: not an eval.json of `sera eval`: {err}", path.display()))
        })?;
        let label = std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        reports.push((label, report));
    }
    let comparison = compare(reports)?;
    std::fs::create_dir_all(out_dir).map_err(|err| Error::io(out_dir, err))?;
    write_json(&comparison, &out_dir.join("eval.json"))?;
    // Links to each agent's files, relative to the output folder where that is possible.
    let links: Vec<String> = dirs.iter().map(|dir| relative_link(dir, out_dir)).collect();
    write_page(&comparison, out_dir, &links)?;
    Ok(comparison)
}

/// Writes an evaluation or a comparison as pretty JSON, atomically.
pub(crate) fn write_json(value: &impl Serialize, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("eval reports always serialize");
    write_atomic(path, (text + "\n").as_bytes())
}

/// Writes `report.html` for the comparison into `out_dir`, agent `i`'s trajectory files linked
/// under `links[i]` (its folder relative to `out_dir`, with a trailing `/`; empty when it is
/// `out_dir` itself).
pub(crate) fn write_page(comparison: &Comparison, out_dir: &Path, links: &[String]) -> Result<()> {
    let title: Vec<&str> = comparison.agents.iter().map(|a| a.label.as_str()).collect();
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>sera eval {}</title><style>{STYLE}</style></head><body>\n\
         <h1>sera eval</h1>\n",
        escape(&title.join(" vs "))
    );
    html.push_str(&section(comparison, links));
    html.push_str("</body></html>\n");
    write_atomic(&out_dir.join("report.html"), html.as_bytes())
}

/// The report's evaluation section: rates side by side, the paired differences, the failures,
/// and links to each agent's trajectories (under `links[i]`, a folder prefix for agent `i`).
pub(crate) fn section(comparison: &Comparison, links: &[String]) -> String {
    let agents = &comparison.agents;
    let mut html = String::new();
    let first = &agents[0].report;
    let _ = writeln!(
        html,
        "<p>{} held-out instances of {} (fraction {}); each cell is resolved/attempted \
         rollouts, the resolve rate and its 95% Wilson interval.</p>",
        first.held_out, first.instances, first.held_out_fraction
    );
    html.push_str("<table><tr><th></th>");
    for agent in agents {
        let _ = write!(
            html,
            "<th>{}<br><small><code>{}</code>, seeds {}</small></th>",
            escape(&agent.label),
            escape(&agent.report.agent),
            agent.report.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        );
    }
    html.push_str("</tr>\n");
    let mut row = |name: &str, rate: &dyn Fn(&EvalReport) -> Option<Rate>| {
        let _ = write!(html, "<tr><td>{}</td>", escape(name));
        for agent in agents {
            let cell = rate(&agent.report).map_or_else(|| "-".to_string(), |r| cell(&r));
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>\n");
    };
    row("overall", &|r| Some(r.overall));
    let classes: BTreeSet<&String> = agents.iter().flat_map(|a| a.report.by_class.keys()).collect();
    for class in classes {
        row(&format!("class {class}"), &|r| r.by_class.get(class).copied());
    }
    let operators: BTreeSet<&String> =
        agents.iter().flat_map(|a| a.report.by_operator.keys()).collect();
    for operator in operators {
        row(&format!("operator {operator}"), &|r| r.by_operator.get(operator).copied());
    }
    html.push_str("</table>\n");

    if !comparison.paired.is_empty() {
        let _ = writeln!(
            html,
            "<h3>Against {}</h3>\n<p>Paired by instance: the difference of resolve rates with \
             its 95% bootstrap interval over instances, the instances each agent resolves more \
             or less often than the baseline, and the two-sided sign test.</p>\n\
             <table><tr><th>agent</th><th>difference</th><th>95% CI</th><th>better</th>\
             <th>worse</th><th>same</th><th>p</th></tr>",
            escape(&comparison.baseline)
        );
        for p in &comparison.paired {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{:+.1} points</td><td>{:+.1} to {:+.1}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                escape(&p.agent),
                p.difference * 100.0,
                p.low * 100.0,
                p.high * 100.0,
                p.better,
                p.worse,
                p.same,
                p.p_value
            );
        }
        html.push_str("</table>\n");
    }

    let reasons: BTreeSet<&String> = agents.iter().flat_map(|a| a.report.failures.keys()).collect();
    if !reasons.is_empty() {
        html.push_str("<h3>Why rollouts were not resolved</h3>\n<table><tr><th>why</th>");
        for agent in agents {
            let _ = write!(html, "<th>{}</th>", escape(&agent.label));
        }
        html.push_str("</tr>\n");
        for reason in reasons {
            let _ = write!(html, "<tr><td>{}</td>", escape(reason));
            for agent in agents {
                let _ =
                    write!(html, "<td>{}</td>", agent.report.failures.get(reason).unwrap_or(&0));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table>\n");
    }

    let bars: Vec<(String, f64)> =
        agents.iter().map(|a| (a.label.clone(), a.report.overall.rate * 100.0)).collect();
    let _ = writeln!(html, "<figure>{}</figure>", bar_chart("Resolve rate", "% resolved", &bars));

    html.push_str("<p>Trajectories: ");
    let mut files = Vec::new();
    for (agent, prefix) in agents.iter().zip(links) {
        for file in &agent.report.trajectories {
            let href = format!("{prefix}{file}");
            files.push(format!(
                "<a href=\"{}\">{}</a>",
                escape(&href),
                escape(&format!("{} {file}", agent.label))
            ));
        }
    }
    html.push_str(&files.join(", "));
    html.push_str("</p>\n");
    html
}

fn cell(rate: &Rate) -> String {
    format!(
        "{}/{} = {:.1}% <small>({:.1}-{:.1})</small>",
        rate.resolved,
        rate.attempted,
        rate.rate * 100.0,
        rate.low * 100.0,
        rate.high * 100.0
    )
}

/// Each instance's score: the share of its rollouts (one per seed) that resolved it.
fn scores(report: &EvalReport) -> BTreeMap<&str, f64> {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for outcome in &report.outcomes {
        let slot = counts.entry(outcome.instance_id.as_str()).or_default();
        slot.0 += usize::from(outcome.resolved);
        slot.1 += 1;
    }
    counts.into_iter().map(|(id, (k, n))| (id, k as f64 / n as f64)).collect()
}

/// The paired statistics of per-instance differences `agent - baseline`.
fn pair(agent: &str, baseline: &str, differences: &[f64]) -> Paired {
    let n = differences.len();
    let mean = |values: &mut dyn Iterator<Item = f64>| values.sum::<f64>() / n as f64;
    let difference = mean(&mut differences.iter().copied());
    let mut rng = SplitMix64::derive(0, "eval-compare");
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| mean(&mut (0..n).map(|_| differences[rng.below(n as u64) as usize])))
        .collect();
    means.sort_by(f64::total_cmp);
    let better = differences.iter().filter(|d| **d > 0.0).count();
    let worse = differences.iter().filter(|d| **d < 0.0).count();
    Paired {
        agent: agent.to_string(),
        baseline: baseline.to_string(),
        instances: n,
        difference,
        low: means[RESAMPLES * 25 / 1000],
        high: means[RESAMPLES * 975 / 1000 - 1],
        better,
        worse,
        same: n - better - worse,
        p_value: sign_test(better, worse),
    }
}

/// The exact two-sided sign test: the chance, with no difference between the agents, of a
/// split of `better + worse` at least as uneven as this one.
pub fn sign_test(better: usize, worse: usize) -> f64 {
    let n = better + worse;
    let k = better.min(worse);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so that large n cannot overflow.
    let ln_half = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0_f64;
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half).exp();
    }
    (2.0 * tail).min(1.0)
}

/// `dir` as a link from `from`: relative when both share a parent, else absolute; with a
/// trailing `/`.
fn relative_link(dir: &Path, from: &Path) -> String {
    let (Ok(dir), Ok(from)) = (std::path::absolute(dir), std::path::absolute(from)) else {
        return format!("{}/", dir.display());
    };
    let common = dir.components().zip(from.components()).take_while(|(a, b)| a == b).count();
    let mut link = PathBuf::new();
    for _ in from.components().skip(common) {
        link.push("..");
    }
    for part in dir.components().skip(common) {
        link.push(part);
    }
    format!("{}/", link.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Outcome;

    fn report(agent: &str, outcomes: &[(&str, u64, bool)]) -> EvalReport {
        let resolved = outcomes.iter().filter(|o| o.2).count();
        EvalReport {
            agent: agent.into(),
            instances: 10,
            held_out: outcomes.iter().map(|o| o.0).collect::<BTreeSet<_>>().len(),
            held_out_fraction: 1.0,
            seeds: vec![0],
            overall: Rate::of(resolved, outcomes.len()),
            by_class: BTreeMap::new(),
            by_operator: BTreeMap::new(),
            failures: match outcomes.len() - resolved {
                0 => BTreeMap::new(),
                n => BTreeMap::from([("step_limit".to_string(), n)]),
            },
            trajectories: vec!["trajectories-seed-0.jsonl".into()],
            outcomes: outcomes
                .iter()
                .map(|&(id, seed, resolved)| Outcome {
                    instance_id: id.into(),
                    seed,
                    resolved,
                    failure: (!resolved).then(|| "step_limit".into()),
                })
                .collect(),
        }
    }

    #[test]
    fn the_sign_test_is_exact() {
        // 12 against 2: 2 * (C(14,0) + C(14,1) + C(14,2)) / 2^14 = 2 * 106 / 16384.
        assert!((sign_test(12, 2) - 212.0 / 16384.0).abs() < 1e-15);
        assert!((sign_test(2, 12) - sign_test(12, 2)).abs() < 1e-15);
        // 5 of 5 one way: 2 / 32.
        assert!((sign_test(5, 0) - 0.0625).abs() < 1e-15);
        assert_eq!(sign_test(3, 3), 1.0);
        assert_eq!(sign_test(0, 0), 1.0);
        // Large counts stay finite and tiny.
        let p = sign_test(3000, 1000);
        assert!(p > 0.0 && p < 1e-100, "{p}");
    }

    #[test]
    fn agents_are_paired_by_instance_and_seeds_are_not_counted_as_instances() {
        let base = report("oracle", &[("a", 0, true), ("b", 0, false), ("c", 0, false)]);
        // Two seeds: `a` resolved once of twice, `b` and `c` always.
        let mut ft = report(
            "openai:ft",
            &[
                ("a", 0, true),
                ("a", 1, false),
                ("b", 0, true),
                ("b", 1, true),
                ("c", 0, true),
                ("c", 1, true),
            ],
        );
        ft.seeds = vec![0, 1];
        let comparison = compare(vec![("base".into(), base), ("ft".into(), ft)]).unwrap();
        let p = &comparison.paired[0];
        assert_eq!((p.instances, p.better, p.worse, p.same), (3, 2, 1, 0));
        // Differences -0.5, +1, +1.
        assert!((p.difference - 0.5).abs() < 1e-12);
        assert!(p.low <= p.difference && p.difference <= p.high);
        assert!(p.low >= -0.5 && p.high <= 1.0);
        assert!((p.p_value - 1.0).abs() < 1e-12, "2 against 1 is no evidence");
        // Seeded: the same inputs give the same interval.
        let again = compare(
            comparison.agents.iter().map(|a| (a.label.clone(), a.report.clone())).collect(),
        )
        .unwrap();
        assert_eq!(again, comparison);
    }

    #[test]
    fn identical_agents_differ_by_exactly_nothing() {
        let outcomes = [("a", 0, true), ("b", 0, false)];
        let comparison = compare(vec![
            ("one".into(), report("oracle", &outcomes)),
            ("two".into(), report("oracle", &outcomes)),
        ])
        .unwrap();
        let p = &comparison.paired[0];
        assert_eq!((p.difference, p.low, p.high, p.same, p.p_value), (0.0, 0.0, 0.0, 2, 1.0));
    }

    #[test]
    fn evaluations_of_different_instances_or_with_one_name_are_refused() {
        let one = report("oracle", &[("a", 0, true)]);
        let other = report("oracle", &[("b", 0, true)]);
        let err = compare(vec![("x".into(), one.clone()), ("y".into(), other)]).unwrap_err();
        assert!(err.to_string().contains("evaluated different instances"), "{err}");
        let err = compare(vec![("x".into(), one.clone()), ("x".into(), one)]).unwrap_err();
        assert!(err.to_string().contains("both named \"x\""), "{err}");
    }

    #[test]
    fn the_page_sets_rates_side_by_side_and_escapes_labels() {
        let base = report("oracle", &[("a", 0, true), ("b", 0, true)]);
        let weak = report("openai:<tiny>", &[("a", 0, false), ("b", 0, false)]);
        let comparison = compare(vec![("base".into(), base), ("tiny".into(), weak)]).unwrap();
        let html = section(&comparison, &["base/".into(), "tiny/".into()]);
        assert!(html.contains("<td>overall</td><td>2/2 = 100.0%"), "{html}");
        assert!(html.contains("<td>0/2 = 0.0%"), "{html}");
        assert!(html.contains("openai:&lt;tiny&gt;"), "{html}");
        assert!(html.contains("<td>step_limit</td><td>0</td><td>2</td>"), "{html}");
        assert!(html.contains("<td>-100.0 points</td>"), "{html}");
        assert!(html.contains("href=\"tiny/trajectories-seed-0.jsonl\""), "{html}");
    }

    #[test]
    fn links_are_relative_between_sibling_folders() {
        assert_eq!(relative_link(Path::new("/r/eval/base"), Path::new("/r/eval/cmp")), "../base/");
        assert_eq!(relative_link(Path::new("/r/eval/base"), Path::new("/r/eval")), "base/");
    }
}
