//! Hugging Face checkpoints, both ways: a `Qwen3ForCausalLM` folder that `transformers` opens
//! (`AutoModelForCausalLM.from_pretrained`), written from a sera-train checkpoint, and read back
//! as the starting point of a run (`sera train --init DIR`).
//!
//! ```text
//! OUT/
//!   config.json              Qwen3Config: sizes (head_dim too), rms_norm_eps, rope_theta, and
//!                            tie_word_embeddings
//!   model.safetensors        float32 tensors under transformers' names (lm_head.weight only
//!                            when the embeddings are untied)
//!   generation_config.json   <|im_end|> ends generation; greedy by default
//!   tokenizer.json           the run's tokenizer (a byte-level BPE for the byte tokenizer)
//!   tokenizer_config.json    the ChatML chat template and the special tokens
//! ```
//!
//! The architectures are the same function: pre-norm blocks with RMSNorm (`weight * x / rms`),
//! per-head RMSNorm on queries and keys before rotary embeddings that rotate the two halves of
//! each head (`rotate_half`), grouped-query attention without biases at `heads * head_dim`
//! features (which need not be `hidden_size`, as in Qwen3-0.6B and -4B), SwiGLU
//! (`silu(gate) * up`), and an output projection that is the embeddings (`tie_word_embeddings`,
//! Qwen3-4B and smaller) or a `lm_head` of its own (Qwen3-8B and larger). Only the layout
//! differs: transformers stores a linear layer as `(out, in)`, sera-train as `(in, out)`; the
//! untied `lm_head` is one of them.
//!
//! Reading accepts float32, bfloat16 and float16 tensors, in one file or sharded with
//! `model.safetensors.index.json`, as published Qwen3 checkpoints are. Not supported (refused
//! with the reason): other model types than `qwen3`, biases and sliding-window attention; a
//! tied folder whose `lm_head.weight` differs from its embeddings, and an untied one without
//! `lm_head.weight` (transformers would start that from random values).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};
use serde_json::{Value, json};

use crate::checkpoint::{self, TensorMap, Tensors};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::tokenizer::ByteTokenizer;

/// sera-train's name of each tensor of a block, transformers' name, and whether it is a linear
/// layer (stored transposed).
const BLOCK: [(&str, &str, bool); 11] = [
    ("attn_norm", "input_layernorm.weight", false),
    ("wq", "self_attn.q_proj.weight", true),
    ("wk", "self_attn.k_proj.weight", true),
    ("wv", "self_attn.v_proj.weight", true),
    ("wo", "self_attn.o_proj.weight", true),
    ("q_norm", "self_attn.q_norm.weight", false),
    ("k_norm", "self_attn.k_norm.weight", false),
    ("mlp_norm", "post_attention_layernorm.weight", false),
    ("w_gate", "mlp.gate_proj.weight", true),
    ("w_up", "mlp.up_proj.weight", true),
    ("w_down", "mlp.down_proj.weight", true),
];

