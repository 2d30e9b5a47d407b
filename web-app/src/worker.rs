//! The engine worker: a dedicated Web Worker (`worker.js` starts the page's own wasm module in
//! it) that holds the device and the loaded model, decodes and prepares images, runs the DDIM
//! steps and makes the pictures, so the page's thread only draws. It answers the page's
//! [`Request`]s with [`Reply`]s; a Cancel lands between two DDIM steps. On the CPU path it
//! shares a run's renders with helper workers ([`crate::helpers`]): the same code, started as
//! helpers, which load the engine worker's bundle and answer [`Request::Render`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use daecf_core::data::ImageSpec;
use daecf_core::data::images::{prepare_bytes, to_picture};
use daecf_core::latent::Head;
use daecf_models::{Bundle, BundleHeader};
use ndarray::Array3;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::browser::{now_ms, sleep};
use crate::engine::{Backend, Devices, LoadError, Loaded, RunContext, Settings, explain, render_share};
use crate::helpers;
use crate::picture::png_url;
use crate::protocol::{ModelInfo, Reply, Request, decode, encode, f32_buffer, f32_values};
use crate::task;
use crate::views::Shown;

/// What the worker holds between requests.
#[derive(Default)]
struct Engine {
    devices: Devices,
    /// Whether this worker is a helper of an engine worker.
    helper: bool,
    /// The current bundle and its name (to load it again on another backend), with the heads
    /// added on the page.
    bundle: Option<(Bundle, String)>,
    /// The current bundle's file and its id (one per load), for the helpers.
    file: Option<(u64, Rc<Vec<u8>>)>,
    /// Runs started.
    runs: u64,
    loaded: Option<Rc<Loaded>>,
    /// The image's name and file, prepared again after each load.
    image: Option<(String, Rc<[u8]>)>,
    prepared: Option<Rc<Array3<f32>>>,
}

/// How long a run waits for helpers that are still loading the model.
const HELPER_WAIT_MS: f64 = 30_000.0;

thread_local! {
    static ENGINE: RefCell<Engine> = RefCell::default();
    /// The running run's stop flag; each run gets a new one.
    static CANCEL: RefCell<Rc<Cell<bool>>> = RefCell::new(Rc::new(Cell::new(false)));
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(reply: &Reply) {
    post_with(reply, None);
}

fn post_with(reply: &Reply, bytes: Option<&js_sys::ArrayBuffer>) {
    let (message, transfer) = encode(reply, bytes);
    let _ = scope().post_message_with_transfer(&message, &transfer);
}

/// A new stop flag for a run (the previous run's stays set if it was cancelled).
fn new_cancel_flag() -> Rc<Cell<bool>> {
    let flag = Rc::new(Cell::new(false));
    CANCEL.with(|c| c.replace(Rc::clone(&flag)));
    flag
}

fn fail(message: impl Into<String>) {
    post(&Reply::Failed { message: message.into() });
}

/// Tells the page that the worker stopped on a panic (called by the panic hook).
pub fn report_crash(message: &str) {
    fail(format!("the engine stopped on an internal error ({message}); reload the page to start again"));
}

/// Starts the worker (the engine worker, or with `helper` one of its helpers): listens and says
/// so.
#[wasm_bindgen]
pub fn worker_main(helper: bool) {
    ENGINE.with(|e| e.borrow_mut().helper = helper);
    let on_message =
        // A Cancel runs in a microtask of its message, before the running step's next turn.
        Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| match decode::<Request>(&event.data()) {
            Ok((request, bytes)) => spawn_local(handle(request, bytes)),
            Err(e) => fail(e),
        });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Reply::Ready);
}

async fn handle(request: Request, bytes: Option<Vec<u8>>) {
    match request {
        Request::Load { name, backend } => {
            let bytes = Rc::new(bytes.unwrap_or_default());
            match Bundle::from_bytes(&bytes) {
                Ok(bundle) => {
                    ENGINE.with(|e| {
                        let mut e = e.borrow_mut();
                        let id = e.file.as_ref().map_or(1, |(id, _)| id + 1);
                        e.file = Some((id, bytes));
                    });
                    load(bundle, name, backend).await
                }
                Err(e) => fail(format!("{name}: {e}")),
            }
        }
        Request::Switch { backend } => match ENGINE.with(|e| e.borrow().bundle.clone()) {
            Some((bundle, name)) => load(bundle, name, backend).await,
            None => fail("load a model first"),
        },
        Request::Prepare { name } => {
            ENGINE.with(|e| e.borrow_mut().image = Some((name, bytes.unwrap_or_default().into())));
            prepare();
        }
        Request::Explain { head, id, settings } => run(head, id, settings).await,
        Request::Cancel => CANCEL.with(|c| c.borrow().set(true)),
        Request::Render { run, rows, steps } => render(run, rows, steps, &f32_values(&bytes.unwrap_or_default())).await,
        Request::Encode { index } => encode_labelled(index, &bytes.unwrap_or_default()).await,
        Request::Fit { name, labels, latents } => fit_head(&name, &labels, &latents),
        Request::AddHeads { name } => add_heads(&name, &bytes.unwrap_or_default()),
        Request::Export => export(),
    }
}

