//! The work of the page: the device (WebGPU or CPU wasm), the loaded bundle, and explaining
//! one image — encode, then every DDIM step of the stochastic encoding and of the renders,
//! one at a time with the event loop's turn in between, so the progress bar moves and the
//! user can cancel. The results are what `daecf explain` writes for the same bundle and image.

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::latent::{CeRequest, Head};
use daecf_core::model::DiffusionAutoencoder;
use daecf_core::pipeline::{CeJob, CeSteps, RenderJob, RenderShare, explanation_reports};
use daecf_core::report::{ImageReport, difference_overlay, gif_bytes};
use daecf_models::Bundle;
use image::RgbImage;
use ndarray::Array3;
use serde::{Deserialize, Serialize};

use crate::browser::{next_tick, now_ms, sleep};
use crate::helpers::{Handed, Helper};
use crate::picture::{read_pictures, read_values};

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// burn-wgpu on the browser's WebGPU.
    WebGpu,
    /// burn-flex compiled to wasm: one thread per worker, the renders shared with helper
    /// workers on the other cores.
    Cpu,
}

impl Backend {
    /// Its name on the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::WebGpu => "WebGPU",
            Self::Cpu => "CPU (wasm)",
        }
    }
}

/// The devices of this page. WebGPU is initialised once, on first use, and then reused.
#[derive(Debug, Default)]
pub struct Devices {
    webgpu: Option<Device>,
}

impl Devices {
    /// The device for `backend`; an error says why WebGPU is not available.
    pub async fn get(&mut self, backend: Backend) -> Result<Device, String> {
        match backend {
            Backend::Cpu => Ok(Device::flex()),
            Backend::WebGpu => {
                if let Some(d) = &self.webgpu {
                    return Ok(d.clone());
                }
                if !crate::browser::has_webgpu() {
                    return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
                }
                let device =
                    Device::wgpu_options().init_async().await.map_err(|e| format!("WebGPU could not start: {e:?}"))?;
                self.webgpu = Some(device.clone());
                Ok(device)
            }
        }
    }
}

/// Why a bundle did not load: the device (where another backend may do) or the bundle itself.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// The device could not start.
    Device(String),
    /// The bundle's model could not be built (bad or mismatched weights).
    Model(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Device(e) | Self::Model(e) => f.write_str(e),
        }
    }
}

/// A bundle's model loaded on a device (the bundle itself, with its heads, stays with the
/// engine worker).
#[derive(Debug)]
pub struct Loaded {
    /// The bundle's name on the page (file name).
    pub name: String,
    /// The model on `device`.
    pub model: DiffusionAutoencoder,
    /// Where it runs.
    pub backend: Backend,
    /// The device of `backend`.
    pub device: Device,
}

impl Loaded {
    /// Loads the model of `bundle` on the device of `backend`.
    pub async fn new(
        bundle: &Bundle,
        name: String,
        backend: Backend,
        devices: &mut Devices,
    ) -> Result<Self, LoadError> {
        let device = devices.get(backend).await.map_err(LoadError::Device)?;
        let model = bundle.model(&device).map_err(|e| LoadError::Model(format!("{name}: {e}")))?;
        Ok(Self { name, model, backend, device })
    }

    /// `image` ([C, H, W] in [0, 1], at the model's size) as the model's input [1, C, H, W].
    pub fn input(&self, image: &Array3<f32>) -> Tensor<4> {
        let range = self.model.config.input_range;
        let (c, h, w) = image.dim();
        let values: Vec<f32> = image.iter().map(|&v| range.from_unit(v)).collect();
        Tensor::<4>::from_data(TensorData::new(values, [1, c, h, w]), &self.device)
    }
}

/// DDIM steps and progression frames of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Steps of the stochastic encoding.
    pub encode: usize,
    /// Steps of each render.
    pub render: usize,
    /// Frames of the progression.
    pub frames: usize,
}

