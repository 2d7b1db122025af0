//! Integration tests of sera-train, one binary:
//!
//! - `data_*`: both exports parse and render to Hermes-style ChatML; bad input names its line;
//!   with a `tokenizer.json`, masks still cover exactly the assistant turns.
//! - `config_*`: errors name the key at fault; `kv_heads` defaults to `heads`; `head_dim` and
//!   `tie_embeddings` at their defaults are not written, so older configs read the same.
//! - `training_*`: the loss falls on the fixture; a resumed run equals an uninterrupted one
//!   (tied, and untied with a head size of its own); grouped-query attention, a separate head
//!   size and an untied `lm_head` are recorded in the checkpoint; a `tokenizer.json` run keeps a
//!   copy that `sample` decodes with.
//! - `hf_*`: an exported folder reads back as the same model (tied, and untied with a head size
//!   of its own); what sera-train cannot represent is refused with the reason.
//! - `axolotl_*`: the exported config, as an insta snapshot.
//!
//! Gradient checks against finite differences and the masked-gradient test live next to the
//! model, in `src/model.rs`, because they need its internals.

use std::path::{Path, PathBuf};

use sera_train::data::{self, Conversation};
use sera_train::tokenizer::{ByteTokenizer, Tokenizer};
use sera_train::{
    AxolotlRequest, Config, SampleOptions, TrainRequest, axolotl_config, sample, train,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn conversations(name: &str) -> Vec<Conversation> {
    data::read_conversations(&fixture(name)).expect("fixture parses")
}

/// The `micro` preset, shortened further for tests.
fn micro(steps: usize) -> Config {
    let mut config = Config::named("micro").expect("micro preset");
    config.train.steps = steps;
    config
}

/// `micro` with two heads of 24 (attention at 48 features in a width of 32) and an output
/// projection of its own: the shape of Qwen3-0.6B's attention and Qwen3-8B's output.
fn untied(steps: usize) -> Config {
    let mut config = micro(steps);
    config.model.head_dim = Some(24);
    config.model.tie_embeddings = false;
    config
}

/// Name and shape of every tensor of a safetensors file, in name order.
fn tensor_shapes(path: &Path) -> Vec<(String, Vec<usize>)> {
    let bytes = std::fs::read(path).expect("tensors");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut out: Vec<(String, Vec<usize>)> =
        tensors.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec())).collect();
    out.sort();
    out
}

#[test]
fn data_openai_records_render_tool_calls_hermes_style() {
    let records = conversations("bugfix.openai.jsonl");
    assert_eq!(records.len(), 4);
    let sample = data::tokenize(&Tokenizer::Bytes, &records[0].turns).expect("bytes encode");
    let text = ByteTokenizer.decode(&sample.tokens);
    assert!(text.starts_with("<|im_start|>system\nYou are a helpful assistant"));
    // JSON inside the text is written as Python's json.dumps writes it, as SERA's exports are.
    assert!(text.contains("<tools>\n{\"type\": \"function\""));
    assert!(text.contains(
        "<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"grep -n 'fn pop' src/stack.rs\"}}\n</tool_call><|im_end|>"
    ));
    assert!(text.contains("<|im_start|>user\n<tool_response>\nOBSERVATION:\n12:"));
    let trained: Vec<bool> = records[0].turns.iter().map(|t| t.train).collect();
    assert_eq!(trained.iter().filter(|&&t| t).count(), 5);
    assert!(records[0].turns.iter().all(|t| t.train == (t.role == "assistant")));
}

#[test]
fn data_hermes_records_keep_their_train_flags() {
    let records = conversations("bugfix.hermes.jsonl");
    assert_eq!(records.len(), 7);
    let r = &records[0];
    assert_eq!(r.id, "fixture__pop-0");
    assert!(r.turns.iter().all(|t| t.train == (t.role == "assistant")));
    assert!(r.turns[2].content.starts_with("<think>\n"));
}

