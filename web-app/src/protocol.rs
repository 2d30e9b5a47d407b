//! The messages between the page and the engine worker, and between the engine worker and its
//! helpers. The page only draws and posts [`Request`]s; the engine worker (module
//! [`crate::worker`]) loads models, decodes images, runs the DDIM steps and makes the pictures,
//! and posts [`Reply`]s. On the CPU path it hands part of a run's renders to helper workers
//! ([`crate::helpers`]), which answer [`Request::Render`]. Each message is a JS object
//! `{ json, bytes }`: the message as JSON, and a file (a bundle or an image) or tensor values as
//! a JS buffer that is transferred, not copied.

use js_sys::{Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::engine::{Backend, Settings};
use crate::task::Fitted;
use crate::views::Shown;

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Load the bundle in `bytes` on `backend` (WebGPU falls back to the CPU when its device will
    /// not start).
    Load {
        /// The bundle's name on the page.
        name: String,
        /// The backend asked for.
        backend: Backend,
    },
    /// Load the current bundle again on `backend`.
    Switch {
        /// The backend asked for.
        backend: Backend,
    },
    /// Prepare the image in `bytes` for the loaded model (and again after each load).
    Prepare {
        /// The file's stem, for messages.
        name: String,
    },
    /// Explain the prepared image with head `head`.
    Explain {
        /// The head's index in the bundle.
        head: usize,
        /// The image's id in the report and file names.
        id: String,
        /// DDIM steps.
        settings: Settings,
    },
    /// Stop the run at its next step.
    Cancel,
    /// Compute z_sem of the image in `bytes` (a labelled image of a new task).
    Encode {
        /// The image's place in the page's list.
        index: usize,
    },
    /// Fit a head for a new task on the page's labelled latents, and add it to the model.
    Fit {
        /// The task's name.
        name: String,
        /// One label per latent (0/1, or grades).
        labels: Vec<i64>,
        /// z_sem of each labelled image.
        latents: Vec<Vec<f32>>,
    },
    /// Add the heads of the head file in `bytes` (`daecf fit`'s head.json) to the model.
    AddHeads {
        /// The file's name, for messages.
        name: String,
    },
    /// Send the bundle back with every head added on the page.
    Export,
    /// (To a helper.) Render `rows` images in `steps` DDIM steps from the values in `bytes`:
    /// their noise maps [rows, C, H, W] then their latents [rows, D], as f32.
    Render {
        /// Which run of the engine worker this share belongs to.
        run: u64,
        /// Images to render.
        rows: usize,
        /// DDIM render steps.
        steps: usize,
    },
}

/// A loaded model, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The bundle's name.
    pub name: String,
    /// Where it runs.
    pub backend: Backend,
    /// Preset, size, channels and provenance, in a line.
    pub summary: String,
    /// Its heads' task names.
    pub heads: Vec<String>,
    /// Why it runs on another backend than asked, if it does.
    pub note: String,
}

/// What the worker tells the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The worker listens.
    Ready,
    /// A model is loaded.
    Loaded {
        /// The model.
        model: ModelInfo,
    },
    /// The image is prepared for the model.
    Prepared {
        /// The image at the model's size, as a PNG data URL.
        preview: String,
    },
    /// DDIM steps done of the run.
    Progress {
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
    },
    /// The run's results.
    Explained {
        /// Everything the page shows.
        shown: Box<Shown>,
    },
    /// z_sem of a labelled image, or why there is none.
    Encoded {
        /// The image's place in the page's list.
        index: usize,
        /// Its z_sem, or what went wrong.
        latent: Result<Vec<f32>, String>,
    },
    /// A head was fitted and added.
    Fitted {
        /// The head and its figures.
        fitted: Box<Fitted>,
        /// The model with its heads now.
        model: ModelInfo,
    },
    /// Heads were added from a head file.
    HeadsAdded {
        /// The model with its heads now.
        model: ModelInfo,
        /// What was added.
        message: String,
    },
    /// The bundle with the page's heads, as the file in `bytes`.
    Exported {
        /// Its file name.
        name: String,
    },
    /// A request failed (or a run was cancelled); the worker is ready for the next.
    Failed {
        /// What went wrong, for the status line.
        message: String,
    },
    /// (From a helper.) DDIM steps done of a share.
    Rendering {
        /// The run.
        run: u64,
        /// Steps done.
        done: usize,
    },
    /// (From a helper.) A share's images [rows, C, H, W], as f32 values in `bytes`, or why
    /// there are none (cancelled, or an error).
    Rendered {
        /// The run.
        run: u64,
        /// Why the share was not rendered.
        failure: Option<String>,
    },
}

/// A message as the JS object that `postMessage` sends, and the buffers to transfer.
pub fn encode<T: Serialize>(message: &T, bytes: Option<&js_sys::ArrayBuffer>) -> (JsValue, js_sys::Array) {
    let object = Object::new();
    let json = serde_json::to_string(message).unwrap_or_default();
    let _ = Reflect::set(&object, &"json".into(), &json.into());
    let transfer = js_sys::Array::new();
    if let Some(buffer) = bytes {
        transfer.push(buffer);
        let _ = Reflect::set(&object, &"bytes".into(), buffer);
    }
    (object.into(), transfer)
}

/// f32 values as a JS buffer (little-endian, as wasm is).
pub fn f32_buffer(values: &[f32]) -> js_sys::ArrayBuffer {
    js_sys::Float32Array::from(values).buffer()
}

/// The f32 values in a message's bytes.
pub fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Posts `request` to `worker`, transferring `bytes`.
pub fn send(worker: &web_sys::Worker, request: &Request, bytes: Option<&js_sys::ArrayBuffer>) -> Result<(), JsValue> {
    let (message, transfer) = encode(request, bytes);
    worker.post_message_with_transfer(&message, &transfer)
}

/// A received message and the bytes it carries.
pub fn decode<T: for<'de> Deserialize<'de>>(data: &JsValue) -> Result<(T, Option<Vec<u8>>), String> {
    let json = Reflect::get(data, &"json".into()).ok().and_then(|j| j.as_string()).ok_or("a message without json")?;
    let message = serde_json::from_str(&json).map_err(|e| format!("a message that does not parse: {e}"))?;
    let bytes =
        Reflect::get(data, &"bytes".into()).ok().filter(|b| !b.is_undefined()).map(|b| Uint8Array::new(&b).to_vec());
    Ok((message, bytes))
}
