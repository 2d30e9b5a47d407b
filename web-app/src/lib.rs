//! # daecf-web
//!
//! The daecf browser app: a clinician opens the page, drops a scan and sees, computed on their
//! own machine (WebGPU when the browser has it, a CPU wasm backend otherwise), the grade and
//! the counterfactual images of a Diffusion Autoencoder bundle. The image never leaves the
//! page; after the first visit the app works offline.
//!
//! The page's thread only draws: a dedicated Web Worker runs the engine (model loading, image
//! decoding, the DDIM steps, picture encoding), so the page never freezes.
//!
//! - [`engine`]: devices, the loaded bundle, and the explanation run (one DDIM step at a
//!   time, with progress, cancelling and timings).
//! - [`worker`] and [`protocol`]: the engine worker and the messages between it and the page.
//! - [`helpers`]: the CPU path's helper workers, which render shares of a run on other cores.
//! - [`browser`]: what the page asks of the browser: files, its own assets, the event loop.
//! - [`picture`]: tensors to pictures, and pictures to PNG/GIF/JSON data URLs.
//! - [`task`]: a new task on the page: labelled images to z_sem, a head fitted on them.
//! - [`app`], [`views`] and [`task_panel`]: the Leptos page.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod helpers;
#[cfg(target_arch = "wasm32")]
mod picture;
#[cfg(target_arch = "wasm32")]
mod protocol;
#[cfg(target_arch = "wasm32")]
mod task;
#[cfg(target_arch = "wasm32")]
mod task_panel;
#[cfg(target_arch = "wasm32")]
mod views;
#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// The module's static constructors, synthesised by wasm-ld.
    fn __wasm_call_ctors();
}

/// Starts the module: in a page, the app; in the engine worker, nothing until `worker_main`.
///
/// It runs the static constructors (Burn's backends register many, through cubecl's
/// `inventory`) once. A module that never calls them itself gets them run at the start of every
/// export (wasm-ld's "command" linking), which made each call from JS into wasm cost
/// milliseconds: 300 ms of the page's thread to show one result.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    // SAFETY: called once, first, before any other code of the module runs.
    unsafe { __wasm_call_ctors() };
    // The same module runs the page and, started by worker.js, the engine worker.
    let in_page = web_sys::window().is_some();
    std::panic::set_hook(Box::new(move |info| {
        console_error_panic_hook::hook(info);
        if in_page {
            browser::show_crash(&info.to_string());
        } else {
            worker::report_crash(&info.to_string());
        }
    }));
    if in_page {
        leptos::mount::mount_to_body(app::App);
    }
}
