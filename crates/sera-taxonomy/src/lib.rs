//! The bug classes of sera-rs: 51 built-in classes (index 0 is a generic "possible bug", 1 to
//! 50 each name one area such as boundary conditions or null safety), their vague prompt
//! templates, and a [`Registry`] that starts with the built-ins and that plugins extend.
//!
//! Must not know: code, languages or processes: bug classes are text and templates.
//!
//! A class is text and provenance only. This crate deliberately knows nothing about source code,
//! languages, processes or models: `sera-mutation` tags its operators with class slugs,
//! `sera-rollout` renders a class's prompt for a start function, and `sera-plugin-host` adds
//! plugin classes through [`Registry::register`].
//!
//! ```
//! let registry = sera_taxonomy::Registry::builtin();
//! let class = registry.get("boundary-conditions-and-edge-case-handling").unwrap();
//! assert_eq!(class.index, 13);
//! let prompt = class.template.render("clamp", "src/stats.rs").unwrap();
//! assert!(prompt.contains("`clamp` in `src/stats.rs`"));
//! ```

mod builtin;
mod template;

use std::collections::HashMap;

use serde::Serialize;

pub use template::{Template, TemplateError, Variable};

/// The number of built-in classes (indices `0..=50`).
pub const BUILTIN_COUNT: usize = 51;

/// One bug class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BugClass {
    /// Position in the registry: 0 to 50 for the built-ins, then plugin classes in load order.
    /// The index is part of the provenance of generated data, so built-in indices never change.
    pub index: usize,
    /// Lowercase kebab-case, unique in a registry, e.g. `null-safety-and-optional-value-handling`.
    pub slug: String,
    /// A short title, e.g. "Code null safety and optional value handling".
    pub name: String,
    /// The area the class is about, as its prompt names it.
    pub area: String,
    /// One paragraph saying what kind of problem the class covers.
    pub description: String,
    /// The vague task given to a teacher, with the start function and its file as variables.
    pub template: Template,
    /// Where the class comes from: `builtin` or a plugin's name.
    pub origin: String,
}

/// A class to add to a registry; the registry assigns its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSpec {
    pub slug: String,
    pub name: String,
    pub area: String,
    pub description: String,
    /// Template text; checked by [`Template::parse`] when the class is registered.
    pub template: String,
    /// Who adds the class, e.g. a plugin's name.
    pub origin: String,
}

/// Why a class could not be added to a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("bug class `{slug}` from {origin} is already registered (by {existing})")]
    DuplicateSlug { slug: String, origin: String, existing: String },
    #[error(
        "bug class slug {slug:?} from {origin} is not lowercase kebab-case (letters, digits, `-`)"
    )]
    InvalidSlug { slug: String, origin: String },
    #[error("bug class `{slug}` from {origin}: {source}")]
    Template {
        slug: String,
        origin: String,
        #[source]
        source: TemplateError,
    },
    #[error("bug class `{slug}` from {origin}: the {field} is empty")]
    EmptyField { slug: String, origin: String, field: &'static str },
}

/// The bug classes known to a run, in index order, looked up by slug or index.
#[derive(Debug, Clone)]
pub struct Registry {
    classes: Vec<BugClass>,
    by_slug: HashMap<String, usize>,
}

impl Registry {
    /// A registry holding the 51 built-in classes.
    pub fn builtin() -> Registry {
        let mut registry = Registry { classes: Vec::new(), by_slug: HashMap::new() };
        for (index, row) in builtin::BUILTIN.iter().enumerate() {
            let spec = ClassSpec {
                slug: row.slug.to_string(),
                name: if index == 0 { "Possible bug".to_string() } else { capitalise(row.area) },
                area: row.area.to_string(),
                description: row.description.to_string(),
                template: builtin::prompt_text(index, row),
                origin: "builtin".to_string(),
            };
            registry.register(spec).expect("built-in classes are checked by the crate's tests");
        }
        registry
    }

    /// Adds a class after the existing ones and returns its index. A slug that is already
    /// registered, a malformed slug, an empty text or a template that does not use exactly the
    /// two variables is rejected and leaves the registry unchanged.
    pub fn register(&mut self, spec: ClassSpec) -> Result<usize, RegistryError> {
        let ClassSpec { slug, name, area, description, template, origin } = spec;
        if !is_kebab_case(&slug) {
            return Err(RegistryError::InvalidSlug { slug, origin });
        }
        if let Some(&existing) = self.by_slug.get(&slug) {
            let existing = self.classes[existing].origin.clone();
            return Err(RegistryError::DuplicateSlug { slug, origin, existing });
        }
        for (field, text) in [("name", &name), ("area", &area), ("description", &description)] {
            if text.trim().is_empty() {
                return Err(RegistryError::EmptyField { slug, origin, field });
            }
        }
        let template = match Template::parse(&template) {
            Ok(template) => template,
            Err(source) => return Err(RegistryError::Template { slug, origin, source }),
        };
        let index = self.classes.len();
        self.by_slug.insert(slug.clone(), index);
        self.classes.push(BugClass { index, slug, name, area, description, template, origin });
        Ok(index)
    }

    /// The class with this slug.
    pub fn get(&self, slug: &str) -> Option<&BugClass> {
        self.by_slug.get(slug).map(|&index| &self.classes[index])
    }

    /// The class at this index.
    pub fn by_index(&self, index: usize) -> Option<&BugClass> {
        self.classes.get(index)
    }

