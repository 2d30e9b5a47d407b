//! The page: the model (demo bundle or the user's), the backend, the image (a sample or the
//! user's, with its crop/resize preview), the settings, the run with its progress bar and
//! cancel button, and the results. The page only draws: the engine worker ([`crate::worker`])
//! loads, prepares and explains, and answers with messages ([`crate::protocol`]).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::browser::{blob_url, build_id, fetch_asset, file_buffer, has_webgpu, register_service_worker, start_worker};
use crate::engine::{Backend, Settings};
use crate::protocol::{ModelInfo, Reply, Request, decode, send};
use crate::task_panel::{TaskPanel, TaskState};
use crate::views::{Results, Shown};

/// The sample images shipped with the page (vertebra phantoms, one per Genant grade).
pub const SAMPLES: [(&str, &str); 4] = [
    ("grade 0", "samples/vertebra_g0.png"),
    ("grade 1", "samples/vertebra_g1.png"),
    ("grade 2", "samples/vertebra_g2.png"),
    ("grade 3", "samples/vertebra_g3.png"),
];

/// The largest bundle file the page reads (the paper's largest model in f32 is far below).
const MAX_BUNDLE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// The largest image file the page reads.
pub const MAX_IMAGE_BYTES: f64 = 100.0 * 1024.0 * 1024.0;

/// The image to explain.
#[derive(Debug, Clone, PartialEq)]
struct Input {
    /// The file's stem.
    file_stem: String,
    /// The file as the user gave it, as a `blob:` URL.
    original: String,
    /// The image at the model's size, once the worker has prepared it.
    preview: Option<String>,
}

/// Where the page stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Working on it (the message says on what).
    Busy(String),
    /// Done, or waiting for the user.
    Ready(String),
    /// What went wrong.
    Failed(String),
}

/// State shared by the page's handlers.
#[derive(Clone, Copy)]
pub struct State {
    worker: StoredValue<Option<web_sys::Worker>, LocalStorage>,
    /// The loaded model.
    pub model: RwSignal<Option<ModelInfo>>,
    backend: RwSignal<Backend>,
    /// The status line.
    pub status: RwSignal<Status>,
    /// The head chosen for Explain.
    pub head: RwSignal<usize>,
    input: RwSignal<Option<Input>>,
    settings: RwSignal<Settings>,
    progress: RwSignal<Option<(usize, usize)>>,
    shown: RwSignal<Option<Shown>>,
    /// Whether file names go into the report and download names (off: hospitals' file names
    /// often carry patient ids).
    keep_names: RwSignal<bool>,
    /// The new task's panel.
    task: TaskState,
}

impl State {
    /// Shows a failure in the status line.
    pub fn fail(&self, e: String) {
        self.progress.set(None);
        self.status.set(Status::Failed(e));
    }

    /// Posts `request` (with a file's `bytes`, transferred) to the engine worker.
    pub fn send(&self, request: &Request, bytes: Option<&js_sys::ArrayBuffer>) {
        let sent = self.worker.with_value(|w| w.as_ref().map(|w| send(w, request, bytes)));
        if !matches!(sent, Some(Ok(()))) {
            self.fail("the engine worker is not running; reload the page".into());
        }
    }

    /// Loads a bundle file in the worker.
    fn load(&self, name: String, bytes: &js_sys::ArrayBuffer) {
        let backend = self.backend.get_untracked();
        self.status.set(Status::Busy(format!("loading {name} on {}", backend.label())));
        self.send(&Request::Load { name, backend }, Some(bytes));
    }

