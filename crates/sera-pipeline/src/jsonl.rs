//! Reading and writing one JSON record per line.
//!
//! Readers name the file and line of a malformed record. A last line without a newline is a
//! record torn by a crash: [`read`] drops it and says so, which is what lets a stage resume
//! after `kill -9` having lost at most the record in flight.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// The records of a JSONL file, and whether a torn last line was dropped.
#[derive(Debug)]
pub struct Records<T> {
    pub records: Vec<T>,
    pub torn_tail: bool,
}

/// Reads every record of `path`. A malformed complete line is an error naming `path:line`.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Records<T>> {
    let file = File::open(path).map_err(|err| Error::io(path, err))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|err| Error::io(path, err))?;
        if read == 0 {
            return Ok(Records { records, torn_tail: false });
        }
        number += 1;
        if !line.ends_with('\n') {
            // A torn tail is only torn if it does not parse; a file written by hand may simply
            // lack its final newline.
            return Ok(match serde_json::from_str(&line) {
                Ok(record) => {
                    records.push(record);
                    Records { records, torn_tail: false }
                }
                Err(_) => Records { records, torn_tail: true },
            });
        }
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line)
            .map_err(|err| Error::Data(format!("{}:{number}: {err}", path.display())))?;
        records.push(record);
    }
}

/// A JSONL writer that flushes each record as a whole line.
pub struct Writer {
    out: BufWriter<Box<dyn Write + Send>>,
    path: String,
}

impl Writer {
    /// Creates (or truncates) `path`; `-` writes to standard output.
    pub fn create(path: &Path) -> Result<Writer> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|err| Error::io(parent, err))?;
            }
            Box::new(File::create(path).map_err(|err| Error::io(path, err))?)
        };
        Ok(Writer { out: BufWriter::new(out), path: path.display().to_string() })
    }

    /// Writes one record followed by a newline, and hands the whole line to the kernel at once,
    /// so that a crash leaves complete records and at most one torn last line.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, record).map_err(|err| match err.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => Error::BrokenPipe,
            _ => Error::Environment(format!("{}: {err}", self.path)),
        })?;
        self.out.write_all(b"\n").map_err(|err| self.io_error(err))?;
        self.out.flush().map_err(|err| self.io_error(err))
    }

    /// Writes `records` in order, as [`Writer::write`] would one by one, but serialised on
    /// every core and handed to the kernel a few hundred kilobytes at a time: for the tens of
    /// thousands of records of a bulk stage (`sera mutate`). Every chunk ends with a whole
    /// line, so a crash still leaves complete records and at most one torn last line.
    pub fn write_all<T: Serialize + Sync>(&mut self, records: &[T]) -> Result<()> {
        const CHUNK: usize = 256;
        let chunks: Vec<Vec<u8>> = records
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut buffer = Vec::new();
                for record in chunk {
                    serde_json::to_writer(&mut buffer, record)
                        .map_err(|err| Error::Environment(format!("{}: {err}", self.path)))?;
                    buffer.push(b'\n');
                }
                Ok(buffer)
            })
            .collect::<Result<_>>()?;
        for chunk in chunks {
            self.out.write_all(&chunk).map_err(|err| self.io_error(err))?;
            self.out.flush().map_err(|err| self.io_error(err))?;
        }
        Ok(())
    }

    fn io_error(&self, err: std::io::Error) -> Error {
        match err.kind() {
            std::io::ErrorKind::BrokenPipe => Error::BrokenPipe,
            _ => Error::Environment(format!("{}: {err}", self.path)),
        }
    }

    /// Flushes buffered records.
    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|err| self.io_error(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_dropped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let read: Records<serde_json::Value> = read(&path).unwrap();
        assert_eq!(read.records.len(), 2);
        assert!(read.torn_tail);
    }

    #[test]
    fn malformed_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"a\":1}\nnot json\n").unwrap();
        let err = read::<serde_json::Value>(&path).unwrap_err().to_string();
        assert!(err.contains("x.jsonl:2: "), "{err}");
    }

    /// A bulk write gives the bytes of one write per record, across many chunks.
    #[test]
    fn write_all_matches_record_by_record() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<serde_json::Value> = (0..1000)
            .map(|i| serde_json::json!({ "i": i, "text": "é\n\"x\"".repeat(i % 7) }))
            .collect();
        let (one, all) = (dir.path().join("one.jsonl"), dir.path().join("all.jsonl"));
        let mut writer = Writer::create(&one).unwrap();
        for record in &records {
            writer.write(record).unwrap();
        }
        writer.finish().unwrap();
        let mut writer = Writer::create(&all).unwrap();
        writer.write_all(&records).unwrap();
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&all).unwrap(), std::fs::read(&one).unwrap());
        assert_eq!(read::<serde_json::Value>(&all).unwrap().records, records);
    }
}
