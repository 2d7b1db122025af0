//! Checkpoints: a directory per saved step with the weights and the optimizer state as
//! safetensors, the configuration as TOML and the step in `state.json`.
//!
//! ```text
//! OUT/checkpoints/step-000040/
//!   model.safetensors       one f32 tensor per parameter, named as in the model ("layers.0.wq";
//!                           "lm_head" only when the embeddings are untied)
//!   optimizer.safetensors   "m.NAME" and "v.NAME" for every parameter
//!   config.toml             the model and training configuration
//!   tokenizer.json          a copy of `train.tokenizer`, when the run has one
//!   state.json              {"step": 40}
//! ```
//!
//! Values are stored bit for bit, so a run resumed from a checkpoint continues exactly as the
//! uninterrupted run would have. A checkpoint is written to a temporary directory and renamed
//! into place, so a crash never leaves a half-written one under its final name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView, serialize_to_file};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::tokenizer::{HfTokenizer, Tokenizer};

/// Named tensors: name, shape and row-major values.
pub type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Tensors of one file by name: shape and row-major values.
pub(crate) type TensorMap = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub config: Config,
    pub step: usize,
    pub weights: Tensors,
    /// First and second AdamW moments, in the order and shapes of `weights`.
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The text of the run's `tokenizer.json`; `None` for the byte tokenizer.
    pub tokenizer: Option<String>,
}

/// The directory of the checkpoint of `step` under a run directory.
pub fn step_dir(run_dir: &Path, step: usize) -> PathBuf {
    run_dir.join("checkpoints").join(format!("step-{step:06}"))
}

/// The newest checkpoint under a run directory, if any.
pub fn latest(run_dir: &Path) -> Result<Option<PathBuf>> {
    let dir = run_dir.join("checkpoints");
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name();
        let Some(step) =
            name.to_str().and_then(|n| n.strip_prefix("step-")).and_then(|n| n.parse().ok())
        else {
            continue;
        };
        if entry.path().join("state.json").is_file() && best.as_ref().is_none_or(|(s, _)| step > *s)
        {
            best = Some((step, entry.path()));
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// Resolves `--checkpoint`: a checkpoint directory itself, or a run directory (its newest).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    latest(path)?.ok_or_else(|| {
        Error::Usage(format!(
            "{}: neither a checkpoint nor a run directory with checkpoints",
            path.display()
        ))
    })
}

/// Writes a checkpoint atomically to `step_dir(run_dir, ckpt.step)`.
pub fn save(run_dir: &Path, ckpt: &Checkpoint) -> Result<PathBuf> {
    let dir = step_dir(run_dir, ckpt.step);
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write_tensors(&tmp.join("model.safetensors"), &ckpt.weights)?;
    let mut moments: Tensors = Vec::new();
    for (i, (name, dims, _)) in ckpt.weights.iter().enumerate() {
        moments.push((format!("m.{name}"), dims.clone(), ckpt.m[i].clone()));
        moments.push((format!("v.{name}"), dims.clone(), ckpt.v[i].clone()));
    }
    write_tensors(&tmp.join("optimizer.safetensors"), &moments)?;
    write(&tmp.join("config.toml"), &ckpt.config.to_toml())?;
    if let Some(json) = &ckpt.tokenizer {
        write(&tmp.join(TOKENIZER), json)?;
    }
    write(&tmp.join("state.json"), &format!("{{\"step\": {}}}\n", ckpt.step))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

/// Reads a checkpoint directory; `names` gives the expected parameters in order.
pub fn load(dir: &Path, names: &[(String, Vec<usize>)]) -> Result<Checkpoint> {
    let state_path = dir.join("state.json");
    let state: serde_json::Value =
        serde_json::from_str(&read(&state_path)?).map_err(|e| Error::checkpoint(&state_path, e))?;
    let step = state
        .get("step")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| Error::checkpoint(&state_path, "no integer \"step\""))?
        as usize;
    let config = Config::from_toml(&read(&dir.join("config.toml"))?)?;
    let model_path = dir.join("model.safetensors");
    let weights_map = read_tensors(&model_path)?;
    let opt_path = dir.join("optimizer.safetensors");
    let opt_map = read_tensors(&opt_path)?;
    let take = |map: &TensorMap, path: &Path, name: &str, dims: &[usize]| match map.get(name) {
        Some((d, values)) if d == dims => Ok(values.clone()),
        Some((d, _)) => Err(Error::checkpoint(
            path,
            format!("{name} has shape {d:?}, the model wants {dims:?}"),
        )),
        None => Err(Error::checkpoint(path, format!("no tensor {name}"))),
    };
    let tokenizer_path = dir.join(TOKENIZER);
    let tokenizer = if tokenizer_path.is_file() { Some(read(&tokenizer_path)?) } else { None };
    let mut ckpt =
        Checkpoint { config, step, weights: Vec::new(), m: Vec::new(), v: Vec::new(), tokenizer };
    for (name, dims) in names {
        let values = take(&weights_map, &model_path, name, dims)?;
        ckpt.weights.push((name.clone(), dims.clone(), values));
        ckpt.m.push(take(&opt_map, &opt_path, &format!("m.{name}"), dims)?);
        ckpt.v.push(take(&opt_map, &opt_path, &format!("v.{name}"), dims)?);
    }
    Ok(ckpt)
}

/// Reads only the configuration of a checkpoint directory.
pub fn load_config(dir: &Path) -> Result<Config> {
    Config::from_toml(&read(&dir.join("config.toml"))?)
}

/// The tokenizer a checkpoint was trained with: its copy of the `tokenizer.json`, or bytes.
pub fn load_tokenizer(dir: &Path, config: &Config) -> Result<Tokenizer> {
    let path = dir.join(TOKENIZER);
    if path.is_file() {
        let json = read(&path)?;
        return Ok(Tokenizer::HuggingFace(Box::new(HfTokenizer::from_json(&path, json)?)));
    }
    if let Some(source) = &config.train.tokenizer {
        return Err(Error::checkpoint(
            dir,
            format!("trained with {} but holds no {TOKENIZER} copy", source.display()),
        ));
    }
    Ok(Tokenizer::Bytes)
}

/// The name of a checkpoint's copy of the run's `tokenizer.json`.
const TOKENIZER: &str = "tokenizer.json";

/// The weights of a checkpoint directory, by name.
pub fn load_weights(dir: &Path) -> Result<Tensors> {
    let map = read_tensors(&dir.join("model.safetensors"))?;
    Ok(map.into_iter().map(|(name, (dims, values))| (name, dims, values)).collect())
}

pub(crate) fn write_tensors(path: &Path, tensors: &Tensors) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::new();
    for ((name, dims, _), data) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, dims.clone(), data)
            .map_err(|e| Error::checkpoint(path, format!("{name}: {e:?}")))?;
        views.push((name.clone(), view));
    }
    serialize_to_file(views, &None, path).map_err(|e| Error::checkpoint(path, format!("{e:?}")))
}

fn read_tensors(path: &Path) -> Result<TensorMap> {
    let buffer = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let tensors =
        SafeTensors::deserialize(&buffer).map_err(|e| Error::checkpoint(path, format!("{e:?}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in tensors.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::checkpoint(path, format!("{name} is {:?}, not F32", view.dtype())));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}
