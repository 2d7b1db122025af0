//! Validation of candidate bugs against a repository's tests: FAIL_TO_PASS and PASS_TO_PASS.
//!
//! Per candidate, in a reused scratch: apply the bug patch, build (a failure makes it
//! unviable), run the suite with a timeout derived from the clean baseline, compare with the
//! baseline, reset the files the patch touched. A candidate is kept iff at least one test goes
//! from passing to failing, at least one passes in both, and nothing timed out.
//!
//! The suite runs in the runner's stages (for cargo: unit and integration tests, then doc
//! tests). A candidate the first stages already keep skips the rest, and its FAIL_TO_PASS and
//! PASS_TO_PASS lists cover those stages' tests; every other candidate runs the whole suite,
//! so "not caught" always means no test at all caught it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use sera_core::{Instance, Mutant, TestReport, TestStatus, stable_id};
use sera_sandbox::{CommandSpec, Output, Sandbox, Scratch};
use serde::{Deserialize, Serialize};

use crate::VerifyError;
use crate::baseline::{self, Baseline};
use crate::issue::problem_statement;
use crate::runner::{self, TestRunner};

/// How to validate. Plain data; start from `ValidateConfig::default()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateConfig {
    /// Parallel jobs, each with its own scratch and build directory.
    pub jobs: usize,
    /// The test command; detected from the repository when `None`.
    pub test_command: Option<Vec<String>>,
    /// Where baselines are cached; no caching when `None`.
    pub cache_dir: Option<PathBuf>,
    /// The repository's commit, part of the baseline's cache key.
    pub commit: Option<String>,
    /// The key of the prepared environment the sandbox uses, part of the baseline's cache key:
    /// the same code can pass with its environment and fail without it.
    pub environment: Option<String>,
    /// Candidate test timeout = max(`min_timeout`, `timeout_factor` × baseline test time),
    /// as cargo-mutants does (5×, at least 20 s).
    pub timeout_factor: f64,
    pub min_timeout: Duration,
    /// Limit for the clean build and each clean test run.
    pub baseline_timeout: Duration,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            jobs: 1,
            test_command: None,
            cache_dir: baseline::default_cache_dir(),
            commit: None,
            environment: None,
            timeout_factor: 5.0,
            min_timeout: Duration::from_secs(20),
            baseline_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// The most test runs one candidate's crash attribution may add: every rerun pins at least
/// one test or finishes, so this bounds a candidate that crashes test after test.
const MAX_CRASH_RERUNS: usize = 64;

/// How [`Validator::attribute_crash`] ended.
enum Attribution {
    /// Every missing test has a status; these crashed.
    Pinned(Vec<String>),
    /// A rerun ran past the test timeout.
    TimedOut(String),
    /// Some tests got no result; why.
    Lost(String),
}

/// Why a candidate was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The patch does not apply to the clean repository.
    PatchDoesNotApply,
    /// The code does not build with the patch.
    Unviable,
    /// No test that passes on clean code fails with the patch.
    NotCaught,
    /// Every test that passes on clean code fails: nothing is left to guard against breakage.
    NoPassToPass,
    /// Only tests found flaky on the clean baseline changed.
    FlakyOnly,
    /// The build or the tests ran past their timeout.
    Timeout,
    /// The test run ended without a readable report (killed, crashed, no test ran).
    NoTestOutput,
}

impl RejectReason {
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::PatchDoesNotApply => "patch does not apply",
            RejectReason::Unviable => "unviable",
            RejectReason::NotCaught => "not caught",
            RejectReason::NoPassToPass => "no pass-to-pass",
            RejectReason::FlakyOnly => "flaky only",
            RejectReason::Timeout => "timeout",
            RejectReason::NoTestOutput => "no test output",
        }
    }

    /// What the reason means for the user and what, if anything, to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            RejectReason::PatchDoesNotApply => {
                "the mutant's patch does not match the repository: the mutants were made from \
                 other files or another commit; mutate the repository again"
            }
            RejectReason::Unviable => {
                "the mutant does not compile: expected for many mutants, nothing to do"
            }
            RejectReason::NotCaught => {
                "no test notices the change: the code is untested there (or the change is \
                 equivalent); more tests would catch it"
            }
            RejectReason::NoPassToPass => {
                "every passing test fails with the mutant, so nothing guards the rest of the \
                 code: expected for code every test runs, nothing to do"
            }
            RejectReason::FlakyOnly => {
                "only tests that change outcome between clean runs failed; make those tests \
                 deterministic to use them"
            }
            RejectReason::Timeout => {
                "the build or the tests ran past their limit (the mutant may loop forever): \
                 expected for some mutants; if the suite is slow, raise `[validate] \
                 timeout_factor` or `min_timeout` (`--timeout-factor`, `--min-timeout`; 5x the \
                 clean test time, at least 20 s)"
            }
            RejectReason::NoTestOutput => {
                "the test run ended without a readable report: read the rejection's detail \
                 for the output's end; check that the test command runs on the clean \
                 repository and that the sandbox's output cap and resource limits suffice"
            }
        }
    }
}