/// transformers' name of a sera-train tensor, and whether it is stored transposed.
fn hf_name(name: &str) -> Option<(String, bool)> {
    match name {
        "embed" => return Some(("model.embed_tokens.weight".into(), false)),
        "final_norm" => return Some(("model.norm.weight".into(), false)),
        "lm_head" => return Some(("lm_head.weight".into(), true)),
        _ => {}
    }
    let rest = name.strip_prefix("layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let (_, hf, linear) = BLOCK.iter().find(|(ours, _, _)| *ours == part)?;
    Some((format!("model.layers.{layer}.{hf}"), *linear))
}

/// `(rows, cols)` row-major → `(cols, rows)`.
fn transpose(dims: &[usize], values: &[f32]) -> (Vec<usize>, Vec<f32>) {
    let (rows, cols) = (dims[0], dims[1]);
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    (vec![cols, rows], out)
}

/// Writes the checkpoint at `path` (a checkpoint or run directory) as a Hugging Face folder.
pub fn export(path: &Path, out: &Path) -> Result<()> {
    let dir = checkpoint::resolve(path)?;
    let config = checkpoint::load_config(&dir)?;
    let tokenizer = checkpoint::load_tokenizer(&dir, &config)?;
    let weights = checkpoint::load_weights(&dir)?;
    let m = &config.model;
    let mut tensors: Tensors = Vec::new();
    for (name, dims, values) in &weights {
        let (hf, linear) = hf_name(name).ok_or_else(|| {
            Error::checkpoint(&dir, format!("{name} has no Hugging Face counterpart"))
        })?;
        let (dims, values) =
            if linear { transpose(dims, values) } else { (dims.clone(), values.clone()) };
        tensors.push((hf, dims, values));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    checkpoint::write_tensors(&out.join("model.safetensors"), &tensors)?;

    let specials = tokenizer.specials();
    let token = |id: u32| tokenizer.decode(&[id]);
    let (im_end, pad) = (token(specials.im_end)?, token(specials.pad)?);
    let config_json = json!({
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "vocab_size": m.vocab_size,
        "hidden_size": m.width,
        "intermediate_size": m.mlp_hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "num_key_value_heads": m.key_value_heads(),
        "head_dim": m.head_dim(),
        "hidden_act": "silu",
        "max_position_embeddings": m.context,
        "rms_norm_eps": m.norm_eps,
        // transformers 4 reads `rope_theta`, transformers 5 `rope_parameters`.
        "rope_theta": m.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": m.rope_theta},
        "tie_word_embeddings": m.tie_embeddings,
        "attention_bias": false,
        "attention_dropout": 0.0,
        "use_sliding_window": false,
        "sliding_window": null,
        "max_window_layers": m.layers,
        "initializer_range": m.init_std,
        "bos_token_id": null,
        "eos_token_id": specials.im_end,
        "pad_token_id": specials.pad,
        "torch_dtype": "float32",
        "use_cache": true,
    });
    write_json(&out.join("config.json"), &config_json)?;
    write_json(
        &out.join("generation_config.json"),
        &json!({"eos_token_id": specials.im_end, "pad_token_id": specials.pad, "do_sample": false}),
    )?;
    let tokenizer_json = match tokenizer.json() {
        Some(text) => text.to_string(),
        None => byte_tokenizer_json(),
    };
    std::fs::write(out.join("tokenizer.json"), tokenizer_json)
        .map_err(|e| Error::io(&out.join("tokenizer.json"), e))?;
    write_json(
        &out.join("tokenizer_config.json"),
        &json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "chat_template": CHAT_TEMPLATE,
            "eos_token": im_end,
            "pad_token": pad,
            "bos_token": null,
            "unk_token": null,
            "model_max_length": m.context,
            "clean_up_tokenization_spaces": false,
        }),
    )
}

/// ChatML, as `sera_chat::chatml` renders turns: `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, and
/// `<|im_start|>assistant\n` to prompt a reply.
const CHAT_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The byte tokenizer as a Hugging Face `tokenizer.json`: a byte-level BPE whose 256 base
/// tokens are the bytes (in GPT-2's byte-to-character mapping) with no merges, so byte `b` is id
/// `b`, and the three specials at 256, 257 and 258.
fn byte_tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (byte, c) in bytes_to_unicode() {
        vocab.insert(c.to_string(), json!(byte));
    }
    let special = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let value = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            special(ByteTokenizer::IM_START, sera_chat::chatml::IM_START),
            special(ByteTokenizer::IM_END, sera_chat::chatml::IM_END),
            special(ByteTokenizer::PAD, "<pad>"),
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": false, "vocab": vocab, "merges": [],
        },
    });
    serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n"
}

/// GPT-2's reversible map from bytes to printable characters, which byte-level BPE
/// vocabularies are written in.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut extra = 0u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                (b, char::from(b))
            } else {
                extra += 1;
                (b, char::from_u32(255 + extra).expect("a valid character"))
            }
        })
        .collect()
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize") + "\n";
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The model sizes of the Hugging Face folder `dir` (its `config.json`), for `--init`; `context`
/// (the run's) sizes the model's window. Refuses what sera-train cannot represent.
pub fn load_config(dir: &Path, context: usize) -> Result<ModelConfig> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let c: Value =
        serde_json::from_str(&text).map_err(|e| Error::checkpoint(&config_path, e.to_string()))?;
    let bad = |message: String| Error::checkpoint(&config_path, message);
    let int = |key: &str| {
        c[key].as_u64().map(|v| v as usize).ok_or_else(|| bad(format!("no integer \"{key}\"")))
    };
    let model_type = c["model_type"].as_str().unwrap_or("");
    if model_type != "qwen3" {
        return Err(bad(format!(
            "model_type is {model_type:?}; only Qwen3 (\"qwen3\") checkpoints can be read"
        )));
    }
    let (width, heads) = (int("hidden_size")?, int("num_attention_heads")?);
    // Both left out mean what Qwen3Config means by them: `hidden_size // num_attention_heads`,
    // and untied embeddings.
    let head_dim = c["head_dim"].as_u64().map_or(width / heads.max(1), |v| v as usize);
    let tie_embeddings = c["tie_word_embeddings"].as_bool().unwrap_or(false);
    for (key, why) in [("attention_bias", "biases"), ("use_sliding_window", "sliding windows")] {
        if c[key].as_bool() == Some(true) {
            return Err(bad(format!("{key} is true; sera-train has no {why}")));
        }
    }
    let rope_theta = c["rope_parameters"]["rope_theta"]
        .as_f64()
        .or_else(|| c["rope_theta"].as_f64())
        .ok_or_else(|| bad("no rope_theta".into()))?;
    Ok(ModelConfig {
        vocab_size: int("vocab_size")?,
        width,
        layers: int("num_hidden_layers")?,
        heads,
        kv_heads: Some(c["num_key_value_heads"].as_u64().map_or(heads, |v| v as usize)),
        mlp_hidden: int("intermediate_size")?,
        context,
        rope_theta,
        norm_eps: c["rms_norm_eps"].as_f64().ok_or_else(|| bad("no rms_norm_eps".into()))?,
        init_std: c["initializer_range"].as_f64().unwrap_or(0.02),
        head_dim: Some(head_dim),
        tie_embeddings,
    })
}

