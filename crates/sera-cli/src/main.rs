//! The `sera` binary: argument parsing and glue over `sera-pipeline`, and the choice of
//! allocator for tree-sitter (`memory`).
//!
//! Must not know: any stage's logic: argument parsing and glue over `sera-pipeline` only.
//!
//! Exit codes (the CLI contract in docs/ARCHITECTURE.md): 0 success, 1 usage error, 2 bad input
//! data, 3 environment problem. Every error names the file, record or line at fault.

mod memory;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn a code repository into supervised fine-tuning data for coding agents.
///
/// Procedural mode indexes a repository, injects bugs that its tests catch, lets a teacher
/// solve them in a sandbox and exports the trajectories. Each stage is a subcommand reading and
/// writing JSONL files, so stages can be run, inspected and rerun one at a time.
#[derive(Debug, Parser)]
#[command(name = "sera", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole procedural pipeline into a resumable run directory.
    ///
    /// Reads pipeline.toml (or --config): the repository, seed, limits, teacher, thresholds and
    /// export formats. Stages run in order (index, mutate, validate, rollout, verify, export) in
    /// `<run.dir>/<run.name>/`, and manifest.json records which are done. Validation and
    /// rollouts append their records one by one, so after a crash or `kill -9` the same command
    /// resumes where it stopped, losing at most the record in flight, and ends with the same
    /// files as an uninterrupted run. --shard I/N does the I-th of N disjoint parts of the work
    /// (by a stable hash of the mutant id, or in SVG mode of the start function's id) in its own
    /// run directory.
    #[command(after_help = "Examples:\n  sera run --config pipeline.toml\n  \
                            sera run --config pipeline.toml --shard 3/8")]
    Run(RunArgs),

    /// Join the run directories of `sera run --shard I/N` and finish the run.
    ///
    /// Every shard must have finished (its stages up to verify are done). Their instances,
    /// rejected mutants and trajectories are concatenated into the unsharded run directory in
    /// mutant order, and the remaining stages (export, train, report) run there. In SVG mode the
    /// trajectories are put in start-function order, P1 dedup is applied across shards (a start
    /// whose P1 repeats an earlier one's loses its T2, as in one run), and verification runs on
    /// the whole before the remaining stages.
    #[command(after_help = "Examples:\n  sera merge --config pipeline.toml --shards 8")]
    Merge(MergeArgs),

    /// Index a repository: one JSON object per function or method.
    ///
    /// Walks REPO honouring .gitignore and hidden-file rules, parses Rust (.rs) and Python (.py)
    /// with tree-sitter, and writes every function and method with its qualified name
    /// (`module::Type::method`, `pkg.mod.Class.method`), file, byte and line spans, whether it is
    /// test code, and the functions it calls (kept only where the callee's name is defined once
    /// in the repository). Records are sorted by file, then position.
    ///
    /// Files that cannot be read, are not UTF-8, are larger than --max-file-bytes or say they
    /// are generated are skipped; files with syntax errors are indexed as far as they parse.
    /// A summary listing both goes to stderr.
    #[command(after_help = "Examples:\n  sera index . --out functions.jsonl\n  \
                            sera index ../repo | jq -r .qualified_name")]
    Index(IndexArgs),

    /// List the bug classes: 51 built in, index 0 a generic "possible bug".
    ///
    /// Each class has a slug (used in mutants, instances and trajectories), a name, a one-
    /// paragraph description and a vague prompt template with `{{function}}` and `{{file}}`.
    /// Mutation operators are tagged with class slugs; SVG rollouts draw a class and render its
    /// prompt for a start function.
    #[command(after_help = "Examples:\n  sera taxonomy list\n  \
                            sera taxonomy list --json | jq -r '.[13].template'")]
    Taxonomy {
        #[command(subcommand)]
        command: TaxonomyCommand,
    },

    /// Inject candidate bugs: one JSON mutant per line, each with its patch and bug classes.
    ///
    /// Indexes REPO, then applies mutation operators to the syntax of every non-test function
    /// (Rust and Python; `#[cfg(test)]`, `#[test]`, `unsafe fn` and test files are skipped):
    /// flipped and changed operators, off-by-one constants and bounds, removed loops, guards,
    /// conditionals, assignments and calls, swapped branches, statements and arguments, broken
    /// call chains, removed error handling, bodies replaced by a default value of the return
    /// type, deleted match arms. Each mutant is one minimal splice with a unified diff that
    /// `git apply` accepts; changes that no longer parse and duplicate patches are dropped.
    ///
    /// Sampling is seeded and identical on every machine and thread count: operators are drawn
    /// by weight (--weight overrides one), at most --per-function mutants per function, at most
    /// --limit in all. With --plugins, the operators of the plugin libraries in that folder
    /// join the built-in ones and go through the same checks. Mutants are candidates: `sera
    /// validate` keeps those the tests catch. A summary goes to stderr.
    #[command(after_help = "Examples:\n  sera mutate . --out mutants.jsonl --limit 200\n  \
                            sera mutate . --seed 3 --operators remove-guard --out m.jsonl\n  \
                            sera mutate . --classes null-safety-and-optional-value-handling --out -\n  \
                            sera mutate . --weight remove-guard=3,constant-off-by-one=0.1 --out m.jsonl\n  \
                            sera mutate . --plugins .sera/plugins --operators swap-call-arguments --out m.jsonl")]
    Mutate(MutateArgs),

    /// Prepare a repository's environment: fetch and install what it declares, once.
    ///
    /// The only step of sera-rs that reaches the network. Rust: checks that the toolchain
    /// rust-toolchain.toml names is installed, then `cargo fetch`, so that every later
    /// `cargo test --offline` finds its dependencies. Python: a virtual environment with the
    /// project installed, its test extras (`test`, `tests`, `testing`, else `dev`), test
    /// dependency groups, test requirement files, tox and nox test dependencies, and pytest.
    /// Then the --setup commands. It runs the repository's own install procedure on the clean
    /// code in a sandbox that may write only its copy and the environment folder. The result is
    /// kept in --env-cache per repository, dependency files and settings, so a second run reads
    /// it back at once; `sera validate` and `sera rollout` prepare (or read back) the same
    /// environment before they start, and `sera run` does it as its `env` stage. A failed step
    /// names itself, its command, the end of its output and how to override it.
    #[command(after_help = "Examples:\n  sera prepare ../myrepo\n  \
                            sera prepare . --setup 'pip install -e vendor/plugin' --var DJANGO_SETTINGS_MODULE=app.settings\n  \
                            sera prepare . --offline --pip-arg=--find-links=/srv/wheels")]
    Prepare(PrepareArgs),

    /// Validate mutants against a repository's tests: keep those its tests catch.
    ///
    /// Runs the test suite twice on the clean repository (the baseline, cached per repository
    /// content, commit and test command; tests whose result differs are flaky and excluded),
    /// then for each mutant in a sandboxed scratch copy: apply it, build (a build failure makes
    /// it unviable), run the tests with a timeout of 5x the baseline (at least 20 s), and keep
    /// it iff at least one test fails that passes on clean code (FAIL_TO_PASS) and at least one
    /// still passes (PASS_TO_PASS). Kept mutants become instances with the bug patch, the gold
    /// fix, both test lists and an issue text; rejected ones go to rejected.jsonl next to
    /// --out with their reason. A funnel summary goes to stderr.
    #[command(
        after_help = "Examples:\n  sera validate . --mutants mutants.jsonl --out instances.jsonl\n  \
                            sera validate ../pkg --mutants m.jsonl --out i.jsonl --jobs 2 \\\n      \
                            --test-command 'python3 -m pytest -v -rA tests/unit'"
    )]
    Validate(ValidateArgs),

    /// Let a teacher solve instances in a sandbox: one graded trajectory per instance.
    ///
    /// For each instance: a scratch copy of the repository with the bug applied, the agent
    /// tools (bash, str_replace_editor, submit), and the step loop (at most --step-limit teacher
    /// calls). The `oracle` teacher acts out the gold fix for real (search, view, reproduce
    /// with the failing tests, edit, rerun, submit twice) with seeded variation; `openai` asks
    /// any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs; API key from
    /// $OPENAI_API_KEY or --api-key-env). Each submitted patch is then graded: hard (the
    /// instance's FAIL_TO_PASS and PASS_TO_PASS tests) and soft (line recall of the gold fix).
    /// Trajectories are written in input order; a summary goes to stderr.
    ///
    /// With --functions (an index from `sera index`) instead of --instances, runs SERA's SVG loop
    /// with a model teacher: per start function, rollout 1 from a bug-class prompt on the clean
    /// repository with a self-check (up to --attempts classes), a synthetic issue in the style of
    /// a demonstration issue, and rollout 2 on a fresh copy; kept T1 and T2 (recall of P1 in P2
    /// at least --threshold) go to --out, the rest to svg-discarded.jsonl next to it.
    #[command(
        after_help = "Examples:\n  sera rollout --instances instances.jsonl --repo . --teacher oracle --out trajectories.jsonl\n  \
                            sera rollout --instances i.jsonl --repo ../repo --teacher openai --base-url http://localhost:8000/v1 \\\n      --model Qwen/Qwen3-32B --concurrency 32 --out t.jsonl"
    )]
    Rollout(RolloutArgs),

    /// Soft verification: line recall of a target patch in a candidate patch.
    #[command(
        after_help = "Examples:\n  sera verify recall --target gold.diff --candidate agent.diff\n  \
                            sera verify recall --batch pairs.jsonl --out recall.jsonl"
    )]
    Verify {
        #[command(subcommand)]
        command: VerifyCommand,
    },

    /// Import trajectories recorded by SWE-agent, mini-swe-agent or SERA's datasets.
    ///
    /// Reads SWE-agent `.traj` files (their `history` with OpenAI tool calls), mini-swe-agent
    /// `*.traj.json` files (format mini-swe-agent-1.1; the ```bash block of each answer becomes a
    /// bash tool call) or JSONL rows of SERA's released datasets (`messages` holding the SWE-agent
    /// history as a JSON string, with instance_id, rollout_patch, target_patch, func_name,
    /// func_path, problem_statement), and writes sera-rs trajectory records that `sera export`
    /// reads. Folders are searched for the source's files. Recall of the target patch in the
    /// rollout's patch is computed where both are present. Bad records (malformed JSON, unknown
    /// roles, tool calls with invalid arguments, unparseable patches) are reported with file and
    /// line and skipped.
    #[command(
        after_help = "Examples:\n  sera import --from swe-agent trajectories/ --out imported.jsonl\n  \
                            sera import --from sera sera-4.5a.jsonl --out imported.jsonl && \\\n    \
                            sera export --trajectories imported.jsonl --format hermes --out hermes.jsonl"
    )]
    Import(ImportArgs),

    /// Export trajectories as fine-tuning data: openai, hermes, xml or raw.
    ///
    /// Keeps submitted rollouts whose patch has at most --max-patch-lines changed lines and whose
    /// tool outputs average at most --max-observation-tokens tokens; measures each record with
    /// ChatML framing (`<|im_start|>ROLE\nCONTENT<|im_end|>\n`) and cuts one that exceeds
    /// --max-tokens after its last assistant turn before the overflow, keeping it if at least
    /// --min-truncation-ratio of its messages remain; records that fit come first, truncated ones
    /// follow by falling ratio. Duplicate conversations are dropped. Tokens are counted with the
    /// embedded o200k vocabulary unless --tokenizer names a Hugging Face tokenizer.json (e.g.
    /// Qwen3's, for exact lengths). With --out-dir, writes a dataset folder: FORMAT/train.jsonl
    /// and FORMAT/val.jsonl per format (split by a hash of the instance id), a dataset card
    /// README.md and stats.json. With --from, the inputs are another tool's files, imported on
    /// the fly. Bad records are reported with file and line and skipped.
    #[command(
        after_help = "Examples:\n  sera export --trajectories trajectories.jsonl --format hermes --out hermes.jsonl\n  \
                            sera export --trajectories t.jsonl --format openai,hermes --out-dir dataset --tokenizer qwen3/tokenizer.json"
    )]
    Export(ExportArgs),

    /// Write test-verified instances as SWE-bench or SWE-smith tasks, for the field's runners.
    ///
    /// Each instance's bug is committed on top of its clean commit, on a branch named after the
    /// task's instance id (`owner__name.<commit8>.<operator>__<hash>`), in the repository itself:
    /// the working tree, the index and the checked-out branch are left alone, and the commit's
    /// author and dates are fixed, so a rerun makes the same commits. Rows have exactly the
    /// dataset's fields. `swe-bench`: `base_commit` is the bug commit, `patch` the fix,
    /// `test_patch` empty (the tests are in the repository), FAIL_TO_PASS and PASS_TO_PASS as
    /// JSON-encoded strings; `swebench.harness.utils.load_swebench_dataset` reads the file.
    /// `swe-smith`: `patch` is the bug, FAIL_TO_PASS and PASS_TO_PASS plain lists, and
    /// `image_name` names the image you build; SWE-agent's `--instances.type swesmith` reads it.
    /// Test names are written as the harness's log parser reads them (`parse_log_pytest`,
    /// `parse_log_cargo`: cargo's without their binary); tests it cannot see are dropped from
    /// PASS_TO_PASS, and an instance whose failing test it cannot see is skipped. Push the
    /// branches (`git push origin 'refs/heads/*'`) where the harness clones from. Output ending
    /// in `.json` is one JSON list, as SWE-smith writes; otherwise JSON Lines.
    #[command(after_help = "Examples:\n  \
        sera export-instances --instances run/instances.jsonl --repo . --format swe-bench --repo-name acme/ledger --out tasks.jsonl\n  \
        sera export-instances --instances i.jsonl --repo ../pkg --format swe-smith --held-out 0.1 --out held-out.json")]
    ExportInstances(ExportInstancesArgs),

    /// Train a small decoder on an exported dataset, or write an axolotl config for real models.
    ///
    /// Reads `hermes` or `openai` records (--data), renders them as ChatML with a byte-level
    /// tokenizer, trains on assistant turns only, and writes to --out: metrics.jsonl (one line
    /// per step, with validation loss on evaluation steps), loss.png and checkpoints/step-N/
    /// (safetensors weights and optimizer state). Rerunning the same command resumes from the
    /// newest checkpoint and continues exactly as an uninterrupted run. The model is a
    /// Qwen3-style decoder sized by --config: `tiny` (3.3M parameters, context 512), `micro`, or
    /// a TOML file with [model] and [train] tables (keys left out keep tiny's values).
    /// Records are split into training and validation by a hash of their instance id.
    ///
    /// `sera train export-axolotl` writes the axolotl YAML that reproduces SERA's recipe
    /// (Qwen3 full fine-tuning, 32K context, DeepSpeed ZeRO-3) for training at scale.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  sera train --data dataset/hermes/train.jsonl --steps 300 --out runs/demo/train\n  \
                            sera train --data hermes.jsonl --config my-model.toml --out runs/t\n  \
                            sera train export-axolotl --base-model Qwen/Qwen3-8B --data hermes.jsonl --out sera.yaml"
    )]
    Train(TrainArgs),

    /// Evaluate an agent on the repository's held-out, test-verified instances.
    ///
    /// Runs the agent (a served model, or the oracle as a sanity baseline) on the instances
    /// `sera export` holds out of training (its validation split: the same hash of the instance
    /// id and the same --held-out fraction; 1 evaluates them all), once per seed, hard-verifies
    /// every patch with its FAIL_TO_PASS and PASS_TO_PASS tests, and reports the resolve rate
    /// overall, per bug class and per operator with 95% Wilson intervals, and why each
    /// unresolved rollout failed. Writes `held-out.jsonl`, one trajectory file per seed,
    /// `eval.json` and `report.html` into --out.
    ///
    /// `sera eval compare` then sets several such evaluations side by side (base against
    /// fine-tuned), each paired by instance with the first.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Examples:\n  \
        sera eval --instances run/instances.jsonl --repo . --teacher oracle --held-out 1 --out eval-oracle\n  \
        sera eval --instances run/instances.jsonl --repo . --teacher openai --model base --seeds 0,1,2 --out eval-base\n  \
        sera eval --instances run/instances.jsonl --repo . --teacher openai --model my-finetune --seeds 0,1,2 --out eval-ft\n  \
        sera eval compare eval-base eval-ft --out eval-compare"
    )]
    Eval(EvalArgs),

    /// Score finished SVG rollouts again at other recall thresholds, without new rollouts.
    ///
    /// SERA's own eval stage: reads the trajectories one SVG run wrote (its kept file and
    /// `svg-discarded.jsonl`) and prints, per threshold, how many rollouts 2 its keep rule keeps
    /// (submitted, a non-empty patch, recall of P1 at least the threshold). `sera export
    /// --min-recall R` then writes the ones kept at R.
    #[command(
        after_help = "Examples:\n  sera rescore svg.jsonl svg-discarded.jsonl --thresholds 0,0.5,0.8,1"
    )]
    Rescore {
        /// Trajectory files of one SVG run.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<std::path::PathBuf>,
        /// Thresholds, comma-separated.
        #[arg(
            long,
            value_name = "R,R,...",
            value_delimiter = ',',
            default_value = "0,0.25,0.5,0.75,1"
        )]
        thresholds: Vec<f64>,
    },

    /// Build a pool of demonstration issues from your own tracker, for SVG's issue writer.
    ///
    /// SERA writes each synthetic issue in the style of one real issue drawn from a pool (by
    /// default SWE-bench Verified's problem statements, which cannot ship with sera-rs; the
    /// built-in pool is a handful written for this project). This reads issue exports: JSON
    /// Lines or JSON lists (several in a row, as `gh api --paginate` prints pages) of GitHub
    /// issues (`title`, `body`, `state`), SWE-bench rows (`problem_statement`) or plain strings,
    /// and writes the JSON list of texts that `[svg] demonstrations` and `sera rollout
    /// --demonstrations` read. Each text is the title, a newline and the body, as SWE-bench
    /// writes a problem statement. Open issues, pull requests, records without a body and
    /// repeats are left out unless asked for; a summary says how many of each.
    #[command(after_help = "Examples:\n  \
        gh issue list --state closed --limit 1000 --json title,body,state,url > issues.json\n  \
        sera demos issues.json --out demos.json\n  \
        gh api --paginate 'repos/OWNER/REPO/issues?state=closed&per_page=100' > pages.json\n  \
        sera demos pages.json --out demos.json --limit 500\n  \
        sera demos swe-bench-verified.jsonl --repo django --out demos.json")]
    Demos(DemosArgs),

    /// Write a checkpoint of `sera train` as a Hugging Face model folder.
    ///
    /// `--format hf` writes a `Qwen3ForCausalLM` folder that transformers opens with
    /// `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`: config.json,
    /// model.safetensors (float32, transformers' tensor names), generation_config.json
    /// (<|im_end|> ends generation), tokenizer.json (the run's, or the byte tokenizer as a
    /// byte-level BPE) and tokenizer_config.json with the ChatML chat template. `sera train
    /// --init` reads such a folder back.
    #[command(
        after_help = "Examples:\n  sera export-model --checkpoint runs/demo/train --format hf --out hf-model"
    )]
    ExportModel {
        /// A checkpoint directory, or a run directory (its newest checkpoint).
        #[arg(long, value_name = "DIR")]
        checkpoint: std::path::PathBuf,
        /// The format: `hf` (Hugging Face transformers).
        #[arg(long, value_name = "FORMAT", default_value = "hf", value_parser = ["hf"])]
        format: String,
        /// The folder to write.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },

    /// Generate a reply from a checkpoint of `sera train`.
    ///
    /// Wraps --prompt as a user turn in ChatML and continues the assistant's turn until
    /// `<|im_end|>` or --max-tokens. Greedy by default; --temperature above 0 samples with --seed.
    #[command(
        after_help = "Examples:\n  sera sample --checkpoint runs/demo/train --prompt 'Fix the failing test'\n  \
                            sera sample --checkpoint runs/t/checkpoints/step-000100 --prompt hi --temperature 0.8 --seed 3"
    )]
    Sample(SampleArgs),

    /// Inspect plugins: libraries that add bug classes, operators and verifiers.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// Load every plugin library in a directory and print what each offers.
    ///
    /// Each library's interface version and layout are checked, as at every load; a library
    /// that is not a sera plugin or was built against another interface is listed with the
    /// reason, and the command then exits with 2.
    #[command(after_help = "Examples:\n  sera plugins list --dir target/release")]
    List {
        /// The directory holding the plugin libraries (`*.so` on Linux).
        #[arg(long, value_name = "DIR", default_value = sera_pipeline::plugins::DEFAULT_DIR)]
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    /// Test-verified instances as JSONL, from `sera validate` or a run's `instances.jsonl`.
    #[arg(long, value_name = "FILE", required = true)]
    instances: Option<std::path::PathBuf>,
    /// The clean repository the instances were made from.
    #[arg(long, value_name = "DIR", required = true)]
    repo: Option<std::path::PathBuf>,
    /// Where to write held-out.jsonl, the trajectories, eval.json and report.html.
    #[arg(long, value_name = "DIR", required = true)]
    out: Option<std::path::PathBuf>,
    #[command(flatten)]
    agent: TeacherArgs,
    /// Seeds, comma-separated: one rollout per instance per seed.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_value = "0")]
    seeds: Vec<u64>,
    /// The share of instances held out of training, as `sera export --val-fraction`; 1
    /// evaluates every instance.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.05)]
    held_out: f64,
    /// Rollouts in flight at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    concurrency: usize,
    /// Teacher calls per rollout.
    #[arg(long, value_name = "N", default_value_t = 115)]
    step_limit: usize,
    /// Timeout of each bash command, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    command_timeout: u64,
    /// Isolation of the commands: bubblewrap, or none (no isolation; asks for trust).
    #[arg(long, value_name = "BACKEND", default_value = "bwrap", value_parser = ["bwrap", "none"])]
    isolation: String,
    /// Where clean baselines are cached [default: ~/.cache/sera/baselines].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    env: EnvArgs,
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Set evaluations of the same instances side by side, the first as the baseline.
    ///
    /// Reads the `eval.json` of each folder (written by `sera eval`, labelled with the
    /// folder's name) and writes `eval.json` and `report.html` into --out: every agent's resolve
    /// rate overall, per bug class and per operator, and each agent after the first set against
    /// the first, paired by instance (the difference of resolve rates with its 95% bootstrap
    /// interval over instances, the instances it resolves more and less often, and the
    /// two-sided sign test). The evaluations must cover the same held-out instances; their
    /// seeds may differ.
    #[command(after_help = "Examples:\n  sera eval compare eval-base eval-ft --out eval-compare")]
    Compare {
        /// Folders written by `sera eval`; the first is the baseline.
        #[arg(value_name = "DIR", required = true)]
        dirs: Vec<std::path::PathBuf>,
        /// Where to write eval.json and report.html.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

impl EvalArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::rollout::{AgentOptions, Isolation, RolloutOptions};
        if let Some(EvalCommand::Compare { dirs, out }) = self.command {
            let comparison = sera_pipeline::eval::compare_dirs(&dirs, &out)?;
            eprintln!("{}", comparison.summary());
            eprintln!(
                "wrote {} and {}",
                out.join("eval.json").display(),
                out.join("report.html").display()
            );
            return Ok(());
        }
        let (Some(instances), Some(repo), Some(out)) = (self.instances, self.repo, self.out) else {
            unreachable!("clap requires --instances, --repo and --out without a subcommand")
        };
        let isolation = if self.isolation == "none" { Isolation::None } else { Isolation::Bwrap };
        let environment = self.env.prepare(&repo, isolation)?;
        let rollout = RolloutOptions {
            agent: AgentOptions {
                teacher: self.agent.choice(),
                concurrency: self.concurrency.max(1),
                isolation,
                step_limit: self.step_limit,
                command_timeout: std::time::Duration::from_secs(self.command_timeout),
                environment,
                ..AgentOptions::default()
            },
            repo: Some(repo),
            verify: true,
            cache_dir: self.cache_dir,
            progress: true,
        };
        let options = sera_pipeline::eval::EvalOptions {
            rollout,
            seeds: self.seeds,
            held_out: self.held_out,
        };
        let report = sera_pipeline::eval::run(&instances, &out, &options)?;
        eprintln!("{}", report.summary());
        eprintln!(
            "wrote {} and {}",
            out.join("eval.json").display(),
            out.join("report.html").display()
        );
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct ExportInstancesArgs {
    /// Instances from `sera validate` (or a run's instances.jsonl).
    #[arg(long, value_name = "FILE")]
    instances: std::path::PathBuf,
    /// The git repository they were made from; the bug commits and branches go into it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: std::path::PathBuf,
    /// `swe-bench` or `swe-smith`.
    #[arg(long, value_name = "FORMAT")]
    format: sera_pipeline::instances::TaskFormat,
    /// Where to write the tasks: `.jsonl`, or `.json` for one list.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// The `repo` field, `owner/name` [default: the instances' repository name].
    #[arg(long, value_name = "OWNER/NAME")]
    repo_name: Option<String>,
    /// SWE-smith's `image_name` [default: sera.x86_64.OWNER_1776_NAME.COMMIT8].
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// SWE-bench's `version` [default: the clean commit's first 8 hex digits].
    #[arg(long = "task-version", value_name = "VERSION")]
    task_version: Option<String>,
    /// Only the instances `sera export` holds out of training at this fraction (its
    /// validation split), for evaluating with the field's runners.
    #[arg(long, value_name = "FRACTION")]
    held_out: Option<f64>,
    /// Move branches of the same name that point at another commit.
    #[arg(long)]
    force: bool,
    /// Isolation of the git commands: bubblewrap, or none.
    #[arg(long, value_name = "BACKEND", default_value = "bwrap")]
    isolation: sera_pipeline::validate::Isolation,
}

fn sera_train_options(args: &SampleArgs) -> sera_pipeline::train::SampleOptions {
    sera_pipeline::train::SampleOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        seed: args.seed,
    }
}

impl ExportInstancesArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let options = sera_pipeline::instances::TaskOptions {
            format: self.format,
            repo: self.repo,
            repo_name: self.repo_name,
            image: self.image,
            version: self.task_version,
            held_out: self.held_out,
            force: self.force,
            isolation: self.isolation,
        };
        let report = sera_pipeline::instances::export(&self.instances, &self.out, &options)?;
        eprintln!("{}", report.summary(&self.out));
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct DemosArgs {
    /// Issue exports to read: JSON Lines, or JSON lists.
    #[arg(value_name = "FILE", required = true)]
    sources: Vec<std::path::PathBuf>,
    /// Where to write the pool (a JSON list of issue texts).
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Which issues to keep by state: `closed` (closed or merged, and records without a state)
    /// or `any`.
    #[arg(long, value_name = "STATE", default_value = "closed", value_parser = ["closed", "any"])]
    state: String,
    /// Keep pull requests too (SERA's scraper leaves them out).
    #[arg(long)]
    include_prs: bool,
    /// Keep only records whose repository or id contains this text (case-insensitive), as
    /// SERA picks one repository's SWE-bench issues.
    #[arg(long, value_name = "NAME")]
    repo: Option<String>,
    /// At most this many issues, the first ones in input order.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

impl DemosArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let options = sera_pipeline::rollout::DemoOptions {
            closed_only: self.state == "closed",
            include_prs: self.include_prs,
            repo: self.repo,
            limit: self.limit,
        };
        let pool = sera_pipeline::rollout::build_demos(&self.sources, &self.out, &options)?;
        eprintln!("{} -> {}", pool.summary(), self.out.display());
        eprintln!(
            "use it with `[svg] demonstrations = \"{}\"` in pipeline.toml, or `sera rollout --demonstrations {}`",
            self.out.display(),
            self.out.display()
        );
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct IndexArgs {
    /// The repository's root folder.
    repo: std::path::PathBuf,
    /// Where to write the functions as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: std::path::PathBuf,
    /// Skip files larger than this many bytes (generated tables and bindings).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = sera_pipeline::index::IndexConfig::default().max_file_bytes
    )]
    max_file_bytes: u64,
    /// Also index files marked as generated (`@generated`, `DO NOT EDIT`, ...).
    #[arg(long)]
    include_generated: bool,
    /// Do not draw a progress counter.
    #[arg(long)]
    no_progress: bool,
}

