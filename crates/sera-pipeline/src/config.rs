//! `pipeline.toml`: everything `sera run` needs, with defaults for everything but the repository.
//!
//! Unknown keys are errors that name the key and its line, so a typo never silently falls back to
//! a default. The JSON schema in `schemas/pipeline.schema.json` is generated from these types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The whole pipeline configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    pub run: RunSection,
    pub repo: RepoSection,
    #[serde(default)]
    pub env: EnvSection,
    #[serde(default)]
    pub mutate: MutateSection,
    #[serde(default)]
    pub validate: ValidateSection,
    #[serde(default)]
    pub rollout: RolloutSection,
    #[serde(default)]
    pub verify: VerifySection,
    #[serde(default)]
    pub export: ExportSection,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub svg: SvgSection,
    #[serde(default)]
    pub plugins: PluginsSection,
    /// Left out of `run.toml` when unset, so that runs without it resolve as before.
    #[serde(default, skip_serializing_if = "EvalSection::is_unset")]
    pub eval: EvalSection,
}

/// `[eval]`: agents evaluated at the end of a procedural run on its held-out instances, the
/// ones `[export]` keeps out of training (`sera eval` for each agent, then `sera eval compare`).
/// Without agents the stage does not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSection {
    /// The agents, in order; the first is the baseline the others are set against, e.g.
    /// `agents = [{ name = "base", teacher = "openai", base_url = "http://localhost:8000/v1",
    /// model = "Qwen/Qwen3-8B" }, { name = "tuned", teacher = "openai", ... }]`.
    pub agents: Vec<EvalAgent>,
    /// One rollout per held-out instance per seed.
    pub seeds: Vec<u64>,
    /// The share of instances held out; `[export] val_fraction` when absent, so that the
    /// evaluated instances are exactly the ones the exported training split leaves out. 1
    /// evaluates every instance (trained on too).
    pub held_out: Option<f64>,
}

impl Default for EvalSection {
    fn default() -> Self {
        EvalSection { agents: Vec::new(), seeds: vec![0], held_out: None }
    }
}

impl EvalSection {
    fn is_unset(&self) -> bool {
        *self == EvalSection::default()
    }
}

/// One agent of `[eval]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalAgent {
    /// Its name in the report and its folder, `eval/<name>/`: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// `oracle` (a sanity baseline that should resolve everything) or `openai`.
    #[serde(default)]
    pub teacher: TeacherKind,
    /// For `openai`: the server, e.g. `http://localhost:8000/v1`.
    pub base_url: Option<String>,
    /// For `openai`: the model name the server knows.
    pub model: Option<String>,
    /// The step cap of one rollout; `[rollout] step_limit` when absent.
    pub step_limit: Option<usize>,
    /// Rollouts in flight at once; `[rollout] concurrency` when absent.
    pub concurrency: Option<usize>,
}

impl EvalAgent {
    /// Its server and model name (`None` for the oracle), as [`TeacherKind::server`].
    pub fn server(&self) -> std::result::Result<Option<(&str, &str)>, String> {
        let what = format!("[eval] agent {:?}:", self.name);
        self.teacher.server(&what, &self.base_url, &self.model)
    }
}

/// Who plays the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TeacherKind {
    /// Acts out each instance's gold fix; needs no model.
    #[default]
    Oracle,
    /// An OpenAI-compatible chat-completions server.
    Openai,
}

impl TeacherKind {
    /// The server and model name of an `openai` teacher, `None` for the oracle. `what` names
    /// the config's place in the error when `openai` lacks either.
    pub fn server<'a>(
        self,
        what: &str,
        base_url: &'a Option<String>,
        model: &'a Option<String>,
    ) -> std::result::Result<Option<(&'a str, &'a str)>, String> {
        match (self, base_url, model) {
            (TeacherKind::Oracle, _, _) => Ok(None),
            (TeacherKind::Openai, Some(url), Some(model)) => Ok(Some((url, model))),
            (TeacherKind::Openai, _, _) => {
                Err(format!("{what} teacher `openai` needs `base_url` and `model`"))
            }
        }
    }
}

impl std::str::FromStr for TeacherKind {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "oracle" => Ok(TeacherKind::Oracle),
            "openai" => Ok(TeacherKind::Openai),
            other => Err(format!("teacher {other:?} is not one of `oracle`, `openai`")),
        }
    }
}

