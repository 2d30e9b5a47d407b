//! What the page and its engine worker ask of the browser: the app's own static assets, the
//! bytes of a file the user picked, the event loop's turn between DDIM steps, a clock, WebGPU
//! detection, the engine worker and the offline service worker. Every request goes to the
//! page's own origin. The clock, the event loop's turn and WebGPU detection work in the page
//! and in a worker (through the global scope).

use js_sys::{Promise, Reflect};
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

/// One of the app's own files (a path relative to the page), as a JS buffer: the page hands it
/// to the worker without copying it into its own memory.
pub async fn fetch_asset(path: &str) -> Result<js_sys::ArrayBuffer, String> {
    let response =
        JsFuture::from(window()?.fetch_with_str(path)).await.map_err(|e| js_error(&format!("loading {path}"), e))?;
    let response: web_sys::Response = response.dyn_into().map_err(|e| js_error("fetch", e))?;
    if !response.ok() {
        return Err(format!("loading {path}: HTTP {}", response.status()));
    }
    let buffer = response.array_buffer().map_err(|e| js_error(path, e))?;
    let buffer = JsFuture::from(buffer).await.map_err(|e| js_error(path, e))?;
    buffer.dyn_into().map_err(|e| js_error(path, e))
}

/// A file the user picked or dropped, as a JS buffer (read locally; nothing is uploaded).
pub async fn file_buffer(file: &web_sys::File) -> Result<js_sys::ArrayBuffer, String> {
    let reading = format!("reading {}", file.name());
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| js_error(&reading, e))?;
    buffer.dyn_into().map_err(|e| js_error(&reading, e))
}

/// A function of the global scope (the page's window or the worker's scope), called on it.
fn call_global(name: &str, args: &js_sys::Array) -> Option<JsValue> {
    let global = js_sys::global();
    let function: js_sys::Function = Reflect::get(&global, &name.into()).ok()?.dyn_into().ok()?;
    function.apply(&global, args).ok()
}

/// Gives the event loop a turn (a zero-delay timeout), so messages (a Cancel) land and the page
/// repaints.
pub async fn next_tick() {
    sleep(0).await;
}

/// Waits `ms` milliseconds (a timeout), leaving the thread to other work.
pub async fn sleep(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| {
        call_global("setTimeout", &js_sys::Array::of2(&resolve, &JsValue::from(ms)));
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the page (or worker) started.
pub fn now_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &"performance".into()).ok();
    let now = performance.as_ref().and_then(|p| Reflect::get(p, &"now".into()).ok());
    now.and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(performance.as_ref().unwrap_or(&JsValue::NULL)).ok())
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0)
}

/// Whether the browser exposes WebGPU (`navigator.gpu`) here; an adapter may still be refused.
pub fn has_webgpu() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .is_ok_and(|navigator| Reflect::has(&navigator, &JsValue::from_str("gpu")).unwrap_or(false))
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The URL of this module's JS (its name carries the build's hash).
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static MODULE_URL: String;

    /// A service worker registration (`ServiceWorkerRegistration`).
    type Registration;

    /// Looks for a newer service worker script.
    #[wasm_bindgen(method, catch)]
    fn update(this: &Registration) -> Result<Promise, JsValue>;
}

/// Starts a worker (`worker.js`, a module worker running this app's wasm): the engine worker,
/// or (`helper`) one of its helpers. Its first message is this module's JS URL and the compiled
/// module, which the worker instantiates, and its role.
pub fn start_worker(helper: bool) -> Result<web_sys::Worker, String> {
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options("worker.js", &options)
        .map_err(|e| js_error("starting the engine worker", e))?;
    let start = js_sys::Object::new();
    let _ = Reflect::set(&start, &"glue".into(), &MODULE_URL.with(|url| url.into()));
    let _ = Reflect::set(&start, &"module".into(), &wasm_bindgen::module());
    let _ = Reflect::set(&start, &"helper".into(), &helper.into());
    worker.post_message(&start).map_err(|e| js_error("starting the engine worker", e))?;
    Ok(worker)
}

/// A `blob:` URL of a file's bytes, for showing it without copying it into the page's text.
pub fn blob_url(buffer: &js_sys::ArrayBuffer) -> Result<String, String> {
    let parts = js_sys::Array::of1(buffer);
    let blob = web_sys::Blob::new_with_buffer_source_sequence(&parts).map_err(|e| js_error("an image blob", e))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| js_error("an image URL", e))
}

/// Registers the service worker that keeps the app working offline (ignored where the browser
/// has none, e.g. on a non-secure origin), and asks it to look for a newer build: the page
/// itself comes from the network first, so it may already be newer than the build the service
/// worker keeps, and Chromium does not look on a reload by itself.
pub fn register_service_worker() {
    let Ok(w) = window() else { return };
    let navigator = w.navigator();
    if !Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    let registering = navigator.service_worker().register("./sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(registering).await else { return };
        let registration: Registration = registration.unchecked_into();
        if let Ok(update) = registration.update() {
            let _ = JsFuture::from(update).await;
        }
    });
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

/// The build this page belongs to (the hash scripts/web-stamp.sh writes into index.html), or
/// "unstamped" for a page built without it.
pub fn build_id() -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("meta[name=daecf-build]").ok().flatten())
        .and_then(|meta| meta.get_attribute("content"))
        .unwrap_or_else(|| "unstamped".into())
}
