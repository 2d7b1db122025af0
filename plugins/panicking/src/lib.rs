//! Test fixture, not an example: a plugin whose operator and verifier panic on every call,
//! and whose second operator returns an edit outside the entity it was given.
//!
//! The tests in `sera-plugin-testkit` load it to check that a panic inside a plugin comes
//! back to the host as an error value (`PluginError { panicked: true, .. }`) and never
//! unwinds across the library boundary, which would abort the host.

use std::ops::Range;

use sera_plugin_api::{
    BugClass, ClassEntry, Edit, OperatorEntry, PluginError, VerdictOut, Verifier,
};

/// The operator and the verifier; both panic.
#[derive(Debug, Clone, Copy, Default)]
pub struct Panicking;

impl BugClass for Panicking {
    fn classes(&self) -> Vec<ClassEntry> {
        Vec::new()
    }

    fn operators(&self) -> Vec<OperatorEntry> {
        vec![
            OperatorEntry {
                slug: "always-panics".into(),
                classes: vec!["possible-bug".into()].into(),
            },
            OperatorEntry {
                slug: "out-of-range".into(),
                classes: vec!["possible-bug".into()].into(),
            },
        ]
    }

    fn mutate(
        &self,
        operator: &str,
        _source: &str,
        _language: &str,
        span: Range<usize>,
    ) -> Result<Vec<Edit>, PluginError> {
        if operator == "out-of-range" {
            // One byte past the entity: the host must refuse it rather than splice it.
            let end = span.end as u64 + 1;
            return Ok(vec![Edit {
                start: span.start as u64,
                end,
                replacement: "x".into(),
                description: "an edit past the entity".into(),
            }]);
        }
        panic!("the panicking fixture's operator panics by design")
    }
}

impl Verifier for Panicking {
    fn name(&self) -> String {
        "always-panics".to_string()
    }

    fn verify(&self, _: &str, _: &str, _: &str) -> Result<VerdictOut, PluginError> {
        panic!("the panicking fixture's verifier panics by design")
    }
}

sera_plugin_api::export_plugin! {
    name: "panicking",
    bug_classes: || vec![sera_plugin_api::bug_class_plugin(Panicking)],
    verifiers: || vec![sera_plugin_api::verifier_plugin(Panicking)],
}
