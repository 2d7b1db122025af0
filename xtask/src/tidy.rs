//! Mechanical checks of the architecture and style rules in docs/ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Returns one line per problem found; empty when the tree is tidy.
pub fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for krate in std::fs::read_dir(root.join("crates"))? {
        let krate = krate?.path();
        let lib = krate.join("src/lib.rs");
        let main = krate.join("src/main.rs");
        let crate_root = if lib.exists() { lib } else { main };
        let text = std::fs::read_to_string(&crate_root).unwrap_or_default();
        if !text.starts_with("//!") {
            problems.push(format!(
                "{}: a crate root must start with a `//!` paragraph",
                crate_root.display()
            ));
        }
        let doc: Vec<&str> = text.lines().take_while(|line| line.starts_with("//!")).collect();
        if !doc.iter().any(|line| line.starts_with("//! Must not know: ")) {
            problems.push(format!(
                "{}: the crate doc must say what the crate must not know (a `//! Must not know: ...` line)",
                crate_root.display()
            ));
        }
    }
    problems.extend(dependency_edges(root)?);
    problems.extend(outside_users(root)?);
    for file in source_files(root)? {
        let text = std::fs::read_to_string(&file)?;
        let relative = file.strip_prefix(root).unwrap_or(&file);
        // Test code may start processes to set up fixtures (git repositories): it ships in no
        // build. Everything that ships goes through sera-sandbox.
        let in_sandbox = relative.starts_with("crates/sera-sandbox")
            || relative.starts_with("crates/sera-test-support");
        let in_xtask = relative.starts_with("xtask");
        for (number, line) in text.lines().enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') {
                problems.push(format!(
                    "{}:{}: trailing whitespace",
                    relative.display(),
                    number + 1
                ));
            }
            let spawns = ["Command::new(", "process::Command", "std::process::Command"];
            if !in_sandbox
                && !in_xtask
                && spawns.iter().any(|s| line.contains(s))
                && !relative.ends_with("tidy.rs")
            {
                problems.push(format!(
                    "{}:{}: only sera-sandbox may spawn processes",
                    relative.display(),
                    number + 1
                ));
            }
        }
    }
    Ok(problems)
}

/// The `### Dependency edges` table of docs/ARCHITECTURE.md against each crate's internal
/// `[dependencies]`: one problem per crate whose edges differ, naming both sides.
fn dependency_edges(root: &Path) -> anyhow::Result<Vec<String>> {
    let doc = root.join("docs/ARCHITECTURE.md");
    let table = edge_table(&std::fs::read_to_string(&doc)?);
    let mut problems = Vec::new();
    if table.is_empty() {
        problems.push(format!("{}: no `### Dependency edges` table", doc.display()));
        return Ok(problems);
    }
    let mut crates = BTreeSet::new();
    for krate in std::fs::read_dir(root.join("crates"))? {
        let dir = krate?.path();
        let manifest = dir.join("Cargo.toml");
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if !manifest.exists() {
            continue;
        }
        let actual = internal_dependencies(&std::fs::read_to_string(&manifest)?);
        let manifest = manifest.strip_prefix(root).unwrap_or(&manifest).to_path_buf();
        match table.get(&name) {
            None => problems.push(format!(
                "{}: `{name}` has no row in the dependency table of docs/ARCHITECTURE.md",
                manifest.display()
            )),
            Some(documented) if *documented != actual => problems.push(format!(
                "{}: `{name}` depends on {} but docs/ARCHITECTURE.md says {}",
                manifest.display(),
                listed(&actual),
                listed(documented)
            )),
            Some(_) => {}
        }
        crates.insert(name);
    }
    for name in table.keys().filter(|name| !crates.contains(*name)) {
        problems.push(format!(
            "docs/ARCHITECTURE.md: the dependency table names `{name}`, which is not a crate"
        ));
    }
    Ok(problems)
}

/// Rows of the dependency table: crate name to the full names of what it depends on.
fn edge_table(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    doc_table(doc, "### Dependency edges")
}

