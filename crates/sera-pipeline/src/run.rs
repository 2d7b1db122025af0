//! `sera run`: the procedural pipeline over one run directory, resumable at record granularity.
//!
//! Stages run in order (index, mutate, validate, rollout, verify, export, train, report) and
//! `manifest.json` records which are done. The cheap, deterministic stages write their file whole
//! (to a temporary name, then renamed). The expensive ones (validate, rollout) are resumable per
//! record: each run of the stage function writes a `work/*.part.jsonl` file record by record; its
//! complete records are absorbed into the stage's append-only file, and the next run only does
//! what is not there yet. After a stage finishes its file is put in input order, so a run that was
//! killed and resumed ends with the same records, in the same order, as one that was not. In SVG
//! mode the svg stage journals each start function's rollouts in `work/` as they finish and reuses
//! them when it runs again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sera_core::{ExitStatus, Instance, Mutant, Trajectory};

use crate::config::{Mode, PipelineConfig};
use crate::rundir::{
    AppendLog, Manifest, StageEntry, StageStatus, in_shard, record_key, write_atomic,
};
use crate::{
    Error, Result, env, eval, export, index, jsonl, mutate, report, rollout, train, validate,
};

/// Which part of the work this process does: `index` of `count` disjoint shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// All of the work.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || Error::Usage(format!("--shard {text:?}: expected I/N with 0 <= I < N"));
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: index.trim().parse().map_err(|_| bad())?,
            count: count.trim().parse().map_err(|_| bad())?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(bad());
        }
        Ok(shard)
    }
}

/// How to run, beyond the config file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub shard: Shard,
    /// Progress bars on stderr.
    pub progress: bool,
}

/// The stages in order, as named in the manifest.
pub const STAGES: &[&str] = &[
    "index", "env", "mutate", "validate", "rollout", "svg", "verify", "export", "train", "eval",
    "report",
];

/// What a finished run says about itself.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// The run directory of `config` for `shard`.
pub fn run_dir(config: &PipelineConfig, shard: Shard) -> PathBuf {
    let name = if shard.count > 1 {
        format!("{}-shard-{}-of-{}", config.run.name, shard.index, shard.count)
    } else {
        config.run.name.clone()
    };
    config.run.dir.join(name)
}

