//! The rollout stage: procedural instances in, one trajectory per instance out, each graded
//! by hard verification (the instance's tests on the agent's patch, via `sera-verify`) and by
//! line recall of the gold fix in the agent's patch.
//!
//! Many rollouts run at once (`concurrency` threads sharing one teacher, as SERA ran 24 to 32
//! workers per inference server); trajectories are written in the order of the input file
//! whatever order they finish in, so the output depends only on the inputs, the seed and the
//! teacher's answers.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use sera_core::{ExitStatus, Instance, Trajectory};
pub use sera_rollout::OpenAiConfig;
use sera_rollout::{OpenAiTeacher, Oracle, RolloutConfig, RolloutError, Teacher, solve_instance};
pub use sera_sandbox::Isolation;
use sera_sandbox::{Sandbox, SandboxConfig};
use sera_verify::{ValidateConfig, Validator};

use crate::rundir::AppendLog;
use crate::{Error, Result, jsonl};

/// Which teacher plays the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum TeacherChoice {
    /// Acts out each instance's gold fix; needs no model.
    Oracle,
    /// An OpenAI-compatible chat-completions server.
    OpenAi(OpenAiConfig),
}

/// What both rollout modes share: who plays the agent and the limits it works under. Plain
/// data; start from `AgentOptions::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOptions {
    pub teacher: TeacherChoice,
    /// Rollouts in flight at once.
    pub concurrency: usize,
    pub seed: u64,
    pub isolation: Isolation,
    /// Teacher calls per rollout (SERA: 115).
    pub step_limit: usize,
    /// Prompt plus completion tokens per rollout; past it the rollout ends as `cost_limit`.
    pub token_limit: Option<u64>,
    /// Per-command timeout of the agent's `bash` tool.
    pub command_timeout: Duration,
    /// The prepared environment every sandbox uses (`crate::env`): the agent's `python` and
    /// `pytest` are its. None when `None`.
    pub environment: Option<crate::env::Environment>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            teacher: TeacherChoice::Oracle,
            concurrency: 1,
            seed: 0,
            isolation: Isolation::Bwrap,
            step_limit: 115,
            token_limit: None,
            command_timeout: Duration::from_secs(300),
            environment: None,
        }
    }
}

impl AgentOptions {
    /// The teacher, checked to be able to play rollouts of `kind`.
    fn teacher(&self, kind: sera_core::RolloutKind) -> Result<Arc<dyn Teacher>> {
        let teacher: Arc<dyn Teacher> = match &self.teacher {
            TeacherChoice::Oracle => Arc::new(Oracle),
            TeacherChoice::OpenAi(config) => Arc::new(OpenAiTeacher::new(config.clone())),
        };
        teacher.supports(kind).map_err(Error::Usage)?;
        Ok(teacher)
    }

    fn sandbox(&self) -> Result<Sandbox> {
        let mut config = SandboxConfig { isolation: self.isolation, ..SandboxConfig::default() };
        if let Some(environment) = &self.environment {
            environment.apply(&mut config);
        }
        Sandbox::new(config).map_err(|err| Error::Environment(err.to_string()))
    }

    fn rollout_config(&self) -> RolloutConfig {
        RolloutConfig {
            command_timeout: self.command_timeout,
            limits: sera_rollout::LoopConfig {
                step_limit: self.step_limit,
                token_limit: self.token_limit,
                ..Default::default()
            },
            seed: self.seed,
            ..RolloutConfig::default()
        }
    }
}

/// Options of `sera rollout`. Plain data; start from `RolloutOptions::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutOptions {
    pub agent: AgentOptions,
    /// The repository the instances were made from; when `None`, each instance's `repo` is
    /// taken as a directory relative to the current one.
    pub repo: Option<PathBuf>,
    /// Run the instance's tests on each submitted patch.
    pub verify: bool,
    /// Where clean baselines are cached; `~/.cache/sera/baselines` when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            agent: AgentOptions::default(),
            repo: None,
            verify: true,
            cache_dir: None,
            progress: true,
        }
    }
}

