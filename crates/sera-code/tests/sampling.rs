//! Seeded start functions.

use crate::util::{fixture, index};

#[test]
fn start_functions_are_reproducible_and_never_test_code() {
    let (_dir, root) = fixture("rust-demo");
    let index = index(&root);
    let first: Vec<&str> = sera_code::sample_start_functions(&index.entities, 5, 42)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let again: Vec<&str> = sera_code::sample_start_functions(&index.entities, 5, 42)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(first, again);
    assert_eq!(first.len(), 5);

    let all = sera_code::sample_start_functions(&index.entities, usize::MAX, 42);
    assert!(all.iter().all(|e| !e.is_test && !e.file.contains("tests")));
    let candidates = index.entities.iter().filter(|e| !e.is_test).count();
    assert_eq!(all.len(), candidates);

    let other: Vec<&str> = sera_code::sample_start_functions(&index.entities, 5, 43)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_ne!(first, other, "a different seed should draw differently");
}