/// A rejected candidate, as written to `rejected.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub mutant_id: String,
    pub repo: String,
    pub file: String,
    pub operator: String,
    pub reason: RejectReason,
    /// What was seen: compiler errors, the failing flaky tests, how the run ended.
    pub detail: String,
    /// Tests that did go from passing to failing (for `no_pass_to_pass` and `timeout`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fail_to_pass: Vec<String>,
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Kept(Box<Instance>),
    Rejected(Rejection),
}

/// Counts of candidates at each step, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Funnel {
    pub candidates: usize,
    pub kept: usize,
    pub rejected: BTreeMap<RejectReason, usize>,
    /// Kept candidates whose FAIL_TO_PASS holds a test whose process crashed (a stack
    /// overflow, an abort, `os._exit`), pinned by rerunning the tests one at a time.
    pub crashed: usize,
}

impl Funnel {
    pub fn record(&mut self, outcome: &Outcome) {
        self.candidates += 1;
        match outcome {
            Outcome::Kept(_) => self.kept += 1,
            Outcome::Rejected(rejection) => {
                *self.rejected.entry(rejection.reason).or_insert(0) += 1
            }
        }
    }

    pub fn count(&self, reason: RejectReason) -> usize {
        self.rejected.get(&reason).copied().unwrap_or(0)
    }

    /// `candidates 12 · unviable 3 · not caught 4 · timeout 0 · kept 5` (other reasons only
    /// when they occurred; `kept 5 (2 by a crash)` when kept candidates crashed a test).
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("candidates {}", self.candidates)];
        for reason in [RejectReason::Unviable, RejectReason::NotCaught, RejectReason::Timeout] {
            parts.push(format!("{} {}", reason.name(), self.count(reason)));
        }
        for (reason, count) in &self.rejected {
            if !matches!(
                reason,
                RejectReason::Unviable | RejectReason::NotCaught | RejectReason::Timeout
            ) {
                parts.push(format!("{} {count}", reason.name()));
            }
        }
        if self.crashed > 0 {
            parts.push(format!("kept {} ({} by a crash)", self.kept, self.crashed));
        } else {
            parts.push(format!("kept {}", self.kept));
        }
        parts.join(" · ")
    }

    /// One line per reason that occurred, with its count and [`RejectReason::hint`]:
    /// `unviable 3: the mutant does not compile: expected for many mutants, nothing to do`.
    pub fn explain(&self) -> Vec<String> {
        self.rejected
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(reason, count)| format!("{} {count}: {}", reason.name(), reason.hint()))
            .collect()
    }
}

/// One run of a test suite in a scratch, read by its runner.
#[derive(Debug, Clone)]
pub struct SuiteRun {
    pub report: TestReport,
    /// Output excerpts of failing tests, by key.
    pub failures: BTreeMap<String, String>,
    /// Both markers were seen: the command ran to its end and its output was read whole.
    pub complete: bool,
    /// The output shows a test process cut short ([`TestRunner::crashed`]).
    pub crashed: bool,
    pub output: Output,
}