/// Runs (or resumes) the pipeline of `config`. `log` receives one line per event worth a
/// person's attention; the same lines go to `logs/run.log`.
pub fn run(
    config: &PipelineConfig,
    options: &RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<RunOutcome> {
    let repo = &config.repo.path;
    if !repo.is_dir() {
        return Err(Error::Data(format!("[repo] path {}: not a directory", repo.display())));
    }
    let isolation = isolation(config)?;
    // Fail before any work when the sandbox cannot be had (no bwrap, say).
    sera_sandbox::Sandbox::new(sera_sandbox::SandboxConfig {
        isolation,
        ..sera_sandbox::SandboxConfig::default()
    })
    .map_err(|err| Error::Environment(err.to_string()))?;

    if let rollout::TeacherChoice::OpenAi(openai) = teacher(config)? {
        sera_rollout::OpenAiTeacher::new(openai)
            .check_reachable()
            .map_err(|err| Error::Environment(format!("[rollout] {err}")))?;
    }
    for agent in &config.eval.agents {
        if let rollout::TeacherChoice::OpenAi(openai) = eval_teacher(agent)? {
            sera_rollout::OpenAiTeacher::new(openai).check_reachable().map_err(|err| {
                Error::Environment(format!("[eval] agent {:?}: {err}", agent.name))
            })?;
        }
    }

    // Plugins load before any work, so that a broken library is reported at once.
    let mut plugins = Vec::new();
    for dir in &config.plugins.dirs {
        plugins.extend(crate::plugins::load(dir)?);
    }
    let verifiers: Vec<_> = plugins.iter().flat_map(|plugin| plugin.verifiers()).collect();

    let dir = run_dir(config, options.shard);
    let mut run = Run::open(dir, config, log)?;
    run.stage("index", |run| {
        let report = run.whole_file("functions.jsonl", |out| {
            index::run(repo, out, &index::IndexConfig::default(), options.progress)
        })?;
        Ok(vec![
            ("files".into(), report.files_indexed as u64),
            ("functions".into(), report.functions as u64),
            ("test_functions".into(), report.test_functions as u64),
            ("skipped_files".into(), report.skipped.len() as u64),
        ])
    })?;
    let environment = env_stage(&mut run, config, isolation)?;
    let agent = |config: &PipelineConfig| -> Result<rollout::AgentOptions> {
        Ok(rollout::AgentOptions {
            environment: Some(environment.clone()),
            ..agent(config, isolation)?
        })
    };
    match config.run.mode {
        Mode::Procedural => {
            procedural(&mut run, config, options, isolation, &plugins, &environment)?
        }
        Mode::Svg => {
            run.stage("svg", |run| {
                let options = rollout::SvgOptions {
                    agent: agent(config)?,
                    attempts: config.svg.attempts,
                    threshold: config.svg.threshold,
                    demonstrations: config.svg.demonstrations.clone(),
                    discarded: Some(run.path("svg-discarded.jsonl")),
                    // Per-start resume: finished rollouts survive a crash of the stage.
                    journal: Some(run.path("work")),
                    shard: (options.shard.count > 1)
                        .then_some((options.shard.index, options.shard.count)),
                    ..svg_draw(config)
                };
                let functions = run.path("functions.jsonl");
                let report = run.whole_file("trajectories.jsonl", |out| {
                    rollout::run_svg(&functions, out, &options)
                })?;
                (run.log)(&report.summary());
                Ok(vec![
                    ("starts".into(), report.starts as u64),
                    ("accepted".into(), report.accepted as u64),
                    ("dropped_duplicate".into(), report.dropped_duplicate as u64),
                    ("kept_t1".into(), report.kept_first as u64),
                    ("kept_t2".into(), report.kept_second as u64),
                ])
            })?;
        }
    }
    run.stage("verify", |run| {
        let trajectories: Vec<Trajectory> = jsonl::read(&run.path("trajectories.jsonl"))?.records;
        // The judges, built-in first: in procedural mode the instance's tests (when required)
        // and recall of the gold fix; in SVG mode the loop applied SERA's keep rules already.
        let tests = sera_verify::TestsVerifier;
        let recall = sera_verify::RecallVerifier { threshold: config.verify.recall_threshold };
        let mut judges: Vec<&dyn sera_verify::Verifier> = Vec::new();
        if config.run.mode == Mode::Procedural {
            if config.verify.require_resolved {
                judges.push(&tests);
            }
            judges.push(&recall);
        }
        judges.extend(verifiers.iter().map(|v| *v as &dyn sera_verify::Verifier));
        let instances: Vec<Instance> = match config.run.mode {
            Mode::Procedural => jsonl::read(&run.path("instances.jsonl"))?.records,
            Mode::Svg => Vec::new(),
        };
        let by_id: HashMap<&str, &Instance> =
            instances.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut verdicts = jsonl::Writer::create(&run.path("work/verdicts.jsonl.tmp"))?;
        let mut verified: Vec<&Trajectory> = Vec::new();
        let mut plugin_rejected = 0u64;
        for trajectory in &trajectories {
            // Only a submitted, non-empty patch is judged at all.
            let Some(patch) = trajectory.patch.as_ref().filter(|p| !p.is_empty()) else { continue };
            if trajectory.exit_status != ExitStatus::Submitted {
                continue;
            }
            let instance = match config.run.mode {
                Mode::Procedural => match by_id.get(trajectory.instance_id.as_str()) {
                    Some(&instance) => std::borrow::Cow::Borrowed(instance),
                    None => continue,
                },
                Mode::Svg => std::borrow::Cow::Owned(svg_instance(trajectory)),
            };
            let candidate = sera_verify::Candidate {
                instance: &instance,
                patch,
                resolved: trajectory.resolved,
                recall: trajectory.recall,
                trajectory_id: Some(&trajectory.id),
            };
            let mut accepted = true;
            let mut by_plugin = false;
            for (index, judge) in judges.iter().enumerate() {
                let verdict = judge.verify(&candidate).map_err(Error::Data)?;
                if !verdict.accepted {
                    accepted = false;
                    by_plugin |= index >= judges.len() - verifiers.len();
                    (run.log)(&format!(
                        "verify: {} rejects {}: {}",
                        verdict.verifier, trajectory.id, verdict.reason
                    ));
                }
                verdicts.write(&verdict)?;
            }
            if accepted {
                verified.push(trajectory);
            } else if by_plugin {
                plugin_rejected += 1;
            }
        }
        verdicts.finish()?;
        std::fs::rename(run.path("work/verdicts.jsonl.tmp"), run.path("verdicts.jsonl"))
            .map_err(|err| Error::io(&run.path("verdicts.jsonl"), err))?;
        let tmp = run.path("verified.jsonl.tmp");
        write_records(&tmp, &verified)?;
        std::fs::rename(&tmp, run.path("verified.jsonl"))
            .map_err(|err| Error::io(&run.path("verified.jsonl"), err))?;
        let submitted =
            trajectories.iter().filter(|t| t.exit_status == ExitStatus::Submitted).count();
        let resolved = trajectories.iter().filter(|t| t.resolved == Some(true)).count();
        Ok(vec![
            ("trajectories".into(), trajectories.len() as u64),
            ("submitted".into(), submitted as u64),
            ("resolved".into(), resolved as u64),
            ("verified".into(), verified.len() as u64),
            ("plugin_verifiers".into(), verifiers.len() as u64),
            ("plugin_rejected".into(), plugin_rejected),
        ])
    })?;
    if options.shard.count > 1 {
        (run.log)(&format!(
            "shard {} of {} done; when every shard is, `sera merge --shards {}` joins them and \
             runs the remaining stages",
            options.shard.index, options.shard.count, options.shard.count
        ));
        let manifest = run.manifest.clone();
        return Ok(RunOutcome { dir: run.dir, manifest });
    }
    run.stage("export", |run| {
        let formats = export::parse_formats(&config.export.formats.join(","))?;
        let options = export::ExportOptions {
            config: export::ExportConfig {
                formats,
                max_tokens: config.export.max_tokens,
                val_fraction: config.export.val_fraction,
                compat: config
                    .export
                    .compat
                    .parse()
                    .map_err(|err: String| Error::Usage(format!("[export] compat: {err}")))?,
                max_patch_lines: config.export.max_patch_lines,
                max_avg_observation_tokens: config.export.max_observation_tokens,
                ..export::ExportConfig::default()
            },
            tokenizer: config.export.tokenizer.clone(),
            output: export::Output::Dir(run.path("dataset")),
        };
        let report = export::export(&[run.path("verified.jsonl")], &options)?;
        (run.log)(&report.to_string());
        let mut counts: Vec<(String, u64)> = report
            .stats
            .kept
            .iter()
            .map(|(split, n)| (format!("kept_{split}"), *n as u64))
            .collect();
        counts.push(("read".into(), report.stats.read as u64));
        counts.push(("tokens".into(), report.stats.tokens.total as u64));
        Ok(counts)
    })?;
    if config.train.enabled {
        run.stage("train", |run| {
            let data = ["hermes", "openai"]
                .iter()
                .map(|format| run.path(&format!("dataset/{format}/train.jsonl")))
                .find(|path| path.exists())
                .ok_or_else(|| {
                    Error::Usage(
                        "[train] needs `hermes` or `openai` among the [export] formats".into(),
                    )
                })?;
            let options = train::TrainOptions {
                data,
                out: run.path("train"),
                config: config.train.model.clone(),
                steps: Some(config.train.steps),
                seed: Some(config.run.seed),
                log_every: 10,
                tokenizer: config.train.tokenizer.clone(),
                init: config.train.init.clone(),
            };
            let log = &mut run.log;
            let summary = train::train(&options, &mut |line| log(&format!("train: {line}")))?;
            (run.log)(&format!("train: {}", summary.replace('\n', "\n  ")));
            Ok(vec![("steps".into(), config.train.steps as u64)])
        })?;
    }
    if !config.eval.agents.is_empty() {
        run.stage("eval", |run| {
            eval_stage(run, config, isolation, &environment, options.progress)
        })?;
    }
    run.stage("report", |run| {
        let charts = report::write(&run.dir)?;
        Ok(vec![("charts".into(), charts as u64)])
    })?;
    let manifest = run.manifest.clone();
    Ok(RunOutcome { dir: run.dir, manifest })
}

/// What a plugin verifier is shown for an SVG trajectory. SVG injects no bug and runs no tests,
/// so the instance is the start function and its file, the bug class, the synthetic issue (or,
/// for rollout 1, the bug-class prompt) as the problem statement and P1 as the gold patch; the
/// bug patch and the test lists are empty. Verifiers also get `{"resolved": null, "recall": r}`.
fn svg_instance(trajectory: &Trajectory) -> Instance {
    let text = |key: &str| trajectory.metadata.get(key).and_then(|v| v.as_str());
    let statement = text("problem_statement").or_else(|| text("prompt")).unwrap_or_default();
    Instance {
        id: trajectory.instance_id.clone(),
        repo: trajectory.repo.clone(),
        commit: trajectory.commit.clone(),
        mutant_id: String::new(),
        file: trajectory.start_file.clone().unwrap_or_default(),
        entity: trajectory.start_function.clone().unwrap_or_default(),
        operator: "svg".to_string(),
        classes: trajectory.bug_class.iter().cloned().collect(),
        bug_patch: sera_core::Patch::default(),
        // Rollout 2 is measured against P1; rollout 1's own patch is P1.
        gold_patch: trajectory
            .target_patch
            .as_ref()
            .or(trajectory.patch.as_ref())
            .cloned()
            .unwrap_or_default(),
        fail_to_pass: Vec::new(),
        pass_to_pass: Vec::new(),
        problem_statement: statement.to_string(),
        test_command: Vec::new(),
    }
}

/// The env stage: prepares the repository's environment, or reads back the one an earlier run
/// (or an earlier stage of this one) prepared; every later sandbox uses it.
fn env_stage(
    run: &mut Run<'_>,
    config: &PipelineConfig,
    isolation: sera_sandbox::Isolation,
) -> Result<env::Environment> {
    let env_config = env::config_of(&config.env, &run.path("cache/env"), isolation);
    let mut prepared = None;
    run.stage("env", |run| {
        let log = &mut run.log;
        let done = env::prepare(&config.repo.path, &env_config, &mut |line| log(line))?;
        (run.log)(&format!(
            "env: {}{}",
            done.environment.summary(),
            if done.cached { " (prepared earlier)" } else { "" }
        ));
        let counts = vec![
            ("steps".into(), done.environment.steps.len() as u64),
            ("setup_ms".into(), (done.environment.seconds * 1000.0).round() as u64),
            ("cached".into(), u64::from(done.cached)),
        ];
        prepared = Some(done.environment);
        Ok(counts)
    })?;
    match prepared {
        Some(environment) => Ok(environment),
        // Done in an earlier run of this directory: read back from the cache, nothing runs.
        None => Ok(env::prepare(&config.repo.path, &env_config, &mut |_| {})?.environment),
    }
}

/// The eval stage: each `[eval]` agent evaluated on the run's held-out instances into
/// `eval/<name>/`, then all of them side by side in `eval/eval.json` and `eval/report.html`.
/// An agent whose `eval.json` is there already (from a run of this stage that was cut short) is
/// read back, not run again: `run.toml` guarantees the same configuration.
fn eval_stage(
    run: &mut Run<'_>,
    config: &PipelineConfig,
    isolation: sera_sandbox::Isolation,
    environment: &env::Environment,
    progress: bool,
) -> Result<Vec<(String, u64)>> {
    let instances = run.path("instances.jsonl");
    let held_out = config.eval_held_out();
    let all: Vec<Instance> = jsonl::read(&instances)?.records;
    let held = all.iter().filter(|i| eval::is_held_out(&i.id, held_out)).count();
    if all.is_empty() {
        return Err(Error::Data(
            "[eval]: the run kept no test-verified instances to evaluate on (see the validate \
             stage's funnel in logs/run.log); raise [mutate] limit"
                .into(),
        ));
    }
    if held == 0 {
        return Err(Error::Data(format!(
            "[eval]: none of the run's {} instances is held out at fraction {held_out}; raise \
             [export] val_fraction, or set [eval] held_out = 1 to evaluate every instance \
             (they are then trained on too)",
            all.len()
        )));
    }
    let mut reports = Vec::new();
    for agent in &config.eval.agents {
        let out = run.path(&format!("eval/{}", agent.name));
        let done = out.join("eval.json");
        let report = match std::fs::read(&done) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|err| Error::Data(format!("{}: {err}", done.display())))?,
            Err(_) => {
                let options = eval::EvalOptions {
                    rollout: rollout::RolloutOptions {
                        agent: rollout::AgentOptions {
                            teacher: eval_teacher(agent)?,
                            concurrency: agent
                                .concurrency
                                .unwrap_or(config.rollout.concurrency)
                                .max(1),
                            isolation,
                            step_limit: agent.step_limit.unwrap_or(config.rollout.step_limit),
                            environment: Some(environment.clone()),
                            ..rollout::AgentOptions::default()
                        },
                        repo: Some(config.repo.path.clone()),
                        verify: true,
                        cache_dir: Some(run.path("cache")),
                        progress,
                    },
                    seeds: config.eval.seeds.clone(),
                    held_out,
                };
                eval::run(&instances, &out, &options)?
            }
        };
        (run.log)(&report.summary().replace('\n', "\n  "));
        reports.push((agent.name.clone(), report));
    }
    let comparison = eval::compare(reports)?;
    if !comparison.paired.is_empty() {
        (run.log)(&format!("eval: {}", comparison.summary().replace('\n', "\n  ")));
    }
    eval::compare::write_json(&comparison, &run.path("eval/eval.json"))?;
    let links: Vec<String> = config.eval.agents.iter().map(|a| format!("{}/", a.name)).collect();
    eval::compare::write_page(&comparison, &run.path("eval"), &links)?;
    let mut counts = vec![("held_out".to_string(), held as u64)];
    for agent in &comparison.agents {
        counts.push((format!("resolved_{}", agent.label), agent.report.overall.resolved as u64));
    }
    counts.push(("rollouts_each".into(), comparison.agents[0].report.overall.attempted as u64));
    Ok(counts)
}