/// `[env]`: the environment stage, which fetches and installs what the repository declares
/// before the baseline (the only stage with network). Everything it detects can be overridden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EnvSection {
    /// Run what is detected from the repository's files: `cargo fetch` (after checking the
    /// toolchain `rust-toolchain.toml` names), a Python virtual environment with the project,
    /// its test extras, test dependency groups, test requirement files, tox and nox test
    /// dependencies, and pytest. `false` runs only `setup`.
    pub detect: bool,
    /// Shell commands run after what was detected, in a copy of the repository, with the
    /// virtual environment first on `PATH` and the network reachable; files they leave in the
    /// copy are part of every later one.
    pub setup: Vec<String>,
    /// The interpreter that makes the virtual environment (`python3` by default).
    pub python: Option<String>,
    /// Variables for every command of the run, e.g. `{ RUSTUP_TOOLCHAIN = "stable" }`.
    pub vars: BTreeMap<String, String>,
    /// Use only what this machine has: `cargo fetch --offline`, a virtual environment that sees
    /// the interpreter's own packages, `pip install --no-index --no-build-isolation`.
    pub offline: bool,
    /// Extra arguments for every `pip install`, e.g. `["--find-links", "/srv/wheels"]`.
    pub pip_args: Vec<String>,
    /// The test command, overriding the one detected (the same as `[validate] test_command`,
    /// which must then be absent).
    pub test_command: Option<String>,
    /// Where prepared environments are kept, relative to the config file; the run directory's
    /// `cache/env` when absent. Runs that name the same folder share their environments.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EnvSection {
    fn default() -> Self {
        EnvSection {
            detect: true,
            setup: Vec::new(),
            python: None,
            vars: BTreeMap::new(),
            offline: false,
            pip_args: Vec::new(),
            test_command: None,
            cache_dir: None,
        }
    }
}

/// `[plugins]`: dynamic libraries that add bug classes, operators and verifiers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// Folders of plugin libraries, relative to the config file. Their bug classes and
    /// operators join the built-in ones in the mutate stage (selectable in `[mutate]` by slug),
    /// and every verifier they hold must accept a trajectory for it to be kept (`sera plugins
    /// list --dir` shows what a folder holds).
    pub dirs: Vec<PathBuf>,
}

/// `[run]`: where the run directory goes and how the run is seeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The run's name; its directory is `<dir>/<name>`.
    pub name: String,
    /// The parent of run directories, relative to the config file.
    #[serde(default = "default_runs_dir")]
    pub dir: PathBuf,
    /// The seed of every random choice in the run.
    #[serde(default)]
    pub seed: u64,
    /// `procedural` (mutate, validate, solve; needs no model) or `svg` (SERA's two-rollout loop;
    /// needs an `openai` teacher).
    #[serde(default)]
    pub mode: Mode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Procedural,
    Svg,
}

/// `[svg]`: SERA's loop, for `mode = "svg"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SvgSection {
    /// Start functions drawn from the index (SERA: 5,000 per repository).
    pub starts: usize,
    /// Which functions may start a rollout: `call-graph` (SERA's: functions with at least one
    /// call edge, outside tests, examples, docs and setup scripts) or `uniform` (any non-test
    /// function).
    pub draw: String,
    /// Rollout-1 attempts per start function, each with a newly drawn bug class.
    pub attempts: usize,
    /// Keep T2 when the line recall of P1 in P2 is at least this (SERA: 0.5 to specialise to a
    /// repository, 0 for the largest general datasets).
    pub threshold: f64,
    /// A JSON list of demonstration issues, relative to the config file; the built-in pool when
    /// absent.
    pub demonstrations: Option<PathBuf>,
}

impl Default for SvgSection {
    fn default() -> Self {
        SvgSection {
            starts: 20,
            draw: "call-graph".into(),
            attempts: 3,
            threshold: 0.5,
            demonstrations: None,
        }
    }
}

/// `[repo]`: the repository to learn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoSection {
    /// Path to the repository, relative to the config file.
    pub path: PathBuf,
}

/// `[mutate]`: how many candidate bugs to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MutateSection {
    /// At most this many mutants in all; none for no limit.
    pub limit: Option<usize>,
    /// At most this many mutants per function.
    pub per_function: usize,
    /// Only these operators (slugs); empty for all.
    pub operators: Vec<String>,
    /// Only operators tagged with one of these bug classes (slugs); empty for all.
    pub classes: Vec<String>,
    /// Sampling weights replacing operators' defaults, by slug (built-in or plugin), e.g.
    /// `weights = { remove-guard = 2.0, constant-off-by-one = 0.1 }`.
    pub weights: BTreeMap<String, f64>,
}