/// Validates candidates against one repository with one test command.
pub struct Validator {
    sandbox: Sandbox,
    repo: PathBuf,
    runner: Box<dyn TestRunner>,
    test_command: Vec<String>,
    /// The test command in stages ([`TestRunner::stages`]).
    stages: Vec<Vec<String>>,
    baseline: Baseline,
    baseline_cached: bool,
    test_timeout: Duration,
    build_timeout: Duration,
    jobs: usize,
    /// Scratches with a warm build directory, waiting for a job.
    idle: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("repo", &self.repo)
            .field("runner", &self.runner.name())
            .field("test_command", &self.test_command)
            .field("baseline", &self.baseline.key)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Finds the runner and test command, builds the clean repository in a first scratch and
    /// establishes the baseline (from the cache, or by running the suite twice).
    pub fn new(
        sandbox: &Sandbox,
        repo: &Path,
        config: &ValidateConfig,
    ) -> Result<Validator, VerifyError> {
        let runner = match &config.test_command {
            Some(command) => runner::for_command(command, repo),
            None => runner::detect(repo),
        }
        .ok_or_else(|| VerifyError::NoRunner { repo: repo.to_path_buf() })?;
        let test_command = config.test_command.clone().unwrap_or_else(|| runner.test_command(repo));
        if test_command.is_empty() {
            return Err(VerifyError::BadCommand(String::new()));
        }
        let build_command = runner.build_command(&test_command);
        let stages: Vec<Vec<String>> = runner
            .stages(repo, &test_command)
            .iter()
            .map(|stage| runner.runnable(repo, stage))
            .collect();
        let identity = match (&config.commit, &config.environment) {
            (commit, Some(environment)) => {
                Some(format!("{}\u{0}{environment}", commit.as_deref().unwrap_or("")))
            }
            (commit, None) => commit.clone(),
        };
        let key = baseline::cache_key(repo, identity.as_deref(), &test_command)?;
        let scratch = sandbox.scratch(repo)?;

        let mut build_seconds = 0.0;
        if let Some(build) = &build_command {
            let out = run_build(&scratch, build, config.baseline_timeout)?;
            if !out.success() {
                return Err(VerifyError::BaselineBuild {
                    repo: repo.to_path_buf(),
                    command: build.join(" "),
                    status: out.status_line(),
                    output: tail(&out.combined(), 40),
                });
            }
            build_seconds = out.duration.as_secs_f64();
        }

        let cached = config.cache_dir.as_deref().and_then(|dir| baseline::load(dir, &key));
        let baseline_cached = cached.is_some();
        let baseline = match cached {
            Some(baseline) => baseline,
            None => {
                let mut runs: Vec<BTreeMap<String, TestStatus>> = Vec::with_capacity(2);
                let mut later_stage = BTreeMap::new();
                let mut seconds: f64 = 0.0;
                for _ in 0..2 {
                    let mut tests = BTreeMap::new();
                    let mut run_seconds = 0.0;
                    for (index, stage) in stages.iter().enumerate() {
                        let run =
                            suite_run(&scratch, runner.as_ref(), stage, config.baseline_timeout)?;
                        let problem = if run.output.timed_out {
                            Some(format!(
                                "timed out after {:.0} s",
                                run.output.duration.as_secs_f64()
                            ))
                        } else if !run.complete {
                            Some(format!("the run ended early ({})", run.output.status_line()))
                        } else if run.crashed {
                            // A crash of clean code cannot be blamed on any candidate.
                            Some(format!(
                                "the run was cut short on the clean code ({}): a test process \
                                 crashed or collecting the tests failed; fix or skip that test \
                                 (or install what a failing import needs), or pass a test \
                                 command that leaves it out",
                                run.output.status_line()
                            ))
                        } else {
                            None
                        };
                        if let Some(problem) = problem {
                            return Err(VerifyError::BaselineTests {
                                repo: repo.to_path_buf(),
                                command: stage.join(" "),
                                detail: format!(
                                    "{problem}; the output ends with:\n{}",
                                    tail(&run.output.stdout, 30)
                                ),
                            });
                        }
                        run_seconds += run.output.duration.as_secs_f64();
                        for (name, status) in run.report.tests {
                            if index > 0 && !tests.contains_key(&name) {
                                later_stage.insert(name.clone(), index);
                            }
                            tests.insert(name, status);
                        }
                    }
                    if tests.is_empty() {
                        return Err(VerifyError::BaselineTests {
                            repo: repo.to_path_buf(),
                            command: test_command.join(" "),
                            detail: "no test ran".into(),
                        });
                    }
                    seconds = seconds.max(run_seconds);
                    runs.push(tests);
                }
                let mut baseline = Baseline::from_runs(
                    key,
                    runner.name(),
                    &test_command,
                    &runs[0],
                    &runs[1],
                    seconds,
                    build_seconds,
                );
                baseline.later_stage = later_stage;
                if let Some(dir) = &config.cache_dir {
                    baseline::store(dir, &baseline)?;
                }
                baseline
            }
        };
        if baseline.passing().next().is_none() {
            return Err(VerifyError::BaselineTests {
                repo: repo.to_path_buf(),
                command: test_command.join(" "),
                detail: "no test passes on the clean repository, so no candidate can be caught"
                    .into(),
            });
        }
        let scaled = |seconds: f64| {
            Duration::from_secs_f64(seconds * config.timeout_factor).max(config.min_timeout)
        };
        Ok(Validator {
            sandbox: sandbox.clone(),
            repo: repo.to_path_buf(),
            test_timeout: scaled(baseline.test_seconds),
            // A job's first build starts from an empty build directory, like the clean one.
            build_timeout: scaled(baseline.build_seconds.max(build_seconds))
                .max(Duration::from_secs(60)),
            runner,
            test_command,
            stages,
            baseline,
            baseline_cached,
            jobs: config.jobs.max(1),
            idle: Mutex::new(vec![scratch]),
        })
    }

    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// Whether the baseline came from the cache rather than from two fresh runs.
    pub fn baseline_was_cached(&self) -> bool {
        self.baseline_cached
    }