/// The teacher of one `[eval]` agent.
fn eval_teacher(agent: &crate::config::EvalAgent) -> Result<rollout::TeacherChoice> {
    Ok(teacher_choice(agent.server().map_err(Error::Usage)?))
}

/// The stages of procedural mode between the index and verification: mutate, validate, rollout.
fn procedural(
    run: &mut Run<'_>,
    config: &PipelineConfig,
    options: &RunOptions,
    isolation: sera_sandbox::Isolation,
    plugins: &[sera_plugin_host::Plugin],
    environment: &env::Environment,
) -> Result<()> {
    let repo = &config.repo.path;
    let progress = options.progress;
    run.stage("mutate", |run| {
        let options = mutate::MutateConfig {
            seed: config.run.seed,
            limit: config.mutate.limit,
            per_function: config.mutate.per_function,
            operators: non_empty(&config.mutate.operators),
            classes: non_empty(&config.mutate.classes),
            weights: config.mutate.weights.clone(),
            ..mutate::MutateConfig::default()
        };
        run.whole_file("mutants.jsonl", |out| mutate::run(repo, out, &options, plugins, progress))?;
        Ok(vec![("mutants".into(), count_lines(&run.path("mutants.jsonl"))?)])
    })?;
    run.stage("validate", |run| {
        let mutants: Vec<Mutant> = jsonl::read::<Mutant>(&run.path("mutants.jsonl"))?
            .records
            .into_iter()
            .filter(|m| in_shard(&m.id, options.shard.index, options.shard.count))
            .collect();
        let order: Vec<&str> = mutants.iter().map(|m| m.id.as_str()).collect();
        let mut kept = AppendLog::open(&run.path("instances.jsonl"), "mutant_id")?;
        let mut rejected = AppendLog::open(&run.path("rejected.jsonl"), "mutant_id")?;
        let part_kept = run.path("work/instances.part.jsonl");
        let part_rejected = run.path("work/rejected.part.jsonl");
        kept.absorb(&part_kept, "mutant_id")?;
        rejected.absorb(&part_rejected, "mutant_id")?;
        let todo: Vec<&Mutant> =
            mutants.iter().filter(|m| !kept.contains(&m.id) && !rejected.contains(&m.id)).collect();
        if !todo.is_empty() {
            if todo.len() < mutants.len() {
                (run.log)(&format!(
                    "validate: resuming, {} of {} mutants left",
                    todo.len(),
                    mutants.len()
                ));
            }
            let todo_path = run.path("work/mutants.todo.jsonl");
            write_records(&todo_path, &todo)?;
            let options = validate::ValidateOptions {
                jobs: config.validate.jobs.max(1),
                isolation,
                test_command: config.test_command().cloned(),
                rejected: Some(part_rejected.clone()),
                cache_dir: Some(run.path("cache")),
                progress: options.progress,
                environment: Some(environment.clone()),
                timeout_factor: config.validate.timeout_factor,
                min_timeout: std::time::Duration::from_secs(config.validate.min_timeout),
            };
            let mut report = validate::run(repo, &todo_path, &part_kept, &options)?;
            // Rejected mutants end up in rejected.jsonl, not in the part file the report names.
            report.rejected_path = None;
            (run.log)(&format!("validate: {}", report.to_string().replace('\n', "\n  ")));
            kept.absorb(&part_kept, "mutant_id")?;
            rejected.absorb(&part_rejected, "mutant_id")?;
        }
        let (kept, rejected) = (kept.len() as u64, rejected.len() as u64);
        reorder(&run.path("instances.jsonl"), "mutant_id", &order)?;
        reorder(&run.path("rejected.jsonl"), "mutant_id", &order)?;
        Ok(vec![
            ("candidates".into(), mutants.len() as u64),
            ("kept".into(), kept),
            ("rejected".into(), rejected),
        ])
    })?;
    run.stage("rollout", |run| {
        let instances: Vec<Instance> = jsonl::read(&run.path("instances.jsonl"))?.records;
        let order: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
        let mut done = AppendLog::open(&run.path("trajectories.jsonl"), "instance_id")?;
        let part = run.path("work/trajectories.part.jsonl");
        done.absorb(&part, "instance_id")?;
        let todo: Vec<&Instance> = instances.iter().filter(|i| !done.contains(&i.id)).collect();
        if !todo.is_empty() {
            let todo_path = run.path("work/instances.todo.jsonl");
            write_records(&todo_path, &todo)?;
            let options = rollout::RolloutOptions {
                agent: rollout::AgentOptions {
                    environment: Some(environment.clone()),
                    ..agent(config, isolation)?
                },
                repo: Some(repo.clone()),
                cache_dir: Some(run.path("cache")),
                progress: options.progress,
                ..rollout::RolloutOptions::default()
            };
            let report = rollout::run(&todo_path, &part, &options)?;
            (run.log)(&format!("rollout: {}", report.summary()));
            done.absorb(&part, "instance_id")?;
        }
        let rollouts = done.len() as u64;
        reorder(&run.path("trajectories.jsonl"), "instance_id", &order)?;
        Ok(vec![("instances".into(), instances.len() as u64), ("trajectories".into(), rollouts)])
    })?;
    Ok(())
}

