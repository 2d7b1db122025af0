//! The run report: `report.html` and `plots/*.svg`, what a person looks at after a run.
//!
//! Charts are drawn as SVG by hand: they carry their own titles and labels, render in any
//! browser offline, and need no font or plotting library. The training loss plot is the PNG
//! that `sera-train` writes, embedded as it is. The report holds no timestamps, so the same run
//! gives the same report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::rundir::{Manifest, write_atomic};
use crate::{Error, Result};

/// Writes `report.html` and `plots/` into the run directory `dir` from the files the stages
/// left there; stages that did not run are left out of the report. Returns the number of charts.
pub fn write(dir: &Path) -> Result<usize> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|err| Error::io(&plots, err))?;
    let manifest = Manifest::load(dir)?;
    let mutants = read_values(&dir.join("mutants.jsonl"))?;
    let instances = read_values(&dir.join("instances.jsonl"))?;
    let rejected = read_values(&dir.join("rejected.jsonl"))?;
    let trajectories = read_values(&dir.join("trajectories.jsonl"))?;

    let mut html = String::new();
    let name = dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>sera run {name}</title><style>{STYLE}</style></head><body>\n\
         <h1>sera run <code>{}</code></h1>\n",
        escape(&name)
    );

    html.push_str(
        "<h2>Stages</h2>\n<table><tr><th>stage</th><th>status</th><th>counts</th></tr>\n",
    );
    // The report stage is the one writing this; its own row would always say "running".
    for stage in crate::run::STAGES.iter().filter(|stage| **stage != "report") {
        if let Some(entry) = manifest.stages.get(*stage) {
            let counts: Vec<String> =
                entry.counts.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
            let _ = writeln!(
                html,
                "<tr><td>{stage}</td><td>{}</td><td>{}</td></tr>",
                format!("{:?}", entry.status).to_lowercase(),
                counts.join(", ")
            );
        }
    }
    html.push_str("</table>\n");
    rejection_table(&mut html, &rejected);

    let mut charts: Vec<(&str, String)> = Vec::new();
    if !mutants.is_empty() {
        let mut funnel = vec![("candidates".to_string(), mutants.len() as f64)];
        let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
        for rejection in &rejected {
            let reason = rejection["reason"].as_str().unwrap_or("unknown").replace('_', " ");
            *reasons.entry(reason).or_default() += 1.0;
        }
        funnel.extend(reasons);
        funnel.push(("kept".to_string(), instances.len() as f64));
        charts.push(("funnel", bar_chart("The mutant funnel", "mutants", &funnel)));
        charts.push((
            "classes",
            bar_chart(
                "Bug classes of the kept instances",
                "instances",
                &tally(&instances, "classes"),
            ),
        ));
        charts.push((
            "operators",
            bar_chart(
                "Operators of the kept instances",
                "instances",
                &tally(&instances, "operator"),
            ),
        ));
    }
    if !trajectories.is_empty() {
        let recalls: Vec<f64> = trajectories.iter().filter_map(|t| t["recall"].as_f64()).collect();
        charts.push((
            "recall",
            histogram("Line recall of the target patch", "recall", &recalls, 0.0, 1.0, 10),
        ));
        let turns: Vec<f64> = trajectories
            .iter()
            .map(|t| {
                t["messages"].as_array().map_or(0, |messages| {
                    messages.iter().filter(|m| m["role"] == "assistant").count()
                }) as f64
            })
            .collect();
        // One bin per turn count up to 40 turns, wider bins beyond.
        let most = turns.iter().copied().fold(1.0, f64::max) as usize;
        let bins = (most + 1).min(40);
        let high = (most + 1).div_ceil(bins) * bins;
        charts.push((
            "lengths",
            histogram("Trajectory lengths", "assistant turns", &turns, 0.0, high as f64, bins),
        ));
    }
    if !charts.is_empty() {
        html.push_str("<h2>Charts</h2>\n");
    }
    for (file, svg) in &charts {
        let path = plots.join(format!("{file}.svg"));
        write_atomic(&path, svg.as_bytes())?;
        let _ = writeln!(html, "<figure>{svg}</figure>");
    }

    if dir.join("train/loss.png").exists() {
        html.push_str(
            "<h2>Training</h2>\n<p>Training loss per optimizer step (blue) and validation loss \
             (red points); both axes start at 0. Metrics per step are in \
             <a href=\"train/metrics.jsonl\">train/metrics.jsonl</a>.</p>\n\
             <img src=\"train/loss.png\" alt=\"training loss\" width=\"800\">\n",
        );
    }

    let comparison = dir.join("eval/eval.json");
    if comparison.exists() {
        let bytes = std::fs::read(&comparison).map_err(|err| Error::io(&comparison, err))?;
        let comparison: crate::eval::Comparison = serde_json::from_slice(&bytes)
            .map_err(|err| Error::Data(format!("{}: {err}", comparison.display())))?;
        let links: Vec<String> =
            comparison.agents.iter().map(|a| format!("eval/{}/", a.label)).collect();
        html.push_str("<h2>Evaluation</h2>\n");
        html.push_str(&crate::eval::compare::section(&comparison, &links));
    }

    if let Some(instance) = instances.first() {
        let _ = write!(
            html,
            "<h2>An instance</h2>\n<p><code>{}</code> in <code>{}</code>, operator \
             <code>{}</code>.</p>\n<h3>Problem statement</h3>\n<pre>{}</pre>\n\
             <h3>Gold fix</h3>\n<pre>{}</pre>\n",
            escape(instance["id"].as_str().unwrap_or_default()),
            escape(instance["entity"].as_str().unwrap_or_default()),
            escape(instance["operator"].as_str().unwrap_or_default()),
            escape(instance["problem_statement"].as_str().unwrap_or_default()),
            escape(instance["gold_patch"].as_str().unwrap_or_default()),
        );
    }

    html.push_str("<h2>Files</h2>\n<ul>\n");
    for file in [
        "run.toml",
        "manifest.json",
        "functions.jsonl",
        "mutants.jsonl",
        "instances.jsonl",
        "rejected.jsonl",
        "trajectories.jsonl",
        "verified.jsonl",
        "dataset/README.md",
        "dataset/stats.json",
        "eval/eval.json",
        "eval/report.html",
        "logs/run.log",
    ] {
        if dir.join(file).exists() {
            let _ = writeln!(html, "<li><a href=\"{file}\">{file}</a></li>");
        }
    }
    html.push_str("</ul>\n</body></html>\n");
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(charts.len())
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;\
    padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;\
    padding:.2em .6em;text-align:left}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}\
    figure{margin:1.5em 0}";

