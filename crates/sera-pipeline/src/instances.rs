//! `sera export-instances`: test-verified instances as SWE-bench or SWE-smith task rows, each
//! with its bug committed on a branch of the repository (`sera-env`'s bug commits), its test
//! names mapped into the key space of the harness's log parser (`sera-verify`'s runners) and
//! its row written by `sera-dataset`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sera_core::Instance;
use sera_dataset::Split;
pub use sera_dataset::TaskFormat;
use sera_dataset::instances::{self, Task};
use sera_env::git::BugCommits;
use sera_sandbox::Isolation;

use crate::{Error, Result, jsonl};

/// What to export and how.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    pub format: TaskFormat,
    /// The repository the instances were made from, a git repository holding their commit.
    pub repo: PathBuf,
    /// `owner/name` in the rows; the instances' own repository name when `None`.
    pub repo_name: Option<String>,
    /// SWE-smith's `image_name`; [`instances::image_name`] when `None`.
    pub image: Option<String>,
    /// SWE-bench's `version`; the clean commit's first 8 digits when `None`.
    pub version: Option<String>,
    /// Only the instances `sera export` holds out at this fraction (its validation split).
    pub held_out: Option<f64>,
    /// Move branches that already point elsewhere.
    pub force: bool,
    pub isolation: Isolation,
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskReport {
    pub read: usize,
    pub written: usize,
    /// Instances outside the held-out split.
    pub not_held_out: usize,
    /// Instance id and why it was left out.
    pub skipped: Vec<(String, String)>,
    /// PASS_TO_PASS tests the harness's parser cannot see, dropped from their rows.
    pub unseen_pass_to_pass: usize,
    /// Test names two keys share in the harness's key space (same-named tests of two cargo
    /// test binaries), written once.
    pub merged_names: usize,
    /// The harness log parser each test runner's output needs, by runner.
    pub parsers: BTreeMap<String, String>,
}

impl TaskReport {
    /// The summary printed to stderr.
    pub fn summary(&self, out: &Path) -> String {
        let mut lines = vec![format!(
            "{} of {} instances written to {}{}",
            self.written,
            self.read,
            out.display(),
            if self.not_held_out > 0 {
                format!(" ({} not held out)", self.not_held_out)
            } else {
                String::new()
            }
        )];
        for (runner, parser) in &self.parsers {
            lines.push(format!(
                "  {runner} tests are named as SWE-bench's `{parser}` reads them; run them with \
                 the instance's test command"
            ));
        }
        if self.unseen_pass_to_pass > 0 {
            lines.push(format!(
                "  {} PASS_TO_PASS tests dropped: the harness's log parser cannot see them \
                 (doc tests, names with spaces)",
                self.unseen_pass_to_pass
            ));
        }
        if self.merged_names > 0 {
            lines.push(format!(
                "  {} test names shared by tests of two binaries, written once",
                self.merged_names
            ));
        }
        for (id, reason) in &self.skipped {
            lines.push(format!("  skipped {id}: {reason}"));
        }
        lines.join("\n")
    }
}

/// Writes the rows of the instances in `instances` to `out`: JSON Lines, or one JSON list
/// (indented, as SWE-smith writes its task files) when `out` ends in `.json`.
pub fn export(instances: &Path, out: &Path, options: &TaskOptions) -> Result<TaskReport> {
    if let Some(fraction) = options.held_out {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::Usage("the held-out fraction lies in (0, 1]".into()));
        }
    }
    let read: jsonl::Records<Instance> = jsonl::read(instances)?;
    let mut report = TaskReport { read: read.records.len(), ..TaskReport::default() };
    let commits = BugCommits::open(&options.repo, options.isolation)?;
    let mut rows = Vec::new();
    for instance in &read.records {
        if let Some(fraction) = options.held_out {
            if fraction < 1.0 && Split::of(&instance.id, fraction) != Split::Val {
                report.not_held_out += 1;
                continue;
            }
        }
        match task_row(instance, &commits, options, &mut report) {
            Ok(row) => rows.push(row),
            Err(reason) => report.skipped.push((instance.id.clone(), reason)),
        }
    }
    report.written = rows.len();
    write_rows(out, &rows)?;
    Ok(report)
}