/// The one-screen summary printed at the end of a run: each stage's counts and where to look.
pub fn summary(outcome: &RunOutcome) -> String {
    let mut out = format!("run directory: {}\n", outcome.dir.display());
    for stage in STAGES {
        let Some(entry) = outcome.manifest.stages.get(*stage) else { continue };
        let counts: Vec<String> = entry.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("  {stage:<9} {}\n", counts.join(", ")));
    }
    for (what, path) in [
        ("instances", "instances.jsonl"),
        ("trajectories", "trajectories.jsonl"),
        ("dataset", "dataset/README.md"),
        ("training", "train/metrics.jsonl"),
        ("evaluation", "eval/report.html"),
        ("report", "report.html"),
        ("log", "logs/run.log"),
    ] {
        let full = outcome.dir.join(path);
        if full.exists() {
            out.push_str(&format!("{what:>12}: {}\n", full.display()));
        }
    }
    out
}

/// The isolation backend the config asks for.
fn isolation(config: &PipelineConfig) -> Result<sera_sandbox::Isolation> {
    match config.validate.isolation.as_str() {
        "bwrap" => Ok(sera_sandbox::Isolation::Bwrap),
        "none" => Ok(sera_sandbox::Isolation::None),
        other => {
            Err(Error::Usage(format!("[validate] isolation {other:?} is not `bwrap` or `none`")))
        }
    }
}