/// Every record of a JSONL file as JSON values; a missing file has none.
fn read_values(path: &Path) -> Result<Vec<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(Error::io(path, err)),
    }
}

/// Counts the values of `field` (a string or an array of strings) over `records`, largest first.
fn tally(records: &[Value], field: &str) -> Vec<(String, f64)> {
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for record in records {
        match &record[field] {
            Value::String(value) => *counts.entry(value.clone()).or_default() += 1.0,
            Value::Array(values) => {
                for value in values.iter().filter_map(Value::as_str) {
                    *counts.entry(value.to_string()).or_default() += 1.0;
                }
            }
            _ => {}
        }
    }
    let mut counts: Vec<(String, f64)> = counts.into_iter().collect();
    // Largest first; ties stay in name order (the sort is stable).
    counts.sort_by(|a, b| b.1.total_cmp(&a.1));
    counts
}

/// A horizontal bar chart with one labelled bar per entry and its value at the bar's end.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    const LABEL: f64 = 330.0;
    const WIDTH: f64 = 760.0;
    const ROW: f64 = 22.0;
    let height = 50.0 + ROW * bars.len() as f64 + 20.0;
    let most = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0);
    let span = WIDTH - LABEL - 60.0;
    let mut svg = svg_open(WIDTH, height, title);
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 40.0 + ROW * i as f64;
        let width = span * value / most;
        let _ = writeln!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL:.0}\" y=\"{:.0}\" width=\"{width:.1}\" height=\"{:.0}\" fill=\"#4c78a8\"/>\
             <text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
            LABEL - 8.0,
            y + 15.0,
            escape(label),
            y + 3.0,
            ROW - 6.0,
            LABEL + width + 5.0,
            y + 15.0,
            number(*value)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.0}\" y=\"{:.0}\" class=\"axis\">{}</text></svg>",
        LABEL,
        height - 8.0,
        escape(unit)
    );
    svg
}