    pub fn runner(&self) -> &dyn TestRunner {
        self.runner.as_ref()
    }

    pub fn test_command(&self) -> &[String] {
        &self.test_command
    }

    /// The per-candidate test timeout derived from the baseline.
    pub fn test_timeout(&self) -> Duration {
        self.test_timeout
    }

    /// Runs the test suite once in `scratch` as it is.
    pub fn run_tests(&self, scratch: &Scratch) -> Result<SuiteRun, VerifyError> {
        let command = self.runner.runnable(&self.repo, &self.test_command);
        suite_run(scratch, self.runner.as_ref(), &command, self.test_timeout)
    }

    /// Validates one candidate in `scratch`, leaving the scratch clean again. Errors only when
    /// the sandbox fails; everything a candidate can do wrong is an [`Outcome`].
    pub fn check(&self, scratch: &Scratch, mutant: &Mutant) -> Result<Outcome, VerifyError> {
        Ok(self.check_counted(scratch, mutant)?.0)
    }

    /// [`check`](Self::check), and whether a kept outcome rests on tests whose process
    /// crashed.
    fn check_counted(
        &self,
        scratch: &Scratch,
        mutant: &Mutant,
    ) -> Result<(Outcome, bool), VerifyError> {
        if let Err(err) = scratch.apply(&mutant.patch) {
            if err.is_environment() {
                return Err(err.into());
            }
            let reason = RejectReason::PatchDoesNotApply;
            return Ok((reject(mutant, reason, err.to_string(), Vec::new()), false));
        }
        let outcome = self.check_applied(scratch, mutant);
        scratch.reset(&mutant.patch)?;
        outcome
    }

    /// [`check_applied`](Self::check_applied), and whether the outcome rests on tests whose
    /// process crashed (pinned by [`attribute_crash`](Self::attribute_crash)).
    fn check_applied(
        &self,
        scratch: &Scratch,
        mutant: &Mutant,
    ) -> Result<(Outcome, bool), VerifyError> {
        let mut crashed = Vec::new();
        let mut tests = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let last = self.stages.len().saturating_sub(1);
        for (index, stage) in self.stages.iter().enumerate() {
            // Each stage builds only what it runs: a candidate decided by the unit tests never
            // pays for building the integration tests.
            if let Some(build) = self.runner.build_command(stage) {
                let out = run_build(scratch, &build, self.build_timeout)?;
                if out.timed_out {
                    return Ok((
                        reject(
                            mutant,
                            RejectReason::Timeout,
                            format!("build {}", out.status_line()),
                            Vec::new(),
                        ),
                        false,
                    ));
                }
                if !out.success() {
                    return Ok((
                        reject(
                            mutant,
                            RejectReason::Unviable,
                            compiler_errors(&out.combined()),
                            Vec::new(),
                        ),
                        false,
                    ));
                }
            }
            let run = suite_run(scratch, self.runner.as_ref(), stage, self.test_timeout)?;
            if run.output.timed_out {
                return Ok((
                    reject(
                        mutant,
                        RejectReason::Timeout,
                        format!("tests {}", run.output.status_line()),
                        Vec::new(),
                    ),
                    false,
                ));
            }
            let expected = self.baseline.tests.keys().any(|k| self.baseline.stage_of(k) == index);
            // A crash may leave a stage with no result at all; the reruns below read it.
            if !run.complete || (expected && run.report.tests.is_empty() && !run.crashed) {
                let detail = format!(
                    "`{}` ended with {} and reported {} tests; output ends with:\n{}",
                    stage.join(" "),
                    run.output.status_line(),
                    run.report.tests.len(),
                    tail(&run.output.stdout, 20)
                );
                return Ok((reject(mutant, RejectReason::NoTestOutput, detail, Vec::new()), false));
            }
            tests.extend(run.report.tests);
            failures.extend(run.failures);
            let missing: Vec<String> = self
                .baseline
                .passing()
                .filter(|name| self.baseline.stage_of(name) == index && !tests.contains_key(*name))
                .map(str::to_string)
                .collect();
            if run.crashed && !missing.is_empty() {
                match self.attribute_crash(scratch, stage, &missing, &mut tests, &mut failures)? {
                    Attribution::Pinned(names) => crashed.extend(names),
                    Attribution::TimedOut(detail) => {
                        let outcome = reject(mutant, RejectReason::Timeout, detail, Vec::new());
                        return Ok((outcome, false));
                    }
                    Attribution::Lost(detail) => {
                        let outcome =
                            reject(mutant, RejectReason::NoTestOutput, detail, Vec::new());
                        return Ok((outcome, false));
                    }
                }
            }
            let (fail_to_pass, pass_to_pass) = compare_through(&self.baseline, index, &tests);
            if (!fail_to_pass.is_empty() && !pass_to_pass.is_empty()) || index == last {
                let outcome = self.decide(mutant, fail_to_pass, pass_to_pass, &tests, &failures);
                let by_crash = !crashed.is_empty() && matches!(outcome, Outcome::Kept(_));
                return Ok((outcome, by_crash));
            }
        }
        Err(VerifyError::BadCommand(self.test_command.join(" ")))
    }