impl IndexArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let config = sera_pipeline::index::IndexConfig {
            max_file_bytes: self.max_file_bytes,
            skip_generated: !self.include_generated,
        };
        let report = sera_pipeline::index::run(&self.repo, &self.out, &config, !self.no_progress)?;
        eprintln!("{report}");
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// The repository's root folder (clean: the mutants' patches apply to it).
    repo: std::path::PathBuf,
    /// Mutants as JSONL, from `sera mutate`.
    #[arg(long, value_name = "FILE")]
    mutants: std::path::PathBuf,
    /// Where to write the kept instances as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Parallel jobs, each with its own scratch copy and warm build directory.
    #[arg(long, value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// Isolation of the commands: bubblewrap, or none (no isolation; asks for trust).
    #[arg(long, value_name = "BACKEND", default_value = "bwrap", value_parser = ["bwrap", "none"])]
    isolation: String,
    /// The test command, overriding the one detected (`cargo test ...`, `python3 -m pytest ...`).
    #[arg(long, value_name = "COMMAND")]
    test_command: Option<String>,
    /// Where to write rejected mutants with their reason [default: rejected.jsonl next to --out].
    #[arg(long, value_name = "FILE")]
    rejected: Option<std::path::PathBuf>,
    /// Where clean baselines are cached [default: ~/.cache/sera/baselines].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// A mutant's tests may take this many times the clean run's time...
    #[arg(long, value_name = "X", default_value_t = 5.0)]
    timeout_factor: f64,
    /// ... and at least this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    min_timeout: u64,
    /// Do not draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    env: EnvArgs,
}

