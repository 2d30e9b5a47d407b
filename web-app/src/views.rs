//! The results of one explained image on the page: the numbers, the reconstruction, the
//! binary CE, a gallery of grade CEs (or their difference maps), a slider through the
//! progression across the boundary, downloads and timings.

use daecf_core::report::{CeReport, ImageReport};
use image::RgbImage;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{Outcome, Timing};
use crate::picture::{data_url, png_url};

/// One counterfactual as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownCe {
    /// `binary`, `grade 2`, ...
    pub name: String,
    /// A caption: where the latent went and where the image lands when encoded again.
    pub caption: String,
    /// The image as a PNG data URL.
    pub image: String,
    /// Its difference map against the reconstruction.
    pub difference: String,
    /// A file name for downloads.
    pub file: String,
}

/// An explained image with every picture as a data URL (cheap to clone into views); the engine
/// worker makes it and posts it to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// The report.
    pub report: ImageReport,
    /// The report as pretty JSON.
    pub json: String,
    /// The input as the model saw it.
    pub original: String,
    /// The reconstruction.
    pub reconstruction: String,
    /// Binary CE first, then the grade CEs.
    pub counterfactuals: Vec<ShownCe>,
    /// The progression's frames.
    pub frames: Vec<ShownCe>,
    /// The progression as a GIF data URL.
    pub gif: String,
    /// Timings.
    pub timing: Timing,
    /// Backend label.
    pub backend: String,
}

fn caption(r: &CeReport) -> String {
    format!(
        "d = {:+.2} (grade {:.1}); re-encoded d = {:+.2}, grade {}: {}",
        r.distance,
        r.grade_continuous,
        r.reencoded_distance,
        r.reencoded_grade,
        if r.valid() { "valid" } else { "not valid" }
    )
}

impl Shown {
    /// The page's view of an outcome.
    pub fn new(o: &Outcome) -> Self {
        let stem = |r: &CeReport| r.name.replace(' ', "_");
        let shown = |reports: &[CeReport], images: &[RgbImage], differences: &[RgbImage]| -> Vec<ShownCe> {
            reports
                .iter()
                .zip(images)
                .zip(differences)
                .map(|((r, img), diff)| ShownCe {
                    name: r.name.clone(),
                    caption: caption(r),
                    image: png_url(img),
                    difference: png_url(diff),
                    file: format!("{}_{}.png", o.report.image, stem(r)),
                })
                .collect()
        };
        let counterfactuals =
            shown(o.report.counterfactuals.as_slice(), o.counterfactuals.as_slice(), o.differences.as_slice());
        let frames =
            shown(o.report.progression.as_slice(), o.progression.as_slice(), o.progression_differences.as_slice());
        Self {
            json: serde_json::to_string_pretty(&o.report).unwrap_or_default(),
            report: o.report.clone(),
            original: png_url(&o.original),
            reconstruction: png_url(&o.reconstruction),
            counterfactuals,
            frames,
            gif: data_url("image/gif", &o.gif),
            timing: o.timing,
            backend: o.backend.label().to_string(),
        }
    }
}

/// A picture with a caption and a download link.
fn figure(title: String, url: String, caption: String, file: String, id: String) -> impl IntoView {
    view! {
        <figure id=id>
            <img class="scan" decoding="async" src=url.clone() alt=title.clone() />
            <figcaption>
                <b>{title}</b><br />{caption}<br />
                <a download=file href=url>"PNG"</a>
            </figcaption>
        </figure>
    }
}

