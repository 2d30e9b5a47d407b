//! The page's "new task" panel: the user adds labelled images (files, or the samples with their
//! grades), the engine worker computes their z_sem, and a linear head is fitted on them in the
//! worker ([`crate::task`]); the head joins the model's heads, so Explain uses it, and can be
//! downloaded as `daecf fit`'s head.json or in a copy of the bundle. A head.json can be loaded
//! back.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::app::{MAX_IMAGE_BYTES, SAMPLES, State, Status};
use crate::browser::{blob_url, fetch_asset, file_buffer};
use crate::picture::data_url;
use crate::protocol::{Reply, Request};
use crate::task::{Fitted, MIN_PER_CLASS};

/// A labelled image of the new task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskItem {
    /// The file's name (shown on the page only).
    pub name: String,
    /// Its label: 0/1, or a grade.
    pub label: i64,
    /// Its z_sem once computed, or why it could not be.
    pub latent: Option<Result<Vec<f32>, String>>,
}

/// The panel's state.
#[derive(Clone, Copy, Default)]
pub struct TaskState {
    /// The labelled images.
    pub items: RwSignal<Vec<TaskItem>>,
    /// The last head fitted, with its figures.
    pub fitted: RwSignal<Option<Fitted>>,
    /// The bundle with the page's heads: its file name and `blob:` URL.
    pub bundle: RwSignal<Option<(String, String)>>,
}

impl TaskState {
    /// Takes the worker's answers that concern the panel; false for the others.
    pub fn on_reply(&self, state: &State, reply: &Reply, bytes: Option<Vec<u8>>) -> bool {
        match reply {
            Reply::Encoded { index, latent } => {
                self.items.update(|items| {
                    if let Some(item) = items.get_mut(*index) {
                        item.latent = Some(latent.clone());
                    }
                });
            }
            Reply::Fitted { fitted, model } => {
                state.model.set(Some(model.clone()));
                state.head.set(model.heads.len() - 1);
                state.status.set(Status::Ready(format!("fitted a head for '{}'; Explain uses it", fitted.task)));
                self.fitted.set(Some((**fitted).clone()));
                self.bundle.set(None);
            }
            Reply::HeadsAdded { model, message } => {
                state.model.set(Some(model.clone()));
                state.head.set(model.heads.len() - 1);
                state.status.set(Status::Ready(message.clone()));
                self.bundle.set(None);
            }
            Reply::Exported { name } => {
                let buffer = js_sys::Uint8Array::from(bytes.unwrap_or_default().as_slice()).buffer();
                match blob_url(&buffer) {
                    Ok(url) => self.bundle.set(Some((name.clone(), url))),
                    Err(e) => state.fail(e),
                }
            }
            _ => return false,
        }
        true
    }

    /// Adds an image with `label` and has the worker compute its z_sem.
    fn add(&self, state: State, name: String, label: i64, bytes: &js_sys::ArrayBuffer) {
        let index = self.items.with_untracked(Vec::len);
        self.items.update(|items| items.push(TaskItem { name, label, latent: None }));
        state.send(&Request::Encode { index }, Some(bytes));
    }

    /// The labels and latents of the images whose z_sem is computed.
    fn labelled(&self) -> (Vec<i64>, Vec<Vec<f32>>) {
        self.items.with_untracked(|items| {
            items.iter().filter_map(|i| i.latent.as_ref()?.as_ref().ok().map(|l| (i.label, l.clone()))).unzip()
        })
    }
}

/// Whether a file's name says PNG or JPEG (a folder may hold other files).
fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg"].iter().any(|ext| lower.ends_with(ext))
}

/// Adds the PNG and JPEG files (of a pick or a folder), in name order.
fn add_files(state: State, task: TaskState, files: Option<web_sys::FileList>) {
    let Some(files) = files else { return };
    let mut files: Vec<web_sys::File> =
        (0..files.length()).filter_map(|i| files.get(i)).filter(|f| is_image_name(&f.name())).collect();
    files.sort_by_key(|f| f.name());
    spawn_local(async move {
        for file in files {
            if file.size() > MAX_IMAGE_BYTES {
                state.fail(format!("{} is over {:.0} MiB; skipped", file.name(), MAX_IMAGE_BYTES / 1048576.0));
                continue;
            }
            match file_buffer(&file).await {
                Ok(bytes) => task.add(state, file.name(), 0, &bytes),
                Err(e) => state.fail(e),
            }
        }
    });
}

fn add_samples(state: State, task: TaskState) {
    spawn_local(async move {
        for (grade, (_, path)) in SAMPLES.iter().enumerate() {
            match fetch_asset(path).await {
                Ok(bytes) => task.add(state, path.rsplit('/').next().unwrap_or(path).into(), grade as i64, &bytes),
                Err(e) => state.fail(e),
            }
        }
    });
}

fn fit(state: State, task: TaskState, name: String) {
    let (labels, latents) = task.labelled();
    state.status.set(Status::Busy(format!("fitting a head for '{name}' on {} images", labels.len())));
    state.send(&Request::Fit { name, labels, latents }, None);
}