    /// Gives each of `missing` (tests of `stage` that passed on clean code and got no result
    /// because a test process died) its own status: the runner reruns them one at a time
    /// ([`TestRunner::isolate`]), the test running when a process dies again is failed (a
    /// crash is a failure), what ran before it keeps its result, and what did not run yet is
    /// rerun, until every test has a status. Bounded by [`MAX_CRASH_RERUNS`] and, for all
    /// reruns together, the test timeout.
    fn attribute_crash(
        &self,
        scratch: &Scratch,
        stage: &[String],
        missing: &[String],
        tests: &mut BTreeMap<String, TestStatus>,
        failures: &mut BTreeMap<String, String>,
    ) -> Result<Attribution, VerifyError> {
        let mut remaining = missing.to_vec();
        let mut pinned = Vec::new();
        let mut reruns = 0;
        // All reruns together get one test timeout: a candidate's crash costs at most about
        // one more run of the stage, however many tests it crashes.
        let mut budget = self.test_timeout;
        while !remaining.is_empty() {
            let settled: Vec<String> = tests.keys().cloned().collect();
            let mut progress = false;
            for rerun in self.runner.isolate(stage, &remaining, &settled) {
                if reruns == MAX_CRASH_RERUNS {
                    return Ok(Attribution::Lost(format!(
                        "a test process crashed; after {MAX_CRASH_RERUNS} reruns one test at a \
                         time, {} tests still have no result: {}",
                        remaining.len(),
                        remaining.join(", ")
                    )));
                }
                reruns += 1;
                if budget.is_zero() {
                    return Ok(Attribution::TimedOut(format!(
                        "reruns of the tests a crash left without a result used up the test \
                         timeout ({:.0} s)",
                        self.test_timeout.as_secs_f64()
                    )));
                }
                let (output, log, complete) = marked_run(scratch, &rerun.command, budget)?;
                budget = budget.saturating_sub(output.duration);
                if output.timed_out {
                    return Ok(Attribution::TimedOut(format!(
                        "rerun of the tests a crash left without a result {}",
                        output.status_line()
                    )));
                }
                if !complete {
                    break;
                }
                let read = self.runner.read_rerun(&log, &rerun);
                for (key, status) in read.parsed.tests {
                    if rerun.tests.contains(&key) && !tests.contains_key(&key) {
                        tests.insert(key, status);
                        progress = true;
                    }
                }
                for (key, text) in read.parsed.failures {
                    if rerun.tests.contains(&key) {
                        failures.entry(key).or_insert(text);
                    }
                }
                for (key, how) in read.died_in {
                    if rerun.tests.contains(&key) && !tests.contains_key(&key) {
                        tests.insert(key.clone(), TestStatus::Failed);
                        failures.insert(key.clone(), how);
                        pinned.push(key);
                        progress = true;
                    }
                }
            }
            remaining.retain(|name| !tests.contains_key(name));
            if !progress {
                break;
            }
        }
        if remaining.is_empty() {
            Ok(Attribution::Pinned(pinned))
        } else {
            Ok(Attribution::Lost(format!(
                "a test process crashed and {} tests got no result, even rerun one at a time: {}",
                remaining.len(),
                remaining.join(", ")
            )))
        }
    }

