//! External operators (what a plugin adds) go through the same selection, sampling, re-parse
//! check and dedup as built-in ones, and a misbehaving one stops the run with a clear error.

use sera_core::{ByteSpan, Entity, EntityKind, Language, LineSpan};
use sera_mutation::{Edit, Error, ExternalOperator, MutateConfig, SourceFile, mutate_with};

const SOURCE: &str = "\
fn is_ready(flag: bool, count: u32) -> bool {
    if flag { count > 0 } else { true }
}

#[test]
fn ready() {
    assert!(is_ready(true, 1));
}
";

fn file() -> SourceFile {
    SourceFile::new("src/lib.rs", Language::Rust, SOURCE)
}

fn entity(name: &str, is_test: bool) -> Entity {
    let start = SOURCE.find(&format!("fn {name}")).unwrap();
    let end = start + SOURCE[start..].find("\n}\n").unwrap() + 2;
    Entity {
        id: format!("f-{name}"),
        name: name.into(),
        qualified_name: name.into(),
        kind: EntityKind::Function,
        language: Language::Rust,
        file: "src/lib.rs".into(),
        bytes: ByteSpan { start, end },
        lines: LineSpan { start: 1, end: 3 },
        is_test,
        is_async: false,
        parent: None,
        callees: vec![],
    }
}

fn entities() -> Vec<Entity> {
    vec![entity("is_ready", false), entity("ready", true)]
}

/// Replaces each `true` in the function with `false`, and (to exercise the re-parse check)
/// each `{` with `{{`, which never parses.
struct FlipTrue {
    classes: Vec<String>,
}

impl FlipTrue {
    fn new() -> FlipTrue {
        FlipTrue { classes: vec!["control-flow-and-logic-correctness".into()] }
    }
}