/// The results panel.
#[component]
pub fn Results(shown: Shown) -> impl IntoView {
    let show_diff = RwSignal::new(false);
    let frame = RwSignal::new(shown.frames.len() / 2);
    let r = &shown.report;
    let class = if r.positive { "positive" } else { "negative" };
    let t = shown.timing;
    let per_step = |ms: f64, n: usize| if n == 0 { 0.0 } else { ms / n as f64 };
    let timing = format!(
        "{}: z_sem {:.0} ms; encoding {} steps in {:.2} s ({:.1} ms/step); rendering {} images x {} steps on {} worker(s) in {:.2} s ({:.1} ms/step); whole run {:.2} s",
        shown.backend,
        t.semantic_ms,
        t.encode_steps,
        t.encode_ms / 1e3,
        per_step(t.encode_ms, t.encode_steps),
        shown.counterfactuals.len() + shown.frames.len() + 1,
        t.render_steps,
        t.workers,
        t.render_ms / 1e3,
        per_step(t.render_ms, t.render_steps),
        t.total_ms / 1e3
    );
    let binary = shown.counterfactuals[0].clone();
    let grades: Vec<ShownCe> = shown.counterfactuals[1..].to_vec();
    let frames = shown.frames.clone();
    let frames_for_label = frames.clone();
    let frames_alt_len = frames.len();
    let id = r.image.clone();
    let (report_json, report_file, gif, gif_file) = (
        data_url("application/json", shown.json.as_bytes()),
        format!("{id}_explanation.json"),
        shown.gif.clone(),
        format!("{id}_progression.gif"),
    );
    let metrics = vec![
        ("distance", format!("{:+.4}", r.distance)),
        ("class", class.to_string()),
        ("grade", r.grade.to_string()),
        ("grade-continuous", format!("{:.3}", r.grade_continuous)),
    ];
    view! {
        <section class="results">
            <h2>"Result for " {id.clone()}</h2>
            <table class="numbers">
                {metrics.into_iter().map(|(k, v)| view! { <tr><th>{k.replace('-', " ")}</th><td id=k>{v}</td></tr> }).collect_view()}
                <tr><th>"task"</th><td>{r.task.clone()}</td></tr>
            </table>
            <div class="row">
                {figure("input (model size)".into(), shown.original.clone(), "as the model sees it".into(), format!("{id}_original.png"), "original".into())}
                {figure("reconstruction".into(), shown.reconstruction.clone(), "from its own z_sem and x_T".into(), format!("{id}_reconstruction.png"), "reconstruction".into())}
                {figure("binary counterfactual".into(), binary.image.clone(), binary.caption.clone(), binary.file.clone(), "binary-ce".into())}
                {figure("binary difference".into(), binary.difference.clone(), "red: brighter, blue: darker".into(), format!("{id}_binary_difference.png"), "binary-difference".into())}
            </div>
            <h3>"Grade counterfactuals"</h3>
            <label><input type="checkbox" id="show-difference" prop:checked=move || show_diff.get() on:change=move |_| show_diff.update(|v| *v = !*v) /> " show difference maps"</label>
            <div class="row gallery">
                {grades.into_iter().map(|g| {
                    let (img, diff) = (g.image.clone(), g.difference.clone());
                    view! {
                        <figure>
                            <img class="scan" decoding="async" src=move || if show_diff.get() { diff.clone() } else { img.clone() } alt=g.name.clone() />
                            <figcaption><b>{g.name.clone()}</b><br />{g.caption.clone()}<br /><a download=g.file.clone() href=g.image.clone()>"PNG"</a></figcaption>
                        </figure>
                    }
                }).collect_view()}
            </div>
            <h3>"Across the boundary"</h3>
            <div class="progression">
                <img class="scan large" id="progression-frame" decoding="async"
                    alt=move || format!("progression frame {} of {}", frame.get() + 1, frames_alt_len)
                    src=move || { let f = &frames[frame.get().min(frames.len() - 1)]; if show_diff.get() { f.difference.clone() } else { f.image.clone() } } />
                <input type="range" id="progression-slider" aria-label="progression frame" min="0" max=(shown.frames.len() - 1).to_string()
                    prop:value=move || frame.get().to_string()
                    on:input=move |ev| frame.set(event_target_value(&ev).parse().unwrap_or(0)) />
                <p>{move || frames_for_label[frame.get().min(frames_for_label.len() - 1)].caption.clone()}</p>
            </div>
            <h3>"Downloads"</h3>
            <p class="downloads">
                <a id="download-gif" download=gif_file href=gif>"progression (GIF)"</a>
                " · "
                <a id="download-json" download=report_file href=report_json>"report (JSON)"</a>
                " · PNGs under each picture"
            </p>
            <p id="timing">{timing}</p>
            <details><summary>"Report (JSON)"</summary><pre id="report-json">{shown.json.clone()}</pre></details>
        </section>
    }
}