/// The teacher of `[rollout]`.
fn teacher(config: &PipelineConfig) -> Result<rollout::TeacherChoice> {
    let section = &config.rollout;
    let kind: crate::config::TeacherKind =
        section.teacher.parse().map_err(|err| Error::Usage(format!("[rollout] {err}")))?;
    let server = kind.server("[rollout]", &section.base_url, &section.model);
    Ok(teacher_choice(server.map_err(Error::Usage)?))
}

/// The oracle, or the OpenAI-compatible server and model a config section names.
fn teacher_choice(server: Option<(&str, &str)>) -> rollout::TeacherChoice {
    match server {
        None => rollout::TeacherChoice::Oracle,
        Some((url, model)) => {
            rollout::TeacherChoice::OpenAi(rollout::OpenAiConfig::new(url, model))
        }
    }
}

/// The SVG options that decide which start functions are drawn and in what order: shared by
/// the svg stage and `sera merge`, which must agree on it.
pub(crate) fn svg_draw(config: &PipelineConfig) -> rollout::SvgOptions {
    rollout::SvgOptions {
        agent: rollout::AgentOptions { seed: config.run.seed, ..rollout::AgentOptions::default() },
        repo: config.repo.path.clone(),
        starts: config.svg.starts,
        draw: config.svg.draw.parse().expect("checked when the config was read"),
        ..rollout::SvgOptions::default()
    }
}