/// The loaded model, or a failure posted to the page.
fn loaded_model() -> Option<Rc<Loaded>> {
    let loaded = ENGINE.with(|e| e.borrow().loaded.clone());
    if loaded.is_none() {
        fail("load a model first");
    }
    loaded
}

/// z_sem of a labelled image of a new task.
async fn encode_labelled(index: usize, bytes: &[u8]) {
    let Some(loaded) = loaded_model() else { return };
    let c = &loaded.model.config;
    let latent = match prepare_bytes(bytes, ImageSpec { size: c.image_size, channels: c.in_channels }) {
        Ok(image) => task::semantic_latent(&loaded, &image).await,
        Err(e) => Err(e.to_string()),
    };
    post(&Reply::Encoded { index, latent });
}

/// The current bundle's heads.
fn heads() -> Vec<Head> {
    ENGINE.with(|e| e.borrow().bundle.as_ref().map(|(b, _)| b.header.heads.clone()).unwrap_or_default())
}

/// Adds `heads` to the bundle (so Explain, an export and another backend have them) and tells
/// the page the model's heads now.
fn keep_heads(loaded: &Loaded, heads: &[Head]) -> ModelInfo {
    ENGINE.with(|e| {
        let mut e = e.borrow_mut();
        let (bundle, _) = e.bundle.as_mut().expect("a loaded model has its bundle");
        bundle.header.heads.extend_from_slice(heads);
        model_info(loaded, &bundle.header, String::new())
    })
}

/// Fits a head for a new task and adds it.
fn fit_head(name: &str, labels: &[i64], latents: &[Vec<f32>]) {
    let Some(loaded) = loaded_model() else { return };
    match task::fit(&loaded, heads().first(), name, latents, labels) {
        Ok((head, fitted)) => {
            let model = keep_heads(&loaded, std::slice::from_ref(&head));
            post(&Reply::Fitted { fitted: Box::new(fitted), model });
        }
        Err(e) => fail(format!("fitting '{name}': {e}")),
    }
}

/// Adds the heads of a head file.
fn add_heads(name: &str, bytes: &[u8]) {
    let Some(loaded) = loaded_model() else { return };
    let heads = std::str::from_utf8(bytes)
        .map_err(|_| format!("{name} is not a head file (not text); give a head.json written by `daecf fit`"))
        .and_then(|json| task::heads_from_json(&loaded, name, json));
    match heads {
        Ok(heads) => {
            let model = keep_heads(&loaded, &heads);
            let names: Vec<&str> = heads.iter().map(|h| h.task.name.as_str()).collect();
            let message = format!("{name}: added {}", names.join(", "));
            post(&Reply::HeadsAdded { model, message });
        }
        Err(e) => fail(e),
    }
}

/// Sends the bundle back with every head added on the page.
fn export() {
    match ENGINE.with(|e| e.borrow().bundle.clone()) {
        Some((bundle, name)) => {
            let bytes = bundle.to_bytes();
            let buffer = js_sys::Uint8Array::from(bytes.as_slice()).buffer();
            let stem = name.strip_suffix(".daecf").unwrap_or(&name);
            post_with(&Reply::Exported { name: format!("{stem}-with-heads.daecf") }, Some(&buffer));
        }
        None => fail("load a model first"),
    }
}

/// Loads `bundle` on `wanted`; only a device that will not start sends it to the CPU.
async fn load(bundle: Bundle, name: String, wanted: Backend) {
    // Taken out for the awaits, so no RefCell borrow is held across them.
    let mut devices = ENGINE.with(|e| std::mem::take(&mut e.borrow_mut().devices));
    let mut note = String::new();
    let mut loaded = Loaded::new(&bundle, name.clone(), wanted, &mut devices).await;
    if let (Err(LoadError::Device(e)), Backend::WebGpu) = (&loaded, wanted) {
        note = format!("{e}; using the CPU instead");
        loaded = Loaded::new(&bundle, name.clone(), Backend::Cpu, &mut devices).await;
    }
    ENGINE.with(|e| e.borrow_mut().devices = devices);
    match loaded {
        Ok(loaded) => {
            let model = model_info(&loaded, &bundle.header, note);
            let on_cpu = loaded.backend == Backend::Cpu;
            let (helper, file) = ENGINE.with(|e| {
                let mut e = e.borrow_mut();
                e.loaded = Some(Rc::new(loaded));
                e.bundle = Some((bundle, name.clone()));
                e.prepared = None;
                (e.helper, e.file.clone())
            });
            if let (true, false, Some((id, bytes))) = (on_cpu, helper, file) {
                helpers::load(id, &name, bytes);
            }
            post(&Reply::Loaded { model });
            prepare();
        }
        Err(e) => fail(e.to_string()),
    }
}