/// A two-column table of docs/ARCHITECTURE.md under `heading`: the backquoted name of the first
/// column to the `sera-` crates the second lists (comma-separated short names; a parenthesis
/// after a name is its reason).
fn doc_table(doc: &str, heading: &str) -> BTreeMap<String, BTreeSet<String>> {
    let Some(start) = doc.find(heading) else { return BTreeMap::new() };
    let mut table = BTreeMap::new();
    for line in doc[start..].lines().skip(1).take_while(|line| !line.starts_with('#')) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [krate, deps] = cells[..] else { continue };
        let Some(krate) = krate.strip_prefix('`').and_then(|k| k.strip_suffix('`')) else {
            continue;
        };
        let deps = deps
            .split(',')
            .map(str::trim)
            .map(|dep| dep.split(" (").next().unwrap_or(dep).trim())
            .filter(|dep| !dep.is_empty() && *dep != "-")
            .map(|dep| format!("sera-{dep}"))
            .collect();
        table.insert(krate.to_string(), deps);
    }
    table
}

/// The `### Who uses each outside crate` table against the manifests: for each outside crate
/// listed, the crates whose `[dependencies]` name it must be exactly the ones the table names.
fn outside_users(root: &Path) -> anyhow::Result<Vec<String>> {
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))?;
    let table = doc_table(&doc, "### Who uses each outside crate");
    if table.is_empty() {
        return Ok(vec!["docs/ARCHITECTURE.md: no `### Who uses each outside crate` table".into()]);
    }
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for krate in std::fs::read_dir(root.join("crates"))? {
        let dir = krate?.path();
        let (Some(name), Ok(manifest)) = (
            dir.file_name().and_then(|n| n.to_str()).map(str::to_string),
            std::fs::read_to_string(dir.join("Cargo.toml")),
        ) else {
            continue;
        };
        let named = section_dependencies(&manifest, |_| true);
        for outside in table.keys().filter(|outside| named.contains(*outside)) {
            users.entry(outside).or_default().insert(name.clone());
        }
    }
    let mut problems = Vec::new();
    for (outside, documented) in &table {
        let actual = users.remove(outside.as_str()).unwrap_or_default();
        if &actual != documented {
            problems.push(format!(
                "`{outside}` is a dependency of {} but docs/ARCHITECTURE.md says {}",
                listed(&actual),
                listed(documented)
            ));
        }
    }
    Ok(problems)
}

/// The `sera-*` crates a manifest's `[dependencies]` section names.
fn internal_dependencies(manifest: &str) -> BTreeSet<String> {
    section_dependencies(manifest, |name| name.starts_with("sera-"))
}

/// The crate names of a manifest's `[dependencies]` section that `keep` accepts.
fn section_dependencies(manifest: &str, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut in_section = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[dependencies]";
        } else if in_section && !line.is_empty() && !line.starts_with('#') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !name.is_empty() && keep(&name) {
                deps.insert(name);
            }
        }
    }
    deps
}

fn listed(deps: &BTreeSet<String>) -> String {
    if deps.is_empty() {
        "nothing internal".to_string()
    } else {
        deps.iter().map(|d| d.trim_start_matches("sera-")).collect::<Vec<_>>().join(", ")
    }
}

fn source_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask"), root.join("plugins")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_edge_table_and_manifests_are_read_as_written() {
        let doc = "x\n### Dependency edges\n\n| crate | depends on |\n| --- | --- |\n| `sera-core` | - |\n\
| `sera-env` | core, sandbox |\n\n## Next\n| `sera-late` | core |\n";
        let table = super::edge_table(doc);
        assert_eq!(table.len(), 2);
        assert!(table["sera-core"].is_empty());
        assert_eq!(table["sera-env"].iter().collect::<Vec<_>>(), ["sera-core", "sera-sandbox"]);
        let manifest = "[package]\nname = \"sera-env\"\n[dependencies]\nsera-core.workspace = true\n\
sera-sandbox = { path = \"../sera-sandbox\" }\nserde = \"1\"\n[dev-dependencies]\nsera-test-support.workspace = true\n";
        assert_eq!(super::internal_dependencies(manifest), table["sera-env"]);
    }

    #[test]
    fn tree_is_tidy() {
        let problems = super::check(&crate::project_root()).unwrap();
        assert!(problems.is_empty(), "cargo xtask tidy found:\n{}", problems.join("\n"));
    }
}
