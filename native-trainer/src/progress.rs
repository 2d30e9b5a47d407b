//! Progress bars of long commands (indicatif): what is being done, counts, a message, ETA.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `len` `units` (e.g. "images") labelled `what` (e.g. "encoding").
pub fn bar(len: u64, what: &str, units: &str) -> ProgressBar {
    let template = format!("{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {units}  {{msg}}  ETA {{eta}}");
    ProgressBar::new(len)
        .with_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()))
}

/// A bar over the DDIM steps of a stage labelled `what`, and the observer that moves it (the
/// `(done, total)` callbacks of the counterfactual pipeline).
pub fn ddim_steps(what: &str) -> (ProgressBar, impl FnMut(usize, usize)) {
    let bar = bar(1, what, "DDIM steps");
    let b = bar.clone();
    (bar, move |done: usize, total: usize| {
        b.set_length(total as u64);
        b.set_position(done as u64);
    })
}
