//! The engine on the fixture repositories (tests/data/rust-demo, tests/data/py-demo), indexed by
//! `sera-code` as the pipeline does: patches apply and reverse, test code stays untouched,
//! sampling is deterministic across runs and thread counts, bad files are counted, not fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sera_core::Entity;
use sera_mutation::{MutateConfig, Outcome, SourceFile, mutate};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name)
}

/// The repository's indexed entities and the files they live in.
fn load(name: &str) -> (Vec<SourceFile>, Vec<Entity>) {
    let root = fixture(name);
    let index = sera_code::index(&root, &sera_code::IndexConfig::default()).unwrap();
    let mut files: BTreeMap<String, SourceFile> = BTreeMap::new();
    for entity in &index.entities {
        files.entry(entity.file.clone()).or_insert_with(|| {
            SourceFile::new(
                entity.file.clone(),
                entity.language,
                std::fs::read_to_string(root.join(&entity.file)).unwrap(),
            )
        });
    }
    (files.into_values().collect(), index.entities)
}

fn run(files: &[SourceFile], entities: &[Entity], config: &MutateConfig) -> Outcome {
    mutate(files, entities, config).unwrap()
}

fn all(repo: &str) -> MutateConfig {
    MutateConfig { repo: repo.into(), per_function: 0, ..MutateConfig::default() }
}

#[test]
fn every_patch_applies_and_reverses_on_the_fixture_repositories() {
    for repo in ["rust-demo", "py-demo"] {
        let (files, entities) = load(repo);
        let outcome = run(&files, &entities, &all(repo));
        assert!(outcome.mutants.len() > 50, "{repo}: only {} mutants", outcome.mutants.len());
        let texts: BTreeMap<String, String> =
            files.iter().map(|f| (f.path.clone(), f.text.clone())).collect();
        let mut ids = std::collections::HashSet::new();
        for mutant in &outcome.mutants {
            assert!(ids.insert(mutant.id.clone()), "duplicate id {}", mutant.id);
            assert_eq!(mutant.patch.paths(), [mutant.file.as_str()]);
            let mut tree = texts.clone();
            mutant.patch.apply_to_map(&mut tree).unwrap();
            assert_ne!(tree, texts, "{}", mutant.description);
            mutant.patch.reverse().apply_to_map(&mut tree).unwrap();
            assert_eq!(tree, texts, "{} does not reverse", mutant.description);
            let entity = entities.iter().find(|e| e.id == mutant.entity_id).unwrap();
            assert!(!entity.is_test, "{} mutates test code", mutant.description);
            assert_eq!(entity.qualified_name, mutant.entity);
            assert!(entity.bytes.start <= mutant.span.start && mutant.span.end <= entity.bytes.end);
        }
        // Identical patches are emitted once.
        let mut patches: Vec<String> = outcome.mutants.iter().map(|m| m.patch.render()).collect();
        let before = patches.len();
        patches.sort();
        patches.dedup();
        assert_eq!(patches.len(), before, "{repo}: duplicate patches");
    }
}

#[test]
fn test_files_and_test_modules_are_never_mutated() {
    let (files, entities) = load("rust-demo");
    let outcome = run(&files, &entities, &all("rust-demo"));
    for mutant in &outcome.mutants {
        assert!(!mutant.file.starts_with("tests/"), "{}", mutant.file);
        let text = &files.iter().find(|f| f.path == mutant.file).unwrap().text;
        if let Some(tests) = text.find("#[cfg(test)]") {
            assert!(mutant.span.start < tests, "{} in {}", mutant.description, mutant.file);
        }
    }
    let (files, entities) = load("py-demo");
    for mutant in run(&files, &entities, &all("py-demo")).mutants {
        assert!(mutant.file.starts_with("inventory/"), "{}", mutant.file);
    }
}