/// How the environment stage prepares a repository (`sera prepare`, and before `sera
/// validate` and `sera rollout`).
#[derive(Debug, Clone, clap::Args)]
struct EnvArgs {
    /// Where prepared environments are kept [default: ~/.cache/sera/envs].
    #[arg(long, value_name = "DIR")]
    env_cache: Option<std::path::PathBuf>,
    /// Use no prepared environment: the tests run with whatever the machine has.
    #[arg(long)]
    no_env: bool,
    /// Only run the --setup commands, nothing detected.
    #[arg(long)]
    no_detect: bool,
    /// A shell command run after the detected steps (repeatable), with the network reachable.
    #[arg(long = "setup", value_name = "COMMAND")]
    setup: Vec<String>,
    /// The interpreter that makes the Python virtual environment [default: python3].
    #[arg(long, value_name = "PYTHON")]
    python: Option<String>,
    /// A variable for every command, NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Use only what this machine has: no downloads (cargo --offline, pip --no-index).
    #[arg(long)]
    offline: bool,
    /// An extra argument for every `pip install` (repeatable), e.g. --pip-arg=--find-links=DIR.
    #[arg(long = "pip-arg", value_name = "ARG", allow_hyphen_values = true)]
    pip_args: Vec<String>,
}

impl EnvArgs {
    /// The prepared environment of `repo` (prepared now, or read back), unless --no-env.
    fn prepare(
        &self,
        repo: &std::path::Path,
        isolation: sera_pipeline::validate::Isolation,
    ) -> sera_pipeline::Result<Option<sera_pipeline::env::Environment>> {
        if self.no_env {
            return Ok(None);
        }
        let prepared = sera_pipeline::env::prepare(repo, &self.config(isolation)?, &mut |line| {
            eprintln!("{line}")
        })?;
        let environment = prepared.environment;
        let note = if prepared.cached { " (prepared earlier)" } else { "" };
        eprintln!("environment: {}{note}", environment.summary());
        Ok(Some(environment))
    }

