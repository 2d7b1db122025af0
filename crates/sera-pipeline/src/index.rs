//! The index stage: a repository in, one JSON [`sera_core::Entity`] per line out.

use std::path::Path;

use sera_code::IndexError;
pub use sera_code::{IndexConfig, IndexReport};

use crate::{Error, Result, jsonl};

/// Indexes the repository at `repo` and writes its functions to `out` (`-` for standard
/// output), sorted by file and start byte. Returns the report of what was indexed and skipped;
/// skipped files are not an error.
///
/// A repository path that does not exist, is not a directory or cannot be listed is bad input
/// (exit code 2); failing to write `out` is the environment's (exit code 3).
pub fn run(repo: &Path, out: &Path, config: &IndexConfig) -> Result<IndexReport> {
    // Every `IndexError` is about the repository path the user gave (missing, not a folder,
    // unlistable), so all of them are bad input; problems with single files are in the report.
    let index =
        sera_code::index(repo, config).map_err(|err: IndexError| Error::Data(err.to_string()))?;
    let mut writer = jsonl::Writer::create(out)?;
    for entity in &index.entities {
        writer.write(entity)?;
    }
    writer.finish()?;
    Ok(index.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_repository_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            run(&dir.path().join("nope"), Path::new("-"), &IndexConfig::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn functions_are_written_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.py"), "def a():\n    b()\n\ndef b():\n    pass\n")
            .unwrap();
        let out = dir.path().join("out/functions.jsonl");
        let report = run(dir.path(), &out, &IndexConfig::default()).unwrap();
        assert_eq!(report.functions, 2);
        let read: jsonl::Records<sera_core::Entity> = jsonl::read(&out).unwrap();
        let names: Vec<&str> = read.records.iter().map(|e| e.qualified_name.as_str()).collect();
        assert_eq!(names, ["m.a", "m.b"]);
        assert_eq!(read.records[0].callees, ["m.b"]);
    }
}