fn sampled(threads: usize, seed: u64) -> String {
    let (mut files, mut entities) = load("rust-demo");
    let (py_files, py_entities) = load("py-demo");
    files.extend(py_files);
    entities.extend(py_entities);
    let config = MutateConfig {
        repo: "demo".into(),
        seed,
        limit: Some(25),
        per_function: 2,
        ..MutateConfig::default()
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let outcome = pool.install(|| run(&files, &entities, &config));
    assert_eq!(outcome.mutants.len(), 25);
    let mut per_function: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &outcome.mutants {
        *per_function.entry(&m.entity_id).or_default() += 1;
    }
    assert!(per_function.values().all(|&n| n <= 2), "{per_function:?}");
    outcome.mutants.iter().map(|m| serde_json::to_string(m).unwrap() + "\n").collect()
}

#[test]
fn sampling_is_identical_across_runs_and_thread_counts() {
    let one = sampled(1, 7);
    assert_eq!(one, sampled(2, 7));
    assert_eq!(one, sampled(2, 7));
    assert_ne!(one, sampled(1, 8), "a different seed draws a different sample");
}

#[test]
fn operator_and_class_filters_select_operators() {
    let (files, entities) = load("rust-demo");
    let only = |config: MutateConfig| run(&files, &entities, &config).mutants;
    let guards =
        only(MutateConfig { operators: Some(vec!["remove-guard".into()]), ..all("rust-demo") });
    assert!(!guards.is_empty());
    assert!(guards.iter().all(|m| m.operator == "remove-guard"));
    let class = "error-handling-and-exception-management";
    let errors = only(MutateConfig { classes: Some(vec![class.into()]), ..all("rust-demo") });
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|m| m.classes.iter().any(|c| c == class)));
    let err = mutate(
        &files,
        &entities,
        &MutateConfig { operators: Some(vec!["nope".into()]), ..all("x") },
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("unknown mutation operator `nope`"), "{err}");
}

#[test]
fn unparsable_and_huge_files_are_skipped_and_counted() {
    let entity = |file: &str, len: usize| {
        let (_, entities) = load("py-demo");
        let mut e = entities.into_iter().next().unwrap();
        e.file = file.into();
        e.bytes = sera_core::ByteSpan { start: 0, end: len };
        e
    };
    let broken = "def f(:\n    return 1 +\n";
    let huge = format!("def g():\n    return [{}]\n", "1, ".repeat(400_000));
    let odd = "\u{feff}def h():\n    return 'caf\u{e9}' if 1 < 2 else '\u{1F600}'\n";
    let files = vec![
        SourceFile::new("broken.py", sera_core::Language::Python, broken),
        SourceFile::new("huge.py", sera_core::Language::Python, huge.clone()),
        SourceFile::new("odd.py", sera_core::Language::Python, odd),
        SourceFile::new("empty.rs", sera_core::Language::Rust, String::new()),
    ];
    let entities = vec![
        entity("broken.py", broken.len()),
        entity("huge.py", huge.len()),
        entity("odd.py", odd.len()),
    ];
    let outcome = run(&files, &entities, &all("bad"));
    assert_eq!(outcome.stats.skipped_unparsable, 1);
    assert_eq!(outcome.stats.skipped_too_large, 1);
    assert!(outcome.mutants.iter().all(|m| m.file == "odd.py"));
    assert!(!outcome.mutants.is_empty());
}

#[test]
fn trees_kept_by_the_index_give_the_same_mutants_as_parsing_afresh() {
    for repo in ["rust-demo", "py-demo"] {
        let (files, entities) = load(repo);
        let config = sera_code::IndexConfig::default();
        let languages = sera_code::builtin_languages();
        let (_, indexed) =
            sera_code::index_each(&fixture(repo), &config, &languages, |f| SourceFile {
                path: f.path.into(),
                language: f.language,
                text: f.text.into(),
                tree: f.tree.cloned(),
            })
            .unwrap();
        let with_trees: Vec<SourceFile> =
            indexed.into_iter().filter(|s| files.iter().any(|f| f.path == s.path)).collect();
        assert_eq!(with_trees.len(), files.len(), "{repo}");
        assert!(with_trees.iter().all(|f| f.tree.is_some()), "{repo}");
        let afresh = run(&files, &entities, &all(repo));
        let adopted = run(&with_trees, &entities, &all(repo));
        assert_eq!(adopted, afresh, "{repo}");
    }
}