    /// The outcome of a candidate from its FAIL_TO_PASS and PASS_TO_PASS lists.
    fn decide(
        &self,
        mutant: &Mutant,
        fail_to_pass: Vec<String>,
        pass_to_pass: Vec<String>,
        tests: &BTreeMap<String, TestStatus>,
        failures: &BTreeMap<String, String>,
    ) -> Outcome {
        if fail_to_pass.is_empty() {
            let flaky_failed: Vec<&String> = self
                .baseline
                .flaky
                .iter()
                .filter(|name| tests.get(*name).is_none_or(|s| !s.is_pass()))
                .collect();
            return if flaky_failed.is_empty() {
                reject(
                    mutant,
                    RejectReason::NotCaught,
                    "every test that passes on clean code still passes".into(),
                    Vec::new(),
                )
            } else {
                let names: Vec<&str> = flaky_failed.iter().map(|s| s.as_str()).collect();
                reject(
                    mutant,
                    RejectReason::FlakyOnly,
                    format!("only flaky tests failed: {}", names.join(", ")),
                    Vec::new(),
                )
            };
        }
        if pass_to_pass.is_empty() {
            let detail = format!("all {} passing tests fail", fail_to_pass.len());
            return reject(mutant, RejectReason::NoPassToPass, detail, fail_to_pass);
        }
        let gold_patch = match self.gold_patch(&mutant.patch) {
            Ok(patch) => patch,
            Err(err) => {
                return reject(
                    mutant,
                    RejectReason::PatchDoesNotApply,
                    err.to_string(),
                    Vec::new(),
                );
            }
        };
        let statement =
            problem_statement(&mutant.repo, &self.test_command, &fail_to_pass, failures);
        let command_line = self.test_command.join(" ");
        Outcome::Kept(Box::new(Instance {
            id: stable_id("i", &[&mutant.id, &command_line]),
            repo: mutant.repo.clone(),
            commit: mutant.commit.clone(),
            mutant_id: mutant.id.clone(),
            file: mutant.file.clone(),
            entity: mutant.entity.clone(),
            operator: mutant.operator.clone(),
            classes: mutant.classes.clone(),
            bug_patch: mutant.patch.clone(),
            gold_patch,
            fail_to_pass,
            pass_to_pass,
            problem_statement: statement,
            test_command: self.test_command.clone(),
        }))
    }

    /// The fix of a bug: the diff from the bugged files back to the clean ones, made the way the
    /// rollout diffs an agent's work, so that an agent that restores the clean code exactly gets
    /// a recall of 1 even where the bug moved a block (see [`sera_core::Patch::undo`]).
    fn gold_patch(&self, bug: &sera_core::Patch) -> Result<sera_core::Patch, String> {
        let mut original = std::collections::BTreeMap::new();
        for path in bug.paths() {
            if let Ok(text) = std::fs::read_to_string(self.repo.join(path)) {
                original.insert(path.to_string(), text);
            }
        }
        bug.undo(&original).map_err(|err| err.to_string())
    }

    /// Validates every candidate on `jobs` parallel scratches. `on_outcome` is called on the
    /// calling thread once per candidate, in input order (so output files are deterministic
    /// whatever the number of jobs); an error from it stops the run and is returned.
    pub fn validate<E, F>(&self, mutants: &[Mutant], mut on_outcome: F) -> Result<Funnel, E>
    where
        E: From<VerifyError>,
        F: FnMut(usize, Outcome) -> Result<(), E>,
    {
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let mut funnel = Funnel::default();
        let jobs = self.jobs.min(mutants.len()).max(1);
        std::thread::scope(|scope| {
            let (sender, receiver) =
                mpsc::channel::<(usize, Result<(Outcome, bool), VerifyError>)>();
            for _ in 0..jobs {
                let sender = sender.clone();
                let (next, stop) = (&next, &stop);
                scope.spawn(move || {
                    let scratch = match self.take_scratch() {
                        Ok(scratch) => scratch,
                        Err(err) => {
                            let index = next.fetch_add(1, Ordering::SeqCst);
                            let _ = sender.send((index, Err(err)));
                            return;
                        }
                    };
                    while !stop.load(Ordering::SeqCst) {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(mutant) = mutants.get(index) else { break };
                        if sender.send((index, self.check_counted(&scratch, mutant))).is_err() {
                            break;
                        }
                    }
                    self.return_scratch(scratch);
                });
            }
            drop(sender);
            let mut pending: BTreeMap<usize, Result<(Outcome, bool), VerifyError>> =
                BTreeMap::new();
            let mut emit = 0;
            let mut failure: Option<E> = None;
            for (index, result) in receiver {
                pending.insert(index, result);
                while failure.is_none() {
                    let Some(result) = pending.remove(&emit) else { break };
                    emit += 1;
                    let delivered = result.map_err(E::from).and_then(|(outcome, by_crash)| {
                        funnel.record(&outcome);
                        funnel.crashed += usize::from(by_crash);
                        on_outcome(emit - 1, outcome)
                    });
                    if let Err(err) = delivered {
                        stop.store(true, Ordering::SeqCst);
                        failure = Some(err);
                    }
                }
            }
            match failure {
                Some(err) => Err(err),
                None => Ok(funnel),
            }
        })
    }