/// What the stage did, for the summary on stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutReport {
    pub rollouts: usize,
    /// Rollouts per exit status (`submitted`, `step_limit`, ...).
    pub by_status: BTreeMap<String, usize>,
    /// Submitted rollouts whose patch passes every FAIL_TO_PASS and PASS_TO_PASS test.
    pub resolved: usize,
    /// Mean recall of the gold fix over rollouts where it is defined.
    pub mean_recall: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The instances file ended in a torn line, which was dropped.
    pub torn_input: bool,
}

impl RolloutReport {
    /// One line for stderr.
    pub fn summary(&self) -> String {
        let statuses: Vec<String> =
            self.by_status.iter().map(|(status, n)| format!("{status} {n}")).collect();
        let recall = self.mean_recall.map_or("n/a".to_string(), |r| format!("{r:.3}"));
        format!(
            "rollouts {} · {} · resolved {} · mean recall {recall} · tokens {} in / {} out",
            self.rollouts,
            statuses.join(" · "),
            self.resolved,
            self.prompt_tokens,
            self.completion_tokens
        )
    }
}

/// Runs the teacher on every instance of `instances` and writes the graded trajectories to
/// `out` (`-` for standard output), in input order.
pub fn run(instances: &Path, out: &Path, options: &RolloutOptions) -> Result<RolloutReport> {
    let read: jsonl::Records<Instance> = jsonl::read(instances)?;
    let teacher = options.agent.teacher(sera_core::RolloutKind::Procedural)?;
    let repos: Vec<PathBuf> = read
        .records
        .iter()
        .enumerate()
        .map(|(index, instance)| repo_of(instance, options.repo.as_deref(), instances, index + 1))
        .collect::<Result<_>>()?;
    let sandbox = options.agent.sandbox()?;
    let config = options.agent.rollout_config();
    let grader = Grader {
        sandbox: sandbox.clone(),
        cache_dir: options.cache_dir.clone(),
        environment: options.agent.environment.as_ref().map(|e| e.key.clone()),
        validators: Mutex::default(),
    };

    let mut writer = jsonl::Writer::create(out)?;
    let progress = crate::progress::bar(options.progress, read.records.len(), "rollouts");
    progress.set_message("rolling out");
    let mut report = RolloutReport { torn_input: read.torn_tail, ..RolloutReport::default() };
    let mut recall_sum = 0.0;
    let mut recall_count = 0usize;
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Trajectory>)>();
    let workers = options.agent.concurrency.clamp(1, read.records.len().max(1));
    let result = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let sender = sender.clone();
            let (teacher, grader, sandbox, config, next) =
                (&teacher, &grader, &sandbox, &config, &next);
            let (records, repos) = (&read.records, &repos);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(instance) = records.get(index) else { break };
                    let repo = &repos[index];
                    let result = solve_instance(sandbox, repo, instance, teacher.as_ref(), config)
                        .map_err(|err| rollout_error(err, instances))
                        .and_then(|trajectory| {
                            grader.grade(repo, instance, trajectory, options.verify)
                        });
                    let failed = result.is_err();
                    if sender.send((index, result)).is_err() || failed {
                        // Stop taking work: the writer has given up, or this error will end the stage.
                        next.store(usize::MAX / 2, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Write in input order: hold early finishers until their turn.
        let mut pending: BTreeMap<usize, Trajectory> = BTreeMap::new();
        let mut turn = 0;
        for (index, result) in receiver {
            pending.insert(index, result?);
            while let Some(trajectory) = pending.remove(&turn) {
                report.rollouts += 1;
                *report.by_status.entry(status_name(trajectory.exit_status)).or_default() += 1;
                report.resolved += usize::from(trajectory.resolved == Some(true));
                if let Some(recall) = trajectory.recall {
                    recall_sum += recall;
                    recall_count += 1;
                }
                report.prompt_tokens += trajectory.usage.prompt_tokens;
                report.completion_tokens += trajectory.usage.completion_tokens;
                writer.write(&trajectory)?;
                progress.inc(1);
                turn += 1;
            }
        }
        Ok(())
    });
    progress.finish_and_clear();
    result?;
    writer.finish()?;
    report.mean_recall = (recall_count > 0).then(|| recall_sum / recall_count as f64);
    Ok(report)
}

