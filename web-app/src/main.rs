//! # daecf-web
//!
//! The daecf browser app: a clinician opens the page, drops a scan and sees, computed on their
//! own machine (WebGPU when the browser has it, a CPU wasm backend otherwise), the grade and
//! the counterfactual images of a Diffusion Autoencoder bundle. The image never leaves the
//! page; after the first visit the app works offline.
//!
//! - [`engine`]: devices, the loaded bundle, and the explanation run (one DDIM step at a
//!   time, with progress, cancelling and timings).
//! - [`browser`]: what the page asks of the browser: files, its own assets, the event loop.
//! - [`picture`]: tensors to pictures, and pictures to PNG/GIF/JSON data URLs.
//! - [`app`] and [`views`]: the Leptos page.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod picture;
#[cfg(target_arch = "wasm32")]
mod views;

#[cfg(target_arch = "wasm32")]
fn main() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        browser::show_crash(&info.to_string());
    }));
    leptos::mount::mount_to_body(app::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("daecf-web runs in the browser: build it with `scripts/web.sh` (or `trunk serve` in web-app/).");
    std::process::exit(2);
}