    fn take_scratch(&self) -> Result<Scratch, VerifyError> {
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        match idle {
            Some(scratch) => Ok(scratch),
            None => Ok(self.sandbox.scratch(&self.repo)?),
        }
    }

    fn return_scratch(&self, scratch: Scratch) {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(scratch);
    }
}

/// FAIL_TO_PASS and PASS_TO_PASS: over the tests that pass on the clean baseline, those that
/// do not pass with the bug (failed, errored, skipped, or missing from the run) and those
/// that still pass. Flaky tests are not in the baseline and so are in neither list.
pub fn compare(
    baseline: &Baseline,
    bugged: &BTreeMap<String, TestStatus>,
) -> (Vec<String>, Vec<String>) {
    compare_through(baseline, usize::MAX, bugged)
}

/// [`compare`] over the tests of stages `0..=stage` only.
fn compare_through(
    baseline: &Baseline,
    stage: usize,
    bugged: &BTreeMap<String, TestStatus>,
) -> (Vec<String>, Vec<String>) {
    let mut fail_to_pass = Vec::new();
    let mut pass_to_pass = Vec::new();
    for name in baseline.passing().filter(|name| baseline.stage_of(name) <= stage) {
        match bugged.get(name) {
            Some(status) if status.is_pass() => pass_to_pass.push(name.to_string()),
            _ => fail_to_pass.push(name.to_string()),
        }
    }
    (fail_to_pass, pass_to_pass)
}

/// Hard verification of a fix: every FAIL_TO_PASS and every PASS_TO_PASS test passes (a
/// skipped test does not count as passing).
pub fn resolved(instance: &Instance, tests: &BTreeMap<String, TestStatus>) -> bool {
    instance
        .fail_to_pass
        .iter()
        .chain(&instance.pass_to_pass)
        .all(|name| tests.get(name).is_some_and(|status| status.is_pass()))
}

fn reject(
    mutant: &Mutant,
    reason: RejectReason,
    detail: String,
    fail_to_pass: Vec<String>,
) -> Outcome {
    Outcome::Rejected(Rejection {
        mutant_id: mutant.id.clone(),
        repo: mutant.repo.clone(),
        file: mutant.file.clone(),
        operator: mutant.operator.clone(),
        reason,
        detail,
        fail_to_pass,
    })
}

fn run_build(
    scratch: &Scratch,
    build: &[String],
    timeout: Duration,
) -> Result<Output, VerifyError> {
    let spec = CommandSpec::from_argv(build)
        .ok_or_else(|| VerifyError::BadCommand(String::new()))?
        .timeout(timeout)
        .merge_output(true);
    Ok(scratch.run(&spec)?)
}

/// Runs `command` bracketed by marker lines and reads what lies between them.
fn suite_run(
    scratch: &Scratch,
    runner: &dyn TestRunner,
    command: &[String],
    timeout: Duration,
) -> Result<SuiteRun, VerifyError> {
    let (output, log, complete) = marked_run(scratch, command, timeout)?;
    let parsed = runner.parse(&log);
    let report = TestReport {
        runner: runner.name().to_string(),
        exit_code: output.exit_code,
        timed_out: output.timed_out,
        tests: parsed.tests,
    };
    let crashed = runner.crashed(&log);
    Ok(SuiteRun { report, failures: parsed.failures, complete, crashed, output })
}