impl Default for MutateSection {
    fn default() -> Self {
        MutateSection {
            limit: Some(200),
            per_function: 8,
            operators: Vec::new(),
            classes: Vec::new(),
            weights: BTreeMap::new(),
        }
    }
}

/// `[validate]`: running the tests on each mutant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ValidateSection {
    /// Parallel jobs, each with its own scratch copy.
    pub jobs: usize,
    /// `bwrap` (the default) or `none` (no isolation; only for code you trust).
    pub isolation: String,
    /// The test command; detected from the repository when absent.
    pub test_command: Option<String>,
    /// A mutant's tests may take this many times the clean run's time (as cargo-mutants).
    pub timeout_factor: f64,
    /// ... and at least this many seconds.
    pub min_timeout: u64,
}

impl Default for ValidateSection {
    fn default() -> Self {
        ValidateSection {
            jobs: 1,
            isolation: "bwrap".into(),
            test_command: None,
            timeout_factor: 5.0,
            min_timeout: 20,
        }
    }
}

/// `[rollout]`: the teacher that solves the instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutSection {
    /// `oracle` (embedded, needs no model) or `openai` (any OpenAI-compatible server).
    pub teacher: String,
    /// For `openai`: the server, e.g. `http://localhost:8000/v1`.
    pub base_url: Option<String>,
    /// For `openai`: the model name the server knows.
    pub model: Option<String>,
    /// Rollouts in flight at once.
    pub concurrency: usize,
    /// The step cap of one rollout.
    pub step_limit: usize,
}

impl Default for RolloutSection {
    fn default() -> Self {
        RolloutSection {
            teacher: "oracle".into(),
            base_url: None,
            model: None,
            concurrency: 1,
            step_limit: 115,
        }
    }
}

/// `[verify]`: which trajectories are kept as training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySection {
    /// Keep only trajectories whose patch passes the instance's tests.
    pub require_resolved: bool,
    /// Keep only trajectories whose line recall of the gold fix is at least this.
    pub recall_threshold: f64,
}

impl Default for VerifySection {
    fn default() -> Self {
        VerifySection { require_resolved: true, recall_threshold: 0.0 }
    }
}

/// `[export]`: the dataset written under `dataset/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSection {
    /// Any of `openai`, `hermes`, `xml`, `raw`.
    pub formats: Vec<String>,
    /// Records longer than this many tokens are truncated or dropped.
    pub max_tokens: usize,
    /// A Hugging Face `tokenizer.json`; the embedded default when absent.
    pub tokenizer: Option<PathBuf>,
    /// The share of records that go to the validation split.
    pub val_fraction: f64,
    /// `sera`: `hermes`, `xml` and `raw` records exactly as SERA's post-processing writes them;
    /// `lossless`: sera-rs's own rendering (docs/sera-compat.md compares the two).
    pub compat: String,
    /// Drop trajectories whose patch changes more lines (off when absent, as in SERA; it used
    /// 40 for one specialisation run).
    pub max_patch_lines: Option<usize>,
    /// Drop trajectories whose tool outputs average more tokens (off when absent, as in SERA;
    /// it used 600 for the same run).
    pub max_observation_tokens: Option<usize>,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            formats: vec!["hermes".into(), "openai".into()],
            max_tokens: 32_768,
            tokenizer: None,
            val_fraction: 0.1,
            compat: "sera".into(),
            max_patch_lines: None,
            max_observation_tokens: None,
        }
    }
}

/// `[train]`: a short training run of the built-in trainer on the exported data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    pub enabled: bool,
    /// A named model size (`tiny`) or a TOML file.
    pub model: String,
    pub steps: usize,
    /// A Hugging Face `tokenizer.json` to train with instead of bytes, relative to the config
    /// file; it must define `<|im_start|>`, `<|im_end|>` and a pad token. The model's vocabulary
    /// follows it, and checkpoints keep a copy for `sera sample`.
    pub tokenizer: Option<PathBuf>,
    /// A Hugging Face Qwen3 folder to fine-tune from instead of random weights, relative to
    /// the config file (`sera train --init`); its sizes and tokenizer replace `model`'s and
    /// `tokenizer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection { enabled: true, model: "tiny".into(), steps: 40, tokenizer: None, init: None }
    }
}

fn default_runs_dir() -> PathBuf {
    PathBuf::from("runs")
}

