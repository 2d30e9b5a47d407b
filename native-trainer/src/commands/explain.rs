//! `daecf explain`: for each image, the head's distance, class and grade, and its
//! counterfactuals rendered from the image's own x_T: the binary CE (reflection across the
//! hyperplane), grade CEs (including fractional and out-of-range grades), a progression across
//! the boundary (strip PNG and animated GIF, each frame labelled), difference maps, and a JSON
//! of every distance, grade (before, after, and re-encoded) and step size.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use daecf_core::data::folder::is_volume_file;
use daecf_core::data::images::prepare_bytes;
use daecf_core::data::{FolderOptions, ImageSet, ImageSpec, read_folder};
use daecf_core::latent::{CeDirection, CeMove, CeRequest, Head, HeadFile};
use daecf_core::model::DiffusionAutoencoder;
use daecf_core::pipeline::{CeSteps, explain, explanation_reports};
use daecf_core::report::{ImageReport, difference_overlay, enlarge, gif_bytes};
use image::RgbImage;
use ndarray::{Array4, Axis, stack};

use crate::backend::Backend;
use crate::data_source::{SliceArgs, batch_tensor};
use crate::files;
use crate::model_source::ModelArgs;
use crate::preview::{to_images, wait};
use crate::report::figures::{captioned, strip};

/// Side in pixels of the enlarged images in strips and GIFs.
const DISPLAY: u32 = 192;

/// Options of `daecf explain`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf explain scan.png --model out/train/model.safetensors --head out/fit/head.json
  daecf explain scan.png --bundle shared-models/demo/demo.daecf
  daecf explain a.png b.png --model m.safetensors --head head.json --task fracture --grades 0,3 --frames 9
  daecf explain scan.png --model m.safetensors --head head.json --t-encode 50 --t-render 20   # fast preview
  daecf explain ct.nii.gz --window ct-bone --slice-range 40..41 --model m.safetensors --head head.json")]
pub struct ExplainArgs {
    /// Images to explain (PNG/JPEG, any size; converted to the model's channels and size), or
    /// NIfTI/DICOM files: each of their slices (see --window and --slice-*).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// How volumes are cut into slices.
    #[command(flatten)]
    slicing: SliceArgs,
    #[command(flatten)]
    source: ModelArgs,
    #[command(flatten)]
    ce: CeArgs,
    /// Output folder: one subfolder per image.
    #[arg(long, value_name = "DIR", default_value = "out/explain")]
    out: PathBuf,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// The counterfactual options shared by `explain` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct CeArgs {
    /// Task of the head file to explain (default: its first head).
    #[arg(long)]
    pub task: Option<String>,
    /// Grades to render (fractional and out-of-range allowed, e.g. -1,0.5,4); default: every
    /// grade of a graded head's range plus one beyond each end, none for a binary head.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub grades: Option<Vec<f64>>,
    /// Frames of the progression across the boundary.
    #[arg(long, default_value_t = 7)]
    pub frames: usize,
    /// Largest |distance| of the progression (default: the head's fitted distance range, and at
    /// least the image's own distance).
    #[arg(long)]
    pub extent: Option<f32>,
    /// DDIM steps and batch.
    #[command(flatten)]
    pub steps: DdimArgs,
    /// How far and along which path the CEs move.
    #[command(flatten)]
    pub how: CeMoveArgs,
}

/// How counterfactuals are rendered: DDIM steps and batch; shared by explain and evaluate-ce.
#[derive(Debug, Clone, Copy, Args)]
pub struct DdimArgs {
    /// DDIM steps of the stochastic encoding x0 -> x_T (the paper: 250).
    #[arg(long, default_value_t = CeSteps::PAPER.encode)]
    pub t_encode: usize,
    /// DDIM steps of each render (the paper: 100).
    #[arg(long, default_value_t = CeSteps::PAPER.render)]
    pub t_render: usize,
    /// Most images encoded or rendered in one batch.
    #[arg(long, default_value_t = CeSteps::PAPER.max_batch)]
    pub batch: usize,
}

impl DdimArgs {
    /// The steps.
    pub fn steps(self) -> CeSteps {
        CeSteps { encode: self.t_encode, render: self.t_render, max_batch: self.batch }
    }
}

/// How far and along which path counterfactuals move: shared by explain, evaluate-ce and demo.
#[derive(Debug, Clone, Default, Args)]
pub struct CeMoveArgs {
    /// Strength of the binary and grade CEs: 1 is the paper's (the reflection of eq. 4, the
    /// calibrated grade's distance); S moves the latent S times as far from the image's own, for
    /// a decoder that renders only part of a move (evaluate-ce reports the share it keeps).
    /// Below 0.5 a binary CE's latent stays on the image's side of the boundary; a CE is
    /// judged valid by what it should show (the other side), whatever its strength.
    /// Default: the head's (1 unless its bundle was exported with --ce-strength).
    #[arg(long, value_parser = positive_strength)]
    pub strength: Option<f32>,
    /// Path of the CE moves in z_sem, each reaching the same distance: `normal` (the paper's:
    /// along the head's normal), `standardised` (the seed code's: along diag(Sigma) a, Sigma the
    /// training latents' covariance, a the head's gradient), `covariance` (the smallest move in
    /// the latents' Mahalanobis norm: along Sigma a, the directions the decoder learned to
    /// render); and two controls that ignore the head's normal, `principal` (the latents' first
    /// principal component) and `random` (a fixed random direction). Default: the head's (normal
    /// unless its bundle was exported with --ce-direction).
    #[arg(long, value_name = "DIRECTION", value_parser = crate::options::named::<CeDirection>())]
    pub direction: Option<CeDirection>,
}