/// The teacher and limits of `[rollout]`, shared by both modes' rollouts.
fn agent(
    config: &PipelineConfig,
    isolation: sera_sandbox::Isolation,
) -> Result<rollout::AgentOptions> {
    Ok(rollout::AgentOptions {
        teacher: teacher(config)?,
        concurrency: config.rollout.concurrency.max(1),
        seed: config.run.seed,
        isolation,
        step_limit: config.rollout.step_limit,
        ..rollout::AgentOptions::default()
    })
}

fn non_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// An open run directory and its manifest.
struct Run<'a> {
    dir: PathBuf,
    manifest: Manifest,
    log: Box<dyn FnMut(&str) + 'a>,
}

impl<'a> Run<'a> {
    fn open(
        dir: PathBuf,
        config: &PipelineConfig,
        log: &'a mut dyn FnMut(&str),
    ) -> Result<Run<'a>> {
        for sub in ["", "work", "logs"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|err| Error::io(&path, err))?;
        }
        let resolved = toml::to_string(config).expect("the config always serializes");
        let run_toml = format!(
            "# The resolved configuration of this run, written by sera {}.\n{resolved}",
            env!("CARGO_PKG_VERSION")
        );
        let run_toml_path = dir.join("run.toml");
        match std::fs::read_to_string(&run_toml_path) {
            Ok(existing) if existing != run_toml => {
                return Err(Error::Usage(format!(
                    "{} holds a run with a different configuration; give this run another \
                     [run] name, or delete that directory to start over",
                    dir.display()
                )));
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&run_toml_path, run_toml.as_bytes())?;
            }
            Err(err) => return Err(Error::io(&run_toml_path, err)),
        }
        let manifest = Manifest::load(&dir)?;
        let log_path = dir.join("logs/run.log");
        let mut log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|err| Error::io(&log_path, err))?;
        let log = Box::new(move |line: &str| {
            use std::io::Write as _;
            log(line);
            // The log is for people; losing a line of it must not fail the run.
            let _ = writeln!(log_file, "{line}");
        });
        Ok(Run { dir, manifest, log })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs `body` unless the manifest says the stage is done, and records its counts.
    fn stage(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut Run<'a>) -> Result<Vec<(String, u64)>>,
    ) -> Result<()> {
        if self.manifest.stages.get(name).is_some_and(|s| s.status == StageStatus::Done) {
            (self.log)(&format!("{name}: done earlier, skipped"));
            return Ok(());
        }
        self.set_status(name, StageStatus::Running, None)?;
        let started = Instant::now();
        match body(self) {
            Ok(counts) => {
                let shown: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                (self.log)(&format!(
                    "{name}: {} ({:.1} s)",
                    shown.join(", "),
                    started.elapsed().as_secs_f64()
                ));
                self.set_status(name, StageStatus::Done, Some(counts))
            }
            Err(err) => {
                self.set_status(name, StageStatus::Failed, None)?;
                Err(err)
            }
        }
    }

    fn set_status(
        &mut self,
        name: &str,
        status: StageStatus,
        counts: Option<Vec<(String, u64)>>,
    ) -> Result<()> {
        let entry = self
            .manifest
            .stages
            .entry(name.to_string())
            .or_insert(StageEntry { status: StageStatus::Pending, counts: Default::default() });
        entry.status = status;
        if let Some(counts) = counts {
            entry.counts = counts.into_iter().collect();
        }
        self.manifest.save(&self.dir)
    }

    /// Runs a stage that writes one whole file: to a temporary name first, renamed when done,
    /// so a crash never leaves a half-written file under the real name.
    fn whole_file<T>(&self, name: &str, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let tmp = self.path(&format!("work/{name}.tmp"));
        let result = write(&tmp)?;
        let path = self.path(name);
        std::fs::rename(&tmp, &path).map_err(|err| Error::io(&path, err))?;
        Ok(result)
    }
}