/// Hard and soft verification, with one validator (and so one cached baseline) per repository
/// and test command.
struct Grader {
    sandbox: Sandbox,
    cache_dir: Option<PathBuf>,
    /// The prepared environment's key, part of the baseline's.
    environment: Option<String>,
    validators: Mutex<HashMap<ValidatorKey, Arc<Validator>>>,
}

/// A repository and a test command.
type ValidatorKey = (PathBuf, Vec<String>);

impl Grader {
    fn grade(
        &self,
        repo: &Path,
        instance: &Instance,
        mut trajectory: Trajectory,
        verify: bool,
    ) -> Result<Trajectory> {
        let candidate = trajectory.patch.as_ref().map(|p| p.render()).unwrap_or_default();
        trajectory.recall =
            sera_verify::recall::recall(&instance.gold_patch.render(), &candidate).value();
        if !verify || trajectory.exit_status != ExitStatus::Submitted {
            return Ok(trajectory);
        }
        let Some(patch) = trajectory.patch.as_ref() else {
            // Nothing changed, so the bug is still there.
            trajectory.resolved = Some(false);
            return Ok(trajectory);
        };
        let validator = self.validator(repo, instance)?;
        let environment = |err: sera_sandbox::SandboxError| {
            Error::Environment(format!("instance {}: {err}", instance.id))
        };
        let scratch = self.sandbox.scratch(repo).map_err(environment)?;
        scratch.apply(&instance.bug_patch).map_err(|err| {
            Error::Data(format!("instance {}: the bug patch does not apply: {err}", instance.id))
        })?;
        trajectory.resolved = Some(match scratch.apply(patch) {
            // A patch recorded from the same tree always applies; if it does not, it fixes nothing.
            Err(_) => false,
            Ok(()) => {
                let run =
                    validator.run_tests(&scratch).map_err(|err| verify_error(err, instance))?;
                run.complete && sera_verify::resolved(instance, &run.report.tests)
            }
        });
        Ok(trajectory)
    }

    fn validator(&self, repo: &Path, instance: &Instance) -> Result<Arc<Validator>> {
        let key = (repo.to_path_buf(), instance.test_command.clone());
        // Held while the baseline is made, so that two workers do not make the same one.
        let mut validators =
            self.validators.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(validator) = validators.get(&key) {
            return Ok(Arc::clone(validator));
        }
        let mut config = ValidateConfig {
            test_command: Some(instance.test_command.clone()),
            commit: instance.commit.clone(),
            environment: self.environment.clone(),
            ..ValidateConfig::default()
        };
        if self.cache_dir.is_some() {
            config.cache_dir = self.cache_dir.clone();
        }
        let validator = Arc::new(
            Validator::new(&self.sandbox, repo, &config)
                .map_err(|err| verify_error(err, instance))?,
        );
        validators.insert(key, Arc::clone(&validator));
        Ok(validator)
    }
}

fn repo_of(instance: &Instance, repo: Option<&Path>, file: &Path, line: usize) -> Result<PathBuf> {
    let path = repo.map_or_else(|| PathBuf::from(&instance.repo), Path::to_path_buf);
    if path.is_dir() {
        return Ok(path);
    }
    Err(match repo {
        Some(_) => {
            Error::Data(format!("{}: repository not found or not a directory", path.display()))
        }
        None => Error::Usage(format!(
            "{}:{line}: instance {} names repository `{}`, which is not a directory here; pass --repo DIR",
            file.display(),
            instance.id,
            instance.repo
        )),
    })
}

fn rollout_error(err: RolloutError, instances: &Path) -> Error {
    match err {
        RolloutError::Sandbox { ref source, .. } if !source.is_environment() => {
            Error::Data(format!("{}: {err}", instances.display()))
        }
        RolloutError::Sandbox { .. } | RolloutError::Io { .. } => {
            Error::Environment(err.to_string())
        }
        RolloutError::BugPatch { .. } => Error::Data(format!("{}: {err}", instances.display())),
        RolloutError::Unsupported(message) => Error::Usage(message),
        other => Error::Environment(other.to_string()),
    }
}