/// `limit: Some(0)` counts the candidates exactly as a full run does, and samples nothing.
#[test]
fn a_zero_limit_counts_candidates_only() {
    for repo in ["rust-demo", "py-demo"] {
        let (files, entities) = load(repo);
        let full = run(&files, &entities, &all(repo));
        let counted = run(&files, &entities, &MutateConfig { limit: Some(0), ..all(repo) });
        assert!(counted.mutants.is_empty());
        assert_eq!(counted.stats.candidates, full.stats.candidates, "{repo}");
        assert_eq!(counted.stats.candidates_by_operator, full.stats.candidates_by_operator);
        assert_eq!(counted.stats.files, full.stats.files);
        assert_eq!(counted.stats.emitted, 0);
    }
}

/// Capped sampling is the sequential rule: in key order (`-ln(1 - u) / weight`, `u` from the
/// mutant id's own stream), take a mutant while its function has room and the limit allows.
/// Checked against the uncapped run's mutants, whatever the engine batches ahead.
#[test]
fn capped_sampling_is_the_sequential_rule_over_all_mutants() {
    let weight = |slug: &str| {
        sera_mutation::OPERATORS.iter().find(|op| op.slug == slug).map_or(1.0, |op| op.weight)
    };
    for repo in ["rust-demo", "py-demo"] {
        let (files, entities) = load(repo);
        for seed in [0, 1, 2] {
            let every = run(&files, &entities, &MutateConfig { seed, ..all(repo) });
            assert_eq!(every.stats.duplicates, 0, "{repo}: the rule below ignores duplicates");
            let mut keyed: Vec<(f64, &sera_core::Mutant)> = every
                .mutants
                .iter()
                .map(|m| {
                    let u = sera_core::SplitMix64::derive(seed, &m.id).next_f64();
                    (-(1.0 - u).ln() / weight(&m.operator), m)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
            for (per_function, limit) in [(1, None), (2, None), (3, Some(10)), (1, Some(1))] {
                let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
                let mut expected: Vec<&str> = Vec::new();
                for (_, m) in &keyed {
                    let count = taken.entry(m.entity_id.as_str()).or_default();
                    if *count < per_function && limit.is_none_or(|l| expected.len() < l) {
                        *count += 1;
                        expected.push(&m.id);
                    }
                }
                expected.sort_unstable();
                let config = MutateConfig { seed, per_function, limit, ..all(repo) };
                let capped = run(&files, &entities, &config);
                let mut got: Vec<&str> = capped.mutants.iter().map(|m| m.id.as_str()).collect();
                got.sort_unstable();
                assert_eq!(got, expected, "{repo} seed {seed} cap {per_function} limit {limit:?}");
            }
        }
    }
}

/// Scanning each file while the index holds its tree, then finishing from the texts alone
/// (the mutate stage's way), gives exactly the mutants of `mutate` on files and trees at once.
#[test]
fn scanning_during_the_index_gives_the_mutants_of_one_call() {
    for repo in ["rust-demo", "py-demo"] {
        let root = fixture(repo);
        for config in [all(repo), MutateConfig { repo: repo.into(), ..MutateConfig::default() }] {
            let mutator = sera_mutation::Mutator::new(&config, &[]).unwrap();
            let languages = sera_code::builtin_languages();
            let config_index = sera_code::IndexConfig::default();
            let (index, scanned) =
                sera_code::index_each(&root, &config_index, &languages, |indexed| {
                    assert!(indexed.tree.is_some(), "{}", indexed.path);
                    let file = SourceFile::new(indexed.path, indexed.language, indexed.text);
                    let scan = mutator.scan(&file, indexed.tree, indexed.entities).unwrap();
                    (file, scan)
                })
                .unwrap();
            let (files, scans): (Vec<SourceFile>, Vec<_>) = scanned.into_iter().unzip();
            assert!(files.iter().all(|f| f.tree.is_none()));
            let streamed = mutator.finish(&files, &index.entities, scans).unwrap();

            let (files, entities) = load(repo);
            let at_once = run(&files, &entities, &config);
            assert!(!at_once.mutants.is_empty());
            assert_eq!(streamed.mutants, at_once.mutants, "{repo}");
            assert_eq!(streamed.stats.candidates, at_once.stats.candidates);
        }
    }
}