/// The weights of the Hugging Face folder `dir` under sera-train's `names` (a model's
/// parameter names, in its order) and layout. An untied model's names include `lm_head`; a tied
/// model's do not, and a `lm_head.weight` the folder holds anyway must equal the embeddings.
pub fn load_weights(dir: &Path, names: &[String]) -> Result<Tensors> {
    let tensors = read_folder(dir)?;
    let mut weights: Tensors = Vec::new();
    for name in names {
        let (hf, linear) = hf_name(name).ok_or_else(|| {
            Error::checkpoint(dir, format!("{name} has no Hugging Face counterpart"))
        })?;
        let (dims, values) = tensors.get(&hf).ok_or_else(|| {
            let why = if name == "lm_head" { ", and tie_word_embeddings is false" } else { "" };
            Error::checkpoint(dir, format!("no tensor {hf}{why}"))
        })?;
        let (dims, values) =
            if linear { transpose(dims, values) } else { (dims.clone(), values.clone()) };
        weights.push((name.clone(), dims, values));
    }
    let tied = !names.iter().any(|n| n == "lm_head");
    if let (true, Some((dims, values)), Some(embed)) =
        (tied, tensors.get("lm_head.weight"), weights.iter().find(|w| w.0 == "embed"))
    {
        if *dims != embed.1 || *values != embed.2 {
            return Err(Error::checkpoint(
                dir,
                "lm_head.weight differs from the embeddings, but tie_word_embeddings is true",
            ));
        }
    }
    Ok(weights)
}

/// Every tensor of the folder's `model.safetensors`, or of the shards its
/// `model.safetensors.index.json` lists, as float32.
fn read_folder(dir: &Path) -> Result<TensorMap> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<std::path::PathBuf> = if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| Error::checkpoint(&index, e.to_string()))?;
        let map = value["weight_map"]
            .as_object()
            .ok_or_else(|| Error::checkpoint(&index, "no \"weight_map\""))?;
        let mut shards: Vec<&str> = map.values().filter_map(Value::as_str).collect();
        shards.sort();
        shards.dedup();
        shards.iter().map(|s| dir.join(s)).collect()
    } else {
        vec![dir.join("model.safetensors")]
    };
    let mut out = BTreeMap::new();
    for file in files {
        let buffer = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let tensors = SafeTensors::deserialize(&buffer)
            .map_err(|e| Error::checkpoint(&file, format!("{e:?}")))?;
        for (name, view) in tensors.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::BF16 => data
                    .chunks_exact(2)
                    .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                    .collect(),
                Dtype::F16 => data
                    .chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                other => {
                    return Err(Error::checkpoint(
                        &file,
                        format!("{name} is {other:?}; F32, BF16 and F16 can be read"),
                    ));
                }
            };
            out.insert(name, (view.shape().to_vec(), values));
        }
    }
    Ok(out)
}

/// IEEE half precision to single, exactly.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exponent = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways_and_linear_layers_transpose() {
        assert_eq!(hf_name("embed"), Some(("model.embed_tokens.weight".into(), false)));
        assert_eq!(
            hf_name("layers.3.wq"),
            Some(("model.layers.3.self_attn.q_proj.weight".into(), true))
        );
        assert_eq!(
            hf_name("layers.0.mlp_norm"),
            Some(("model.layers.0.post_attention_layernorm.weight".into(), false))
        );
        assert_eq!(hf_name("lm_head"), Some(("lm_head.weight".into(), true)));
        assert_eq!(hf_name("layers.0.bogus"), None);
        let (dims, values) = transpose(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!((dims, values), (vec![3, 2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    }

    #[test]
    fn byte_characters_are_gpt2s() {
        let map = bytes_to_unicode();
        assert_eq!(map[b'a' as usize].1, 'a');
        assert_eq!(map[0].1, 'Ā');
        assert_eq!(map[b' ' as usize].1, 'Ġ');
        let distinct: std::collections::BTreeSet<char> = map.iter().map(|p| p.1).collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