/// Runs `command` bracketed by marker lines carrying a fresh nonce, and returns the output,
/// the part between the markers, and whether both were seen. A run whose end marker is
/// missing (killed, or its output truncated there) is incomplete; the exit code is taken from
/// the process, never from the output.
fn marked_run(
    scratch: &Scratch,
    command: &[String],
    timeout: Duration,
) -> Result<(Output, String, bool), VerifyError> {
    let nonce = nonce();
    let begin = format!("=== sera-test-begin {nonce} ===");
    let end = format!("=== sera-test-end {nonce} ===");
    let script = format!("echo '{begin}'; \"$@\"; code=$?; echo; echo '{end}'; exit $code");
    let spec = CommandSpec::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sera-test")
        .args(command.iter().cloned())
        .timeout(timeout)
        .merge_output(true);
    let output = scratch.run(&spec)?;
    let lines: Vec<&str> = output.stdout.lines().collect();
    let start = lines.iter().position(|l| *l == begin);
    let stop = lines.iter().rposition(|l| *l == end);
    let (log, complete) = match (start, stop) {
        (Some(a), Some(b)) if a < b && !output.truncated => (lines[a + 1..b].join("\n"), true),
        (Some(a), _) => (lines[a + 1..].join("\n"), false),
        _ => (String::new(), false),
    };
    Ok((output, log, complete))
}

/// A marker no test can predict: process id, time and a counter, hashed.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let parts = [
        std::process::id().to_string(),
        time.to_string(),
        COUNTER.fetch_add(1, Ordering::Relaxed).to_string(),
    ];
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    stable_id("n", &refs)
}

/// The compiler's error lines (and the location line after each), or the output's tail.
fn compiler_errors(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("error") {
            kept.push(*line);
            if let Some(next) = lines.get(i + 1).filter(|l| l.trim_start().starts_with("-->")) {
                kept.push(next);
            }
        }
        if kept.len() >= 12 {
            break;
        }
    }
    if kept.is_empty() { tail(output, 12) } else { kept.join("\n") }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestStatus::*;

    fn baseline(tests: &[(&str, TestStatus)], flaky: &[&str]) -> Baseline {
        Baseline {
            key: "k".into(),
            runner: "cargo".into(),
            test_command: Vec::new(),
            tests: tests.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            flaky: flaky.iter().map(|s| s.to_string()).collect(),
            later_stage: BTreeMap::new(),
            test_seconds: 1.0,
            build_seconds: 0.0,
        }
    }

    fn check(
        base: &[(&str, TestStatus)],
        bugged: &[(&str, TestStatus)],
        f2p: &[&str],
        p2p: &[&str],
    ) {
        let bugged = bugged.iter().map(|(n, s)| (n.to_string(), *s)).collect();
        let (a, b) = compare(&baseline(base, &[]), &bugged);
        assert_eq!(
            (a, b),
            (
                f2p.iter().map(|s| s.to_string()).collect(),
                p2p.iter().map(|s| s.to_string()).collect()
            )
        );
    }

    #[test]
    fn fail_to_pass_and_pass_to_pass() {
        check(&[("a", Passed), ("b", Passed)], &[("a", Failed), ("b", Passed)], &["a"], &["b"]);
        // A test failing on the clean code is never FAIL_TO_PASS.
        check(&[("a", Failed), ("b", Passed)], &[("a", Failed), ("b", Passed)], &[], &["b"]);
        // Missing, errored and skipped with the bug all count as not passing.
        check(
            &[("a", Passed), ("b", Passed), ("c", Passed)],
            &[("b", Error), ("c", Skipped)],
            &["a", "b", "c"],
            &[],
        );
        check(&[("a", Skipped)], &[("a", Failed)], &[], &[]);
    }

    #[test]
    fn funnel_summary_names_every_step() {
        let mut funnel = Funnel::default();
        funnel.rejected.insert(RejectReason::Unviable, 2);
        funnel.rejected.insert(RejectReason::FlakyOnly, 1);
        funnel.candidates = 4;
        funnel.kept = 1;
        assert_eq!(
            funnel.summary(),
            "candidates 4 · unviable 2 · not caught 0 · timeout 0 · flaky only 1 · kept 1"
        );
        funnel.crashed = 1;
        assert!(funnel.summary().ends_with(" · kept 1 (1 by a crash)"), "{}", funnel.summary());
    }

    #[test]
    fn every_reason_that_occurred_is_explained_with_what_to_do() {
        let mut funnel = Funnel::default();
        funnel.rejected.insert(RejectReason::Unviable, 2);
        funnel.rejected.insert(RejectReason::Timeout, 1);
        assert_eq!(
            funnel.explain(),
            [
                "unviable 2: the mutant does not compile: expected for many mutants, nothing to do",
                &format!("timeout 1: {}", RejectReason::Timeout.hint()),
            ]
        );
        assert!(RejectReason::Timeout.hint().contains("timeout_factor"));
        assert!(RejectReason::NoTestOutput.hint().contains("clean repository"));
    }
}
