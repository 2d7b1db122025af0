//! The one chat format of sera-rs. What a model is trained on has to be, byte for byte, what a
//! teacher was shown and what the exported datasets hold, so the rendering lives here alone:
//!
//! Must not know: languages, tests, processes or HTTP: it turns messages into text and back,
//! nothing more.
//!
//! - [`chatml`]: the `<|im_start|>ROLE\nCONTENT<|im_end|>\n` framing, as [`Turn`]s with the
//!   loss flag, and the pieces a tokenizer encodes one at a time;
//! - [`hermes`]: Qwen3's tool use in text: schemas inside `<tools>` in the system turn,
//!   `<think>` then `<tool_call>` blocks in assistant turns, `<tool_response>` blocks in user
//!   turns, and a whole conversation rendered from `sera_core::Message`s;
//! - [`think`]: splitting a `<think>` block off an answer;
//! - [`pyjson`]: JSON as Python's `json.dumps` writes it, the serialisation SERA's
//!   post-processing used for the tool calls and schemas inside message text.
//!
//! `sera-dataset` (the `hermes` and `openai` exports), `sera-train` (reading either export)
//! and `sera-rollout` (the text-mode conversation sent to a server without a tool parser) all
//! call these functions; a test in `sera-pipeline` renders one trajectory through the three
//! paths and compares the bytes. Pure text processing: no I/O, no tokenizer.
//!
//! ```
//! use sera_chat::{chatml, hermes};
//! use sera_core::{Message, Role};
//!
//! let turns = hermes::conversation(&[Message::text(Role::User, "hi")], &[]);
//! assert_eq!(chatml::render(&turns), "<|im_start|>user\nhi<|im_end|>\n");
//! ```

pub mod chatml;
pub mod hermes;
pub mod pyjson;
pub mod think;

pub use chatml::Turn;