    fn config(
        &self,
        isolation: sera_pipeline::validate::Isolation,
    ) -> sera_pipeline::Result<sera_pipeline::env::EnvConfig> {
        let cache = match &self.env_cache {
            Some(dir) => dir.clone(),
            None => sera_pipeline::env::default_cache_dir()?,
        };
        let mut vars = std::collections::BTreeMap::new();
        for pair in &self.vars {
            let Some((name, value)) = pair.split_once('=').filter(|(name, _)| !name.is_empty())
            else {
                return Err(sera_pipeline::Error::Usage(format!(
                    "--var {pair:?}: expected NAME=VALUE"
                )));
            };
            vars.insert(name.to_string(), value.to_string());
        }
        Ok(sera_pipeline::env::EnvConfig {
            isolation,
            detect: !self.no_detect,
            setup: self.setup.clone(),
            python: self.python.clone(),
            vars,
            offline: self.offline,
            pip_args: self.pip_args.clone(),
            ..sera_pipeline::env::EnvConfig::new(cache)
        })
    }
}

#[derive(Debug, clap::Args)]
struct PrepareArgs {
    /// The repository's root folder.
    repo: std::path::PathBuf,
    /// Isolation of the setup commands: bubblewrap (with the network), or none.
    #[arg(long, value_name = "BACKEND", default_value = "bwrap", value_parser = ["bwrap", "none"])]
    isolation: String,
    /// Print the environment as JSON on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    env: EnvArgs,
}

