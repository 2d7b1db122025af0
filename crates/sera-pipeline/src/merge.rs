//! `sera merge`: joins the run directories of `sera run --shard I/N` and finishes the run.
//!
//! In SVG mode shards split the start functions instead, and merging also applies P1 dedup
//! across shards (see `merge_svg`).
//!
//! Shards share the index and the mutants (every shard computes the same ones from the same
//! config and seed) and split validation and rollouts by a stable hash of the mutant id. Merging
//! concatenates their records, puts them back in mutant order, marks the stages up to `verify`
//! done with the shards' counts summed, and hands over to [`crate::run::run`], which runs export,
//! training and the report on the whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{Mode, PipelineConfig};
use crate::jsonl;
use crate::run::{RunOptions, RunOutcome, Shard, reorder, run, run_dir, svg_draw};
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
        if config.run.mode == Mode::Svg {
            merge_svg(config, &dirs, &target, &manifests)?;
            log(&format!("merged {shards} SVG shards into {}", target.display()));
            return run(config, &RunOptions { shard: Shard::ALL, ..options.clone() }, log);
        }
        for file in ["functions.jsonl", "mutants.jsonl"] {
            copy_shared(&dirs, &target, file)?;
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

        // The index and the mutants are the same in every shard: count them once.
        let stages = ["index", "mutate", "validate", "rollout", "verify"];
        summed_manifest(&manifests, &stages, &["index", "mutate"]).save(&target)?;
        log(&format!("merged {shards} shards into {}", target.display()));
    }
    run(config, &RunOptions { shard: Shard::ALL, ..options.clone() }, log)
}

/// Copies `file`, which every shard computed alike, into `target`, checking that they agree.
fn copy_shared(dirs: &[PathBuf], target: &Path, file: &str) -> Result<()> {
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
    write_atomic(&target.join(file), first.as_bytes())
}

/// SVG shards split the start functions. Merging puts their trajectories (kept and discarded)
/// back in start order and applies P1 dedup across shards as one run would have: a start whose
/// accepted P1 repeats an earlier start's gets no rollout 2, so its T2 is dropped. The index
/// and svg stages are marked done; verification and the rest then run on the whole.
fn merge_svg(
    config: &PipelineConfig,
    dirs: &[PathBuf],
    target: &Path,
    manifests: &[Manifest],
) -> Result<()> {
    copy_shared(dirs, target, "functions.jsonl")?;
    let functions: Vec<sera_core::Entity> = jsonl::read(&target.join("functions.jsonl"))?.records;
    let starts: Vec<String> = crate::rollout::start_functions(&functions, &svg_draw(config))
        .iter()
        .map(|start| start.id())
        .collect();
    let order: Vec<&str> = starts.iter().map(String::as_str).collect();
    let files = ["trajectories.jsonl", "svg-discarded.jsonl"];
    for file in files {
        concatenate(dirs, target, file)?;
        reorder(&target.join(file), "instance_id", &order)?;
    }

    // The accepted rollout 1 of each start (the attempt the self-check said yes to), kept or
    // not, and its patch: what the SVG loop dedups on.
    let mut p1: HashMap<String, Option<String>> = HashMap::new();
    for file in files {
        for_each_line(&target.join(file), |_, record| {
            let accepted =
                record["kind"] == "svg_first" && record["metadata"]["self_check"] == "yes";
            if let (true, Some(start)) = (accepted, record["instance_id"].as_str()) {
                p1.insert(start.to_string(), record["patch"].as_str().map(str::to_string));
            }
            Ok(())
        })?;
    }
    let mut dedup = sera_verify::dedup::Dedup::new();
    let mut no_second: HashSet<String> = HashSet::new();
    for start in &starts {
        if let Some(Some(patch)) = p1.get(start) {
            if dedup.check(patch).is_err() {
                no_second.insert(start.clone());
            }
        }
    }
    let mut dropped_kept = 0u64;
    for file in files {
        let path = target.join(file);
        let tmp = path.with_extension("dedup.tmp");
        let created = std::fs::File::create(&tmp).map_err(|err| Error::io(&tmp, err))?;
        let mut out = std::io::BufWriter::new(created);
        let mut dropped = 0u64;
        for_each_line(&path, |line, record| {
            let start = record["instance_id"].as_str().unwrap_or_default();
            if record["kind"] == "svg_second" && no_second.contains(start) {
                dropped += 1;
                return Ok(());
            }
            writeln!(out, "{line}").map_err(|err| Error::io(&tmp, err))
        })?;
        let written = out.into_inner().map_err(|err| Error::io(&tmp, err.into_error()))?;
        written.sync_all().map_err(|err| Error::io(&tmp, err))?;
        std::fs::rename(&tmp, &path).map_err(|err| Error::io(&path, err))?;
        if file == "trajectories.jsonl" {
            dropped_kept = dropped;
        }
    }

    // The index is the same in every shard: count it once. Dedup across shards changes the
    // svg counts to what one run would have counted.
    let mut manifest = summed_manifest(manifests, &["index", "svg"], &["index"]);
    let counts = &mut manifest.stages.get_mut("svg").expect("summed above").counts;
    let kept = counts.entry("kept_t2".into()).or_default();
    *kept = kept.saturating_sub(dropped_kept);
    counts.insert("dropped_duplicate".into(), no_second.len() as u64);
    manifest.save(target)
}

/// A manifest marking `stages` done, with each count summed over the shards' `manifests`,
/// except in the `shared` stages, which every shard did alike and count once.
fn summed_manifest(manifests: &[Manifest], stages: &[&str], shared: &[&str]) -> Manifest {
    let mut manifest = Manifest::default();
    for &stage in stages {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let shards = if shared.contains(&stage) { &manifests[..1] } else { manifests };
        for shard in shards {
            for (name, value) in &shard.stages[stage].counts {
                *counts.entry(name.clone()).or_default() += value;
            }
        }
        manifest.stages.insert(stage.into(), StageEntry { status: StageStatus::Done, counts });
    }
    manifest
}

/// Calls `f` with each complete line of the JSONL file at `path` (a missing file has none) and
/// its parsed record, streaming.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(&str, &serde_json::Value) -> Result<()>,
) -> Result<()> {
    use std::io::BufRead;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(Error::io(path, err)),
    };
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|err| Error::io(path, err))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: serde_json::Value = serde_json::from_str(&line)
            .map_err(|err| Error::Data(format!("{}:{}: {err}", path.display(), number + 1)))?;
        f(&line, &record)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::io(path, err))
}

fn concatenate(dirs: &[PathBuf], target: &Path, file: &str) -> Result<()> {
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
