//! The CPU path's helper workers. A browser runs a wasm module on one thread per worker, so the
//! engine worker starts one helper worker per further core (up to [`MAX_HELPERS`]), each with
//! its own copy of the model. Once a run's image is encoded, the engine worker hands each helper
//! a share of the renders (reconstruction, counterfactuals, progression; see
//! [`CeJob::hand_out`]), renders its own share, and takes the helpers' images back in. WebGPU
//! runs in the engine worker alone.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::pipeline::{CeJob, RenderShare};
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::browser::start_worker;
use crate::engine::Backend;
use crate::picture::read_values;
use crate::protocol::{Reply, Request, decode, f32_buffer, f32_values, send};

/// The most helpers (a run renders 15 images: beyond 8 workers, shares get too small to gain).
pub const MAX_HELPERS: usize = 7;

/// One helper worker, as the engine worker sees it.
pub struct Helper {
    worker: Worker,
    /// Whether it listens (it has posted Ready).
    ready: Cell<bool>,
    /// The bundle it holds or loads.
    holds: Cell<Holds>,
    /// The share it renders: the run, its rows, the steps done, and its images or failure.
    share: RefCell<Option<Share>>,
}

/// A helper's bundle (by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    Nothing,
    Loading(u64),
    Loaded(u64),
    Failed(u64),
}

impl Holds {
    /// The bundle it holds, loads or failed to load.
    fn bundle(self) -> Option<u64> {
        match self {
            Self::Nothing => None,
            Self::Loading(id) | Self::Loaded(id) | Self::Failed(id) => Some(id),
        }
    }
}

struct Share {
    run: u64,
    rows: std::ops::Range<usize>,
    done: usize,
    result: Option<Result<Vec<f32>, String>>,
}

/// The helpers and the bundle they are to hold.
#[derive(Default)]
struct Crew {
    helpers: Vec<Rc<Helper>>,
    /// The bundle: its id (one per load), name and bytes.
    bundle: Option<(u64, String, Rc<Vec<u8>>)>,
}

thread_local! {
    static CREW: RefCell<Crew> = RefCell::default();
}

impl Helper {
    fn post(&self, request: &Request, bytes: Option<&js_sys::ArrayBuffer>) {
        let _ = send(&self.worker, request, bytes);
    }

    /// Sends the crew's bundle, unless this helper has it or is not listening yet.
    fn send_bundle(&self) {
        let bundle = CREW.with(|c| c.borrow().bundle.clone());
        let Some((id, name, bytes)) = bundle else { return };
        if !self.ready.get() || self.holds.get().bundle() == Some(id) {
            return;
        }
        self.holds.set(Holds::Loading(id));
        let copy = js_sys::Uint8Array::from(bytes.as_slice()).buffer();
        self.post(&Request::Load { name, backend: Backend::Cpu }, Some(&copy));
    }

    fn on_reply(&self, reply: Reply, bytes: Option<Vec<u8>>) {
        let mut share = self.share.borrow_mut();
        match reply {
            Reply::Ready => {
                self.ready.set(true);
                drop(share);
                self.send_bundle();
            }
            Reply::Loaded { .. } => {
                if let Holds::Loading(id) = self.holds.get() {
                    self.holds.set(Holds::Loaded(id));
                }
            }
            Reply::Rendering { run, done } => {
                if let Some(s) = share.as_mut().filter(|s| s.run == run) {
                    s.done = done;
                }
            }
            Reply::Rendered { run, failure } => {
                if let Some(s) = share.as_mut().filter(|s| s.run == run) {
                    s.result = Some(match failure {
                        None => Ok(f32_values(&bytes.unwrap_or_default())),
                        Some(e) => Err(e),
                    });
                }
            }
            // The helper stopped while rendering (a crash), or a bundle did not load.
            Reply::Failed { message } => match (share.as_mut().filter(|s| s.result.is_none()), self.holds.get()) {
                (Some(s), _) => s.result = Some(Err(message)),
                (None, Holds::Loading(id)) => {
                    web_sys::console::warn_1(&format!("a helper worker did not load the model: {message}").into());
                    self.holds.set(Holds::Failed(id));
                }
                (None, _) => {}
            },
            // A helper only loads and renders.
            Reply::Prepared { .. }
            | Reply::Progress { .. }
            | Reply::Explained { .. }
            | Reply::Encoded { .. }
            | Reply::Fitted { .. }
            | Reply::HeadsAdded { .. }
            | Reply::Exported { .. } => {}
        }
    }
}

/// The browser's logical cores, 1 where it does not say.
fn cores() -> usize {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .map_or(1, |c| c.max(1.0) as usize)
}

