//! The page: the model (demo bundle or the user's), the backend, the image (a sample or the
//! user's, with its crop/resize preview), the settings, the run with its progress bar and
//! cancel button, and the results.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use daecf_core::data::ImageSpec;
use daecf_core::data::images::prepare_bytes;
use daecf_models::Bundle;
use leptos::prelude::*;
use leptos::task::spawn_local;
use ndarray::Array3;

use crate::browser::{fetch_asset, file_bytes, has_webgpu, register_service_worker};
use crate::engine::{Backend, Devices, LoadError, Loaded, Settings, explain};
use crate::picture::{png_url, upload_url};
use crate::views::{Results, Shown};

/// The sample images shipped with the page (vertebra phantoms, one per Genant grade).
const SAMPLES: [(&str, &str); 4] = [
    ("grade 0", "samples/vertebra_g0.png"),
    ("grade 1", "samples/vertebra_g1.png"),
    ("grade 2", "samples/vertebra_g2.png"),
    ("grade 3", "samples/vertebra_g3.png"),
];

/// The largest bundle file the page reads (the paper's largest model in f32 is far below).
const MAX_BUNDLE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// The largest image file the page reads.
const MAX_IMAGE_BYTES: f64 = 100.0 * 1024.0 * 1024.0;

/// The image to explain.
#[derive(Debug, Clone, PartialEq)]
struct Input {
    /// Its name in the report and downloads: `image`, or the file's stem when the user asks.
    id: String,
    /// The file's stem.
    file_stem: String,
    /// The file's bytes, to prepare it again for another model.
    bytes: Arc<[u8]>,
    /// The file as the user gave it.
    original: String,
    /// At the model's size and channels, in [0, 1].
    prepared: Array3<f32>,
    /// `prepared` as a picture.
    preview: String,
}

/// Where the page stands.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Busy(String),
    Ready(String),
    Failed(String),
}

/// State shared by the page's handlers.
#[derive(Clone, Copy)]
struct State {
    devices: StoredValue<Rc<RefCell<Devices>>, LocalStorage>,
    loaded: StoredValue<Option<Rc<Loaded>>, LocalStorage>,
    /// Bumped whenever `loaded` changes, so views that read it update.
    model_version: RwSignal<u32>,
    backend: RwSignal<Backend>,
    status: RwSignal<Status>,
    head: RwSignal<usize>,
    input: RwSignal<Option<Input>>,
    settings: RwSignal<Settings>,
    progress: RwSignal<Option<(usize, usize)>>,
    cancel: StoredValue<Rc<Cell<bool>>, LocalStorage>,
    shown: RwSignal<Option<Shown>>,
    /// Whether file names go into the report and download names (off: hospitals' file names
    /// often carry patient ids).
    keep_names: RwSignal<bool>,
}

impl State {
    fn loaded(&self) -> Option<Rc<Loaded>> {
        self.loaded.with_value(|l| l.clone())
    }

    fn fail(&self, e: String) {
        self.status.set(Status::Failed(e));
    }