impl PrepareArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::validate::Isolation;
        let isolation = if self.isolation == "none" { Isolation::None } else { Isolation::Bwrap };
        if self.env.no_env {
            return Err(sera_pipeline::Error::Usage(
                "--no-env has no meaning for `sera prepare`".into(),
            ));
        }
        let Some(environment) = self.env.prepare(&self.repo, isolation)? else { return Ok(()) };
        if self.json {
            println!("{}", sera_pipeline::env::to_json(&environment));
        }
        Ok(())
    }
}

impl ValidateArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::validate::{Isolation, ValidateOptions};
        let isolation = match self.isolation.as_str() {
            "none" => Isolation::None,
            _ => Isolation::Bwrap,
        };
        let environment = self.env.prepare(&self.repo, isolation)?;
        let options = ValidateOptions {
            jobs: self.jobs,
            isolation,
            test_command: self.test_command,
            rejected: self.rejected,
            cache_dir: self.cache_dir,
            progress: !self.no_progress,
            environment,
            timeout_factor: self.timeout_factor,
            min_timeout: std::time::Duration::from_secs(self.min_timeout),
        };
        let report = sera_pipeline::validate::run(&self.repo, &self.mutants, &self.out, &options)?;
        eprintln!("{report}");
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
enum TaxonomyCommand {
    /// Print every bug class: index, slug and name, or everything as JSON.
    List {
        /// Print a JSON array with each class's index, slug, name, area, description,
        /// template and origin.
        #[arg(long)]
        json: bool,
        /// Also load the plugins in this directory and list their classes after the built-ins.
        #[arg(long, value_name = "DIR")]
        plugins: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct MutateArgs {
    /// The repository's root folder.
    repo: std::path::PathBuf,
    /// Where to write the mutants as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Seed of the sampling; the same seed and sources give byte-identical output.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// At most this many mutants in all [default: no limit].
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// At most this many mutants per function, so the sample spreads over the code; 0 for no cap.
    #[arg(long, value_name = "N", default_value_t = 8)]
    per_function: usize,
    /// Only these operators, comma-separated (e.g. remove-guard,flip-comparison).
    #[arg(long, value_name = "SLUGS", value_delimiter = ',')]
    operators: Option<Vec<String>>,
    /// Only operators tagged with one of these bug classes, comma-separated (see `sera taxonomy list`).
    #[arg(long, value_name = "SLUGS", value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Replace operators' sampling weights, comma-separated SLUG=WEIGHT pairs (positive
    /// numbers; built-in weights are 0.3 to 1, see the sera-mutation README).
    #[arg(long, value_name = "SLUG=W", value_delimiter = ',', value_parser = parse_weight)]
    weight: Vec<(String, f64)>,
    /// Also use the bug classes and operators of the plugin libraries in this folder (see
    /// `sera plugins list --dir DIR`).
    #[arg(long, value_name = "DIR")]
    plugins: Option<std::path::PathBuf>,
    /// Do not draw progress counters.
    #[arg(long)]
    no_progress: bool,
}

/// One `--weight` pair, `slug=number`.
fn parse_weight(text: &str) -> Result<(String, f64), String> {
    let (slug, weight) =
        text.split_once('=').ok_or_else(|| format!("expected SLUG=WEIGHT, got `{text}`"))?;
    let weight: f64 =
        weight.trim().parse().map_err(|e| format!("weight of `{slug}` is not a number: {e}"))?;
    Ok((slug.trim().to_string(), weight))
}

impl MutateArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let options = sera_pipeline::mutate::MutateConfig {
            seed: self.seed,
            limit: self.limit,
            per_function: self.per_function,
            operators: self.operators,
            classes: self.classes,
            weights: self.weight.into_iter().collect(),
            ..Default::default()
        };
        let plugins = match &self.plugins {
            Some(dir) => sera_pipeline::plugins::load(dir)?,
            None => Vec::new(),
        };
        let report = sera_pipeline::mutate::run(
            &self.repo,
            &self.out,
            &options,
            &plugins,
            !self.no_progress,
        )?;
        eprintln!("{report}");
        Ok(())
    }
}