/// A histogram of `values` over `bins` equal bins of `low..high` (the last bin includes `high`).
pub fn histogram(
    title: &str,
    unit: &str,
    values: &[f64],
    low: f64,
    high: f64,
    bins: usize,
) -> String {
    const WIDTH: f64 = 760.0;
    const HEIGHT: f64 = 300.0;
    const LEFT: f64 = 50.0;
    const BOTTOM: f64 = 250.0;
    let mut counts = vec![0usize; bins];
    let width = (high - low) / bins as f64;
    for value in values {
        let bin = (((value - low) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar = (WIDTH - LEFT - 20.0) / bins as f64;
    let mut svg = svg_open(WIDTH, HEIGHT, title);
    for (i, count) in counts.iter().enumerate() {
        let x = LEFT + bar * i as f64;
        let h = (BOTTOM - 50.0) * *count as f64 / most;
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4c78a8\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{count}</text>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
            x + 1.0,
            BOTTOM - h,
            bar - 2.0,
            x + bar / 2.0,
            BOTTOM - h - 4.0,
            BOTTOM + 16.0,
            number(low + width * i as f64)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"axis\">{}</text>\
         <line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{:.0}\" y2=\"{BOTTOM}\" stroke=\"#888\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"axis\">{} ({} values)</text></svg>",
        LEFT + bar * bins as f64,
        BOTTOM + 16.0,
        number(high),
        WIDTH - 20.0,
        WIDTH / 2.0,
        HEIGHT - 12.0,
        escape(unit),
        values.len()
    );
    svg
}

fn svg_open(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\
         <style>.axis{{fill:#555}}</style><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    )
}

/// A number as a person writes it: no trailing `.0`, at most two decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// Why mutants were rejected: each reason with its count and what a person can do about it.
fn rejection_table(html: &mut String, rejected: &[serde_json::Value]) {
    let mut reasons: BTreeMap<sera_verify::RejectReason, usize> = BTreeMap::new();
    for rejection in rejected {
        if let Ok(reason) = serde_json::from_value(rejection["reason"].clone()) {
            *reasons.entry(reason).or_default() += 1;
        }
    }
    if reasons.is_empty() {
        return;
    }
    html.push_str(
        "<h2>Why mutants were rejected</h2>\n<table><tr><th>reason</th><th>mutants</th>\
         <th>what it means</th></tr>\n",
    );
    for (reason, count) in reasons {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{count}</td><td>{}</td></tr>",
            reason.name(),
            escape(reason.hint())
        );
    }
    html.push_str(
        "</table>\n<p>Each rejected mutant, with what was seen, is in \
         <a href=\"rejected.jsonl\">rejected.jsonl</a>.</p>\n",
    );
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rejections_are_counted_by_reason_with_what_to_do() {
        let rejected: Vec<serde_json::Value> = ["unviable", "timeout", "unviable", "bogus"]
            .iter()
            .map(|reason| serde_json::json!({"reason": reason}))
            .collect();
        let mut html = String::new();
        rejection_table(&mut html, &rejected);
        assert!(
            html.contains("<td>unviable</td><td>2</td><td>the mutant does not compile"),
            "{html}"
        );
        assert!(html.contains("<td>timeout</td><td>1</td>"), "{html}");
        assert!(html.contains("[validate] timeout_factor"), "{html}");
        let mut none = String::new();
        rejection_table(&mut none, &[]);
        assert!(none.is_empty());
    }

    use super::*;

    #[test]
    fn histogram_counts_every_value_once_and_the_top_edge_in_the_last_bin() {
        let svg = histogram("t", "recall", &[0.0, 0.05, 0.5, 1.0, 1.0], 0.0, 1.0, 10);
        // Bin labels 0 .. 0.9, counts at the bar tops: two in the first bin, one in the sixth,
        // two in the last.
        assert!(svg.contains(">2</text><text x=\"50.0\""), "{svg}");
        assert!(svg.contains("recall (5 values)"));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart("a <b>", "n", &[("x & y".into(), 3.0)]);
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("x &amp; y"));
    }

    #[test]
    fn tally_counts_strings_and_arrays_largest_first() {
        let records: Vec<Value> = vec![
            serde_json::json!({"c": ["a", "b"]}),
            serde_json::json!({"c": ["b"]}),
            serde_json::json!({"c": "b"}),
        ];
        assert_eq!(tally(&records, "c"), vec![("b".to_string(), 3.0), ("a".to_string(), 1.0)]);
    }
}