fn model_info(loaded: &Loaded, h: &BundleHeader, note: String) -> ModelInfo {
    let summary = format!(
        "{}: {} ({}x{}, {} channel(s)), trained on {} for {} steps; daecf {}",
        loaded.name,
        h.preset.map_or_else(|| "custom".to_string(), |p| p.to_string()),
        h.model.image_size,
        h.model.image_size,
        h.model.in_channels,
        h.provenance.training_data,
        h.provenance.steps.map_or("?".into(), |s| s.to_string()),
        h.provenance.daecf_version
    );
    ModelInfo {
        name: loaded.name.clone(),
        backend: loaded.backend,
        summary,
        heads: h.heads.iter().map(|h| h.task.name.clone()).collect(),
        note,
    }
}

/// Prepares the image for the loaded model, when there are both.
fn prepare() {
    let (loaded, image) = ENGINE.with(|e| {
        let e = e.borrow();
        (e.loaded.clone(), e.image.clone())
    });
    let (Some(loaded), Some((name, bytes))) = (loaded, image) else { return };
    let c = &loaded.model.config;
    let prepared = prepare_bytes(&bytes, ImageSpec { size: c.image_size, channels: c.in_channels })
        .map_err(|e| match e {
            daecf_core::DaecfError::Data(reason) => format!("{name}: {reason}"),
            e => format!("{name}: {e}"),
        })
        .and_then(|prepared| {
            let preview = to_picture(prepared.view()).map_err(|e| e.to_string())?;
            Ok((prepared, png_url(&preview.to_rgb8())))
        });
    match prepared {
        Ok((prepared, preview)) => {
            ENGINE.with(|e| e.borrow_mut().prepared = Some(Rc::new(prepared)));
            post(&Reply::Prepared { preview });
        }
        Err(message) => {
            ENGINE.with(|e| {
                let mut e = e.borrow_mut();
                e.image = None;
                e.prepared = None;
            });
            fail(message);
        }
    }
}

/// Explains the prepared image, posting progress after every DDIM step.
async fn run(head: usize, id: String, settings: Settings) {
    let (loaded, image, file, run) = ENGINE.with(|e| {
        let mut e = e.borrow_mut();
        e.runs += 1;
        (e.loaded.clone(), e.prepared.clone(), e.file.clone(), e.runs)
    });
    let (Some(loaded), Some(image)) = (loaded, image) else { return fail("choose a model and an image first") };
    let Some(head) = heads().get(head).cloned() else {
        return fail(format!("{} has no head {head}", loaded.name));
    };
    let cancel = new_cancel_flag();
    let helpers = match (loaded.backend, file) {
        (Backend::Cpu, Some((id, _))) => {
            let start = now_ms();
            while helpers::loading(id) && now_ms() - start < HELPER_WAIT_MS && !cancel.get() {
                sleep(50).await;
            }
            helpers::idle(id)
        }
        _ => Vec::new(),
    };
    let progress = |done: usize, total: usize| post(&Reply::Progress { done, total });
    let context = RunContext { run, helpers: &helpers, cancel: &cancel, progress: &progress };
    match explain(&loaded, &head, &id, &image, settings, context).await {
        Ok(outcome) => post(&Reply::Explained { shown: Box::new(Shown::new(&outcome)) }),
        Err(message) => fail(message),
    }
}

/// Renders a share of the engine worker's run `run` (a helper's work), posting its progress.
async fn render(run: u64, rows: usize, steps: usize, values: &[f32]) {
    let Some(loaded) = ENGINE.with(|e| e.borrow().loaded.clone()) else {
        return post(&Reply::Rendered { run, failure: Some("the helper has no model".into()) });
    };
    let cancel = new_cancel_flag();
    let progress = |done: usize| post(&Reply::Rendering { run, done });
    match render_share(&loaded, rows, steps, values, &cancel, &progress).await {
        Ok(images) => post_with(&Reply::Rendered { run, failure: None }, Some(&f32_buffer(&images))),
        Err(e) => post(&Reply::Rendered { run, failure: Some(e) }),
    }
}
