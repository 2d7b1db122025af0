//! Snapshot tests: every operator on a small Rust and a small Python source (tests/data).
//!
//! Each snapshot lists the operator's mutants as description and patch, so a reviewer sees the
//! exact diffs. Accept changes with `cargo insta review` after reading them.

use sera_core::{ByteSpan, Entity, EntityKind, Language, LineSpan};
use sera_mutation::{Mutant, MutateConfig, SourceFile, mutate};

const RUST: &str = include_str!("data/sample.rs");
const PYTHON: &str = include_str!("data/sample.py");

/// One entity spanning the whole source, so that every function in it is eligible; test code is
/// excluded by the engine's own syntax checks, which these snapshots therefore also cover.
fn whole_file(language: Language, path: &str, text: &str) -> Entity {
    Entity {
        id: "f-sample".into(),
        name: "sample".into(),
        qualified_name: "sample".into(),
        kind: EntityKind::Function,
        language,
        file: path.into(),
        bytes: ByteSpan { start: 0, end: text.len() },
        lines: LineSpan { start: 1, end: text.lines().count() },
        is_test: false,
        is_async: false,
        parent: None,
        callees: Vec::new(),
    }
}

fn run(language: Language, text: &str, operator: &str) -> Vec<Mutant> {
    let path = if language == Language::Rust { "src/sample.rs" } else { "sample.py" };
    let file = SourceFile::new(path, language, text);
    let config = MutateConfig {
        repo: "sample".into(),
        per_function: 0,
        operators: Some(vec![operator.into()]),
        ..MutateConfig::default()
    };
    let outcome = mutate(&[file], &[whole_file(language, path, text)], &config).unwrap();
    for mutant in &outcome.mutants {
        assert_eq!(mutant.operator, operator);
        // Every patch applies to the source and its reverse restores it exactly.
        let file_patch = &mutant.patch.files[0];
        let bugged = file_patch.apply_to_text(text).unwrap();
        assert_ne!(bugged, text);
        assert_eq!(file_patch.reverse().apply_to_text(&bugged).unwrap(), text);
    }
    outcome.mutants
}

fn check(language: Language, operator: &str) {
    let text = if language == Language::Rust { RUST } else { PYTHON };
    let mutants = run(language, text, operator);
    let mut shown = String::new();
    for mutant in &mutants {
        shown.push_str(&format!("# {}\n{}\n", mutant.description, mutant.patch.render()));
    }
    if mutants.is_empty() {
        shown.push_str("(no mutants)\n");
    }
    insta::assert_snapshot!(format!("{}__{operator}", language.name()), shown);
}

#[test]
fn rust_operators() {
    for op in sera_mutation::OPERATORS.iter().filter(|op| op.languages.contains(&Language::Rust)) {
        check(Language::Rust, op.slug);
    }
}

#[test]
fn python_operators() {
    for op in sera_mutation::OPERATORS.iter().filter(|op| op.languages.contains(&Language::Python))
    {
        check(Language::Python, op.slug);
    }
}

#[test]
fn every_operator_finds_something_in_the_samples() {
    for op in sera_mutation::OPERATORS {
        for &language in op.languages {
            let text = if language == Language::Rust { RUST } else { PYTHON };
            assert!(
                !run(language, text, op.slug).is_empty(),
                "{} found nothing in {language}",
                op.slug
            );
        }
    }
}

#[test]
fn test_code_and_unsafe_fns_are_never_mutated() {
    let rust_tests = RUST.find("#[cfg(test)]").unwrap();
    let unsafe_fn = RUST.find("pub unsafe fn").unwrap()..rust_tests;
    let python_tests = PYTHON.find("def test_window").unwrap();
    for op in sera_mutation::OPERATORS {
        for &language in op.languages {
            let text = if language == Language::Rust { RUST } else { PYTHON };
            for m in run(language, text, op.slug) {
                let limit = if language == Language::Rust { rust_tests } else { python_tests };
                assert!(m.span.end <= limit, "{} mutated test code: {}", op.slug, m.description);
                if language == Language::Rust {
                    assert!(!unsafe_fn.contains(&m.span.start), "{} mutated an unsafe fn", op.slug);
                }
            }
        }
    }
}

/// Test attributes mark only the item right after them, with doc comments and other attributes
/// in between, at any depth; an item after that one is mutated again.
#[test]
fn test_attributes_mark_the_next_item_only() {
    let text = "\
#[test]
/// Doc.
#[allow(unused)]
fn marked() -> u8 { 1 }

fn after_marked() -> u8 { 2 }

#[inline]
fn plain() -> u8 { 3 }

impl S {
    #[tokio::test]
    async fn inner_marked() -> u8 { 4 }

    fn inner_after() -> u8 { 5 }
}

#[cfg(test)]
// A comment between.
mod tests {
    fn helper() -> u8 { 6 }
}

fn last() -> u8 { 7 }
";
    let mutated: std::collections::BTreeSet<String> =
        run(Language::Rust, text, "constant-off-by-one")
            .iter()
            .map(|m| text[m.span.start..m.span.end].to_string())
            .collect();
    assert_eq!(mutated, ["2", "3", "5", "7"].map(String::from).into());
}
