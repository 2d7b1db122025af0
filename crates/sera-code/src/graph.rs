//! The call graph, by name resolution as SERA builds it.
//!
//! A call site names a function only by its bare name (`transfer`, `self.transfer`,
//! `Ledger::transfer` and `obj.transfer` all call `transfer`), and without type inference the
//! index cannot tell which `transfer` is meant when several exist. So an edge is kept only when
//! the bare name resolves to exactly one definition of the same language in the whole repository;
//! calls to ambiguous names (`new`, `__init__`, most trait methods) and to names defined outside
//! the repository (`len`, `print`) produce no edge. The graph is therefore incomplete but rarely
//! wrong, which is what sampling related functions needs. The one way it is wrong: a call to an
//! outside function that happens to share its name with exactly one repository function.

use std::collections::HashMap;

use sera_core::{Entity, Language};

/// Fills each entity's `callees` from `calls` (the bare names each one calls, index for index)
/// and returns the number of edges.
pub(crate) fn resolve(entities: &mut [Entity], calls: &[Vec<String>]) -> usize {
    // `None` marks a name with more than one definition.
    let mut definitions: HashMap<(Language, &str), Option<usize>> = HashMap::new();
    for (index, entity) in entities.iter().enumerate() {
        definitions
            .entry((entity.language, entity.name.as_str()))
            .and_modify(|slot| *slot = None)
            .or_insert(Some(index));
    }
    let resolved: Vec<Vec<String>> = entities
        .iter()
        .zip(calls)
        .map(|(entity, names)| {
            names
                .iter()
                .filter_map(|name| {
                    definitions.get(&(entity.language, name.as_str())).copied().flatten()
                })
                .map(|callee| entities[callee].qualified_name.clone())
                .collect()
        })
        .collect();
    let mut edges = 0;
    for (entity, callees) in entities.iter_mut().zip(resolved) {
        edges += callees.len();
        entity.callees = callees;
    }
    edges
}