/// Who plays the agent, shared by `sera rollout` and `sera eval`.
#[derive(Debug, clap::Args)]
struct TeacherArgs {
    /// Who plays the agent: `oracle` (needs no model) or `openai` (a chat-completions server).
    #[arg(long, value_name = "TEACHER", default_value = "oracle", value_parser = ["oracle", "openai"])]
    teacher: String,
    /// The server's base URL (openai teacher).
    #[arg(long, value_name = "URL", default_value = "http://localhost:8000/v1")]
    base_url: String,
    /// The model name to ask the server for (openai teacher).
    #[arg(long, value_name = "NAME", default_value = "default")]
    model: String,
    /// Sampling temperature (openai teacher).
    #[arg(long, value_name = "T", default_value_t = 0.6)]
    temperature: f64,
    /// Most tokens per answer (openai teacher) [default: the server's].
    #[arg(long, value_name = "N")]
    max_tokens: Option<u32>,
    /// The environment variable holding the API key (openai teacher).
    #[arg(long, value_name = "VAR", default_value = "OPENAI_API_KEY")]
    api_key_env: String,
    /// Carry tools in the text (Hermes `<tool_call>` blocks) instead of the API's `tools`; done
    /// by itself when the server says it has no tool parser (openai teacher).
    #[arg(long)]
    tools_in_text: bool,
}

impl TeacherArgs {
    fn choice(&self) -> sera_pipeline::rollout::TeacherChoice {
        use sera_pipeline::rollout::TeacherChoice;
        match self.teacher.as_str() {
            "openai" => {
                let mut config =
                    sera_pipeline::rollout::OpenAiConfig::new(&self.base_url, &self.model);
                config.temperature = self.temperature;
                config.max_tokens = self.max_tokens;
                config.api_key_env.clone_from(&self.api_key_env);
                config.tools_in_text = self.tools_in_text;
                TeacherChoice::OpenAi(config)
            }
            _ => TeacherChoice::Oracle,
        }
    }
}

#[derive(Debug, clap::Args)]
struct RolloutArgs {
    /// Procedural instances as JSONL, from `sera validate`.
    #[arg(long, value_name = "FILE", required_unless_present = "functions")]
    instances: Option<std::path::PathBuf>,
    /// SVG mode instead: functions as JSONL, from `sera index` (needs a model teacher and
    /// --repo). Start functions are drawn from them with --seed.
    #[arg(long, value_name = "FILE", conflicts_with = "instances")]
    functions: Option<std::path::PathBuf>,
    #[command(flatten)]
    agent: TeacherArgs,
    /// The clean repository the instances were made from [default: each instance's `repo`,
    /// relative to the current folder].
    #[arg(long, value_name = "DIR")]
    repo: Option<std::path::PathBuf>,
    /// Where to write the trajectories as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Rollouts in flight at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    concurrency: usize,
    /// The seed: the oracle's exploration, SVG start functions, bug classes and demonstrations.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Teacher calls per rollout.
    #[arg(long, value_name = "N", default_value_t = 115)]
    step_limit: usize,
    /// Prompt plus completion tokens per rollout; past it the rollout ends as `cost_limit`.
    #[arg(long, value_name = "N")]
    token_limit: Option<u64>,
    /// Timeout of each bash command, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    command_timeout: u64,
    /// Isolation of the commands: bubblewrap, or none (no isolation; asks for trust).
    #[arg(long, value_name = "BACKEND", default_value = "bwrap", value_parser = ["bwrap", "none"])]
    isolation: String,
    /// Skip hard verification (recall is still computed).
    #[arg(long)]
    no_verify: bool,
    /// Where clean baselines are cached [default: ~/.cache/sera/baselines].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<std::path::PathBuf>,
    /// SVG: start functions to draw (SERA: 5,000).
    #[arg(long, value_name = "N", default_value_t = 5000)]
    starts: usize,
    /// SVG: which functions may start a rollout: `call-graph` (SERA's: functions with a call
    /// edge in or out, outside tests, examples, docs and setup scripts) or `uniform`.
    #[arg(long, value_name = "DRAW", default_value = "call-graph", value_parser = ["call-graph", "uniform"])]
    draw: String,
    /// SVG: rollout-1 attempts per start function, each with a new bug class.
    #[arg(long, value_name = "N", default_value_t = 3)]
    attempts: usize,
    /// SVG: keep T2 when the recall of P1 in P2 is at least this (an empty P2 is never kept).
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    threshold: f64,
    /// SVG: a JSON list of demonstration issues for the issue writer [default: a built-in pool].
    #[arg(long, value_name = "FILE")]
    demonstrations: Option<std::path::PathBuf>,
    #[command(flatten)]
    env: EnvArgs,
}

impl RolloutArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::rollout::{Isolation, RolloutOptions};
        let teacher = self.agent.choice();
        let isolation = if self.isolation == "none" { Isolation::None } else { Isolation::Bwrap };
        // Without --repo each instance names its own repository; those run without one.
        let environment = match &self.repo {
            Some(repo) => self.env.prepare(repo, isolation)?,
            None => None,
        };
        let agent = sera_pipeline::rollout::AgentOptions {
            teacher,
            concurrency: self.concurrency.max(1),
            seed: self.seed,
            isolation,
            step_limit: self.step_limit,
            token_limit: self.token_limit,
            command_timeout: std::time::Duration::from_secs(self.command_timeout),
            environment,
        };
        if let Some(functions) = &self.functions {
            let Some(repo) = self.repo else {
                return Err(sera_pipeline::Error::Usage(
                    "SVG mode (--functions) needs --repo DIR, the repository that was indexed"
                        .into(),
                ));
            };
            let options = sera_pipeline::rollout::SvgOptions {
                agent,
                repo,
                starts: self.starts,
                draw: self.draw.parse().map_err(sera_pipeline::Error::Usage)?,
                attempts: self.attempts,
                threshold: self.threshold,
                demonstrations: self.demonstrations,
                ..Default::default()
            };
            let report = sera_pipeline::rollout::run_svg(functions, &self.out, &options)?;
            eprintln!("{}", report.summary());
            return Ok(());
        }
        let instances = self.instances.unwrap_or_default();
        let options = RolloutOptions {
            agent,
            repo: self.repo,
            verify: !self.no_verify,
            cache_dir: self.cache_dir,
            progress: true,
        };
        let report = sera_pipeline::rollout::run(&instances, &self.out, &options)?;
        if report.torn_input {
            eprintln!("warning: {}: dropped a torn last line", instances.display());
        }
        eprintln!("{}", report.summary());
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
enum VerifyCommand {
    /// Line recall of the target's changed lines in the candidate: prints {"recall": R}.
    ///
    /// Changed lines are the diff lines starting with + or - (not ---/+++ headers, not blank
    /// after the sign), compared whole as multisets. R is null when the target changes no line.
    /// With --batch, reads JSONL pairs ({"id", "target", "candidate"}, or SERA rows with
    /// target_patch and rollout_patch) and writes one result per pair to --out.
    Recall(RecallArgs),
}