fn start_helper() -> Result<Rc<Helper>, String> {
    let worker = start_worker(true)?;
    let helper = Rc::new(Helper {
        worker,
        ready: Cell::new(false),
        holds: Cell::new(Holds::Nothing),
        share: RefCell::new(None),
    });
    let listener = Rc::clone(&helper);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Ok((reply, bytes)) = decode::<Reply>(&event.data()) {
            listener.on_reply(reply, bytes);
        }
    });
    helper.worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    Ok(helper)
}

/// Has the helpers (one per core beyond the first, started on first use) load bundle `id`.
pub fn load(id: u64, name: &str, bytes: Rc<Vec<u8>>) {
    let wanted = cores().saturating_sub(1).min(MAX_HELPERS);
    CREW.with(|c| {
        let mut crew = c.borrow_mut();
        crew.bundle = Some((id, name.to_string(), bytes));
        while crew.helpers.len() < wanted {
            match start_helper() {
                Ok(helper) => crew.helpers.push(helper),
                Err(e) => {
                    web_sys::console::warn_1(&format!("the CPU path runs on fewer cores: {e}").into());
                    break;
                }
            }
        }
    });
    for helper in CREW.with(|c| c.borrow().helpers.clone()) {
        helper.send_bundle();
    }
}

/// The helpers that hold bundle `id` and render nothing now.
pub fn idle(id: u64) -> Vec<Rc<Helper>> {
    CREW.with(|c| {
        let crew = c.borrow();
        crew.helpers
            .iter()
            .filter(|h| h.holds.get() == Holds::Loaded(id) && h.share.borrow().is_none())
            .cloned()
            .collect()
    })
}

/// Whether a helper is still starting or loading bundle `id` (a run waits for it: a share for
/// each core is worth the wait of a model load).
pub fn loading(id: u64) -> bool {
    CREW.with(|c| {
        let crew = c.borrow();
        crew.helpers.iter().any(|h| !h.ready.get() || h.holds.get() == Holds::Loading(id))
    })
}

/// The shares a run handed to helpers. Dropped before their images are back in (a cancelled or
/// failed run), it tells the helpers to stop and frees them.
pub struct Handed {
    helpers: Vec<Rc<Helper>>,
}

impl Handed {
    /// No shares handed out.
    pub fn none() -> Self {
        Self { helpers: Vec::new() }
    }

    /// Hands one share of `job`'s renders to each of `helpers` (as many as there are chunks).
    pub async fn out(job: &mut CeJob, helpers: &[Rc<Helper>], run: u64) -> Result<Self, String> {
        let mut handed = Vec::new();
        for helper in helpers {
            let Some(share) = job.hand_out() else { break };
            let RenderShare { rows, x_t, latents, steps } = share;
            let mut values = read_values(x_t).await?;
            values.extend(read_values(latents).await?);
            *helper.share.borrow_mut() = Some(Share { run, rows: rows.clone(), done: 0, result: None });
            helper.post(&Request::Render { run, rows: rows.len(), steps }, Some(&f32_buffer(&values)));
            handed.push(Rc::clone(helper));
        }
        Ok(Self { helpers: handed })
    }

    /// How many helpers have a share.
    pub fn len(&self) -> usize {
        self.helpers.len()
    }

    /// DDIM steps the helpers have done of their shares.
    pub fn done(&self) -> usize {
        self.helpers.iter().map(|h| h.share.borrow().as_ref().map_or(0, |s| s.done)).sum()
    }

    /// Whether every helper has answered.
    pub fn answered(&self) -> bool {
        self.helpers.iter().all(|h| h.share.borrow().as_ref().is_none_or(|s| s.result.is_some()))
    }

    /// Hands the helpers' images back in to `job` (images of `shape` [C, H, W] on `device`); the
    /// first failure if one failed. Every helper is free again afterwards.
    pub fn into_job(mut self, job: &mut CeJob, shape: [usize; 3], device: &Device) -> Result<(), String> {
        let mut outcome = Ok(());
        for helper in std::mem::take(&mut self.helpers) {
            let Some(share) = helper.share.borrow_mut().take() else { continue };
            let images = match share.result {
                Some(Ok(values)) => values,
                Some(Err(e)) => {
                    outcome = outcome.and(Err(e));
                    continue;
                }
                None => {
                    outcome = outcome.and(Err("a helper worker did not answer".into()));
                    continue;
                }
            };
            let [c, h, w] = shape;
            if images.len() != share.rows.len() * c * h * w {
                outcome = outcome.and(Err(format!(
                    "a helper worker rendered {} values, not {}",
                    images.len(),
                    share.rows.len() * c * h * w
                )));
                continue;
            }
            let data = TensorData::new(images, [share.rows.len(), c, h, w]);
            let tensor = Tensor::<4>::from_data(data, device);
            outcome = outcome.and(job.hand_in(share.rows, tensor).map_err(|e| e.to_string()));
        }
        outcome
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        for helper in &self.helpers {
            if helper.share.borrow_mut().take().is_some_and(|s| s.result.is_none()) {
                helper.post(&Request::Cancel, None);
            }
        }
    }
}