#[test]
fn data_masks_cover_exactly_the_assistant_turns_with_a_tokenizer_json() {
    let tokenizer = Tokenizer::load(Some(&fixture("tokenizer.json"))).expect("fixture loads");
    let mut records = conversations("bugfix.hermes.jsonl");
    records.extend(conversations("bugfix.openai.jsonl"));
    for record in &records {
        let sample = data::tokenize(&tokenizer, &record.turns).expect("encodes");
        let bytes = data::tokenize(&Tokenizer::Bytes, &record.turns).expect("encodes");
        let decode = |t: &Tokenizer, ids: &[u32]| t.decode(ids).expect("decodes");
        // The same ChatML text, in fewer tokens.
        assert_eq!(decode(&tokenizer, &sample.tokens), decode(&Tokenizer::Bytes, &bytes.tokens));
        assert!(sample.tokens.len() * 4 < bytes.tokens.len() * 3, "{}", record.id);
        let trained: Vec<u32> =
            sample.tokens.iter().zip(&sample.train).filter(|(_, t)| **t).map(|(x, _)| *x).collect();
        let expected: String = record
            .turns
            .iter()
            .filter(|t| t.train)
            .map(|t| format!("{}<|im_end|>", t.content))
            .collect();
        assert_eq!(decode(&tokenizer, &trained), expected, "{}", record.id);
    }
}

#[test]
fn data_bad_record_error_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.jsonl");
    let good = std::fs::read_to_string(fixture("bugfix.hermes.jsonl")).expect("fixture");
    let first = good.lines().next().expect("a line");
    std::fs::write(&path, format!("{first}\n{{\"messages\": []}}\n")).expect("write");
    let err = data::read_conversations(&path).expect_err("missing instance_id").to_string();
    assert!(err.contains("bad.jsonl:2") && err.contains("instance_id"), "{err}");
}

#[test]
fn config_unknown_key_is_named() {
    let err = Config::from_toml("[model]\nwidht = 64\n").expect_err("typo").to_string();
    assert!(err.contains("widht"), "{err}");
}

#[test]
fn config_bad_value_type_is_named() {
    let err = Config::from_toml("[train]\nlr = \"fast\"\n").expect_err("string lr").to_string();
    assert!(err.contains("lr"), "{err}");
}

#[test]
fn config_inconsistent_heads_name_both_keys() {
    let err = Config::from_toml("[model]\nwidth = 60\nheads = 8\n")
        .expect_err("8 does not divide 60")
        .to_string();
    assert!(err.contains("model.heads") && err.contains("model.width"), "{err}");
}

#[test]
fn config_kv_heads_that_do_not_divide_heads_name_both_keys() {
    let err = Config::from_toml("[model]\nheads = 4\nkv_heads = 3\n")
        .expect_err("3 does not divide 4")
        .to_string();
    assert!(err.contains("model.heads") && err.contains("model.kv_heads"), "{err}");
    let err = Config::from_toml("[model]\nkv_heads = 0\n").expect_err("zero").to_string();
    assert!(err.contains("model.kv_heads"), "{err}");
}

#[test]
fn config_without_kv_heads_means_one_per_query_head() {
    let config = Config::from_toml("[model]\nheads = 8\n").expect("valid");
    assert_eq!((config.model.kv_heads, config.model.key_value_heads()), (None, 8));
    assert!(!config.to_toml().contains("kv_heads"));
    let config = Config::from_toml("[model]\nheads = 8\nkv_heads = 2\n").expect("valid");
    assert_eq!(config.model.key_value_heads(), 2);
    assert_eq!(Config::from_toml(&config.to_toml()).expect("round trip"), config);
}

