//! wip
pub mod config;
pub mod data;
mod error;
pub mod model;
pub mod tokenizer;
pub use error::{Error, Result};
