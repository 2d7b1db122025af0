//! The index of the fixture repositories, as reviewed snapshots.
//!
//! Each snapshot holds the complete records, so a change to a name, a span, a test marker or a
//! call edge shows up in review (`cargo insta review`).

use crate::util::{fixture, index};

#[test]
fn rust_demo_index_matches_its_snapshot() {
    let (_dir, root) = fixture("rust-demo");
    let index = index(&root);
    insta::assert_yaml_snapshot!("rust_demo", index.entities);
    insta::assert_snapshot!(index.report.to_string(), @"indexed 5 files (12.3 kB): 41 functions (17 test), 48 call edges; 3 files of other languages not read");
}

#[test]
fn py_demo_index_matches_its_snapshot() {
    let (_dir, root) = fixture("py-demo");
    let index = index(&root);
    insta::assert_yaml_snapshot!("py_demo", index.entities);
    insta::assert_snapshot!(index.report.to_string(), @"indexed 5 files (6.3 kB): 35 functions (18 test), 27 call edges; 2 files of other languages not read");
}

#[test]
fn rust_demo_covers_the_cases_the_fixture_exists_for() {
    let (_dir, root) = fixture("rust-demo");
    let index = index(&root);
    let get = |name: &str| {
        index
            .entities
            .iter()
            .find(|e| e.qualified_name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    // A method of an inherent impl, and one of a trait impl named after the type.
    assert_eq!(get("account::Ledger::transfer").parent.as_deref(), Some("account::Ledger"));
    assert_eq!(get("account::Account::describe").kind, sera_core::EntityKind::Method);
    // A nested function is an entity, qualified through its parent; closures are not.
    assert_eq!(
        get("account::Ledger::largest_transfers::amount").parent.as_deref(),
        Some("account::Ledger::largest_transfers")
    );
    assert!(
        get("account::Ledger::largest_transfers")
            .callees
            .contains(&"account::Ledger::largest_transfers::amount".to_string())
    );
    assert!(!index.entities.iter().any(|e| e.name == "is_overdrawn"));
    assert!(get("load_async").is_async);
    assert!(get("account::tests::ledger").is_test);
    assert!(get("integration::parses_a_small_ledger").is_test);
    assert!(!get("stats::clamp").is_test);
    // `new` is defined twice, so calls to it give no edge; `transfer` once, so they do.
    assert!(get("parse::parse_ledger").callees.contains(&"account::Ledger::transfer".to_string()));
    assert!(!get("account::Ledger::open").callees.iter().any(|c| c.ends_with("::new")));
}

#[test]
fn py_demo_covers_the_cases_the_fixture_exists_for() {
    let (_dir, root) = fixture("py-demo");
    let index = index(&root);
    let get = |name: &str| {
        index
            .entities
            .iter()
            .find(|e| e.qualified_name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(
        get("inventory.core.Item.value_cents").parent.as_deref(),
        Some("inventory.core.Item")
    );
    assert_eq!(
        get("inventory.pricing.bulk_price.best_percent").kind,
        sera_core::EntityKind::Function
    );
    assert!(
        get("inventory.pricing.bulk_price")
            .callees
            .contains(&"inventory.pricing.apply_discount".to_string())
    );
    assert!(!get("inventory.pricing.format_price").is_test);
    assert!(get("inventory.pricing.fetch_price").is_async);
    assert!(get("test_core.TestHistory.test_history_filters_by_sku").is_test);
    assert!(get("test_core.stock").is_test);
}

#[test]
fn indexing_twice_gives_identical_records() {
    let (_dir, root) = fixture("rust-demo");
    let first = serde_json::to_string(&index(&root).entities).expect("serialize");
    let second = serde_json::to_string(&index(&root).entities).expect("serialize");
    assert_eq!(first, second);
}

#[test]
fn one_thread_and_many_threads_give_identical_records() {
    let (_dir, root) = fixture("py-demo");
    let on = |threads: usize| {
        let pool =
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        let index = pool.install(|| index(&root));
        serde_json::to_string(&index.entities).expect("serialize")
    };
    assert_eq!(on(1), on(4));
}
