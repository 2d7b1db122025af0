//! `sera merge`: joins the run directories of `sera run --shard I/N` and finishes the run.
//!
//! Shards share the index and the mutants (every shard computes the same ones from the same
//! config and seed) and split validation and rollouts by a stable hash of the mutant id. Merging
//! concatenates their records, puts them back in mutant order, marks the stages up to `verify`
//! done with the shards' counts summed, and hands over to [`crate::run::run`], which runs export,
//! training and the report on the whole.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::PipelineConfig;
use crate::run::{RunOptions, RunOutcome, Shard, reorder, run, run_dir};
use crate::rundir::{Manifest, StageEntry, StageStatus, record_key, write_atomic};
use crate::{Error, Result};

/// Merges the `shards` shard directories of `config` into its unsharded run directory, then
/// runs the remaining stages there. A directory that is already merged is only resumed.
pub fn merge(
    config: &PipelineConfig,
    shards: u32,
    options: &RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<RunOutcome> {
    if shards < 2 {
        return Err(Error::Usage("--shards must be at least 2".into()));
    }
    let target = run_dir(config, Shard::ALL);
    let merged = Manifest::load(&target)?
        .stages
        .get("verify")
        .is_some_and(|entry| entry.status == StageStatus::Done);
    if !merged {
        let dirs: Vec<_> =
            (0..shards).map(|index| run_dir(config, Shard { index, count: shards })).collect();
        let mut manifests = Vec::with_capacity(dirs.len());
        for dir in &dirs {
            let manifest = Manifest::load(dir)?;
            let done = manifest.stages.get("verify").is_some_and(|e| e.status == StageStatus::Done);
            if !done {
                return Err(Error::Usage(format!(
                    "{} is not a finished shard: run `sera run --shard I/{shards}` for it first",
                    dir.display()
                )));
            }
            manifests.push(manifest);
        }
        std::fs::create_dir_all(&target).map_err(|err| Error::io(&target, err))?;
        for file in ["functions.jsonl", "mutants.jsonl"] {
            let first = read(&dirs[0].join(file))?;
            for dir in &dirs[1..] {
                if read(&dir.join(file))? != first {
                    return Err(Error::Data(format!(
                        "{} differs between {} and {}: the shards were not run from one config",
                        file,
                        dirs[0].display(),
                        dir.display()
                    )));
                }
            }
            write_atomic(&target.join(file), first.as_bytes())?;
        }
        let mutants = read(&target.join("mutants.jsonl"))?;
        let mutant_order: Vec<String> =
            mutants.lines().filter_map(|line| record_key(line, "id")).collect();
        let mutant_order: Vec<&str> = mutant_order.iter().map(String::as_str).collect();
        for (file, key) in [("instances.jsonl", "mutant_id"), ("rejected.jsonl", "mutant_id")] {
            concatenate(&dirs, &target, file)?;
            reorder(&target.join(file), key, &mutant_order)?;
        }
        let instances = read(&target.join("instances.jsonl"))?;
        let instance_order: Vec<String> =
            instances.lines().filter_map(|line| record_key(line, "id")).collect();
        let instance_order: Vec<&str> = instance_order.iter().map(String::as_str).collect();
        for file in ["trajectories.jsonl", "verified.jsonl"] {
            concatenate(&dirs, &target, file)?;
            reorder(&target.join(file), "instance_id", &instance_order)?;
        }

        let mut manifest = Manifest::default();
        for stage in ["index", "mutate", "validate", "rollout", "verify"] {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for (i, shard) in manifests.iter().enumerate() {
                for (name, value) in &shard.stages[stage].counts {
                    // The index and the mutants are the same in every shard: count them once.
                    if matches!(stage, "index" | "mutate") && i > 0 {
                        continue;
                    }
                    *counts.entry(name.clone()).or_default() += value;
                }
            }
            manifest.stages.insert(stage.into(), StageEntry { status: StageStatus::Done, counts });
        }
        manifest.save(&target)?;
        log(&format!("merged {shards} shards into {}", target.display()));
    }
    run(config, &RunOptions { shard: Shard::ALL, ..options.clone() }, log)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::io(path, err))
}

fn concatenate(dirs: &[std::path::PathBuf], target: &Path, file: &str) -> Result<()> {
    // Streamed: trajectory files can be far larger than memory.
    let path = target.join(file);
    let tmp = path.with_extension("merge.tmp");
    let mut out = std::fs::File::create(&tmp).map_err(|err| Error::io(&tmp, err))?;
    for dir in dirs {
        let source = dir.join(file);
        match std::fs::File::open(&source) {
            Ok(mut input) => {
                std::io::copy(&mut input, &mut out).map_err(|err| Error::io(&source, err))?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io(&source, err)),
        }
    }
    out.sync_all().map_err(|err| Error::io(&tmp, err))?;
    std::fs::rename(&tmp, &path).map_err(|err| Error::io(&path, err))
}