#[test]
fn config_without_head_dim_or_tie_embeddings_means_width_over_heads_and_tied() {
    let config = Config::from_toml("[model]\nwidth = 64\nheads = 4\n").expect("valid");
    assert_eq!((config.model.head_dim, config.model.head_dim()), (None, 16));
    assert_eq!(config.model.attention_width(), 64);
    assert!(config.model.tie_embeddings);
    let toml = config.to_toml();
    assert!(!toml.contains("head_dim") && !toml.contains("tie_embeddings"), "{toml}");

    let text =
        "[model]\nwidth = 64\nheads = 6\nkv_heads = 2\nhead_dim = 8\ntie_embeddings = false\n";
    let config = Config::from_toml(text).expect("heads need not divide the width with head_dim");
    assert_eq!(config.model.head_dim(), 8);
    assert_eq!((config.model.attention_width(), config.model.key_value_width()), (48, 16));
    assert!(!config.model.tie_embeddings);
    let toml = config.to_toml();
    assert!(toml.contains("head_dim = 8") && toml.contains("tie_embeddings = false"), "{toml}");
    assert_eq!(Config::from_toml(&toml).expect("round trip"), config);
}

#[test]
fn config_odd_or_zero_head_dim_is_named() {
    for head_dim in [0, 7] {
        let err = Config::from_toml(&format!("[model]\nhead_dim = {head_dim}\n"))
            .expect_err("not a RoPE head size")
            .to_string();
        assert!(err.contains(&format!("model.head_dim = {head_dim}")), "{err}");
    }
}

#[test]
fn config_partial_file_keeps_tiny_defaults() {
    let config = Config::from_toml("[train]\nsteps = 7\n").expect("valid");
    assert_eq!(config.train.steps, 7);
    assert_eq!(config.model, Config::named("tiny").expect("tiny").model);
    assert_eq!(Config::from_toml(&config.to_toml()).expect("round trip"), config);
}

#[test]
fn training_loss_falls_on_the_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = micro(40);
    config.train.val_percent = 20;
    let request =
        TrainRequest { data: fixture("bugfix.hermes.jsonl"), out: dir.path().into(), config };
    let mut losses = Vec::new();
    let summary = train(&request, &mut |m| losses.push(m.loss)).expect("training runs");
    assert_eq!(summary.steps, 40);
    assert!(summary.val_records > 0 && summary.train_records > 0, "{summary:?}");
    let first = losses[..3].iter().sum::<f64>() / 3.0;
    let last = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    // A byte model starts near ln(259) = 5.56 nats per token.
    assert!(first > 4.5, "first losses {first}");
    assert!(last < 0.6 * first, "loss fell only from {first} to {last}: {losses:?}");
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).expect("metrics");
    assert_eq!(metrics.lines().count(), 40);
    assert!(metrics.lines().last().expect("a line").contains("\"val_loss\""));
    assert!(dir.path().join("loss.png").metadata().expect("plot").len() > 1000);

    // Greedy sampling from the trained model is deterministic.
    let opts = SampleOptions { max_tokens: 40, ..SampleOptions::default() };
    let a = sample(dir.path(), "fix the bug", &opts).expect("samples");
    let b = sample(dir.path(), "fix the bug", &opts).expect("samples");
    assert_eq!(a, b);
}

#[test]
fn training_resumed_from_a_checkpoint_equals_an_uninterrupted_run() {
    resumed_equals_uninterrupted(micro(8));
}

#[test]
fn training_an_untied_model_with_its_own_head_size_resumed_equals_an_uninterrupted_run() {
    resumed_equals_uninterrupted(untied(8));
}

