//! PNG plots with plotters, drawn into an RGB buffer and encoded with `image`; text uses the
//! DejaVu Sans font shipped in assets/ (no system fonts needed).

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, anyhow};
use daecf_core::data::LatentSet;
use daecf_core::latent::Head;
use daecf_core::metrics::{Confusion, RocCurve};
use ndarray::Array2;
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const SIZE: (u32, u32) = (720, 560);
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped with the source; a failure here is a build defect.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../../assets/DejaVuSans.ttf"));
    });
}

/// Draws with `draw` on a white canvas and saves it as PNG at `path`.
fn save_png(
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    register_font();
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).context("plot buffer has the wrong size")?;
    crate::files::save_picture(&img, path)
}

/// A chart on a bitmap with the coordinates of ranges `X` and `Y`.
type Chart<'a, 'b, X, Y> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// A chart with a title and the standard margins on `root`.
fn chart<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    x: X,
    y: Y,
) -> anyhow::Result<Chart<'a, 'b, X, Y>> {
    ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)
}

/// Draws the legend of the labelled series at `position`.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)
}

pub(crate) fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a plot failed: {e}")
}

fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLOURS[i % COLOURS.len()]
}

/// The plots of one head: ROC curves, distance vs grade, confusion matrix. Returns the file names.
pub fn head_plots(dir: &Path, set: &LatentSet, head: &Head) -> anyhow::Result<Vec<String>> {
    let (name, stem) = (&head.task.name, crate::files::safe_name(&head.task.name));
    // Each split's labelled rows.
    let labelled: Vec<_> = set.splits.iter().filter_map(|s| s.labelled_rows().ok().map(|r| (s, r))).collect();
    let mut files = Vec::new();

    let mut curves = Vec::new();
    for (split, rows) in &labelled {
        let labels = &rows.labels;
        let pred = head.predict(rows.latents.view())?;
        let kept: Vec<usize> = (0..labels.len()).filter(|&i| head.task.trains_on(labels[i])).collect();
        let scores: Vec<f32> = kept.iter().map(|&i| pred.distance[i]).collect();
        let truth: Vec<bool> = kept.iter().map(|&i| head.task.is_positive(labels[i])).collect();
        if let Ok(curve) = RocCurve::new(&scores, &truth) {
            curves.push((split.name.clone(), curve));
        }
    }
    let file = format!("roc_{stem}.png");
    roc(&dir.join(&file), &format!("ROC: {name}"), &curves)?;
    files.push(file);

    // Distance vs grade and the confusion matrix on the first evaluated split (train if none).
    let (split, rows) =
        labelled.iter().find(|(s, _)| s.name != "train").or(labelled.first()).context("no labelled split to plot")?;
    let labels = &rows.labels;
    let pred = head.predict(rows.latents.view())?;
    let file = format!("distance_grade_{stem}.png");
    distance_grade(
        &dir.join(&file),
        &format!("Distance vs grade: {name} ({})", split.name),
        head,
        &pred.distance,
        labels,
    )?;
    files.push(file);
    let confusion = if head.is_graded() {
        Confusion::new(&pred.grade, labels)?
    } else {
        let truth: Vec<i64> = labels.iter().map(|&l| head.task.is_positive(l) as i64).collect();
        Confusion::new(&pred.positive.iter().map(|&p| p as i64).collect::<Vec<_>>(), &truth)?
    };
    let file = format!("confusion_{stem}.png");
    confusion_matrix(&dir.join(&file), &format!("Confusion: {name} ({})", split.name), &confusion)?;
    files.push(file);
    Ok(files)
}

