//! `sera taxonomy list`: the bug classes as a table or as JSON.

use sera_taxonomy::Registry;

/// The built-in classes, one line each (`index slug  name`), or as a JSON array of objects with
/// index, slug, name, area, description, template and origin.
pub fn list(json: bool) -> String {
    list_registry(&Registry::builtin(), json)
}

/// [`list`] for any registry, e.g. the built-ins extended by plugins
/// ([`crate::plugins::registry`]).
pub fn list_registry(registry: &Registry, json: bool) -> String {
    if json {
        let mut text = serde_json::to_string_pretty(registry.classes())
            .expect("bug classes are plain strings and numbers");
        text.push('\n');
        return text;
    }
    let width = registry.classes().iter().map(|c| c.slug.len()).max().unwrap_or(0);
    let mut text = String::new();
    for class in registry.classes() {
        text.push_str(&format!("{:>2}  {:<width$}  {}\n", class.index, class.slug, class.name));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_all_51_classes_as_text_and_json() {
        let text = super::list(false);
        assert_eq!(text.lines().count(), 51);
        assert!(
            text.lines().nth(13).unwrap().contains("boundary-conditions-and-edge-case-handling")
        );
        let json: serde_json::Value = serde_json::from_str(&super::list(true)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 51);
        assert_eq!(json[48]["slug"], "null-safety-and-optional-value-handling");
    }
}