impl ExternalOperator for FlipTrue {
    fn slug(&self) -> &str {
        "flip-true"
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn edits(&self, file: &SourceFile, entity: &Entity) -> Result<Vec<Edit>, String> {
        let body = &file.text[entity.bytes.start..entity.bytes.end];
        let mut edits = Vec::new();
        for (pattern, replacement) in [("true", "false"), ("{", "{{")] {
            for (at, _) in body.match_indices(pattern) {
                let start = entity.bytes.start + at;
                edits.push(Edit {
                    start,
                    end: start + pattern.len(),
                    replacement: replacement.into(),
                    description: format!("replace `{pattern}` with `{replacement}`"),
                });
            }
        }
        Ok(edits)
    }
}

fn config() -> MutateConfig {
    MutateConfig { repo: "demo".into(), per_function: 0, ..MutateConfig::default() }
}

#[test]
fn external_mutants_are_checked_like_built_in_ones() {
    let op = FlipTrue::new();
    let outcome = mutate_with(&[file()], &entities(), &config(), &[&op]).unwrap();
    let flips: Vec<_> = outcome.mutants.iter().filter(|m| m.operator == "flip-true").collect();
    // One `true` in `is_ready`; the test function's `true` is never touched.
    assert_eq!(flips.len(), 1, "{:#?}", outcome.mutants);
    let flip = flips[0];
    assert_eq!(flip.entity, "is_ready");
    assert_eq!(flip.classes, ["control-flow-and-logic-correctness"]);
    assert_eq!(flip.description, "replace `true` with `false` in `is_ready`");
    let mut tree = std::collections::BTreeMap::from([(file().path, file().text)]);
    flip.patch.apply_to_map(&mut tree).unwrap();
    assert!(tree["src/lib.rs"].contains("else { false }"));
    // One `true` and three `{` in `is_ready`; every `{{` failed the re-parse check and was
    // counted, and no built-in change fails it.
    assert_eq!(outcome.stats.candidates_by_operator["flip-true"], 4, "{:?}", outcome.stats);
    assert_eq!(outcome.stats.discarded_unparsable, 3, "{:?}", outcome.stats);
    // Built-in operators still run alongside.
    assert!(outcome.mutants.iter().any(|m| m.operator == "boundary-comparison"));
}

#[test]
fn external_operators_are_selected_and_weighted_by_slug_and_class() {
    let op = FlipTrue::new();
    let only = MutateConfig { operators: Some(vec!["flip-true".into()]), ..config() };
    let outcome = mutate_with(&[file()], &entities(), &only, &[&op]).unwrap();
    assert_eq!(outcome.mutants.len(), 1);
    assert!(outcome.mutants.iter().all(|m| m.operator == "flip-true"));

    let mut weights = std::collections::BTreeMap::new();
    weights.insert("flip-true".to_string(), -1.0);
    let bad = MutateConfig { weights, ..config() };
    let err = mutate_with(&[file()], &entities(), &bad, &[&op]).unwrap_err();
    assert_eq!(err, Error::BadWeight("flip-true".into(), -1.0));

    // Without the operator, its slug is unknown.
    let err = mutate_with(&[file()], &entities(), &only, &[]).unwrap_err();
    assert!(matches!(err, Error::UnknownOperator(ref slug, _) if slug == "flip-true"), "{err}");
}

#[test]
fn a_change_a_built_in_operator_also_makes_is_kept_once_under_the_built_in() {
    /// Proposes exactly what `flip-comparison` proposes for `count > 0`.
    struct Copycat(Vec<String>);
    impl ExternalOperator for Copycat {
        fn slug(&self) -> &str {
            "copycat"
        }
        fn classes(&self) -> &[String] {
            &self.0
        }
        fn edits(&self, file: &SourceFile, _: &Entity) -> Result<Vec<Edit>, String> {
            let start = file.text.find("> 0").unwrap();
            let (end, replacement, description) = (start + 1, "<=".into(), "copy".into());
            Ok(vec![Edit { start, end, replacement, description }])
        }
    }
    let op = Copycat(vec!["control-flow-and-logic-correctness".into()]);
    let with = mutate_with(&[file()], &entities(), &config(), &[&op]).unwrap();
    let without = mutate_with(&[file()], &entities(), &config(), &[]).unwrap();
    assert_eq!(with.mutants, without.mutants);
    assert!(with.mutants.iter().any(|m| m.description.starts_with("replace `>` with `<=`")));
}

#[test]
fn misbehaving_operators_stop_the_run_naming_operator_and_file() {
    struct Bad(&'static str, Vec<String>);
    impl ExternalOperator for Bad {
        fn slug(&self) -> &str {
            self.0
        }
        fn classes(&self) -> &[String] {
            &self.1
        }
        fn edits(&self, file: &SourceFile, entity: &Entity) -> Result<Vec<Edit>, String> {
            match self.0 {
                "fails" => Err("plugin panicked: index out of bounds".into()),
                _ => Ok(vec![Edit {
                    start: entity.bytes.end,
                    end: file.text.len(),
                    replacement: String::new(),
                    description: "delete the rest".into(),
                }]),
            }
        }
    }
    let classes = vec!["control-flow-and-logic-correctness".to_string()];
    let fails = Bad("fails", classes.clone());
    let err = mutate_with(&[file()], &entities(), &config(), &[&fails]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mutation operator `fails` failed on src/lib.rs: plugin panicked: index out of bounds"
    );
    let outside = Bad("outside", classes.clone());
    let err = mutate_with(&[file()], &entities(), &config(), &[&outside]).unwrap_err();
    assert!(err.to_string().contains("is not a range of characters inside `is_ready`"), "{err}");
    let clash = Bad("swap-arguments", classes);
    let err = mutate_with(&[file()], &entities(), &config(), &[&clash]).unwrap_err();
    assert_eq!(err, Error::DuplicateOperator("swap-arguments".into()));
}

#[test]
fn external_mutants_are_deterministic_across_thread_counts() {
    let op = FlipTrue::new();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let config = MutateConfig { seed: 7, ..config() };
        pool.install(|| mutate_with(&[file()], &entities(), &config, &[&op]).unwrap().mutants)
    };
    assert_eq!(run(1), run(2));
}
