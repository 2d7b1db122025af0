//! The conformance suite for sera-rs plugins: one set of checks that every plugin passes.
//!
//! Must not know: a run: it is test support, and the pipeline never uses it.
//!
//! A plugin author runs [`check_plugin`] on their built library (see [`built_library`] for
//! finding it in a test); it loads the library through `sera-plugin-host` exactly as sera
//! does (version and layout checks included), registers its bug classes next to the
//! built-ins, calls every operator on sample sources and checks that each edit lies inside
//! the entity, changes the file, keeps it parsing and comes back the same through the
//! mutation engine, calls every verifier on a sample instance, and reports a
//! panic anywhere as a failure while the host carries on. It is test support, not part of a
//! run: the pipeline uses `sera-plugin-host` directly.

use std::path::{Path, PathBuf};

use sera_core::{ByteSpan, Entity, EntityKind, Instance, Language, LineSpan, Patch, stable_id};
use sera_mutation::{ExternalOperator, MutateConfig, SourceFile, mutate_with};
use sera_plugin_host::{CallError, LoadError, load_file};
use sera_taxonomy::Registry;

/// A source file the suite runs operators on; its entity is the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub path: String,
    pub language: Language,
    pub text: String,
}

/// What a conforming plugin offered, for the author to eyeball.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub plugin: String,
    pub classes: Vec<String>,
    /// Per operator slug, the edits it proposed over all samples.
    pub edits: Vec<(String, usize)>,
    /// Per verifier, whether it accepted the sample patch.
    pub verdicts: Vec<(String, bool)>,
}

/// Why a plugin does not conform; every failure names the plugin file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{}: {source}", path.display())]
    Call {
        path: PathBuf,
        // Boxed: a call error carries several strings, and failures are rare.
        #[source]
        source: Box<CallError>,
    },
    #[error("{}: operator `{operator}` is tagged with unknown bug class `{class}`", path.display())]
    UnknownClass { path: PathBuf, operator: String, class: String },
    #[error("{}: {detail}", path.display())]
    Operator { path: PathBuf, detail: String },
    #[error(
        "{}: operator `{operator}` proposed an edit at {start}..{end} of {sample} that does \
         not change the file",
        path.display()
    )]
    NoOpEdit { path: PathBuf, operator: String, sample: String, start: usize, end: usize },
    #[error(
        "{}: operator `{operator}` proposed {edits} distinct edits of {sample} on one call and \
         {again} on the next; operators must be deterministic",
        path.display()
    )]
    Unstable { path: PathBuf, operator: String, sample: String, edits: usize, again: usize },
    #[error(
        "{}: {count} edits of operator `{operator}` leave {sample} unparsable (sera discards \
         them; an operator should propose code that parses)",
        path.display()
    )]
    BreaksSyntax { path: PathBuf, operator: String, sample: String, count: usize },
}

/// Small Rust and Python files with calls, comparisons and arithmetic, so that most operators
/// find something to change.
pub fn default_samples() -> Vec<Sample> {
    vec![
        Sample {
            path: "src/lib.rs".to_string(),
            language: Language::Rust,
            text: "pub fn clamp(x: i32, lo: i32, hi: i32) -> i32 {\n    \
                   if x < lo {\n        return lo;\n    }\n    \
                   let top = std::cmp::min(x, hi);\n    \
                   std::cmp::max(lo, top) + 0 * offset(hi, lo)\n}\n"
                .to_string(),
        },
        Sample {
            path: "pkg/core.py".to_string(),
            language: Language::Python,
            text: "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    \
                   return max(lo, min(x, hi))\n"
                .to_string(),
        },
    ]
}

/// Runs the suite on the plugin library at `path` with [`default_samples`].
pub fn check_plugin(path: &Path) -> Result<Report, Failure> {
    check_plugin_with(path, &default_samples())
}