    /// Loads `bundle` on the chosen backend, falling back to the CPU when WebGPU fails.
    async fn load(self, bundle: Bundle, name: String) {
        let wanted = self.backend.get_untracked();
        self.status.set(Status::Busy(format!("loading {name} on {}", wanted.label())));
        // Taken out for the awaits, so no RefCell borrow is held across them.
        let mut devices = std::mem::take(&mut *self.devices.get_value().borrow_mut());
        let mut note = String::new();
        let mut loaded = Loaded::new(bundle.clone(), name.clone(), wanted, &mut devices).await;
        // Only a device that will not start sends the model to the CPU; a bad bundle fails on
        // every backend.
        if let (Err(LoadError::Device(e)), Backend::WebGpu) = (&loaded, wanted) {
            note = format!(" ({e}; using the CPU instead)");
            self.backend.set(Backend::Cpu);
            loaded = Loaded::new(bundle, name.clone(), Backend::Cpu, &mut devices).await;
        }
        *self.devices.get_value().borrow_mut() = devices;
        match loaded {
            Ok(l) => {
                let backend = l.backend;
                self.loaded.set_value(Some(Rc::new(l)));
                self.head.set(0);
                self.model_version.update(|v| *v += 1);
                self.shown.set(None);
                self.status.set(Status::Ready(format!("{name} loaded on {}{note}", backend.label())));
                // The image on the page is prepared again for this model's size and channels.
                if let Some(input) = self.input.get_untracked() {
                    self.set_image(input.file_stem, input.bytes);
                }
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// Prepares an image file for the loaded model.
    fn set_image(&self, file_stem: String, bytes: Arc<[u8]>) {
        let Some(loaded) = self.loaded() else { return self.fail("load a model first".into()) };
        let c = &loaded.model.config;
        self.input.set(None);
        self.shown.set(None);
        let prepared = prepare_bytes(&bytes, ImageSpec { size: c.image_size, channels: c.in_channels })
            .map_err(|e| match e {
                daecf_core::DaecfError::Data(reason) => format!("{file_stem}: {reason}"),
                e => format!("{file_stem}: {e}"),
            })
            .and_then(|prepared| {
                let preview = daecf_core::data::images::to_picture(prepared.view()).map_err(|e| e.to_string())?;
                Ok((prepared, png_url(&preview.to_rgb8())))
            });
        match prepared {
            Ok((prepared, preview)) => {
                let id = if self.keep_names.get_untracked() { file_stem.clone() } else { "image".into() };
                let original = upload_url(&bytes);
                self.input.set(Some(Input { id, file_stem, bytes, original, prepared, preview }));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Explains the current image.
    async fn run(self) {
        let (Some(loaded), Some(input)) = (self.loaded(), self.input.get_untracked()) else {
            return self.fail("choose a model and an image first".into());
        };
        let Some(head) = loaded.heads().get(self.head.get_untracked()).cloned() else {
            return self.fail("the bundle has no heads".into());
        };
        let cancel = self.cancel.get_value();
        cancel.set(false);
        self.shown.set(None);
        self.status.set(Status::Busy(format!("explaining {} on {}", input.id, loaded.backend.label())));
        let progress = |done: usize, total: usize| self.progress.set(Some((done, total)));
        let result =
            explain(&loaded, &head, &input.id, &input.prepared, self.settings.get_untracked(), &cancel, &progress)
                .await;
        self.progress.set(None);
        match result {
            Ok(outcome) => {
                let secs = outcome.timing.total_ms / 1e3;
                self.shown.set(Some(Shown::new(&outcome)));
                self.status.set(Status::Ready(format!(
                    "explained {} in {secs:.1} s on {}",
                    input.id,
                    loaded.backend.label()
                )));
            }
            Err(e) => self.fail(e),
        }
    }
}

/// The file of a change or drop event.
fn first_file(files: Option<web_sys::FileList>) -> Option<web_sys::File> {
    files.and_then(|f| f.get(0))
}

/// The message for a file over the size the page reads.
fn too_big(file: &web_sys::File, limit: f64, what: &str) -> String {
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    format!("{} is {:.0} MiB; the page reads {what} up to {:.0} MiB", file.name(), mib(file.size()), mib(limit))
}

fn stem(name: &str) -> String {
    name.rsplit_once('.').map_or(name, |(s, _)| s).to_string()
}

/// The app.
#[component]
pub fn App() -> impl IntoView {
    register_service_worker();
    let state = State {
        devices: StoredValue::new_local(Rc::new(RefCell::new(Devices::default()))),
        loaded: StoredValue::new_local(None),
        model_version: RwSignal::new(0),
        backend: RwSignal::new(if has_webgpu() { Backend::WebGpu } else { Backend::Cpu }),
        status: RwSignal::new(Status::Busy("loading the demo model".into())),
        head: RwSignal::new(0),
        input: RwSignal::new(None),
        settings: RwSignal::new(Settings::FAST),
        progress: RwSignal::new(None),
        cancel: StoredValue::new_local(Rc::new(Cell::new(false))),
        shown: RwSignal::new(None),
        keep_names: RwSignal::new(false),
    };
    spawn_local(async move {
        match fetch_asset("demo.daecf").await.and_then(|b| Bundle::from_bytes(&b).map_err(|e| e.to_string())) {
            Ok(bundle) => state.load(bundle, "demo.daecf".into()).await,
            Err(e) => state.fail(format!("the demo model did not load: {e}")),
        }
    });

    let load_sample = move |path: &'static str| {
        spawn_local(async move {
            match fetch_asset(path).await {
                Ok(bytes) => state.set_image(stem(path.rsplit('/').next().unwrap_or(path)), bytes.into()),
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
                match file_bytes(&file).await {
                    Ok(bytes) => state.set_image(stem(&file.name()), bytes.into()),
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
                let bundle = file_bytes(&file)
                    .await
                    .and_then(|b| Bundle::from_bytes(&b).map_err(|e| format!("{}: {e}", file.name())));
                match bundle {
                    Ok(b) => state.load(b, file.name()).await,
                    Err(e) => state.fail(e),
                }
            })
        }
    };
    let switch_backend = move |value: String| {
        let backend = if value == "webgpu" { Backend::WebGpu } else { Backend::Cpu };
        state.backend.set(backend);
        if let Some(l) = state.loaded() {
            let (bundle, name) = (l.bundle.clone(), l.name.clone());
            spawn_local(async move { state.load(bundle, name).await });
        }
    };
    let busy = move || matches!(state.status.get(), Status::Busy(_)) || state.progress.get().is_some();

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
            <p id="model-info">{move || {
                state.model_version.get();
                state.loaded().map(|l| {
                    let h = &l.bundle.header;
                    format!("{}: {} ({}x{}, {} channel(s)), trained on {} for {} steps; daecf {}",
                        l.name, h.preset.map_or_else(|| "custom".to_string(), |p| p.to_string()), h.model.image_size, h.model.image_size, h.model.in_channels,
                        h.provenance.training_data, h.provenance.steps.map_or("?".into(), |s| s.to_string()), h.provenance.daecf_version)
                }).unwrap_or_default()
            }}</p>
            <p>
                "Task: "
                <select id="head-select" aria-label="task" on:change=move |ev| state.head.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {move || { state.model_version.get(); state.loaded().map(|l| l.heads().iter().enumerate().map(|(i, h)| view! { <option value=i.to_string()>{h.task.name.clone()}</option> }).collect_view()) }}
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
                    <figure><img class="scan" id="preview" src=input.preview alt="model input" /><figcaption>"resized and centre-cropped to the model's size"</figcaption></figure>
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
                <button id="explain" disabled=move || busy() || state.input.get().is_none() on:click=move |_| spawn_local(state.run())>"Explain"</button>
                " "
                <button id="cancel" disabled=move || state.progress.get().is_none() on:click=move |_| state.cancel.get_value().set(true)>"Cancel"</button>
                " "
                {move || state.progress.get().map(|(done, total)| view! {
                    <progress id="progress" aria-label="DDIM steps done" max=total.to_string() value=done.to_string()></progress>
                    {format!(" {done} / {total} DDIM steps")}
                })}
            </p>
        </section>
        {move || state.shown.get().map(|shown| view! { <Results shown=shown /> })}
        </main>
    }
}
