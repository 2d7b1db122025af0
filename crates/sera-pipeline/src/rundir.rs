//! The run directory: append-only record files keyed by id, and an atomically replaced manifest.
//!
//! A stage opens its output with [`AppendLog::open`], which drops a torn last line (a record cut
//! by a crash) and remembers the ids already written; the stage skips those and appends the rest.
//! So `kill -9` at any moment loses at most the record in flight, and a resumed stage produces
//! the same file as an uninterrupted one as long as it visits records in the same order.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An append-only JSONL file of records, each keyed by one string field (`id`, `mutant_id`, ...).
pub struct AppendLog {
    file: File,
    path: PathBuf,
    done: HashSet<String>,
}

impl AppendLog {
    /// Opens (or creates) `path`, truncates a torn last line, and reads the keys present: the
    /// value of the string field `key` of every record.
    pub fn open(path: &Path, key: &str) -> Result<AppendLog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|err| Error::io(path, err))?;
        let mut done = HashSet::new();
        let mut complete_len = 0u64;
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(|err| Error::io(path, err))?;
            if read == 0 || !line.ends_with('\n') {
                break;
            }
            number += 1;
            complete_len += read as u64;
            if line.trim().is_empty() {
                continue;
            }
            done.insert(record_key(&line, key).ok_or_else(|| {
                Error::Data(format!(
                    "{}:{number}: not a record with a string `{key}`",
                    path.display()
                ))
            })?);
        }
        let len = file.metadata().map_err(|err| Error::io(path, err))?.len();
        if len != complete_len {
            // The last line was torn by a crash: cut it off so appends start on a fresh line.
            file.set_len(complete_len).map_err(|err| Error::io(path, err))?;
            file.seek(SeekFrom::End(0)).map_err(|err| Error::io(path, err))?;
        }
        Ok(AppendLog { file, path: path.to_path_buf(), done })
    }

    /// Appends the complete records of `part` (the output of an interrupted or finished stage
    /// run) whose keys are not here yet, then deletes `part`. A torn last line of `part` is
    /// dropped. Returns how many records were added.
    pub fn absorb(&mut self, part: &Path, key: &str) -> Result<usize> {
        let text = match std::fs::read_to_string(part) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(Error::io(part, err)),
        };
        let mut added = 0;
        for line in text.split_inclusive('\n').filter(|line| line.ends_with('\n')) {
            let Some(id) = record_key(line, key) else { continue };
            if !self.done.contains(&id) {
                self.file.write_all(line.as_bytes()).map_err(|err| Error::io(&self.path, err))?;
                self.done.insert(id);
                added += 1;
            }
        }
        std::fs::remove_file(part).map_err(|err| Error::io(part, err))?;
        Ok(added)
    }

    /// Whether a record with this key is already in the file.
    pub fn contains(&self, id: &str) -> bool {
        self.done.contains(id)
    }

    /// How many records the file holds.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Appends one record as a single write of one whole line, then flushes it to the kernel, so
    /// a crash leaves either the whole record or a torn tail that the next open drops.
    pub fn append<T: Serialize>(&mut self, id: &str, record: &T) -> Result<()> {
        let mut line = serde_json::to_vec(record)
            .map_err(|err| Error::Data(format!("{}: {err}", self.path.display())))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|err| Error::io(&self.path, err))?;
        self.done.insert(id.to_string());
        Ok(())
    }
}

/// The string field `key` of a JSON record, if it has one.
pub fn record_key(line: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get(key)?.as_str().map(str::to_string)
}

/// The status of one stage in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    Running,
    Done,
    Failed,
}

/// What `manifest.json` records per stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEntry {
    pub status: StageStatus,
    /// Named counts, e.g. `candidates`, `unviable`, `kept`.
    pub counts: BTreeMap<String, u64>,
}

/// `manifest.json`: per-stage status and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub stages: BTreeMap<String, StageEntry>,
}

impl Manifest {
    /// Reads the manifest of a run directory, or an empty one for a new run.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|err| Error::Data(format!("{}: {err}", path.display()))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(err) => Err(Error::io(&path, err)),
        }
    }

    /// Replaces `manifest.json` atomically: write a temporary file, fsync it, rename it over.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).expect("the manifest always serializes") + "\n";
        write_atomic(&dir.join("manifest.json"), text.as_bytes())
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|err| Error::io(&tmp, err))?;
    file.write_all(bytes).map_err(|err| Error::io(&tmp, err))?;
    file.sync_all().map_err(|err| Error::io(&tmp, err))?;
    std::fs::rename(&tmp, path).map_err(|err| Error::io(path, err))
}

/// Whether the record `id` belongs to shard `index` of `count`, by a stable hash of the id, so
/// that N machines given `--shard 0/N` .. `--shard N-1/N` split any stage's work disjointly.
pub fn in_shard(id: &str, index: u32, count: u32) -> bool {
    if count <= 1 {
        return true;
    }
    // FNV-1a: stable across platforms and releases, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    (hash % u64::from(count)) as u32 == index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rec<'a> {
        id: &'a str,
        value: u32,
    }

    #[test]
    fn reopening_skips_written_ids_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut log = AppendLog::open(&path, "id").unwrap();
        log.append("a", &Rec { id: "a", value: 1 }).unwrap();
        log.append("b", &Rec { id: "b", value: 2 }).unwrap();
        drop(log);
        // A crash in the middle of the third record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"id\":\"c\",\"val").unwrap();
        drop(file);

        let mut log = AppendLog::open(&path, "id").unwrap();
        assert!(log.contains("a") && log.contains("b") && !log.contains("c"));
        log.append("c", &Rec { id: "c", value: 3 }).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"id\":\"a\",\"value\":1}\n{\"id\":\"b\",\"value\":2}\n{\"id\":\"c\",\"value\":3}\n"
        );
    }

    #[test]
    fn shards_partition_ids() {
        let ids: Vec<String> = (0..1000).map(|i| format!("m-{i:04}")).collect();
        let mut seen = 0;
        for shard in 0..4 {
            let mine = ids.iter().filter(|id| in_shard(id, shard, 4)).count();
            assert!(mine > 150, "shard {shard} got only {mine}");
            seen += mine;
        }
        assert_eq!(seen, ids.len());
    }

    #[test]
    fn manifest_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::default();
        manifest.stages.insert(
            "mutate".into(),
            StageEntry {
                status: StageStatus::Done,
                counts: BTreeMap::from([("mutants".into(), 12)]),
            },
        );
        manifest.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest);
        assert!(!dir.path().join("manifest.tmp").exists());
    }
}