/// Trains `config` (8 steps) uninterrupted and, from its step-4 checkpoint, resumed: the
/// step-8 checkpoints and the metrics are the same bytes.
fn resumed_equals_uninterrupted(mut config: Config) {
    let base = tempfile::tempdir().expect("tempdir");
    let full = base.path().join("full");
    let resumed = base.path().join("resumed");
    config.train.checkpoint_every = 4;
    config.train.grad_accum = 2;
    config.train.eval_every = 4;
    let data = fixture("bugfix.openai.jsonl");
    let run =
        |out: &Path| TrainRequest { data: data.clone(), out: out.into(), config: config.clone() };
    train(&run(&full), &mut |_| {}).expect("uninterrupted run");

    // The interrupted run: as if killed after the step-4 checkpoint, with a torn metrics line.
    sera_test_support::copy_dir(&full, &resumed);
    std::fs::remove_dir_all(resumed.join("checkpoints/step-000008")).expect("remove");
    let metrics = std::fs::read_to_string(full.join("metrics.jsonl")).expect("metrics");
    let kept: Vec<&str> = metrics.lines().take(6).collect();
    std::fs::write(
        resumed.join("metrics.jsonl"),
        format!("{}\n{{\"step\": 7, \"lr", kept.join("\n")),
    )
    .expect("write");
    let summary = train(&run(&resumed), &mut |_| {}).expect("resumed run");
    assert_eq!(summary.resumed_from, Some(4));

    for file in ["model.safetensors", "optimizer.safetensors", "state.json"] {
        let a = std::fs::read(full.join("checkpoints/step-000008").join(file)).expect("full");
        let b = std::fs::read(resumed.join("checkpoints/step-000008").join(file)).expect("resumed");
        assert!(a == b, "{file} differs after resuming");
    }
    assert_eq!(
        std::fs::read_to_string(full.join("metrics.jsonl")).expect("full"),
        std::fs::read_to_string(resumed.join("metrics.jsonl")).expect("resumed"),
    );
}

#[test]
fn training_with_grouped_query_attention_records_it_in_the_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = micro(3);
    config.model.heads = 4;
    config.model.kv_heads = Some(2);
    let request =
        TrainRequest { data: fixture("bugfix.hermes.jsonl"), out: dir.path().into(), config };
    let summary = train(&request, &mut |_| {}).expect("training runs");
    let saved = std::fs::read_to_string(summary.checkpoint.join("config.toml")).expect("config");
    assert!(saved.contains("kv_heads = 2"), "{saved}");
    // Sampling rebuilds the model from the recorded config and loads the narrower key/value
    // projections, which fails on any shape mismatch.
    let opts = SampleOptions { max_tokens: 4, ..SampleOptions::default() };
    sample(dir.path(), "fix the bug", &opts).expect("samples");
}

#[test]
fn training_an_untied_model_with_its_own_head_size_records_both_in_the_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = TrainRequest {
        data: fixture("bugfix.hermes.jsonl"),
        out: dir.path().into(),
        config: untied(3),
    };
    let summary = train(&request, &mut |_| {}).expect("training runs");
    let saved = std::fs::read_to_string(summary.checkpoint.join("config.toml")).expect("config");
    assert!(saved.contains("head_dim = 24") && saved.contains("tie_embeddings = false"), "{saved}");
    let shapes = tensor_shapes(&summary.checkpoint.join("model.safetensors"));
    for (name, dims) in [
        ("lm_head", vec![32, 259]),
        ("embed", vec![259, 32]),
        ("layers.0.wq", vec![32, 48]),
        ("layers.0.wk", vec![32, 48]),
        ("layers.0.wo", vec![48, 32]),
        ("layers.0.q_norm", vec![24]),
    ] {
        assert!(shapes.contains(&(name.to_string(), dims)), "{name}: {shapes:?}");
    }
    let moments = tensor_shapes(&summary.checkpoint.join("optimizer.safetensors"));
    assert!(moments.contains(&("m.lm_head".into(), vec![32, 259])), "{moments:?}");
    assert_eq!(moments.len(), 2 * shapes.len());
    // Sampling rebuilds the model from the recorded config and loads every tensor by name and
    // shape, which fails on a missing lm_head or a mismatched projection.
    let opts = SampleOptions { max_tokens: 4, ..SampleOptions::default() };
    sample(dir.path(), "fix the bug", &opts).expect("samples");
}