impl PipelineConfig {
    /// The test command, from `[env]` or `[validate]`; detected when neither sets it.
    pub fn test_command(&self) -> Option<&String> {
        self.env.test_command.as_ref().or(self.validate.test_command.as_ref())
    }

    /// Reads and checks a config file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PipelineConfig> {
        let config: PipelineConfig = toml::from_str(text)
            .map_err(|err| Error::Usage(format!("{origin}: {}", err.to_string().trim_end())))?;
        config.check(origin)?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.run.dir);
        resolve(&mut self.repo.path);
        if let Some(tokenizer) = &mut self.export.tokenizer {
            resolve(tokenizer);
        }
        if let Some(init) = &mut self.train.init {
            resolve(init);
        }
        if let Some(tokenizer) = &mut self.train.tokenizer {
            resolve(tokenizer);
        }
        if let Some(cache) = &mut self.env.cache_dir {
            resolve(cache);
        }
        if let Some(demonstrations) = &mut self.svg.demonstrations {
            resolve(demonstrations);
        }
        for dir in &mut self.plugins.dirs {
            resolve(dir);
        }
    }

    /// Checks what types alone cannot say, before any work starts.
    fn check(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Err(Error::Usage(format!("{origin}: {message}")));
        if self.run.name.is_empty() || self.run.name.contains(['/', '\\']) {
            return bad(format!("[run] name {:?} must be a plain, non-empty name", self.run.name));
        }
        if !matches!(self.validate.isolation.as_str(), "bwrap" | "none") {
            return bad(format!(
                "[validate] isolation {:?} is not one of `bwrap`, `none`",
                self.validate.isolation
            ));
        }
        let teacher: TeacherKind = match self.rollout.teacher.parse() {
            Ok(teacher) => teacher,
            Err(err) => return bad(format!("[rollout] {err}")),
        };
        if let Err(err) = teacher.server("[rollout]", &self.rollout.base_url, &self.rollout.model) {
            return bad(err);
        }
        if self.run.mode == Mode::Svg && self.rollout.teacher == "oracle" {
            return bad("mode `svg` needs a model teacher: the oracle cannot do SVG rollout 1, \
                        which has no gold fix to act out; set [rollout] teacher = \"openai\""
                .into());
        }
        if self.env.test_command.is_some() && self.validate.test_command.is_some() {
            return bad("set the test command in one place: `[env] test_command` or \
                        `[validate] test_command`, not both"
                .into());
        }
        if self.validate.timeout_factor.is_nan() || self.validate.timeout_factor < 1.0 {
            return bad(format!(
                "[validate] timeout_factor {} must be at least 1",
                self.validate.timeout_factor
            ));
        }
        if let Err(err) = self.svg.draw.parse::<sera_code::StartDraw>() {
            return bad(format!("[svg] draw: {err}"));
        }
        if !(0.0..=1.0).contains(&self.svg.threshold) {
            return bad(format!("[svg] threshold {} must be between 0 and 1", self.svg.threshold));
        }
        for format in &self.export.formats {
            if !matches!(format.as_str(), "openai" | "hermes" | "xml" | "raw") {
                return bad(format!(
                    "[export] format {format:?} is not one of `openai`, `hermes`, `xml`, `raw`"
                ));
            }
        }
        if !matches!(self.export.compat.as_str(), "sera" | "lossless") {
            return bad(format!(
                "[export] compat {:?} is not one of `sera`, `lossless`",
                self.export.compat
            ));
        }
        if !(0.0..=1.0).contains(&self.verify.recall_threshold) {
            return bad(format!(
                "[verify] recall_threshold {} must be between 0 and 1",
                self.verify.recall_threshold
            ));
        }
        self.check_eval().or_else(bad)?;
        if !(0.0..1.0).contains(&self.export.val_fraction) {
            return bad(format!(
                "[export] val_fraction {} must be at least 0 and below 1",
                self.export.val_fraction
            ));
        }
        Ok(())
    }
}

impl PipelineConfig {
    /// The share of instances `[eval]` evaluates.
    pub fn eval_held_out(&self) -> f64 {
        self.eval.held_out.unwrap_or(self.export.val_fraction)
    }

