//! The mutate stage: a repository in, one JSON [`sera_core::Mutant`] per line out.
//!
//! `sera-code` says which functions exist and which are tests; `sera-mutation` turns the
//! non-test ones into candidate bugs, with the operators of loaded plugins alongside its own.
//! This module only reads the files and glues the three.

use std::fmt;
use std::path::Path;

use sera_mutation::{ExternalOperator, Mutator, SourceFile};
pub use sera_mutation::{MutateConfig, Stats};
use sera_plugin_host::Plugin;

use crate::{Error, Result, jsonl};

/// What a mutate run did, for the summary on stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct MutateReport {
    pub repo: String,
    pub commit: Option<String>,
    pub functions: usize,
    pub test_functions: usize,
    /// Files the index skipped (too large, not UTF-8, generated, ...).
    pub index_skipped: usize,
    pub stats: Stats,
}

/// Indexes `repo`, mutates its non-test functions with the built-in operators and those of
/// `plugins`, and writes the mutants to `out` (`-` for standard output), sorted by file and
/// position. An empty `config.repo` becomes the folder's name, and a `None` commit the one
/// `HEAD` points at (read from `.git`), both part of every mutant id.
///
/// With `progress`, counters on stderr show the files scanned, then the changes checked.
///
/// Unknown operator or class slugs are usage errors (exit code 1); a missing repository or a
/// failing plugin operator is bad input (2); failing to write `out` is the environment's (3).
pub fn run(
    repo: &Path,
    out: &Path,
    config: &MutateConfig,
    plugins: &[Plugin],
    progress: bool,
) -> Result<MutateReport> {
    let data = |err: sera_plugin_host::CallError| Error::Data(err.to_string());
    if let Some(classes) = &config.classes {
        let mut registry = sera_taxonomy::Registry::builtin();
        sera_plugin_host::register_all(plugins, &mut registry).map_err(data)?;
        for class in classes {
            if registry.get(class).is_none() {
                return Err(Error::Usage(format!(
                    "unknown bug class `{class}`; `sera taxonomy list` shows them"
                )));
            }
        }
    }
    let config = MutateConfig {
        repo: if config.repo.is_empty() { repo_name(repo) } else { config.repo.clone() },
        commit: config.commit.clone().or_else(|| head_commit(repo)),
        ..config.clone()
    };
    let hosted = sera_plugin_host::mutation_operators(plugins).map_err(data)?;
    let external: Vec<&dyn ExternalOperator> = hosted.iter().map(|op| op as _).collect();
    let engine_error = |err: sera_mutation::Error| match err {
        sera_mutation::Error::External { .. } => Error::Data(err.to_string()),
        _ => Error::Usage(err.to_string()),
    };
    let mutator = Mutator::new(&config, &external).map_err(engine_error)?;
    let files_done = crate::progress::counter(progress, "files");
    files_done.set_message("scanning");
    // Each file is scanned while the index holds its tree, which is then freed: the engine
    // neither reads nor parses a file again unless a change in it is sampled, and the trees
    // of a large repository never all live at once.
    let languages = sera_code::builtin_languages();
    let index_config = sera_code::IndexConfig::default();
    let (index, scanned) = sera_code::index_each(repo, &index_config, &languages, |indexed| {
        let file = SourceFile::new(indexed.path, indexed.language, indexed.text);
        let scan = mutator.scan(&file, indexed.tree, indexed.entities);
        files_done.inc(1);
        (file, scan)
    })
    .inspect_err(|_| files_done.finish_and_clear())
    .map_err(|err| Error::Data(err.to_string()))?;
    files_done.finish_and_clear();
    let (files, scans): (Vec<SourceFile>, Vec<_>) = scanned.into_iter().unzip();
    let scans = scans.into_iter().collect::<Result<Vec<_>, _>>().map_err(engine_error)?;
    let changes_done = crate::progress::counter(progress, "changes");
    changes_done.set_message("checking");
    let count_changes = |n: usize| changes_done.inc(n as u64);
    let outcome = mutator.with_progress(&count_changes).finish(&files, &index.entities, scans);
    changes_done.finish_and_clear();
    let outcome = outcome.map_err(engine_error)?;

    free_in_background(files);
    let mut writer = jsonl::Writer::create(out)?;
    writer.write_all(&outcome.mutants)?;
    writer.finish()?;
    free_in_background(outcome.mutants);
    Ok(MutateReport {
        repo: config.repo,
        commit: config.commit,
        functions: index.report.functions,
        test_functions: index.report.test_functions,
        index_skipped: index.report.skipped.len(),
        stats: outcome.stats,
    })
}