impl Settings {
    /// The paper's quality setting (250 encoding, 100 rendering steps).
    pub const QUALITY: Self = Self { encode: 250, render: 100, frames: 7 };
    /// A fast preview (the demo's evaluation setting).
    pub const FAST: Self = Self { encode: 50, render: 20, frames: 7 };
}

/// Wall-clock times of a run, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Computing z_sem and planning.
    pub semantic_ms: f64,
    /// DDIM steps of the stochastic encoding (batch of one) and their time.
    pub encode_steps: usize,
    /// Time of the encoding steps.
    pub encode_ms: f64,
    /// DDIM steps of the renders (each worker renders its share of the images in one batch).
    pub render_steps: usize,
    /// Time of the render steps.
    pub render_ms: f64,
    /// Workers that rendered (the engine worker and its helpers).
    pub workers: usize,
    /// Reading results back, re-encoding the counterfactuals, making pictures.
    pub finish_ms: f64,
    /// The whole run.
    pub total_ms: f64,
}

/// One explained image.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The JSON report (the same fields as `daecf explain`'s explanation.json).
    pub report: ImageReport,
    /// The input as the model saw it.
    pub original: RgbImage,
    /// Its reconstruction from (z_sem, x_T).
    pub reconstruction: RgbImage,
    /// Binary CE then grade CEs, in the order of `report.counterfactuals`.
    pub counterfactuals: Vec<RgbImage>,
    /// Their difference overlays against the reconstruction.
    pub differences: Vec<RgbImage>,
    /// The progression's frames, in the order of `report.progression`.
    pub progression: Vec<RgbImage>,
    /// Their difference overlays against the reconstruction.
    pub progression_differences: Vec<RgbImage>,
    /// The progression as a looping GIF.
    pub gif: Vec<u8>,
    /// Where the time went.
    pub timing: Timing,
    /// The backend that ran it.
    pub backend: Backend,
}

/// What a run needs besides the model and the image.
pub struct RunContext<'a> {
    /// The run's number (helpers' answers name it).
    pub run: u64,
    /// Helper workers holding the same model, each to render a share.
    pub helpers: &'a [Rc<Helper>],
    /// Set to stop the run at its next step.
    pub cancel: &'a Cell<bool>,
    /// Sees (done, total) DDIM steps.
    pub progress: &'a dyn Fn(usize, usize),
}

