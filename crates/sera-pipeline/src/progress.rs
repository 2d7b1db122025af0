//! Progress bars on stderr: the one module that talks to `indicatif`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting `len` items of `unit` (e.g. "mutants"), with a message slot for the current
/// phase; hidden when `enabled` is false. indicatif draws nothing when stderr is not a terminal,
/// so logs and CI output stay clean.
pub fn bar(enabled: bool, len: usize, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    let template =
        format!("{{msg:>16}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}} (eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A counter of items of `unit` whose total is not known in advance, with a message slot for
/// the current phase; hidden when `enabled` is false (and, like [`bar`], off a terminal).
pub fn counter(enabled: bool, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let template = format!("{{msg:>16}} {{spinner}} {{pos}} {unit}, {{elapsed}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