impl CeMoveArgs {
    /// The move for `head`: the options given, else the head's own.
    pub fn for_head(&self, head: &Head) -> CeMove {
        CeMove {
            strength: self.strength.unwrap_or(head.ce_strength),
            direction: self.direction.unwrap_or(head.ce_direction),
        }
    }
}

/// Parses `--strength`: a positive number.
pub fn positive_strength(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("'{text}' is not a positive number (1 is the paper's CE)")),
    }
}

/// The head for `task` (the first when none is named) from `file`, read from `name`.
pub fn select_head<'a>(file: &'a HeadFile, task: Option<&str>, name: &str) -> anyhow::Result<&'a Head> {
    let names: Vec<&str> = file.heads.iter().map(|h| h.task.name.as_str()).collect();
    match task {
        Some(t) => file
            .heads
            .iter()
            .find(|h| h.task.name == t)
            .with_context(|| format!("{name} has no head for task '{t}' (it has: {})", names.join(", "))),
        None => file.heads.first().with_context(|| format!("{name} holds no heads; fit one with `daecf fit`")),
    }
}

impl CeArgs {
    /// The head for `--task` from `file`.
    pub fn head<'a>(&self, file: &'a HeadFile, name: &str) -> anyhow::Result<&'a Head> {
        select_head(file, self.task.as_deref(), name)
    }

    /// The counterfactuals to render for `head`.
    pub fn request(&self, head: &Head) -> CeRequest {
        CeRequest::for_head(head, self.grades.clone(), self.frames, self.extent).with_move(self.how.for_head(head))
    }

    /// DDIM steps.
    pub fn steps(&self) -> CeSteps {
        self.steps.steps()
    }
}

/// Pictures of one explained image at native size.
pub struct ImagePictures {
    /// The input as the model saw it.
    pub original: RgbImage,
    /// The reconstruction.
    pub reconstruction: RgbImage,
    /// Binary and grade CEs, then the progression frames.
    pub counterfactuals: Vec<RgbImage>,
}

/// What counterfactuals are drawn with: a model, one of its heads, and the device.
#[derive(Clone, Copy)]
pub struct Explainer<'a> {
    /// The DAE.
    pub model: &'a DiffusionAutoencoder,
    /// The head whose counterfactuals are drawn.
    pub head: &'a Head,
    /// Where the model runs.
    pub device: &'a Device,
}

