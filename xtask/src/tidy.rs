//! Mechanical checks of the architecture and style rules in docs/ARCHITECTURE.md.

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
    }
    for file in source_files(root)? {
        let text = std::fs::read_to_string(&file)?;
        let relative = file.strip_prefix(root).unwrap_or(&file);
        let in_sandbox = relative.starts_with("crates/sera-sandbox");
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
    fn tree_is_tidy() {
        let problems = super::check(&crate::project_root()).unwrap();
        assert!(problems.is_empty(), "cargo xtask tidy found:\n{}", problems.join("\n"));
    }
}