#[test]
fn training_with_a_tokenizer_json_keeps_a_copy_that_sample_decodes_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("my-tokenizer.json");
    std::fs::copy(fixture("tokenizer.json"), &source).expect("copy");
    let out = dir.path().join("run");
    let mut config = micro(4);
    config.train.tokenizer = Some(source.clone());
    let request = TrainRequest { data: fixture("bugfix.openai.jsonl"), out: out.clone(), config };
    let mut losses = Vec::new();
    let summary = train(&request, &mut |m| losses.push(m.loss)).expect("training runs");
    // The model's vocabulary is the tokenizer's 400 ids, so it starts near ln(400) = 5.99.
    assert!((5.5..6.5).contains(&losses[0]), "{losses:?}");
    let saved = std::fs::read_to_string(summary.checkpoint.join("config.toml")).expect("config");
    assert!(saved.contains("vocab_size = 400") && saved.contains("my-tokenizer.json"), "{saved}");
    assert_eq!(
        std::fs::read(summary.checkpoint.join("tokenizer.json")).expect("the copy"),
        std::fs::read(fixture("tokenizer.json")).expect("fixture"),
    );

    // Sampling needs only the checkpoint's copy...
    std::fs::remove_file(&source).expect("remove");
    let opts = SampleOptions { max_tokens: 20, ..SampleOptions::default() };
    let text = sample(&out, "fix the bug", &opts).expect("samples");
    assert!(!text.contains("<unk>"), "{text}");
    // ...and does not fall back to bytes without it.
    std::fs::remove_file(summary.checkpoint.join("tokenizer.json")).expect("remove");
    let err = sample(&out, "fix the bug", &opts).expect_err("no copy").to_string();
    assert!(err.contains("my-tokenizer.json") && err.contains("tokenizer.json copy"), "{err}");
}

#[test]
fn training_refuses_to_resume_with_another_tokenizer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = TrainRequest {
        data: fixture("bugfix.hermes.jsonl"),
        out: dir.path().join("run"),
        config: micro(2),
    };
    train(&request, &mut |_| {}).expect("first run");
    let mut other = request.clone();
    other.config.train.tokenizer = Some(fixture("tokenizer.json"));
    let err = train(&other, &mut |_| {}).expect_err("another tokenizer").to_string();
    assert!(err.contains("different"), "{err}");
}

#[test]
fn training_refuses_to_resume_with_another_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = micro(2);
    let request =
        TrainRequest { data: fixture("bugfix.hermes.jsonl"), out: dir.path().into(), config };
    train(&request, &mut |_| {}).expect("first run");
    let mut other = request.clone();
    other.config.model.width = 64;
    let err = train(&other, &mut |_| {}).expect_err("different model").to_string();
    assert!(err.contains("different configuration"), "{err}");
}

#[test]
fn axolotl_config_reproduces_the_sera_recipe() {
    let yaml = axolotl_config(&AxolotlRequest {
        base_model: "Qwen/Qwen3-8B".into(),
        data: "runs/demo/dataset/train.hermes.jsonl".into(),
        output_dir: "outputs/sera-qwen3-8b".into(),
    });
    insta::assert_snapshot!(yaml);
}

/// `config` trained on the fixture into `out`, exported as a Hugging Face folder into `hf`.
fn exported(config: Config, out: &Path, hf: &Path) {
    let request = TrainRequest { data: fixture("bugfix.hermes.jsonl"), out: out.into(), config };
    train(&request, &mut |_| {}).expect("training runs");
    sera_train::hf::export(out, hf).expect("exports");
}

#[test]
fn hf_export_reads_back_as_the_same_model() {
    export_reads_back_as_the_same_model(micro(2));
}

#[test]
fn hf_export_of_an_untied_model_with_its_own_head_size_reads_back_as_the_same_model() {
    export_reads_back_as_the_same_model(untied(2));
}