fn write_records<T: serde::Serialize>(path: &Path, records: &[T]) -> Result<()> {
    let mut writer = jsonl::Writer::create(path)?;
    for record in records {
        writer.write(record)?;
    }
    writer.finish()
}

fn count_lines(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
    Ok(text.lines().filter(|line| !line.trim().is_empty()).count() as u64)
}

/// Rewrites the JSONL file at `path` with its records in the order their `key` has in `order`
/// (records with unknown keys last, in file order), atomically. Streams: it indexes the file's
/// records by offset, leaves a file already in order untouched (the usual case, as stages write
/// in input order), and otherwise copies the records in order, one at a time.
pub(crate) fn reorder(path: &Path, key: &str, order: &[&str]) -> Result<()> {
    use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
    let io = |err| Error::io(path, err);
    let rank: HashMap<&str, usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut reader = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut records: Vec<(usize, u64, usize)> = Vec::new();
    let (mut offset, mut line) = (0u64, String::new());
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(io)?;
        if read == 0 {
            break;
        }
        let position = record_key(&line, key)
            .and_then(|id| rank.get(id.as_str()).copied())
            .unwrap_or(usize::MAX);
        records.push((position, offset, read));
        offset += read as u64;
    }
    if records.windows(2).all(|pair| pair[0].0 <= pair[1].0) {
        return Ok(());
    }
    // A stable sort keeps records of equal rank (unknown keys) in file order.
    records.sort_by_key(|(position, _, _)| *position);
    let tmp = path.with_extension("reorder.tmp");
    let mut source = reader.into_inner();
    let mut out = BufWriter::new(std::fs::File::create(&tmp).map_err(|err| Error::io(&tmp, err))?);
    let mut buffer = Vec::new();
    for (_, offset, len) in records {
        buffer.resize(len, 0);
        source.seek(SeekFrom::Start(offset)).map_err(io)?;
        source.read_exact(&mut buffer).map_err(io)?;
        out.write_all(&buffer).map_err(|err| Error::io(&tmp, err))?;
    }
    let file = out.into_inner().map_err(|err| Error::io(&tmp, err.into_error()))?;
    file.sync_all().map_err(|err| Error::io(&tmp, err))?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_and_rejects_nonsense() {
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "x/2", "1", "0/0", "-1/3"] {
            assert_eq!(Shard::parse(bad).unwrap_err().exit_code(), 1, "{bad}");
        }
    }

    #[test]
    fn reorder_puts_records_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"k\":\"b\"}\n{\"k\":\"c\"}\n{\"k\":\"a\"}\n").unwrap();
        reorder(&path, "k", &["a", "b", "c"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"k\":\"a\"}\n{\"k\":\"b\"}\n{\"k\":\"c\"}\n"
        );
    }
}