#[derive(Debug, clap::Args)]
struct RecallArgs {
    /// The target patch (gold fix, or SVG P1).
    #[arg(long, value_name = "FILE", required_unless_present = "batch", conflicts_with = "batch")]
    target: Option<std::path::PathBuf>,
    /// The candidate patch (the agent's, or SVG P2).
    #[arg(long, value_name = "FILE", required_unless_present = "batch", conflicts_with = "batch")]
    candidate: Option<std::path::PathBuf>,
    /// JSONL pairs to score in parallel.
    #[arg(long, value_name = "FILE", requires = "out")]
    batch: Option<std::path::PathBuf>,
    /// Where batch results go as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
}

impl RecallArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        match (self.batch, self.out, self.target, self.candidate) {
            (Some(batch), Some(out), _, _) => {
                let report = sera_pipeline::export::recall_batch(&batch, &out, 4096)?;
                eprintln!("{report}");
            }
            (None, _, Some(target), Some(candidate)) => {
                println!("{}", sera_pipeline::export::recall_json(&target, &candidate)?);
            }
            _ => {
                return Err(sera_pipeline::Error::Usage(
                    "give --target and --candidate, or --batch and --out".into(),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The recording tool.
    #[arg(long = "from", value_name = "SOURCE", value_parser = ["swe-agent", "mini-swe-agent", "sera"])]
    source: String,
    /// Files or folders to import.
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<std::path::PathBuf>,
    /// Where to write the trajectories as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
}

impl ImportArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let source = self.source.parse().map_err(sera_pipeline::Error::Usage)?;
        let report = sera_pipeline::export::import(source, &self.inputs, &self.out)?;
        eprintln!("{report}");
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Trajectories as JSONL (from `sera rollout` or `sera import`); repeat for several files.
    #[arg(long, value_name = "FILE", required = true)]
    trajectories: Vec<std::path::PathBuf>,
    /// openai, hermes, xml or raw; with --out-dir, a comma-separated list.
    #[arg(long, value_name = "FORMAT", default_value = "hermes")]
    format: String,
    /// Write every kept record of the one format to this JSONL file; `-` is standard output.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "out_dir",
        conflicts_with = "out_dir"
    )]
    out: Option<std::path::PathBuf>,
    /// Write a dataset folder: splits per format, README.md (dataset card) and stats.json.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<std::path::PathBuf>,
    /// Token limit of a record with ChatML framing.
    #[arg(long, value_name = "N", default_value_t = 32_768)]
    max_tokens: usize,
    /// A Hugging Face tokenizer.json to count tokens with [default: embedded o200k vocabulary].
    #[arg(long, value_name = "FILE")]
    tokenizer: Option<std::path::PathBuf>,
    /// Drop trajectories whose patch has more added plus removed lines [default: off, as in
    /// SERA; it used 40 for one specialisation run].
    #[arg(long, value_name = "N")]
    max_patch_lines: Option<usize>,
    /// Drop trajectories whose tool outputs average more tokens [default: off, as in SERA; it
    /// used 600 for the same run].
    #[arg(long, value_name = "N")]
    max_observation_tokens: Option<usize>,
    /// Keep only trajectories whose line recall of their target patch is at least R: exports
    /// one run's rollouts again at another soft-verification threshold, with no new rollouts.
    #[arg(long, value_name = "R")]
    min_recall: Option<f64>,
    /// Keep truncated records down to this share of their messages.
    #[arg(long, value_name = "RATIO", default_value_t = 0.88)]
    min_truncation_ratio: f64,
    /// At most this many records: all that fit first, then truncated ones by falling ratio.
    #[arg(long, value_name = "N")]
    max_records: Option<usize>,
    /// Share of instances in the validation split (with --out-dir).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.05)]
    val_fraction: f64,
    /// Keep duplicate conversations.
    #[arg(long)]
    no_dedup: bool,
    /// Also export rollouts that did not end by submitting.
    #[arg(long)]
    keep_unsubmitted: bool,
    /// Also export rollouts without a change (SERA's post-processing keeps them; by default
    /// they are dropped and reported).
    #[arg(long)]
    keep_empty_patch: bool,
    /// `sera`: hermes, xml and raw records exactly as SERA's post-processing writes them;
    /// `lossless`: sera-rs's own rendering (reasoning kept beside the text, the trajectory's tools).
    #[arg(long, value_name = "MODE", default_value = "sera", value_parser = ["sera", "lossless"])]
    compat: String,
    /// Read --trajectories as another tool's files and import them on the fly (see `sera import`).
    #[arg(long = "from", value_name = "SOURCE", value_parser = ["swe-agent", "mini-swe-agent", "sera"])]
    source: Option<String>,
}

impl ExportArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::export::{ExportOptions, parse_formats};
        let formats = parse_formats(&self.format)?;
        let output = match (self.out_dir, self.out) {
            (Some(dir), _) => sera_pipeline::export::Output::Dir(dir),
            (None, Some(file)) if formats.len() == 1 => sera_pipeline::export::Output::File(file),
            (None, Some(_)) => {
                return Err(sera_pipeline::Error::Usage(
                    "--out takes one format; use --out-dir for several".into(),
                ));
            }
            (None, None) => {
                return Err(sera_pipeline::Error::Usage("give --out FILE or --out-dir DIR".into()));
            }
        };
        if !(0.0..=1.0).contains(&self.val_fraction)
            || !(0.0..=1.0).contains(&self.min_truncation_ratio)
            || self.min_recall.is_some_and(|r| !(0.0..=1.0).contains(&r))
        {
            return Err(sera_pipeline::Error::Usage(
                "--val-fraction, --min-truncation-ratio and --min-recall lie in 0..=1".into(),
            ));
        }
        let config = sera_pipeline::export::ExportConfig {
            formats,
            max_tokens: self.max_tokens,
            max_patch_lines: self.max_patch_lines,
            max_avg_observation_tokens: self.max_observation_tokens,
            min_recall: self.min_recall,
            min_truncation_ratio: self.min_truncation_ratio,
            max_records: self.max_records,
            require_submitted: !self.keep_unsubmitted,
            drop_empty_patch: !self.keep_empty_patch,
            dedup: !self.no_dedup,
            val_fraction: self.val_fraction,
            compat: self.compat.parse().map_err(sera_pipeline::Error::Usage)?,
            ..sera_pipeline::export::ExportConfig::default()
        };
        let source =
            self.source.map(|s| s.parse()).transpose().map_err(sera_pipeline::Error::Usage)?;
        let options = ExportOptions { config, tokenizer: self.tokenizer, output };
        let report = sera_pipeline::export::export_from(source, &self.trajectories, &options)?;
        eprintln!("{report}");
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The pipeline configuration.
    #[arg(long, default_value = "pipeline.toml", value_name = "FILE")]
    config: std::path::PathBuf,
    /// Do only shard I of N (0-based), e.g. `2/8`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