    fn check_eval(&self) -> std::result::Result<(), String> {
        if self.eval.agents.is_empty() {
            return Ok(());
        }
        if self.run.mode == Mode::Svg {
            return Err("[eval] needs test-verified instances, which only mode `procedural` \
                        makes; evaluate an SVG-trained agent with `sera eval` on instances \
                        from a procedural run"
                .into());
        }
        let mut names = std::collections::BTreeSet::new();
        for agent in &self.eval.agents {
            let name = &agent.name;
            if name.is_empty()
                || name.starts_with('.')
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "[eval] agent name {name:?}: use letters, digits, `-`, `_` and `.`"
                ));
            }
            if !names.insert(name) {
                return Err(format!("[eval] two agents are named {name:?}"));
            }
            agent.server()?;
        }
        if self.eval.seeds.is_empty() {
            return Err("[eval] seeds: give at least one seed".into());
        }
        let held_out = self.eval_held_out();
        if !(held_out > 0.0 && held_out <= 1.0) {
            return Err(format!(
                "[eval] evaluates the held-out share {held_out}, which must lie in (0, 1]: \
                 set [export] val_fraction above 0 or [eval] held_out"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(text: &str, expected: &[&str]) {
        let err = PipelineConfig::parse(text, "pipeline.toml").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let message = err.to_string();
        for part in expected {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
    }

    #[test]
    fn minimal_config_takes_defaults() {
        let config =
            PipelineConfig::parse("[run]\nname = \"demo\"\n[repo]\npath = \"repo\"\n", "x")
                .unwrap();
        assert_eq!(config.rollout.teacher, "oracle");
        assert_eq!(config.rollout.step_limit, 115);
        assert_eq!(config.export.formats, ["hermes", "openai"]);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        check_error(
            "[run]\nname = \"demo\"\n[repo]\npath = \"repo\"\n[mutate]\nlimt = 3\n",
            &["pipeline.toml", "line 6", "limt"],
        );
    }

    #[test]
    fn bad_values_are_named() {
        let base = "[run]\nname = \"demo\"\n[repo]\npath = \"r\"\n";
        check_error(&format!("{base}[rollout]\nteacher = \"gpt\"\n"), &["teacher \"gpt\""]);
        check_error(&format!("{base}[rollout]\nteacher = \"openai\"\n"), &["needs `base_url`"]);
        check_error(&format!("{base}[export]\nformats = [\"csv\"]\n"), &["format \"csv\""]);
        check_error(&format!("{base}[export]\ncompat = \"exact\"\n"), &["compat \"exact\""]);
        check_error(&format!("{base}[verify]\nrecall_threshold = 2.0\n"), &["recall_threshold 2"]);
        check_error("[run]\nname = \"a/b\"\n[repo]\npath = \"r\"\n", &["plain, non-empty"]);
        check_error("[run]\nname = \"x\"\n", &["missing field `repo`"]);
        check_error(
            "[run]\nname = \"x\"\nmode = \"svg\"\n[repo]\npath = \"r\"\n",
            &["the oracle cannot do SVG rollout 1"],
        );
    }

    #[test]
    fn eval_agents_are_checked_and_an_unset_section_is_not_written() {
        let base = "[run]\nname = \"demo\"\n[repo]\npath = \"r\"\n";
        let config = PipelineConfig::parse(base, "x").unwrap();
        assert!(!toml::to_string(&config).unwrap().contains("[eval]"));
        let agents = |list: &str| format!("{base}[eval]\nagents = [{list}]\n");
        let config = PipelineConfig::parse(
            &agents("{ name = \"oracle\" }, { name = \"ft\", teacher = \"openai\", base_url = \"u\", model = \"m\" }"),
            "x",
        )
        .unwrap();
        assert_eq!(config.eval.agents[1].teacher, TeacherKind::Openai);
        assert_eq!(config.eval_held_out(), 0.1, "the export's validation share");
        assert!(toml::to_string(&config).unwrap().contains("[[eval.agents]]"));
        check_error(&agents("{ name = \"a/b\" }"), &["agent name \"a/b\""]);
        check_error(&agents("{ name = \"a\" }, { name = \"a\" }"), &["two agents are named"]);
        check_error(&agents("{ name = \"a\", teacher = \"openai\" }"), &["needs `base_url`"]);
        check_error(&agents("{ name = \"a\", teacher = \"gpt\" }"), &["unknown variant `gpt`"]);
        check_error(
            &format!("{base}[export]\nval_fraction = 0.0\n[eval]\nagents = [{{ name = \"a\" }}]\n"),
            &["held-out share 0"],
        );
        check_error(
            "[run]\nname = \"x\"\nmode = \"svg\"\n[repo]\npath = \"r\"\n[rollout]\nteacher = \"openai\"\nbase_url = \"u\"\nmodel = \"m\"\n[eval]\nagents = [{ name = \"a\" }]\n",
            &["only mode `procedural`"],
        );
    }
}