fn verify_error(err: sera_verify::VerifyError, instance: &Instance) -> Error {
    let message = format!("instance {}: {err}", instance.id);
    if err.is_environment() { Error::Environment(message) } else { Error::Data(message) }
}

pub(crate) fn status_name(status: ExitStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Options of `sera rollout --functions` (SVG mode). Plain data; start from
/// `SvgOptions::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct SvgOptions {
    pub agent: AgentOptions,
    /// The clean repository the functions were indexed from.
    pub repo: PathBuf,
    /// The repository's name in records [default: its directory name].
    pub repo_name: Option<String>,
    pub commit: Option<String>,
    /// Start functions drawn from the index (SERA: 5,000).
    pub starts: usize,
    /// Which functions may be drawn: SERA's call-graph functions (the default) or any.
    pub draw: sera_code::StartDraw,
    /// Rollout-1 attempts per start function, each with a new bug class.
    pub attempts: usize,
    /// Keep T2 when the recall of P1 in P2 is at least this (SERA: 0.5 for specialisation, 0
    /// for the largest general datasets; an empty P2 is never kept).
    pub threshold: f64,
    /// A JSON list of demonstration issues; the built-in pool when `None`.
    pub demonstrations: Option<PathBuf>,
    /// Where trajectories that are not kept go [default: `svg-discarded.jsonl` next to the
    /// output; nowhere when the output is standard output].
    pub discarded: Option<PathBuf>,
    /// A folder where each start function's rollouts are recorded as soon as they finish
    /// (`svg-first.jsonl`, `svg-second.jsonl`); a later call with the same journal reuses them
    /// instead of asking the teacher again, so a crash loses at most the rollouts in flight.
    /// `None` (the default) keeps nothing.
    pub journal: Option<PathBuf>,
    /// Only the start functions of shard `I` of `N` (by a stable hash of their id), for
    /// `sera run --shard I/N`; `None` (the default) for all. P1 dedup then sees one shard only;
    /// `sera merge` applies it across shards.
    pub shard: Option<(u32, u32)>,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            agent: AgentOptions::default(),
            repo: PathBuf::from("."),
            repo_name: None,
            commit: None,
            starts: 5000,
            draw: sera_code::StartDraw::default(),
            attempts: 3,
            threshold: 0.0,
            demonstrations: None,
            discarded: None,
            journal: None,
            shard: None,
        }
    }
}

/// What SVG mode did, for the summary on stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SvgReport {
    pub starts: usize,
    pub first_rollouts: usize,
    /// Start functions with a rollout 1 the self-check accepted.
    pub accepted: usize,
    pub dropped_empty: usize,
    pub dropped_duplicate: usize,
    pub second_rollouts: usize,
    pub kept_first: usize,
    pub kept_second: usize,
    pub mean_recall: Option<f64>,
    /// Accepted rollouts 1 whose issue writer gave no issue (so no rollout 2).
    pub no_issue: usize,
    /// Issues in the demonstration pool, and whether it is the built-in one.
    pub demonstrations: usize,
    pub builtin_demonstrations: bool,
}

impl SvgReport {
    /// One line for stderr.
    pub fn summary(&self) -> String {
        let recall = self.mean_recall.map_or("n/a".to_string(), |r| format!("{r:.3}"));
        format!(
            "svg: starts {} · rollout-1 attempts {} · accepted {} · empty P1 {} · duplicate P1 {} · rollout 2 {} · \
             kept T1 {} · kept T2 {} · mean recall {recall}",
            self.starts,
            self.first_rollouts,
            self.accepted,
            self.dropped_empty,
            self.dropped_duplicate,
            self.second_rollouts,
            self.kept_first,
            self.kept_second
        ) + &self.pool_note()
    }

    fn pool_note(&self) -> String {
        let mut note = String::new();
        if self.no_issue > 0 {
            note.push_str(&format!(" · no issue written {}", self.no_issue));
        }
        if self.builtin_demonstrations {
            note.push_str(&format!(
                " · demonstrations: the built-in {} (build a pool from your own issues with `sera demos`)",
                self.demonstrations
            ));
        } else if self.demonstrations > 0 {
            note.push_str(&format!(" · demonstrations {}", self.demonstrations));
        }
        note
    }
}