/// Explains `image` ([C, H, W] in [0, 1], at the model's size) with `head`.
pub async fn explain(
    loaded: &Loaded,
    head: &Head,
    id: &str,
    image: &Array3<f32>,
    settings: Settings,
    context: RunContext<'_>,
) -> Result<Outcome, String> {
    let RunContext { run, helpers, cancel, progress } = context;
    let start = now_ms();
    let model = &loaded.model;
    let device = loaded.device.clone();
    let range = model.config.input_range;
    let (c, h, w) = image.dim();
    let config = &model.config;
    if (c, h, w) != (config.in_channels, config.image_size, config.image_size) {
        return Err(format!(
            "the image was prepared as {c} x {h} x {w} but {} takes {} x {size} x {size}; choose the image again",
            loaded.name,
            config.in_channels,
            size = config.image_size
        ));
    }
    let x = loaded.input(image);
    let z = model.encode(x.clone());
    let z_rows = read_values(z.clone()).await?;
    let request = CeRequest::for_head(head, None, settings.frames, None);
    let plan = |h: &Head, w: ndarray::ArrayView1<f32>| request.plans(h, w);
    // The renders in one chunk per worker; the chunks beyond the first go to helpers.
    let rows = 1 + request.len();
    let max_batch = rows.div_ceil(1 + helpers.len());
    let helpers = &helpers[..rows.div_ceil(max_batch) - 1];
    let steps = CeSteps { encode: settings.encode, render: settings.render, max_batch };
    let mut job = CeJob::new(model, head, x.clone(), z, &z_rows, &plan, steps).map_err(|e| e.to_string())?;
    let mut timing =
        Timing { semantic_ms: now_ms() - start, encode_steps: settings.encode, workers: 1, ..Timing::default() };
    progress(0, job.total());
    let mut phase_start = now_ms();
    let mut handed = Handed::none();
    while job.step() {
        if cancel.get() {
            return Err("cancelled".into());
        }
        // Wait for the device to finish the step (a one-value read), then let the page repaint.
        if let Some(latest) = job.latest() {
            read_values(latest.slice([0..1, 0..1, 0..1, 0..1])).await?;
        }
        if job.done() == settings.encode {
            timing.encode_ms = now_ms() - phase_start;
            phase_start = now_ms();
            handed = Handed::out(&mut job, helpers, run).await?;
            timing.workers = 1 + handed.len();
        }
        progress(job.done() + handed.done(), job.total());
        next_tick().await;
    }
    while !handed.answered() {
        if cancel.get() {
            return Err("cancelled".into());
        }
        sleep(20).await;
        progress(job.done() + handed.done(), job.total());
    }
    handed.into_job(&mut job, [c, h, w], &device)?;
    timing.render_steps = settings.render;
    timing.render_ms = now_ms() - phase_start;
    let finish_start = now_ms();
    let result = job.finish().map_err(|e| e.to_string())?;
    let steps = (settings.encode, settings.render);
    let report = explanation_reports(model, head, &result, &request, steps, vec![id.to_string()])
        .await
        .map_err(|e| e.to_string())?
        .remove(0);
    let original = read_pictures(x, range).await?.remove(0);
    let reconstruction = read_pictures(result.reconstructions, range).await?.remove(0);
    let mut counterfactuals = read_pictures(result.counterfactuals, range).await?;
    let progression = counterfactuals.split_off(1 + request.grades.len());
    let overlays = |images: &[RgbImage]| -> Vec<RgbImage> {
        images.iter().map(|ce| difference_overlay(&reconstruction, ce)).collect()
    };
    let differences = overlays(counterfactuals.as_slice());
    let progression_differences = overlays(progression.as_slice());
    let frames: Vec<RgbImage> = progression.iter().map(|f| daecf_core::report::enlarge(f, 192)).collect();
    let gif = gif_bytes(&frames, 350).map_err(|e| e.to_string())?;
    timing.finish_ms = now_ms() - finish_start;
    timing.total_ms = now_ms() - start;
    Ok(Outcome {
        report,
        original,
        reconstruction,
        counterfactuals,
        differences,
        progression,
        progression_differences,
        gif,
        timing,
        backend: loaded.backend,
    })
}

/// Renders a share handed out by the engine worker (a helper's work): `values` holds the noise
/// maps [rows, C, H, W] then the latents [rows, D]; `progress` sees the steps done. The images
/// [rows, C, H, W], as values.
pub async fn render_share(
    loaded: &Loaded,
    rows: usize,
    steps: usize,
    values: &[f32],
    cancel: &Cell<bool>,
    progress: &dyn Fn(usize),
) -> Result<Vec<f32>, String> {
    let config = &loaded.model.config;
    let (c, size, dim) = (config.in_channels, config.image_size, config.latent_dim);
    if values.len() != rows * (c * size * size + dim) {
        return Err(format!("a share of {rows} renders with {} values does not fit {}", values.len(), loaded.name));
    }
    let (maps, latents) = values.split_at(rows * c * size * size);
    let x_t = Tensor::<4>::from_data(TensorData::new(maps.to_vec(), [rows, c, size, size]), &loaded.device);
    let latents = Tensor::<2>::from_data(TensorData::new(latents.to_vec(), [rows, dim]), &loaded.device);
    let share = RenderShare { rows: 0..rows, x_t, latents, steps };
    let mut job = RenderJob::new(&loaded.model, share).map_err(|e| e.to_string())?;
    while job.step() {
        if cancel.get() {
            return Err("cancelled".into());
        }
        read_values(job.latest().slice([0..1, 0..1, 0..1, 0..1])).await?;
        progress(job.done());
        next_tick().await;
    }
    read_values(job.finish().map_err(|e| e.to_string())?).await
}