    /// Every class in index order.
    pub fn classes(&self) -> &[BugClass] {
        &self.classes
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

fn is_kebab_case(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slugs of the reference table, in index order.
    const REFERENCE_SLUGS: [&str; BUILTIN_COUNT] = [
        "possible-bug",
        "resource-cleanup-and-lifecycle-management",
        "data-validation-and-type-safety",
        "error-handling-and-exception-management",
        "state-management-and-data-consistency",
        "configuration-and-initialization-logic",
        "concurrency-and-thread-safety",
        "api-contracts-and-interface-compatibility",
        "performance-and-efficiency",
        "dependency-management-and-module-coupling",
        "control-flow-and-logic-correctness",
        "data-transformation-and-processing-logic",
        "asynchronous-operations-and-callback-handling",
        "boundary-conditions-and-edge-case-handling",
        "maintainability-and-documentation",
        "security-and-input-sanitization",
        "modularity-and-reusability",
        "testing-and-observability",
        "compatibility-and-platform-specific-behavior",
        "correctness-and-business-logic-implementation",
        "robustness-and-failure-recovery",
        "scalability-and-extensibility",
        "consistency-and-convention-adherence",
        "clarity-and-complexity-management",
        "integration-and-component-interaction",
        "completeness-and-missing-functionality",
        "reliability-and-deterministic-behavior",
        "assumptions-and-precondition-validation",
        "side-effects-and-function-purity",
        "abstraction-and-interface-design",
        "duplication-and-redundancy",
        "ordering-and-initialization-sequence",
        "correctness-and-algorithmic-implementation",
        "behavior-and-output-correctness",
        "coupling-and-dependency-relationships",
        "naming-and-semantic-clarity",
        "readability-and-maintainability",
        "testability-and-design-for-testing",
        "backwards-compatibility-and-version-migration",
        "invariants-and-postcondition-guarantees",
        "ownership-and-responsibility-distribution",
        "flexibility-and-parameterization",
        "transaction-and-atomicity-guarantees",
        "efficiency-and-resource-utilization",
        "context-and-environment-awareness",
        "composability-and-function-interaction",
        "lifecycle-and-temporal-behavior",
        "idempotency-and-operation-repeatability",
        "null-safety-and-optional-value-handling",
        "memory-management-and-object-lifecycle",
        "input-output-handling-and-data-flow",
    ];

    fn spec(slug: &str, template: &str) -> ClassSpec {
        ClassSpec {
            slug: slug.into(),
            name: "Plugin class".into(),
            area: "plugin area".into(),
            description: "A class added by a test plugin.".into(),
            template: template.into(),
            origin: "plugin `demo`".into(),
        }
    }

    #[test]
    fn builtin_registry_has_the_51_reference_slugs_in_order() {
        let registry = Registry::builtin();
        assert_eq!(registry.len(), BUILTIN_COUNT);
        for (index, slug) in REFERENCE_SLUGS.iter().enumerate() {
            let class = registry.by_index(index).unwrap();
            assert_eq!((class.index, class.slug.as_str()), (index, *slug));
            assert_eq!(registry.get(slug).unwrap().index, index);
        }
    }

    #[test]
    fn every_class_renders_with_area_function_file_and_callers() {
        let registry = Registry::builtin();
        for class in registry.classes() {
            let prompt = class.template.render("parse_ledger", "src/parse.rs").unwrap();
            assert!(prompt.contains("`parse_ledger` in `src/parse.rs`"), "{}", class.slug);
            assert!(prompt.contains("does not behave as expected"), "{}", class.slug);
            assert!(prompt.contains("that calls it or that it calls"), "{}", class.slug);
            assert!(!prompt.contains("{{"), "{}: {prompt}", class.slug);
            if class.index > 0 {
                assert!(prompt.contains(&class.area), "{} does not name its area", class.slug);
            }
            assert!(class.description.len() > 60, "{} needs a real description", class.slug);
            assert!(!class.description.contains("  "), "{} has doubled spaces", class.slug);
            assert!(!prompt.contains("  "), "{} prompt has doubled spaces", class.slug);
        }
    }

    #[test]
    fn duplicate_slug_is_rejected_and_names_both_origins() {
        let mut registry = Registry::builtin();
        let err = registry
            .register(spec("possible-bug", "Look at {{function}} in {{file}}."))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bug class `possible-bug` from plugin `demo` is already registered (by builtin)"
        );
        assert_eq!(registry.len(), BUILTIN_COUNT);
    }

    #[test]
    fn plugin_class_gets_the_next_index() {
        let mut registry = Registry::builtin();
        let index =
            registry.register(spec("sql-injection", "Check {{function}} ({{file}}).")).unwrap();
        assert_eq!(index, BUILTIN_COUNT);
        assert_eq!(registry.get("sql-injection").unwrap().origin, "plugin `demo`");
        let err = registry.register(spec("sql-injection", "{{function}} {{file}}")).unwrap_err();
        assert!(matches!(err, RegistryError::DuplicateSlug { .. }));
    }

    #[test]
    fn bad_slugs_and_templates_are_rejected() {
        let mut registry = Registry::builtin();
        let err = registry.register(spec("Bad Slug", "{{function}} {{file}}")).unwrap_err();
        assert!(matches!(err, RegistryError::InvalidSlug { .. }), "{err}");
        let err = registry.register(spec("no-file", "Only {{function}}.")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bug class `no-file` from plugin `demo`: the template never uses `{{file}}`"
        );
        assert_eq!(registry.len(), BUILTIN_COUNT);
    }

    #[test]
    fn classes_serialize_with_their_template_text() {
        let registry = Registry::builtin();
        let json = serde_json::to_value(registry.by_index(48).unwrap()).unwrap();
        assert_eq!(json["slug"], "null-safety-and-optional-value-handling");
        assert!(json["template"].as_str().unwrap().contains("{{function}}"));
    }
}

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