/// Explains images `indices` of `set`, writing DIR/<id>/ for each; `on_step` sees DDIM progress.
pub fn explain_images(
    with: Explainer,
    set: &ImageSet,
    indices: &[usize],
    ce: &CeArgs,
    out: &Path,
    on_step: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Vec<(ImageReport, ImagePictures)>> {
    let Explainer { model, head, device } = with;
    let range = model.config.input_range;
    let request = ce.request(head);
    let plan = |h: &Head, w: ndarray::ArrayView1<f32>| request.plans(h, w);
    let x = batch_tensor(set, indices, range, device);
    let mut observer = |done: usize, total: usize| {
        on_step(done, total);
        std::ops::ControlFlow::Continue(())
    };
    let result = explain(model, head, x.clone(), &plan, ce.steps(), &mut observer)?;
    let folders = folder_names(indices.iter().map(|&i| set.ids[i].as_str()));
    let steps = (ce.steps.t_encode, ce.steps.t_render);
    let reports = wait(explanation_reports(model, head, &result, &request, steps, folders))?;
    let originals = to_images(x, range)?;
    let recs = to_images(result.reconstructions, range)?;
    let mut ces = to_images(result.counterfactuals, range)?.into_iter();
    let k = request.len();
    let mut out_items = Vec::new();
    for (b, mut report) in reports.into_iter().enumerate() {
        let dir = out.join(&report.image);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let pictures = ImagePictures {
            original: originals[b].clone(),
            reconstruction: recs[b].clone(),
            counterfactuals: ces.by_ref().take(k).collect(),
        };
        let mut files = vec!["original.png".to_string(), "reconstruction.png".to_string()];
        let save = |picture: &RgbImage, file: &str| files::save_picture(picture, &dir.join(file));
        save(&pictures.original, "original.png")?;
        save(&pictures.reconstruction, "reconstruction.png")?;
        for (ce_report, picture) in report.counterfactuals.iter_mut().zip(&pictures.counterfactuals) {
            let stem = ce_report.name.replace(' ', "_");
            let (file, diff) = (format!("{stem}.png"), format!("{stem}_difference.png"));
            save(picture, &file)?;
            save(&enlarge(&difference_overlay(&pictures.reconstruction, picture), DISPLAY), &diff)?;
            files.extend([file.clone(), diff.clone()]);
            (ce_report.file, ce_report.difference) = (Some(file), Some(diff));
        }
        let labelled = report
            .progression
            .iter()
            .zip(&pictures.counterfactuals[1 + request.grades.len()..])
            .map(|(r, img)| {
                captioned(
                    img,
                    DISPLAY,
                    &format!(
                        "d = {:+.2}, grade {:.1}\nre-encoded: grade {}",
                        r.distance, r.grade_continuous, r.reencoded_grade
                    ),
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        save(&strip(&labelled), "progression.png")?;
        files::write(&dir.join("progression.gif"), gif_bytes(&labelled, 350)?)?;
        files.extend(["progression.png".to_string(), "progression.gif".to_string(), "explanation.json".to_string()]);
        report.files = files;
        files::write(&dir.join("explanation.json"), serde_json::to_string_pretty(&report)?)?;
        out_items.push((report, pictures));
    }
    Ok(out_items)
}

/// A file-system-safe folder name for an image id: the file's stem, and a volume slice's axis
/// and index (`ct.nii.gz#z=40`: `ct_z40`).
fn safe_id(id: &str) -> String {
    let (file, slice) = id.split_once('#').map_or((id, None), |(f, s)| (f, Some(s.replace('=', ""))));
    let stem = Path::new(file).file_stem().map_or_else(|| file.to_string(), |s| s.to_string_lossy().to_string());
    let stem = stem.strip_suffix(".nii").unwrap_or(&stem);
    files::safe_name(&slice.map_or_else(|| stem.to_string(), |slice| format!("{stem}_{slice}")))
}

/// Safe folder names for image ids, made unique (`scan`, `scan-2`, ...) where images from
/// different folders share a file name.
fn folder_names<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    ids.map(|id| {
        let base = safe_id(id);
        (1..)
            .map(|k| if k == 1 { base.clone() } else { format!("{base}-{k}") })
            .find(|name| used.insert(name.clone()))
            .expect("an unbounded range of names has a free one")
    })
    .collect()
}

/// Reads the images given on the command line as one set: a volume file gives its slices.
fn read_images(paths: &[PathBuf], slicing: &SliceArgs, spec: ImageSpec) -> anyhow::Result<ImageSet> {
    let (mut images, mut ids) = (Vec::new(), Vec::new());
    for p in paths {
        if is_volume_file(p) {
            let options = FolderOptions { strict: true, slicing: slicing.slicing(), ..FolderOptions::default() };
            let (slices, _) = read_folder(p, &options, spec)?;
            let folder = p.parent().map(|d| d.join("")).unwrap_or_default().display().to_string();
            images.extend(slices.images.axis_iter(Axis(0)).map(|s| s.to_owned()));
            ids.extend(slices.ids.into_iter().map(|id| format!("{folder}{id}")));
            continue;
        }
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        images.push(
            prepare_bytes(&bytes, spec)
                .with_context(|| format!("{}: not a usable PNG/JPEG image, NIfTI or DICOM file", p.display()))?,
        );
        ids.push(p.display().to_string());
    }
    let views: Vec<_> = images.iter().map(|a| a.view()).collect();
    let images: Array4<f32> = stack(Axis(0), &views)?;
    Ok(ImageSet { name: "images".into(), images, labels: vec![None; ids.len()], ids, groups: None })
}

/// Runs `daecf explain`.
pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let (model, file, name) = args.source.load(&device)?;
    let head = args.ce.head(&file, &name)?;
    let spec = ImageSpec { size: model.config.image_size, channels: model.config.in_channels };
    let set = read_images(&args.images, &args.slicing, spec)?;
    let (bar, mut on_step) = crate::progress::ddim_steps("explaining");
    let indices: Vec<usize> = (0..set.len()).collect();
    let with = Explainer { model: &model, head, device: &device };
    let items = explain_images(with, &set, &indices, &args.ce, &args.out, &mut on_step)?;
    bar.finish();
    for (r, _) in &items {
        let binary = &r.counterfactuals[0];
        println!(
            "{}: distance {:+.3} ({}), grade {} ({:.2}); binary CE at {:+.3} re-encodes to {:+.3} (grade {}): {} -> {}",
            r.image,
            r.distance,
            if r.positive { "positive" } else { "negative" },
            r.grade,
            r.grade_continuous,
            binary.distance,
            binary.reencoded_distance,
            binary.reencoded_grade,
            if binary.valid() { "valid" } else { "not valid (the rendered CE stays on the image's side)" },
            args.out.join(&r.image).display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_sharing_a_file_name_get_their_own_folders() {
        let ids = ["a/scan.png", "b/scan.png", "scan 1.jpg", "b/scan-2.png"];
        assert_eq!(folder_names(ids.into_iter()), vec!["scan", "scan-2", "scan_1", "scan-2-2"]);
        let slices = ["ct/a.nii.gz#z=4", "ct/a.nii.gz#z=5", "CT_small.dcm#x=0"];
        assert_eq!(folder_names(slices.into_iter()), vec!["a_z4", "a_z5", "CT_small_x0"]);
    }
}