/// The start functions SVG mode draws from `functions` (the index), in the order they are
/// rolled out and written: seeded by the agent's seed, before any sharding.
pub fn start_functions(
    functions: &[sera_core::Entity],
    options: &SvgOptions,
) -> Vec<sera_rollout::svg::StartFunction> {
    let repo_name =
        options.repo_name.clone().unwrap_or_else(|| crate::mutate::repo_name(&options.repo));
    sera_code::draw_start_functions(functions, options.starts, options.agent.seed, options.draw)
        .into_iter()
        .map(|entity| sera_rollout::svg::StartFunction {
            repo: repo_name.clone(),
            commit: options.commit.clone(),
            function: entity.qualified_name.clone(),
            file: entity.file.clone(),
        })
        .collect()
}

pub use sera_rollout::demos::{DemoOptions, DemoPool};

/// `sera demos`: a pool of demonstration issues for the SVG issue writer from issue exports
/// (JSON Lines or JSON lists of GitHub issues, pull requests or SWE-bench rows), written to
/// `out` as the JSON list `[svg] demonstrations` reads.
pub fn build_demos(sources: &[PathBuf], out: &Path, options: &DemoOptions) -> Result<DemoPool> {
    let mut texts = Vec::with_capacity(sources.len());
    for path in sources {
        let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        texts.push((path.display().to_string(), text));
    }
    let pool =
        sera_rollout::demos::build(&texts, options).map_err(|err| Error::Data(err.to_string()))?;
    crate::rundir::write_atomic(out, pool.to_json().as_bytes())?;
    Ok(pool)
}

/// SERA's keep rule for a rollout 2 (T2) at a soft-verification threshold: it submitted a
/// non-empty patch whose recall of P1 is at least `threshold`.
pub fn keeps_second(t2: &Trajectory, threshold: f64) -> bool {
    t2.exit_status == ExitStatus::Submitted
        && t2.patch.as_ref().is_some_and(|patch| !patch.is_empty())
        && t2.recall.is_some_and(|r| r >= threshold)
}