/// Runs the suite on the plugin library at `path` with the given samples.
pub fn check_plugin_with(path: &Path, samples: &[Sample]) -> Result<Report, Failure> {
    let call = |source| Failure::Call { path: path.to_path_buf(), source: Box::new(source) };
    let plugin = load_file(path)?;
    let mut report = Report { plugin: plugin.name.clone(), ..Report::default() };

    let mut registry = Registry::builtin();
    let indices = plugin.register_classes(&mut registry).map_err(call)?;
    report.classes = indices
        .iter()
        .filter_map(|&i| registry.by_index(i))
        .map(|class| class.slug.clone())
        .collect();

    for operator in plugin.mutation_operators().map_err(call)? {
        let slug = operator.slug().to_string();
        if let Some(class) = operator.classes().iter().find(|c| registry.get(c).is_none()) {
            return Err(Failure::UnknownClass {
                path: path.to_path_buf(),
                operator: slug,
                class: class.clone(),
            });
        }
        let mut count = 0;
        for sample in samples {
            let file = SourceFile::new(sample.path.clone(), sample.language, sample.text.clone());
            let entity = whole_file_entity(sample);
            // The host checks that every edit is a character range inside the entity.
            let edits = operator
                .edits(&file, &entity)
                .map_err(|detail| Failure::Operator { path: path.to_path_buf(), detail })?;
            let mut distinct = std::collections::BTreeSet::new();
            for edit in &edits {
                if sample.text[edit.start..edit.end] == edit.replacement {
                    return Err(Failure::NoOpEdit {
                        path: path.to_path_buf(),
                        operator: slug,
                        sample: sample.path.clone(),
                        start: edit.start,
                        end: edit.end,
                    });
                }
                distinct.insert((edit.start, edit.end, edit.replacement.as_str()));
            }
            count += edits.len();
            // Through the engine, as in a run: the same edits again, each still parsing.
            let config = MutateConfig {
                repo: "conformance".to_string(),
                per_function: 0,
                operators: Some(vec![slug.clone()]),
                ..MutateConfig::default()
            };
            let outcome = mutate_with(&[file], &[entity], &config, &[&operator]).map_err(|e| {
                Failure::Operator { path: path.to_path_buf(), detail: e.to_string() }
            })?;
            let stats = outcome.stats;
            let again = stats.candidates_by_operator.get(&slug).copied().unwrap_or(0);
            if again != distinct.len() {
                return Err(Failure::Unstable {
                    path: path.to_path_buf(),
                    operator: slug,
                    sample: sample.path.clone(),
                    edits: distinct.len(),
                    again,
                });
            }
            if stats.discarded_unparsable > 0 {
                return Err(Failure::BreaksSyntax {
                    path: path.to_path_buf(),
                    operator: slug,
                    sample: sample.path.clone(),
                    count: stats.discarded_unparsable,
                });
            }
        }
        report.edits.push((slug, count));
    }

    let instance = sample_instance();
    let patch = Patch::between("src/lib.rs", "fn f() -> i32 { 1 }\n", "fn f() -> i32 { 2 }\n");
    for verifier in plugin.verifiers() {
        let verdict = verifier.verify(&instance, &patch, None).map_err(call)?;
        report.verdicts.push((verifier.name.clone(), verdict.accepted));
    }
    Ok(report)
}

/// The built `cdylib` of the plugin crate `crate_name` (e.g. `swap-args`), looked up next to
/// the running test binary: `target/<profile>/deps`, where cargo puts the libraries of
/// dependencies, then `target/<profile>`. Add the plugin crate as a dev-dependency so that
/// `cargo test` builds it first.
pub fn built_library(crate_name: &str) -> Result<PathBuf, String> {
    let file = format!(
        "{}{}.{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_EXTENSION
    );
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    let deps = exe.parent().ok_or("the test binary has no parent directory")?;
    let candidates = [deps.join(&file), deps.join("..").join(&file)];
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "{file} not found in {}; build it with `cargo build -p {crate_name}` or add \
             `{crate_name}` as a dev-dependency of the crate running this test",
            deps.display()
        )
    })
}

fn whole_file_entity(sample: &Sample) -> Entity {
    Entity {
        id: stable_id("f", &[&sample.path, "sample", "0"]),
        name: "sample".to_string(),
        qualified_name: "sample".to_string(),
        kind: EntityKind::Function,
        language: sample.language,
        file: sample.path.clone(),
        bytes: ByteSpan { start: 0, end: sample.text.len() },
        lines: LineSpan { start: 1, end: sample.text.lines().count().max(1) },
        is_test: false,
        is_async: false,
        parent: None,
        callees: Vec::new(),
    }
}

fn sample_instance() -> Instance {
    let bug_patch = Patch::between("src/lib.rs", "fn f() -> i32 { 2 }\n", "fn f() -> i32 { 1 }\n");
    Instance {
        id: stable_id("i", &["conformance"]),
        repo: "conformance".to_string(),
        commit: None,
        mutant_id: stable_id("m", &["conformance"]),
        file: "src/lib.rs".to_string(),
        entity: "f".to_string(),
        operator: "sample".to_string(),
        classes: vec!["possible-bug".to_string()],
        bug_patch,
        gold_patch: Patch::between("src/lib.rs", "fn f() -> i32 { 1 }\n", "fn f() -> i32 { 2 }\n"),
        fail_to_pass: vec!["tests::f_is_two".to_string()],
        pass_to_pass: Vec::new(),
        problem_statement: "f returns the wrong number".to_string(),
        test_command: vec!["cargo".to_string(), "test".to_string()],
    }
}
