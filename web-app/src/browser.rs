//! What the page asks of the browser: its own static assets, the bytes of a file the user
//! picked, the event loop's turn between DDIM steps, a clock, WebGPU detection and the
//! offline service worker. Every request goes to the page's own origin.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no window: daecf-web must run in a browser page".to_string())
}

fn js_error(what: &str, e: JsValue) -> String {
    format!(
        "{what}: {}",
        e.as_string().or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string())).unwrap_or_default()
    )
}

/// The bytes of one of the app's own files (a path relative to the page).
pub async fn fetch_asset(path: &str) -> Result<Vec<u8>, String> {
    let response =
        JsFuture::from(window()?.fetch_with_str(path)).await.map_err(|e| js_error(&format!("loading {path}"), e))?;
    let response: web_sys::Response = response.dyn_into().map_err(|e| js_error("fetch", e))?;
    if !response.ok() {
        return Err(format!("loading {path}: HTTP {}", response.status()));
    }
    let buffer = response.array_buffer().map_err(|e| js_error(path, e))?;
    let buffer = JsFuture::from(buffer).await.map_err(|e| js_error(path, e))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The bytes of a file the user picked or dropped (read locally; nothing is uploaded).
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer =
        JsFuture::from(file.array_buffer()).await.map_err(|e| js_error(&format!("reading {}", file.name()), e))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Gives the event loop a turn (a zero-delay timeout), so the page repaints and clicks land.
pub async fn next_tick() {
    let promise = Promise::new(&mut |resolve, _| {
        if let Ok(w) = window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the page opened.
pub fn now_ms() -> f64 {
    window().ok().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Whether the browser exposes WebGPU (`navigator.gpu`); an adapter may still be refused.
pub fn has_webgpu() -> bool {
    window().is_ok_and(|w| Reflect::has(&w.navigator(), &JsValue::from_str("gpu")).unwrap_or(false))
}

/// Registers the service worker that keeps the app working offline (ignored where the browser
/// has none, e.g. on a non-secure origin).
pub fn register_service_worker() {
    if let Ok(w) = window() {
        let navigator = w.navigator();
        if Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
            let _ = navigator.service_worker().register("./sw.js");
        }
    }
}

/// Replaces the status line with the message of a crash and a button that reloads the page:
/// after a panic the app's state cannot be trusted, and the page must not look busy forever.
pub fn show_crash(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(status) = document.get_element_by_id("status") else { return };
    status.set_class_name("failed");
    status.set_text_content(Some(&format!(
        "daecf stopped on an internal error ({message}). Reload the page to start again; nothing was sent anywhere. "
    )));
    if let Ok(button) = document.create_element("button") {
        button.set_id("reload");
        button.set_text_content(Some("Reload"));
        let _ = button.set_attribute("onclick", "location.reload()");
        let _ = status.append_child(&button);
    }
}