fn roc(path: &Path, title: &str, curves: &[(String, RocCurve)]) -> anyhow::Result<()> {
    save_png(path, |root| {
        let mut chart = chart(root, title, 0f64..1f64, 0f64..1.001f64)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .label_style((FONT, 14))
            .draw()
            .map_err(plot_error)?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3))).map_err(plot_error)?;
        for (i, (split, curve)) in curves.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(
                    curve.fpr.iter().copied().zip(curve.tpr.iter().copied()),
                    c.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(format!("{split} (AUC {:.3})", curve.area()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

fn distance_grade(path: &Path, title: &str, head: &Head, distance: &[f32], labels: &[i64]) -> anyhow::Result<()> {
    let (g_lo, g_hi) = head.calibration.grade_range;
    let (d_lo, d_hi) = distance.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &d| (a.min(d), b.max(d)));
    let pad = ((d_hi - d_lo) * 0.05).max(1e-3);
    let (x0, x1) = ((d_lo - pad) as f64, (d_hi + pad) as f64);
    save_png(path, |root| {
        let mut chart = chart(root, title, x0..x1, (g_lo as f64 - 0.8)..(g_hi as f64 + 0.8))?;
        chart
            .configure_mesh()
            .x_desc("signed distance to the hyperplane")
            .y_desc("grade")
            .label_style((FONT, 14))
            .draw()
            .map_err(plot_error)?;
        // Points per grade, spread vertically by a deterministic jitter so they do not overlap.
        for g in g_lo..=g_hi {
            let c = colour((g - g_lo) as usize);
            let points = distance.iter().zip(labels).enumerate().filter(|(_, (_, l))| **l == g).map(|(i, (&d, _))| {
                let jitter = ((i * 37 % 19) as f64 / 19.0 - 0.5) * 0.5;
                Circle::new((d as f64, g as f64 + jitter), 3, c.mix(0.6).filled())
            });
            chart
                .draw_series(points)
                .map_err(plot_error)?
                .label(format!("grade {g}"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        let steps = 200;
        let line = (0..=steps).map(|k| {
            let d = x0 + (x1 - x0) * k as f64 / steps as f64;
            (d, head.calibration.predict(d))
        });
        chart
            .draw_series(LineSeries::new(line, BLACK.stroke_width(2)))
            .map_err(plot_error)?
            .label("calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

fn confusion_matrix(path: &Path, title: &str, confusion: &Confusion) -> anyhow::Result<()> {
    let k = confusion.labels.len() as i32;
    let max = confusion.counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let labels = confusion.labels.clone();
    let label_of = move |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            labels.get(*i as usize).map(|l| l.to_string()).unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    save_png(path, |root| {
        let mut chart = chart(root, title, (0..k).into_segmented(), (0..k).into_segmented())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_label_formatter(&label_of)
            .y_label_formatter(&label_of)
            .label_style((FONT, 15))
            .draw()
            .map_err(plot_error)?;
        for (i, row) in confusion.counts.iter().enumerate() {
            for (j, &count) in row.iter().enumerate() {
                let t = count as f64 / max;
                let fill = RGBColor((255.0 - 220.0 * t) as u8, (255.0 - 160.0 * t) as u8, (255.0 - 60.0 * t) as u8);
                let (x, y) = (j as i32, i as i32);
                chart
                    .draw_series([Rectangle::new(
                        [
                            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                        ],
                        fill.filled(),
                    )])
                    .map_err(plot_error)?;
                let text_colour = if t > 0.6 { WHITE } else { BLACK };
                chart
                    .draw_series([Text::new(
                        count.to_string(),
                        (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                        (FONT, 18).into_font().color(&text_colour).pos(Pos::new(HPos::Center, VPos::Center)),
                    )])
                    .map_err(plot_error)?;
            }
        }
        Ok(())
    })
}

/// A scatter of a 2-d embedding coloured by label; `of` is the size of the set it was drawn from.
pub fn tsne(path: &Path, embedding: &Array2<f64>, labels: Option<&[i64]>, of: usize) -> anyhow::Result<()> {
    let range = |c: usize| {
        let col = embedding.column(c);
        let (lo, hi) = col.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad)..(hi + pad)
    };
    let mut classes: Vec<i64> = labels.map(|l| l.to_vec()).unwrap_or_default();
    classes.sort_unstable();
    classes.dedup();
    save_png(path, |root| {
        let shown = embedding.nrows();
        let title = if shown < of {
            format!("t-SNE of {shown} of the {of} train latents")
        } else {
            "t-SNE of the latents (train)".into()
        };
        let mut chart = chart(root, &title, range(0), range(1))?;
        chart.configure_mesh().disable_mesh().label_style((FONT, 12)).draw().map_err(plot_error)?;
        let rows = || embedding.rows().into_iter().enumerate();
        if classes.is_empty() {
            chart
                .draw_series(rows().map(|(_, r)| Circle::new((r[0], r[1]), 3, colour(0).mix(0.6).filled())))
                .map_err(plot_error)?;
            return Ok(());
        }
        for (k, &class) in classes.iter().enumerate() {
            let c = colour(k);
            let of_class = rows().filter(|(i, _)| labels.is_some_and(|l| l[*i] == class));
            chart
                .draw_series(of_class.map(|(_, r)| Circle::new((r[0], r[1]), 3, c.mix(0.6).filled())))
                .map_err(plot_error)?
                .label(format!("label {class}"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}