/// Frees memory (the sources, the mutants) off the caller's path: nothing needs to wait for
/// it. `sera run` goes on to its next stage meanwhile, and `sera mutate`, which exits right
/// after, leaves the memory to the operating system as compilers do (clang's `-disable-free`).
/// Where no thread can be started, it is freed here.
fn free_in_background<T: Send + 'static>(memory: T) {
    // A failed spawn drops the closure, and with it the memory, on this thread.
    let _ = std::thread::Builder::new().name("sera-free".into()).spawn(move || drop(memory));
}

/// The repository's name in records: the last component of its canonical path.
pub(crate) fn repo_name(repo: &Path) -> String {
    let canonical = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    canonical.file_name().map_or_else(|| "repo".to_string(), |n| n.to_string_lossy().into_owned())
}

/// The commit `HEAD` points at, read from `.git` directly (only sera-sandbox runs programs, and
/// a missing or unusual `.git` simply leaves the commit out of the ids).
fn head_commit(repo: &Path) -> Option<String> {
    let git = repo.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let is_hash = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let Some(reference) = head.strip_prefix("ref: ") else {
        return is_hash(head).then(|| head.to_string());
    };
    if let Ok(loose) = std::fs::read_to_string(git.join(reference)) {
        let loose = loose.trim();
        return is_hash(loose).then(|| loose.to_string());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (hash, name) = line.split_once(' ')?;
        (name == reference && is_hash(hash)).then(|| hash.to_string())
    })
}

impl fmt::Display for MutateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        let commit = self.commit.as_deref().map(|c| format!(" at {}", &c[..12.min(c.len())]));
        writeln!(
            f,
            "mutate {}{}: {} mutants from {} candidates in {} files ({} functions, {} of them tests)",
            self.repo,
            commit.unwrap_or_default(),
            s.emitted,
            s.candidates,
            s.files,
            self.functions,
            self.test_functions,
        )?;
        writeln!(
            f,
            "  skipped files: {} by the index, {} unparsable, {} too large",
            self.index_skipped, s.skipped_unparsable, s.skipped_too_large
        )?;
        writeln!(
            f,
            "  discarded: {} no longer parsed, {} duplicate patches",
            s.discarded_unparsable, s.duplicates
        )?;
        let per_op: Vec<String> =
            s.candidates_by_operator.iter().map(|(op, n)| format!("{op} {n}")).collect();
        write!(f, "  candidates by operator: {}", per_op.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_commit_follows_loose_and_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let hash = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("packed-refs"), format!("# pack\n{hash} refs/heads/main\n"))
            .unwrap();
        assert_eq!(head_commit(dir.path()).as_deref(), Some(hash));
        std::fs::write(git.join("refs/heads/main"), format!("{hash}\n")).unwrap();
        assert_eq!(head_commit(dir.path()).as_deref(), Some(hash));
        assert_eq!(head_commit(&dir.path().join("nope")), None);
    }

    #[test]
    fn unknown_class_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            MutateConfig { classes: Some(vec!["no-such-class".into()]), ..Default::default() };
        let err = run(dir.path(), Path::new("-"), &config, &[], false).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("no-such-class"), "{err}");
    }
}