/// SVG mode: start functions from an index (`sera index` output) in, kept T1 and T2
/// trajectories out (the others to the discarded file), in start order.
pub fn run_svg(functions: &Path, out: &Path, options: &SvgOptions) -> Result<SvgReport> {
    use sera_rollout::svg::{self, SvgConfig};

    let teacher = options.agent.teacher(sera_core::RolloutKind::SvgFirst)?;
    if !options.repo.is_dir() {
        return Err(Error::Data(format!(
            "{}: repository not found or not a directory",
            options.repo.display()
        )));
    }
    let pool_text = match &options.demonstrations {
        Some(path) => std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?,
        None => svg::DEFAULT_DEMONSTRATIONS.to_string(),
    };
    let pool = svg::parse_demonstrations(&pool_text).map_err(|err| {
        let source = options
            .demonstrations
            .as_ref()
            .map_or("built-in pool".to_string(), |p| p.display().to_string());
        Error::Data(format!("{source}: {err}"))
    })?;
    let read: jsonl::Records<sera_core::Entity> = jsonl::read(functions)?;
    let mut starts = start_functions(&read.records, options);
    if let Some((index, count)) = options.shard {
        starts.retain(|start| crate::rundir::in_shard(&start.id(), index, count));
    }
    let sandbox = options.agent.sandbox()?;
    let config = SvgConfig { rollout: options.agent.rollout_config(), attempts: options.attempts };
    let registry = sera_taxonomy::Registry::builtin();
    let workers = options.agent.concurrency.max(1);
    let mut report = SvgReport {
        starts: starts.len(),
        demonstrations: pool.len(),
        builtin_demonstrations: options.demonstrations.is_none(),
        ..SvgReport::default()
    };

    let journal = options.journal.as_deref().map(Journal::open).transpose()?;

    // Rollout 1 with its self-check, for every start at once.
    let firsts = parallel_map(&starts, workers, |start| {
        let id = start.id();
        if let Some(done) = journal.as_ref().and_then(|j| j.first(&id)) {
            return Ok(done);
        }
        let first = svg::first_rollout(
            &sandbox,
            &options.repo,
            start,
            &registry,
            teacher.as_ref(),
            &config,
        )
        .map_err(|err| rollout_error(err, functions))?;
        if let Some(journal) = &journal {
            journal.record_first(&id, &first)?;
        }
        Ok(first)
    })?;

    // Drop empty and duplicate P1, in start order so the outcome does not depend on timing.
    let mut dedup = sera_verify::dedup::Dedup::new();
    let mut second_inputs: Vec<Option<(usize, sera_core::Patch)>> =
        Vec::with_capacity(starts.len());
    for first in &firsts {
        report.first_rollouts += first.attempts.len();
        let accepted = first.accepted.map(|i| (i, &first.attempts[i]));
        let Some((index, t1)) = accepted else {
            second_inputs.push(None);
            continue;
        };
        report.accepted += 1;
        match &t1.patch {
            None => {
                report.dropped_empty += 1;
                second_inputs.push(None);
            }
            Some(p1) if dedup.check(&p1.render()).is_err() => {
                report.dropped_duplicate += 1;
                second_inputs.push(None);
            }
            Some(p1) => second_inputs.push(Some((index, p1.clone()))),
        }
    }

    // The synthetic issue and rollout 2.
    let jobs: Vec<(usize, &Option<(usize, sera_core::Patch)>)> =
        second_inputs.iter().enumerate().collect();
    let seconds =
        parallel_map(&jobs, workers, |(start_index, input)| -> Result<Option<Trajectory>> {
            let Some((accepted, p1)) = input else { return Ok(None) };
            let start = &starts[*start_index];
            let id = start.id();
            if let Some(done) = journal.as_ref().and_then(|j| j.second(&id)) {
                return Ok(done);
            }
            let t1 = &firsts[*start_index].attempts[*accepted];
            let mut rng = sera_core::SplitMix64::derive(
                options.agent.seed,
                &format!("{}/demonstration", start.id()),
            );
            let demonstration = rng.choose(&pool).cloned().unwrap_or_default();
            let issue = match svg::write_issue(teacher.as_ref(), t1, &demonstration, &config) {
                Ok(issue) => issue,
                // No issue, no rollout 2; rollout 1 may still be kept.
                Err(_) => {
                    if let Some(journal) = &journal {
                        journal.record_second(&id, None)?;
                    }
                    return Ok(None);
                }
            };
            let mut t2 = svg::second_rollout(
                &sandbox,
                &options.repo,
                start,
                &issue,
                p1,
                teacher.as_ref(),
                &config,
            )
            .map_err(|err| rollout_error(err, functions))?;
            let candidate = t2.patch.as_ref().map(|p| p.render()).unwrap_or_default();
            t2.recall = sera_verify::recall::recall(&p1.render(), &candidate).value();
            if let Some(journal) = &journal {
                journal.record_second(&id, Some(&t2))?;
            }
            Ok(Some(t2))
        })?;

    // Keep rules, and output in start order.
    let mut writer = jsonl::Writer::create(out)?;
    let discarded_path = options
        .discarded
        .clone()
        .or_else(|| (out != Path::new("-")).then(|| out.with_file_name("svg-discarded.jsonl")));
    let mut discarded = discarded_path.as_deref().map(jsonl::Writer::create).transpose()?;
    let mut recall_sum = 0.0;
    let mut recall_count = 0;
    report.no_issue = second_inputs
        .iter()
        .zip(&seconds)
        .filter(|(input, t2)| input.is_some() && t2.is_none())
        .count();
    for (first, second) in firsts.into_iter().zip(seconds) {
        for (index, mut t1) in first.attempts.into_iter().enumerate() {
            let keep = first.accepted == Some(index) && t1.exit_status == ExitStatus::Submitted;
            t1.metadata.insert("keep".into(), serde_json::json!(keep));
            report.kept_first += usize::from(keep);
            write_kept(&mut writer, discarded.as_mut(), &t1, keep)?;
        }
        if let Some(mut t2) = second {
            report.second_rollouts += 1;
            if let Some(recall) = t2.recall {
                recall_sum += recall;
                recall_count += 1;
            }
            let keep = keeps_second(&t2, options.threshold);
            t2.metadata.insert("keep".into(), serde_json::json!(keep));
            report.kept_second += usize::from(keep);
            write_kept(&mut writer, discarded.as_mut(), &t2, keep)?;
        }
    }
    writer.finish()?;
    if let Some(discarded) = discarded {
        discarded.finish()?;
    }
    report.mean_recall = (recall_count > 0).then(|| recall_sum / recall_count as f64);
    Ok(report)
}

