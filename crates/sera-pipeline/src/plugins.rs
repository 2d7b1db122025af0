//! Plugins as the CLI and the pipeline see them: load a directory through `sera-plugin-host`,
//! list what each library offers, and map load errors onto the exit-code classes.

use std::io::Write;
use std::path::Path;

use sera_plugin_host::{LoadError, Plugin, library_paths, load_file};

use crate::{Error, Result};

/// Where `sera plugins list` looks when no `--dir` is given.
pub const DEFAULT_DIR: &str = ".sera/plugins";

/// Loads every plugin in `dir`; the first library that fails to load fails the run, so that a
/// run never silently goes without a plugin it was given.
pub fn load(dir: &Path) -> Result<Vec<Plugin>> {
    sera_plugin_host::load_dir(dir).map_err(load_error)
}

/// The built-in bug classes followed by those of every plugin in `dir`, in load order.
/// A plugin class whose slug is taken or whose template is malformed is bad data.
pub fn registry(dir: &Path) -> Result<sera_taxonomy::Registry> {
    let plugins = load(dir)?;
    let mut registry = sera_taxonomy::Registry::builtin();
    sera_plugin_host::register_all(&plugins, &mut registry)
        .map_err(|e| Error::Data(e.to_string()))?;
    Ok(registry)
}

/// Writes one block per library in `dir`: its plugin name, interface version, bug classes,
/// operators and verifiers, or why it did not load. Returns a data error naming the failed
/// libraries after listing all of them, so one bad file does not hide the others.
pub fn list(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let paths = library_paths(dir).map_err(load_error)?;
    let write_err = |e: std::io::Error| Error::io(Path::new("<stdout>"), e);
    if paths.is_empty() {
        writeln!(out, "no plugin libraries in {}", dir.display()).map_err(write_err)?;
        return Ok(());
    }
    let mut failed = Vec::new();
    for path in &paths {
        let file = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
        match describe(path) {
            Ok(lines) => {
                writeln!(out, "{file}").map_err(write_err)?;
                for line in lines {
                    writeln!(out, "  {line}").map_err(write_err)?;
                }
            }
            Err(message) => {
                writeln!(out, "{file}\n  error: {message}").map_err(write_err)?;
                failed.push(file);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Data(format!(
            "{} of {} libraries in {} did not load: {}",
            failed.len(),
            paths.len(),
            dir.display(),
            failed.join(", ")
        )))
    }
}

/// The listing lines of one library, or the load or call error as one line.
fn describe(path: &Path) -> std::result::Result<Vec<String>, String> {
    let plugin = load_file(path).map_err(|e| e.to_string())?;
    let classes = plugin.class_specs().map_err(|e| e.to_string())?;
    let operators = plugin.operators().map_err(|e| e.to_string())?;
    let none = |list: Vec<String>| if list.is_empty() { "-".to_string() } else { list.join(", ") };
    Ok(vec![
        format!("plugin: {} (interface {})", plugin.name, plugin.interface_version),
        format!("classes: {}", none(classes.into_iter().map(|c| c.slug).collect())),
        format!(
            "operators: {}",
            none(
                operators
                    .into_iter()
                    .map(|o| format!("{} [{}]", o.slug, o.classes.join(", ")))
                    .collect()
            )
        ),
        format!("verifiers: {}", none(plugin.verifiers().iter().map(|v| v.name.clone()).collect())),
    ])
}

/// A missing or unreadable directory is the environment's fault; a bad library is bad data.
fn load_error(error: LoadError) -> Error {
    match error {
        LoadError::ReadDir { .. } => Error::Environment(error.to_string()),
        _ => Error::Data(error.to_string()),
    }
}
