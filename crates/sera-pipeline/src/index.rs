//! The index stage: a repository in, one JSON [`sera_core::Entity`] per line out.

use std::path::Path;

use sera_code::IndexError;
pub use sera_code::{IndexConfig, IndexReport};

use crate::{Error, Result, jsonl};

/// Indexes the repository at `repo` and writes its functions to `out` (`-` for standard
/// output), sorted by file and start byte. Returns the report of what was indexed and skipped;
/// skipped files are not an error.
///
/// With `progress`, a counter on stderr shows the files indexed.
///
/// A repository path that does not exist, is not a directory or cannot be listed is bad input
/// (exit code 2); failing to write `out` is the environment's (exit code 3).
pub fn run(repo: &Path, out: &Path, config: &IndexConfig, progress: bool) -> Result<IndexReport> {
    let files_done = crate::progress::counter(progress, "files");
    files_done.set_message("indexing");
    let languages = sera_code::builtin_languages();
    let indexed = sera_code::index_each(repo, config, &languages, |_| files_done.inc(1));
    files_done.finish_and_clear();
    // Every `IndexError` is about the repository path the user gave (missing, not a folder,
    // unlistable), so all of them are bad input; problems with single files are in the report.
    let (index, _) = indexed.map_err(|err: IndexError| Error::Data(err.to_string()))?;
    let mut writer = jsonl::Writer::create(out)?;
    writer.write_all(&index.entities)?;
    writer.finish()?;
    Ok(index.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_repository_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(&dir.path().join("nope"), Path::new("-"), &IndexConfig::default(), false)
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn functions_are_written_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.py"), "def a():\n    b()\n\ndef b():\n    pass\n")
            .unwrap();
        let out = dir.path().join("out/functions.jsonl");
        let report = run(dir.path(), &out, &IndexConfig::default(), false).unwrap();
        assert_eq!(report.functions, 2);
        let read: jsonl::Records<sera_core::Entity> = jsonl::read(&out).unwrap();
        let names: Vec<&str> = read.records.iter().map(|e| e.qualified_name.as_str()).collect();
        assert_eq!(names, ["m.a", "m.b"]);
        assert_eq!(read.records[0].callees, ["m.b"]);
    }
}