/// `trained` (a few steps) exported: the folder's config and tensors are transformers' Qwen3,
/// and a zero-step `--init` run from it samples what the trained run samples.
fn export_reads_back_as_the_same_model(trained: Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, hf) = (dir.path().join("run"), dir.path().join("hf"));
    exported(trained.clone(), &run, &hf);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(hf.join("config.json")).unwrap()).unwrap();
    let model = trained.model;
    assert_eq!(config["architectures"][0], "Qwen3ForCausalLM");
    assert_eq!(config["hidden_size"], model.width);
    assert_eq!(config["num_key_value_heads"], model.key_value_heads());
    assert_eq!(config["head_dim"], model.head_dim());
    assert_eq!(config["tie_word_embeddings"], model.tie_embeddings);
    assert_eq!(config["eos_token_id"], ByteTokenizer::IM_END);
    // transformers' layout: `(out, in)`, and `lm_head.weight` only when untied.
    let (attention, vocab) = (model.attention_width(), model.vocab_size);
    let shapes = tensor_shapes(&hf.join("model.safetensors"));
    let q_proj =
        ("model.layers.0.self_attn.q_proj.weight".to_string(), vec![attention, model.width]);
    assert!(shapes.contains(&q_proj), "{shapes:?}");
    let lm_head = ("lm_head.weight".to_string(), vec![vocab, model.width]);
    assert_eq!(shapes.contains(&lm_head), !model.tie_embeddings, "{shapes:?}");
    let tokenizer = Tokenizer::load(Some(&hf.join("tokenizer.json"))).expect("tokenizer loads");
    assert_eq!(
        tokenizer.encode("héllo <|im_end|>").unwrap(),
        ByteTokenizer.encode("héllo <|im_end|>")
    );
    assert_eq!(tokenizer.specials(), Tokenizer::Bytes.specials());

    // Starting from the folder with no steps gives back the exported weights and the same
    // replies.
    let pretrained = sera_train::hf::load_config(&hf, model.context).expect("reads back");
    let mut expected = model.clone();
    expected.kv_heads = Some(model.key_value_heads());
    expected.head_dim = Some(model.head_dim());
    assert_eq!(pretrained, expected);
    let mut config = micro(0);
    config.train.init = Some(hf.clone());
    let again = dir.path().join("again");
    let request = TrainRequest { data: fixture("bugfix.hermes.jsonl"), out: again.clone(), config };
    train(&request, &mut |_| {}).expect("a zero-step run from --init");
    let opts = SampleOptions { max_tokens: 16, ..SampleOptions::default() };
    assert_eq!(
        sample(&again, "fix the failing test", &opts).unwrap(),
        sample(&run, "fix the failing test", &opts).unwrap()
    );
}

#[test]
fn hf_folders_sera_cannot_represent_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, hf) = (dir.path().join("run"), dir.path().join("hf"));
    exported(micro(1), &run, &hf);
    let original = std::fs::read_to_string(hf.join("config.json")).unwrap();
    for (key, value, reason) in [
        ("model_type", serde_json::json!("llama"), "only Qwen3"),
        ("attention_bias", serde_json::json!(true), "no biases"),
        ("use_sliding_window", serde_json::json!(true), "no sliding windows"),
    ] {
        let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
        config[key] = value;
        std::fs::write(hf.join("config.json"), config.to_string()).unwrap();
        let err = sera_train::hf::load_config(&hf, 64).expect_err(key).to_string();
        assert!(err.contains(reason) && err.contains("config.json"), "{key}: {err}");
    }

    // Untied, but without lm_head.weight: transformers would start the output projection from
    // random values, which is no pretrained model.
    let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
    config["tie_word_embeddings"] = serde_json::json!(false);
    std::fs::write(hf.join("config.json"), config.to_string()).unwrap();
    let mut init = micro(0);
    init.train.init = Some(hf.clone());
    let request = TrainRequest {
        data: fixture("bugfix.hermes.jsonl"),
        out: dir.path().join("from-untied"),
        config: init,
    };
    let err = train(&request, &mut |_| {}).expect_err("no lm_head.weight").to_string();
    assert!(err.contains("no tensor lm_head.weight, and tie_word_embeddings is false"), "{err}");
}