/// The record of finished SVG rollouts per start function (see [`SvgOptions::journal`]): what
/// earlier calls finished, read once, and two append-only logs that workers add to as they go.
struct Journal {
    firsts: HashMap<String, sera_rollout::svg::FirstRollouts>,
    seconds: HashMap<String, Option<Trajectory>>,
    first_log: Mutex<AppendLog>,
    second_log: Mutex<AppendLog>,
}

/// One line of `svg-first.jsonl`.
#[derive(serde::Serialize, serde::Deserialize)]
struct FirstRecord {
    start: String,
    attempts: Vec<Trajectory>,
    accepted: Option<usize>,
}

/// One line of `svg-second.jsonl`; `t2` is `null` when no issue could be written.
#[derive(serde::Serialize, serde::Deserialize)]
struct SecondRecord {
    start: String,
    t2: Option<Trajectory>,
}

impl Journal {
    fn open(dir: &Path) -> Result<Journal> {
        let first_path = dir.join("svg-first.jsonl");
        let second_path = dir.join("svg-second.jsonl");
        // Opening first drops a line torn by a crash, so that reading sees whole records only.
        let first_log = AppendLog::open(&first_path, "start")?;
        let second_log = AppendLog::open(&second_path, "start")?;
        let firsts = jsonl::read::<FirstRecord>(&first_path)?
            .records
            .into_iter()
            .map(|r| {
                let first =
                    sera_rollout::svg::FirstRollouts { attempts: r.attempts, accepted: r.accepted };
                (r.start, first)
            })
            .collect();
        let seconds = jsonl::read::<SecondRecord>(&second_path)?
            .records
            .into_iter()
            .map(|r| (r.start, r.t2))
            .collect();
        Ok(Journal {
            firsts,
            seconds,
            first_log: Mutex::new(first_log),
            second_log: Mutex::new(second_log),
        })
    }

    fn first(&self, start: &str) -> Option<sera_rollout::svg::FirstRollouts> {
        self.firsts.get(start).cloned()
    }

    fn second(&self, start: &str) -> Option<Option<Trajectory>> {
        self.seconds.get(start).cloned()
    }

    fn record_first(&self, start: &str, first: &sera_rollout::svg::FirstRollouts) -> Result<()> {
        let record = FirstRecord {
            start: start.to_string(),
            attempts: first.attempts.clone(),
            accepted: first.accepted,
        };
        let mut log = self.first_log.lock().unwrap_or_else(|p| p.into_inner());
        log.append(start, &record)
    }

    fn record_second(&self, start: &str, t2: Option<&Trajectory>) -> Result<()> {
        let record = SecondRecord { start: start.to_string(), t2: t2.cloned() };
        let mut log = self.second_log.lock().unwrap_or_else(|p| p.into_inner());
        log.append(start, &record)
    }
}

fn write_kept(
    out: &mut jsonl::Writer,
    discarded: Option<&mut jsonl::Writer>,
    t: &Trajectory,
    keep: bool,
) -> Result<()> {
    match (keep, discarded) {
        (true, _) => out.write(t),
        (false, Some(discarded)) => discarded.write(t),
        (false, None) => Ok(()),
    }
}

/// `f` over `items` on `workers` threads; results in input order; the first error (in input
/// order) wins, and work stops being taken once one is seen.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = f(item);
                    let failed = result.is_err();
                    *slots[index].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                    if failed {
                        next.store(usize::MAX / 2, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(result) => out.push(result?),
            // Not run because an earlier item failed; that error was returned above.
            None => {
                return Err(Error::Environment(
                    "a rollout worker stopped before finishing its work".into(),
                ));
            }
        }
    }
    Ok(out)
}