    /// Shows an image file and has the worker prepare it for the model.
    fn set_image(&self, file_stem: String, bytes: &js_sys::ArrayBuffer) {
        self.shown.set(None);
        match blob_url(bytes) {
            Ok(original) => {
                self.input.set(Some(Input { file_stem: file_stem.clone(), original, preview: None }));
                self.send(&Request::Prepare { name: file_stem }, Some(bytes));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Explains the current image.
    fn run(&self) {
        let Some(input) = self.input.get_untracked() else { return self.fail("choose an image first".into()) };
        let id = if self.keep_names.get_untracked() { input.file_stem.clone() } else { "image".into() };
        self.shown.set(None);
        self.progress.set(Some((0, 1)));
        let backend = self.model.get_untracked().map_or(self.backend.get_untracked(), |m| m.backend);
        self.status.set(Status::Busy(format!("explaining {} on {}", input.file_stem, backend.label())));
        self.send(
            &Request::Explain { head: self.head.get_untracked(), id, settings: self.settings.get_untracked() },
            None,
        );
    }

    /// What the worker says (with the bytes of a file it sends).
    fn on_reply(&self, reply: Reply, bytes: Option<Vec<u8>>) {
        if self.task.on_reply(self, &reply, bytes) {
            return;
        }
        match reply {
            Reply::Ready => spawn_local(load_demo(*self)),
            Reply::Loaded { model } => {
                let note = if model.note.is_empty() { String::new() } else { format!(" ({})", model.note) };
                self.status.set(Status::Ready(format!("{} loaded on {}{note}", model.name, model.backend.label())));
                self.backend.set(model.backend);
                self.head.set(0);
                self.shown.set(None);
                // The worker prepares the image again for this model; until then there is none.
                self.input.update(|i| {
                    if let Some(i) = i {
                        i.preview = None;
                    }
                });
                self.model.set(Some(model));
            }
            Reply::Prepared { preview } => self.input.update(|i| {
                if let Some(i) = i {
                    i.preview = Some(preview);
                }
            }),
            Reply::Progress { done, total } => self.progress.set(Some((done, total))),
            Reply::Explained { shown } => {
                self.progress.set(None);
                let secs = shown.timing.total_ms / 1e3;
                self.status.set(Status::Ready(format!(
                    "explained {} in {secs:.1} s on {}",
                    self.input.get_untracked().map_or_else(String::new, |i| i.file_stem),
                    shown.backend
                )));
                self.shown.set(Some(*shown));
            }
            Reply::Failed { message } => {
                // An image the worker could not prepare is not on the page either.
                if self.input.get_untracked().is_some_and(|i| i.preview.is_none()) {
                    self.input.set(None);
                }
                self.fail(message);
            }
            // Only helpers send these, to the engine worker.
            Reply::Rendering { .. } | Reply::Rendered { .. } => {}
            // The new task's panel takes these.
            Reply::Encoded { .. } | Reply::Fitted { .. } | Reply::HeadsAdded { .. } | Reply::Exported { .. } => {}
        }
    }
}

/// Fetches the demo bundle and loads it.
async fn load_demo(state: State) {
    match fetch_asset("demo.daecf").await {
        Ok(bytes) => state.load("demo.daecf".into(), &bytes),
        Err(e) => state.fail(format!("the demo model did not load: {e}")),
    }
}

/// The message for a file over the size the page reads.
fn too_big(file: &web_sys::File, limit: f64, what: &str) -> String {
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    format!("{} is {:.0} MiB; the page reads {what} up to {:.0} MiB", file.name(), mib(file.size()), mib(limit))
}

/// The file of a change or drop event.
fn first_file(files: Option<web_sys::FileList>) -> Option<web_sys::File> {
    files.and_then(|f| f.get(0))
}

fn stem(name: &str) -> String {
    name.rsplit_once('.').map_or(name, |(s, _)| s).to_string()
}

/// Starts the engine worker and routes its messages to the state.
fn connect(state: State) {
    let worker = match start_worker(false) {
        Ok(worker) => worker,
        Err(e) => return state.fail(e),
    };
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            match decode::<Reply>(&event.data()) {
                Ok((reply, bytes)) => state.on_reply(reply, bytes),
                Err(e) => state.fail(e),
            }
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        state.fail("the engine worker stopped; reload the page to start again".into())
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    state.worker.set_value(Some(worker));
}

/// The app.
#[component]
pub fn App() -> impl IntoView {
    register_service_worker();
    let state = State {
        worker: StoredValue::new_local(None),
        model: RwSignal::new(None),
        backend: RwSignal::new(if has_webgpu() { Backend::WebGpu } else { Backend::Cpu }),
        status: RwSignal::new(Status::Busy("loading the demo model".into())),
        head: RwSignal::new(0),
        input: RwSignal::new(None),
        settings: RwSignal::new(Settings::FAST),
        progress: RwSignal::new(None),
        shown: RwSignal::new(None),
        keep_names: RwSignal::new(false),
        task: TaskState::default(),
    };
    connect(state);

    let load_sample = move |path: &'static str| {
        spawn_local(async move {
            match fetch_asset(path).await {
                Ok(bytes) => state.set_image(stem(path.rsplit('/').next().unwrap_or(path)), &bytes),
                Err(e) => state.fail(e),
            }
        })
    };
    let take_image = move |file: Option<web_sys::File>| {
        if let Some(file) = file {
            if file.size() > MAX_IMAGE_BYTES {
                return state.fail(too_big(&file, MAX_IMAGE_BYTES, "images"));
            }
            spawn_local(async move {
                match file_buffer(&file).await {
                    Ok(bytes) => state.set_image(stem(&file.name()), &bytes),
                    Err(e) => state.fail(e),
                }
            })
        }
    };
    let take_bundle = move |file: Option<web_sys::File>| {
        if let Some(file) = file {
            if file.size() > MAX_BUNDLE_BYTES {
                return state.fail(too_big(&file, MAX_BUNDLE_BYTES, "bundles"));
            }
            spawn_local(async move {
                match file_buffer(&file).await {
                    Ok(bytes) => state.load(file.name(), &bytes),
                    Err(e) => state.fail(e),
                }
            })
        }
    };
    let switch_backend = move |value: String| {
        let backend = if value == "webgpu" { Backend::WebGpu } else { Backend::Cpu };
        state.backend.set(backend);
        if state.model.get_untracked().is_some() {
            state.status.set(Status::Busy(format!("loading the model on {}", backend.label())));
            state.send(&Request::Switch { backend }, None);
        }
    };
    let cancel = move || state.send(&Request::Cancel, None);
    let busy = move || matches!(state.status.get(), Status::Busy(_)) || state.progress.get().is_some();
    let prepared = move || state.input.get().is_some_and(|i| i.preview.is_some());

    view! {
        <header>
            <h1>"daecf"</h1>
            <p>"Counterfactual explanations of an image grader with a Diffusion Autoencoder, computed in this browser. "
               <b>"Your image never leaves this page"</b>": nothing is uploaded or stored."</p>
        </header>
        <main>
        <p id="status" role="status" aria-live="polite" class=move || match state.status.get() { Status::Busy(_) => "busy", Status::Ready(_) => "ready", Status::Failed(_) => "failed" }>
            {move || match state.status.get() { Status::Busy(m) => format!("{m} ..."), Status::Ready(m) | Status::Failed(m) => m }}
        </p>
        <section class="panel">
            <h2>"Model"</h2>
            <p>
                "Runs on: " <b id="backend-name">{move || state.backend.get().label()}</b> " "
                <select id="backend-select" aria-label="backend" disabled=busy on:change=move |ev| switch_backend(event_target_value(&ev)) prop:value=move || if state.backend.get() == Backend::WebGpu { "webgpu" } else { "cpu" }>
                    <option value="webgpu">"WebGPU"</option>
                    <option value="cpu">"CPU (wasm)"</option>
                </select>
            </p>
            <p id="model-info">{move || state.model.get().map(|m| m.summary).unwrap_or_default()}</p>
            <p>
                "Task: "
                <select id="head-select" aria-label="task" on:change=move |ev| state.head.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {move || state.model.get().map(|m| m.heads.into_iter().enumerate().map(|(i, task)| view! { <option value=i.to_string() prop:selected=move || state.head.get() == i>{task}</option> }).collect_view())}
                </select>
                " · "
                <label for="bundle-file">"your own bundle (.daecf): "</label>
                <input type="file" id="bundle-file" accept=".daecf" disabled=busy on:change=move |ev| take_bundle(first_file(event_target::<web_sys::HtmlInputElement>(&ev).files())) />
            </p>
        </section>
        <section class="panel">
            <h2>"Image"</h2>
            <p>
                "Samples: "
                {SAMPLES.iter().enumerate().map(|(i, &(label, path))| view! {
                    <button id=format!("sample-{i}") on:click=move |_| load_sample(path)>{label}</button>
                }).collect_view()}
            </p>
            <div class="drop" on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
                on:drop=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); take_image(first_file(ev.data_transfer().and_then(|d| d.files()))) }>
                "Drop a PNG or JPEG here (grey or RGB, any size), or "
                <label for="image-file">"choose one: "</label>
                <input type="file" id="image-file" accept="image/png,image/jpeg" on:change=move |ev| take_image(first_file(event_target::<web_sys::HtmlInputElement>(&ev).files())) />
            </div>
            <p>
                <label>
                    <input type="checkbox" id="keep-names" prop:checked=move || state.keep_names.get()
                        on:change=move |_| state.keep_names.update(|v| *v = !*v) />
                    " use the file's name in the report and download names (off: they say \"image\"; file names often carry patient ids)"
                </label>
            </p>
            {move || state.input.get().map(|input| view! {
                <div class="row">
                    <figure><img class="upload" src=input.original alt="your image" /><figcaption>"as given"</figcaption></figure>
                    {input.preview.map(|preview| view! {
                        <figure><img class="scan" id="preview" src=preview alt="model input" /><figcaption>"resized and centre-cropped to the model's size"</figcaption></figure>
                    })}
                </div>
            })}
        </section>
        <section class="panel">
            <h2>"Explain"</h2>
            <p>
                "DDIM steps: "
                <select id="preset" aria-label="DDIM steps" on:change=move |ev| state.settings.set(if event_target_value(&ev) == "quality" { Settings::QUALITY } else { Settings::FAST })>
                    <option value="fast">"fast (50 encode / 20 render)"</option>
                    <option value="quality">"quality, as the paper (250 / 100)"</option>
                </select>
                " encode "
                <input type="number" id="t-encode" aria-label="encoding steps" min="1" max="1000" prop:value=move || state.settings.get().encode.to_string()
                    on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<usize>() { state.settings.update(|s| s.encode = v.clamp(1, 1000)) } } />
                " render "
                <input type="number" id="t-render" aria-label="rendering steps" min="1" max="1000" prop:value=move || state.settings.get().render.to_string()
                    on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<usize>() { state.settings.update(|s| s.render = v.clamp(1, 1000)) } } />
            </p>
            <p>
                <button id="explain" disabled=move || busy() || !prepared() on:click=move |_| state.run()>"Explain"</button>
                " "
                <button id="cancel" disabled=move || state.progress.get().is_none() on:click=move |_| cancel()>"Cancel"</button>
                " "
                {move || state.progress.get().map(|(done, total)| view! {
                    <progress id="progress" aria-label="DDIM steps done" max=total.to_string() value=done.to_string()></progress>
                    {format!(" {done} / {total} DDIM steps")}
                })}
            </p>
        </section>
        {move || state.shown.get().map(|shown| view! { <Results shown=shown /> })}
        <TaskPanel state=state task=state.task />
        </main>
        <footer id="version">{version()}</footer>
    }
}

/// The app's version, release name (`DAECF_RELEASE` at build time) and build, for the footer.
fn version() -> String {
    let release = option_env!("DAECF_RELEASE").map(|r| format!(" \u{b7} release {r}")).unwrap_or_default();
    format!("daecf-web {}{release} \u{b7} build {}", env!("CARGO_PKG_VERSION"), build_id())
}