fn load_head_file(state: State, file: Option<web_sys::File>) {
    let Some(file) = file else { return };
    spawn_local(async move {
        match file_buffer(&file).await {
            Ok(bytes) => state.send(&Request::AddHeads { name: file.name() }, Some(&bytes)),
            Err(e) => state.fail(e),
        }
    });
}

/// What the last fit measured, in a line.
fn figures(f: &Fitted) -> String {
    let counts: Vec<String> = f.per_label.iter().map(|(l, n)| format!("{n} x label {l}")).collect();
    let auc = f.auc.map_or(String::new(), |(m, sd)| format!("; ROC-AUC {m:.3} ± {sd:.3} over {} folds", f.folds));
    let mae = f.mae.map_or(String::new(), |(m, sd)| format!("; grade MAE {m:.3} ± {sd:.3}"));
    format!("'{}' on {}{auc}{mae}", f.task, counts.join(", "))
}

/// The panel.
#[component]
pub fn TaskPanel(state: State, task: TaskState) -> impl IntoView {
    let name = RwSignal::new("new task".to_string());
    // A folder picker: the attribute has no typed setter in Leptos.
    let folder = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = folder.get() {
            let _ = input.set_attribute("webkitdirectory", "");
        }
    });
    let encoded = move || task.items.with(|items| items.iter().filter(|i| matches!(i.latent, Some(Ok(_)))).count());
    let no_model = move || state.model.get().is_none();
    let set_label = move |index: usize, value: String| {
        if let Ok(label) = value.trim().parse::<i64>() {
            task.items.update(|items| items[index].label = label);
        }
    };
    view! {
        <section class="panel">
            <h2>"New task"</h2>
            <p>"Label a few images, fit a linear head on their z_sem here, and explain with it. Label 0 is the negative \
                class; a label above 0 is positive, and labels 0, 1, 2, ... are grades."</p>
            <p>
                <label for="task-name">"Task: "</label>
                <input type="text" id="task-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                " "
                <label for="task-files">"add images: "</label>
                <input type="file" id="task-files" multiple accept="image/png,image/jpeg" disabled=no_model
                    on:change=move |ev| add_files(state, task, event_target::<web_sys::HtmlInputElement>(&ev).files()) />
                " "
                <label for="task-folder">"or a folder: "</label>
                <input type="file" id="task-folder" node_ref=folder disabled=no_model
                    on:change=move |ev| add_files(state, task, event_target::<web_sys::HtmlInputElement>(&ev).files()) />
                " "
                <button id="task-samples" disabled=no_model on:click=move |_| add_samples(state, task)>"add the samples (labelled with their grades)"</button>
            </p>
            <table id="task-items">
                <thead><tr><th>"image"</th><th>"label"</th><th>"z_sem"</th></tr></thead>
                <tbody>
                {move || task.items.get().into_iter().enumerate().map(|(i, item)| view! {
                    <tr class=match &item.latent { Some(Ok(_)) => "task-item encoded", Some(Err(_)) => "task-item failed", None => "task-item" }>
                        <td>{item.name.clone()}</td>
                        <td><input type="number" id=format!("task-label-{i}") aria-label=format!("label of {}", item.name)
                            prop:value=item.label.to_string() on:change=move |ev| set_label(i, event_target_value(&ev)) /></td>
                        <td>{match &item.latent { Some(Ok(_)) => "computed".to_string(), Some(Err(e)) => e.clone(), None => "computing".to_string() }}</td>
                    </tr>
                }).collect_view()}
                </tbody>
            </table>
            <p>
                <button id="fit" disabled=move || encoded() < 2 * MIN_PER_CLASS on:click=move |_| fit(state, task, name.get_untracked())>"Fit a head"</button>
                " " {move || format!("{} of {} images ready", encoded(), task.items.with(Vec::len))}
                " · "
                <label for="head-file">"load a head (head.json): "</label>
                <input type="file" id="head-file" accept=".json,application/json" disabled=no_model
                    on:change=move |ev| load_head_file(state, event_target::<web_sys::HtmlInputElement>(&ev).files().and_then(|f| f.get(0))) />
            </p>
            {move || task.fitted.get().map(|f| view! {
                <p id="fit-result" data-auc=f.auc.map(|a| a.0.to_string()) data-mae=f.mae.map(|m| m.0.to_string())>{figures(&f)}</p>
                {f.warning.clone().map(|w| view! { <p id="fit-warning" class="failed">{w}</p> })}
                <p>
                    <a id="download-head" download=format!("{}.head.json", f.task) href=data_url("application/json", f.head_json.as_bytes())>"download the head (head.json)"</a>
                    " · "
                    <button id="export" on:click=move |_| state.send(&Request::Export, None)>"make the bundle with this head"</button>
                    " "
                    {move || task.bundle.get().map(|(file, url)| view! { <a id="download-bundle" download=file.clone() href=url>{format!("download {file}")}</a> })}
                </p>
            })}
        </section>
    }
}