impl RunArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::run::{RunOptions, Shard};
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?.unwrap_or(Shard::ALL);
        let config = sera_pipeline::config::PipelineConfig::load(&self.config)?;
        let options = RunOptions { shard, progress: !self.quiet };
        let outcome = sera_pipeline::run::run(&config, &options, &mut |line| eprintln!("{line}"))?;
        eprintln!("\n{}", sera_pipeline::run::summary(&outcome));
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    #[command(subcommand)]
    command: Option<TrainCommand>,
    /// The dataset: `hermes` or `openai` records as JSONL (from `sera export`).
    #[arg(long, value_name = "FILE")]
    data: Option<std::path::PathBuf>,
    /// A preset (`tiny`, `micro`) or a TOML file with [model] and [train] tables.
    #[arg(long, value_name = "NAME|FILE", default_value = "tiny")]
    config: String,
    /// Optimizer steps [default: the config's].
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// Seed of initialisation and data order [default: the config's].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The run directory: metrics.jsonl, loss.png, checkpoints/.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
    /// Print a progress line every N steps.
    #[arg(long, value_name = "N", default_value_t = 10)]
    log_every: usize,
    /// Tokenize with this Hugging Face tokenizer.json instead of bytes; it must define
    /// <|im_start|>, <|im_end|> and a pad token. The model's vocabulary follows it and the
    /// checkpoint keeps a copy, which `sera sample` decodes with.
    #[arg(long, value_name = "FILE")]
    tokenizer: Option<std::path::PathBuf>,
    /// Start from a pretrained Hugging Face Qwen3 folder (config.json, model.safetensors or
    /// shards, tokenizer.json; e.g. one `sera export-model` wrote) instead of random weights:
    /// its sizes and tokenizer replace the config's; --config still sets the recipe and the
    /// context.
    #[arg(long, value_name = "DIR")]
    init: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TrainCommand {
    /// Write an axolotl YAML config reproducing SERA's SFT recipe for a base model.
    ExportAxolotl {
        /// The Hugging Face model to fine-tune, e.g. Qwen/Qwen3-8B.
        #[arg(long, value_name = "NAME")]
        base_model: String,
        /// The `hermes` JSONL dataset, as axolotl will find it.
        #[arg(long, value_name = "FILE")]
        data: std::path::PathBuf,
        /// Where to write the YAML.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

impl TrainArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        if let Some(TrainCommand::ExportAxolotl { base_model, data, out }) = self.command {
            sera_pipeline::train::export_axolotl(&base_model, &data, &out)?;
            eprintln!("wrote {}", out.display());
            return Ok(());
        }
        let (Some(data), Some(out)) = (self.data, self.out) else {
            return Err(sera_pipeline::Error::Usage(
                "sera train needs --data FILE and --out DIR (or the export-axolotl subcommand)"
                    .into(),
            ));
        };
        let options = sera_pipeline::train::TrainOptions {
            data,
            out,
            config: self.config,
            steps: self.steps,
            seed: self.seed,
            log_every: self.log_every,
            tokenizer: self.tokenizer,
            init: self.init,
        };
        let summary = sera_pipeline::train::train(&options, &mut |line| eprintln!("{line}"))?;
        eprintln!("{summary}");
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
struct SampleArgs {
    /// A checkpoint directory, or a run directory (its newest checkpoint).
    #[arg(long, value_name = "DIR")]
    checkpoint: std::path::PathBuf,
    /// The user message to answer.
    #[arg(long, value_name = "TEXT")]
    prompt: String,
    /// Most tokens (bytes) to generate.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_tokens: usize,
    /// 0 decodes greedily; above 0 samples at this temperature.
    #[arg(long, value_name = "T", default_value_t = 0.0)]
    temperature: f64,
    /// Seed of sampling.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Also write the prompt's token ids, the model's logits at each prompt position and the
    /// generated ids to this JSON file (to compare with transformers on `sera export-model`'s
    /// folder).
    #[arg(long, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The pipeline configuration the shards ran with.
    #[arg(long, default_value = "pipeline.toml", value_name = "FILE")]
    config: std::path::PathBuf,
    /// How many shards there are (the N of --shard I/N).
    #[arg(long, value_name = "N")]
    shards: u32,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

impl MergeArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        use sera_pipeline::run::{RunOptions, Shard};
        let config = sera_pipeline::config::PipelineConfig::load(&self.config)?;
        let options = RunOptions { shard: Shard::ALL, progress: !self.quiet };
        let outcome = sera_pipeline::merge::merge(&config, self.shards, &options, &mut |line| {
            eprintln!("{line}")
        })?;
        eprintln!("\n{}", sera_pipeline::run::summary(&outcome));
        Ok(())
    }
}

fn main() -> ExitCode {
    memory::route_tree_sitter_to_mimalloc();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version requests are successes; clap's own usage errors exit with 1.
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let result: sera_pipeline::Result<()> = match cli.command {
        Command::Run(args) => args.run(),
        Command::Merge(args) => args.run(),
        Command::Index(args) => args.run(),
        Command::Prepare(args) => args.run(),
        Command::Validate(args) => args.run(),
        Command::Taxonomy { command: TaxonomyCommand::List { json, plugins: None } } => {
            print!("{}", sera_pipeline::taxonomy::list(json));
            Ok(())
        }
        Command::Taxonomy { command: TaxonomyCommand::List { json, plugins: Some(dir) } } => {
            sera_pipeline::plugins::registry(&dir).map(|registry| {
                print!("{}", sera_pipeline::taxonomy::list_registry(&registry, json))
            })
        }
        Command::Mutate(args) => args.run(),
        Command::Rollout(args) => args.run(),
        Command::Verify { command: VerifyCommand::Recall(args) } => args.run(),
        Command::Import(args) => args.run(),
        Command::Export(args) => args.run(),
        Command::ExportInstances(args) => args.run(),
        Command::Train(args) => args.run(),
        Command::Demos(args) => args.run(),
        Command::Eval(args) => args.run(),
        Command::Rescore { files, thresholds } => sera_pipeline::eval::rescore(&files, &thresholds)
            .map(|rows| {
                println!("threshold\tkept T2\tof");
                for row in rows {
                    println!("{}\t{}\t{}", row.threshold, row.kept, row.of);
                }
            }),
        Command::Sample(args) => match &args.trace {
            None => sera_pipeline::train::sample(
                &args.checkpoint,
                &args.prompt,
                args.max_tokens,
                args.temperature,
                args.seed,
            ),
            Some(trace) => sera_pipeline::train::sample_with_trace(
                &args.checkpoint,
                &args.prompt,
                &sera_train_options(&args),
                trace,
            ),
        }
        .map(|text| println!("{text}")),
        Command::ExportModel { checkpoint, out, format: _ } => {
            sera_pipeline::train::export_model(&checkpoint, &out)
                .map(|()| eprintln!("wrote {}", out.display()))
        }
        Command::Plugins { command: PluginsCommand::List { dir } } => {
            sera_pipeline::plugins::list(&dir, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(()) | Err(sera_pipeline::Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