/// The row of one instance, or why it cannot have one. Git failures that concern the whole
/// repository stop the export; those of one instance (a patch that no longer applies to its
/// commit) skip it.
fn task_row(
    instance: &Instance,
    commits: &BugCommits,
    options: &TaskOptions,
    report: &mut TaskReport,
) -> std::result::Result<serde_json::Value, String> {
    let Some(clean) = instance.commit.as_deref() else {
        return Err("no commit recorded (the repository was not a git checkout when it was \
                    mutated)"
            .into());
    };
    let runner = sera_verify::runner::for_command(&instance.test_command, &options.repo)
        .filter(|runner| runner.harness_parser().is_some())
        .ok_or_else(|| {
            format!(
                "SWE-bench's harness has no log parser for `{}`",
                instance.test_command.join(" ")
            )
        })?;
    let parser = runner.harness_parser().unwrap_or_default();
    // Counted into the report only once the row is made.
    let (mut unseen, mut merged) = (0, 0);

    // Sets: the names come out sorted, each once.
    let mut fail_to_pass = BTreeSet::new();
    for key in &instance.fail_to_pass {
        let name = runner.harness_key(key).ok_or_else(|| {
            format!("FAIL_TO_PASS test `{key}` is invisible to the harness's `{parser}`")
        })?;
        if !fail_to_pass.insert(name) {
            merged += 1;
        }
    }
    let mut pass_to_pass = BTreeSet::new();
    for key in &instance.pass_to_pass {
        let Some(name) = runner.harness_key(key) else {
            unseen += 1;
            continue;
        };
        // A name a failing test shares is the failing test's: listing it as passing too would
        // ask the harness for two outcomes of one line.
        if fail_to_pass.contains(&name) || !pass_to_pass.insert(name) {
            merged += 1;
        }
    }

    let repo = options.repo_name.clone().unwrap_or_else(|| instance.repo.clone());
    let instance_id = instances::task_id(&repo, clean, instance);
    let message = format!(
        "sera-rs bug {}: {} in {}\n\n{}",
        instance.id, instance.operator, instance.entity, instance.problem_statement
    );
    let commit = commits
        .commit(clean, &instance.bug_patch, &message, &instance_id, options.force)
        .map_err(|err| err.to_string())?;
    report.parsers.insert(runner.name().to_string(), parser.to_string());
    report.unseen_pass_to_pass += unseen;
    report.merged_names += merged;
    let task = Task {
        instance,
        repo: repo.clone(),
        base_commit: commit.sha,
        created_at: commit.created_at,
        version: options
            .version
            .clone()
            .unwrap_or_else(|| instances::short_commit(&commit.parent).to_string()),
        image_name: options
            .image
            .clone()
            .unwrap_or_else(|| instances::image_name(&repo, &commit.parent)),
        clean_commit: commit.parent,
        instance_id,
        fail_to_pass: fail_to_pass.into_iter().collect(),
        pass_to_pass: pass_to_pass.into_iter().collect(),
    };
    Ok(instances::row(options.format, &task))
}

fn write_rows(out: &Path, rows: &[serde_json::Value]) -> Result<()> {
    if out.extension().is_some_and(|e| e == "json") {
        let mut text = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        serde::Serialize::serialize(rows, &mut serializer)
            .map_err(|err| Error::Environment(format!("{}: {err}", out.display())))?;
        text.push(b'\n');
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
        }
        return std::fs::write(out, text).map_err(|err| Error::io(out, err));
    }
    let mut writer = jsonl::Writer::create(out)?;
    for row in rows {
        writer.write(row)?;
    }
    writer.finish()
}
