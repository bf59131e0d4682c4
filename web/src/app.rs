//! The page: intake (drop zone, file input, sample), the running inspection, the report, and
//! the listing checklist. All inspection state lives in [`App`]; the worker is started per
//! file and terminated when it is done, cancelled or replaced.

use std::rc::Rc;

use preflight_report::Report;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DragEvent, ErrorEvent, File, HtmlInputElement, MessageEvent, Worker};
use yew::prelude::*;

use crate::blob::describe;
use crate::listing_form::ListingForm;
use crate::protocol::{FromWorker, Progress};
use crate::report_view::ReportView;
use crate::{SAMPLE_NAME, SAMPLE_URL, WORKER_URL, dom};

pub fn start() {
    dom::install_panic_hook();
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
    else {
        dom::show_fatal("The page is missing its #app element.");
        return;
    };
    yew::Renderer::<App>::with_root(root).render();
}

pub enum Phase {
    Idle,
    /// Fetching the sample image shipped with the page.
    LoadingSample,
    Running(Running),
    Done {
        report: Rc<Report>,
        json: Rc<str>,
    },
    Failed {
        file_name: Option<String>,
        message: String,
    },
}

pub struct Running {
    pub file_name: String,
    pub file_size: u64,
    pub started_ms: f64,
    pub progress: Option<Progress>,
}

/// A started worker and the handlers that must live as long as it does.
struct WorkerHandle {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

pub enum Msg {
    Start(File),
    /// The first of the files picked or dropped (taken out at once: the list empties when
    /// the input is cleared).
    Picked(Option<File>),
    Sample,
    SampleFailed(String),
    /// From the worker of run `.0`.
    Worker(u64, FromWorker),
    WorkerError(u64, String),
    Cancel,
    DragOver(bool),
    Download,
    VerifyManifest(bool),
}

pub struct App {
    phase: Phase,
    worker: Option<WorkerHandle>,
    /// The file waiting for the worker to say it is ready.
    pending: Option<File>,
    /// Increases with every inspection, so late messages of a replaced worker are ignored.
    run: u64,
    drag_over: bool,
    notice: Option<String>,
    /// Check an OVA's manifest digests (reads the whole file, so only when asked).
    verify_manifest: bool,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(_ctx: &Context<Self>) -> Self {
        App {
            phase: Phase::Idle,
            worker: None,
            pending: None,
            run: 0,
            drag_over: false,
            notice: None,
            verify_manifest: false,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Picked(file) => {
                self.drag_over = false;
                match file {
                    Some(file) => self.start(ctx, file),
                    None => self.notice = Some("No file was dropped.".into()),
                }
            }
            Msg::Start(file) => self.start(ctx, file),
            Msg::VerifyManifest(on) => self.verify_manifest = on,
            Msg::Sample => {
                self.stop_worker();
                self.phase = Phase::LoadingSample;
                let link = ctx.link().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    match fetch_sample().await {
                        Ok(file) => link.send_message(Msg::Start(file)),
                        Err(e) => link.send_message(Msg::SampleFailed(e)),
                    }
                });
            }
            Msg::SampleFailed(message) => {
                self.phase = Phase::Failed {
                    file_name: Some(SAMPLE_NAME.into()),
                    message: format!("The sample image could not be loaded: {message}"),
                };
            }
            Msg::Worker(run, message) if run == self.run => self.on_worker_message(message),
            Msg::WorkerError(run, message) if run == self.run => {
                if let Phase::Running(r) = &self.phase {
                    self.phase = Phase::Failed {
                        file_name: Some(r.file_name.clone()),
                        message: format!("The inspection stopped unexpectedly: {message}"),
                    };
                }
                self.stop_worker();
            }
            Msg::Worker(..) | Msg::WorkerError(..) => return false,
            Msg::Cancel => {
                self.stop_worker();
                self.run += 1;
                self.notice = Some("Inspection cancelled.".into());
                self.phase = Phase::Idle;
            }
            Msg::DragOver(over) => {
                if self.drag_over == over {
                    return false;
                }
                self.drag_over = over;
            }
            Msg::Download => {
                if let Phase::Done { report, json } = &self.phase {
                    let name = crate::present::report_file_name(&report.image.name);
                    if let Err(e) = dom::download(&name, "application/json", json) {
                        self.notice = Some(format!("The download failed: {e}"));
                    }
                }
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <>
                { self.intake(ctx) }
                if let Some(notice) = &self.notice {
                    <p class="notice" role="status">{ notice }</p>
                }
                { self.phase_view(ctx) }
                <ListingForm />
            </>
        }
    }
}

impl App {
    fn stop_worker(&mut self) {
        self.worker = None; // Drop terminates it
        self.pending = None;
    }

    fn start(&mut self, ctx: &Context<Self>, file: File) {
        self.stop_worker();
        self.run += 1;
        self.notice = None;
        let run = self.run;
        let file_name = file.name();
        let file_size = file.size() as u64;
        match spawn_worker(ctx, run) {
            Ok(handle) => {
                self.worker = Some(handle);
                self.pending = Some(file);
                self.phase = Phase::Running(Running {
                    file_name,
                    file_size,
                    started_ms: dom::now_ms(),
                    progress: None,
                });
            }
            Err(message) => {
                self.phase = Phase::Failed {
                    file_name: Some(file_name),
                    message: format!("The inspection worker could not start: {message}"),
                };
            }
        }
    }

    fn on_worker_message(&mut self, message: FromWorker) {
        match message {
            FromWorker::Ready => {
                if let (Some(handle), Some(file)) = (&self.worker, self.pending.take())
                    && let Err(e) = handle
                        .worker
                        .post_message(&crate::protocol::to_worker(&file, self.verify_manifest))
                {
                    self.phase = Phase::Failed {
                        file_name: Some(file.name()),
                        message: format!(
                            "The file could not be handed to the worker: {}",
                            describe(&e)
                        ),
                    };
                    self.stop_worker();
                }
            }
            FromWorker::Progress(p) => {
                if let Phase::Running(r) = &mut self.phase {
                    r.progress = Some(p);
                }
            }
            FromWorker::Done { report } => {
                self.stop_worker();
                self.phase = match serde_json::from_str::<Report>(&report) {
                    Ok(parsed) => Phase::Done {
                        report: Rc::new(parsed),
                        json: report.into(),
                    },
                    Err(e) => Phase::Failed {
                        file_name: None,
                        message: format!("The worker's report could not be read: {e}"),
                    },
                };
            }
            FromWorker::Failed { message } => {
                let file_name = match &self.phase {
                    Phase::Running(r) => Some(r.file_name.clone()),
                    _ => None,
                };
                self.stop_worker();
                self.phase = Phase::Failed { file_name, message };
            }
        }
    }

    fn intake(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let on_change = link.callback(|e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let file = input.files().and_then(|f| f.get(0));
            // Choosing the same file again must start again.
            input.set_value("");
            Msg::Picked(file)
        });
        let on_drag_over = link.callback(|e: DragEvent| {
            e.prevent_default();
            Msg::DragOver(true)
        });
        let on_drag_leave = link.callback(|_: DragEvent| Msg::DragOver(false));
        let on_drop = link.callback(|e: DragEvent| {
            e.prevent_default();
            Msg::Picked(
                e.data_transfer()
                    .and_then(|d| d.files())
                    .and_then(|f| f.get(0)),
            )
        });
        let busy = matches!(self.phase, Phase::Running(_) | Phase::LoadingSample);
        let class = classes!("dropzone", self.drag_over.then_some("drag-over"));
        html! {
            <section class="intake" aria-labelledby="intake-title">
                <div class={class} id="dropzone"
                    ondragover={on_drag_over} ondragenter={link.callback(|e: DragEvent| { e.prevent_default(); Msg::DragOver(true) })}
                    ondragleave={on_drag_leave} ondrop={on_drop}>
                    <svg class="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                        <path d="M12 3v12m0-12-4.5 4.5M12 3l4.5 4.5M4 15v4a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4" />
                    </svg>
                    <h2 id="intake-title">{ "Drop a disk image here" }</h2>
                    <p class="hint">{ "QCOW2, VMDK, VHD, VHDX, VDI, raw, .oci or OVA, any size. Only the parts the checks need are read." }</p>
                    <div class="intake-actions">
                        <input type="file" id="file-input" class="visually-hidden" onchange={on_change} />
                        <label for="file-input" class="button primary">{ "Choose an image…" }</label>
                        <button type="button" class="button" id="sample-button" disabled={busy}
                            onclick={link.callback(|_| Msg::Sample)}>
                            { "Try the sample image" }
                        </button>
                    </div>
                    <label class="option" for="verify-manifest">
                        <input type="checkbox" id="verify-manifest" checked={self.verify_manifest}
                            onchange={link.callback(|e: Event| Msg::VerifyManifest(
                                e.target_unchecked_into::<web_sys::HtmlInputElement>().checked()))} />
                        { " Check an OVA's manifest digests (reads the whole file)" }
                    </label>
                </div>
            </section>
        }
    }

    fn phase_view(&self, ctx: &Context<Self>) -> Html {
        match &self.phase {
            Phase::Idle => html! {},
            Phase::LoadingSample => html! {
                <section class="card progress-card" aria-live="polite">
                    <h2>{ "Loading the sample image…" }</h2>
                    <progress aria-label="Loading the sample image"></progress>
                </section>
            },
            Phase::Running(r) => running_view(ctx, r),
            Phase::Done { report, .. } => html! {
                <ReportView report={report.clone()} on_download={ctx.link().callback(|_| Msg::Download)} />
            },
            Phase::Failed { file_name, message } => html! {
                <section class="card error-card" role="alert" id="inspection-error">
                    <h2>
                        { "Could not inspect " }
                        { file_name.clone().unwrap_or_else(|| "the image".into()) }
                    </h2>
                    <p>{ message }</p>
                    <p class="hint">{ "Preflight reads QCOW2, VMDK, VHD, VHDX, VDI and raw disks, and .oci and OVA archives. Drop another file to try again." }</p>
                </section>
            },
        }
    }
}

fn running_view(ctx: &Context<App>, r: &Running) -> Html {
    let (label, step, steps, bytes, calls) = match &r.progress {
        Some(p) => (p.stage.clone(), p.step, p.steps, p.bytes_read, p.read_calls),
        None => ("starting the inspection worker".to_string(), 0, 6, 0, 0),
    };
    let elapsed = (dom::now_ms() - r.started_ms).max(0.0) as u64;
    html! {
        <section class="card progress-card" aria-live="polite" id="progress">
            <div class="progress-head">
                <div>
                    <h2>{ "Inspecting " }<span class="file-name">{ &r.file_name }</span></h2>
                    <p class="hint">{ preflight_report::human_size(r.file_size) }{ " file · nothing is uploaded" }</p>
                </div>
                <button type="button" class="button" id="cancel-button"
                    onclick={ctx.link().callback(|_| Msg::Cancel)}>{ "Cancel" }</button>
            </div>
            <progress max={steps.to_string()} value={step.to_string()} aria-label="Inspection progress"></progress>
            <p class="stage" data-stage-step={step.to_string()}>
                { format!("Step {step} of {steps}: {label}") }
            </p>
            // The one stage that reads the whole file (a tar.gz archive): bytes are the progress.
            if label.starts_with("decompressing") && r.file_size > 0 {
                <progress id="pass-progress" max={r.file_size.to_string()} value={bytes.min(r.file_size).to_string()}
                    aria-label="Decompression progress"></progress>
            }
            <p class="hint">{ crate::present::read_summary(bytes, calls, r.file_size, elapsed) }</p>
        </section>
    }
}

async fn fetch_sample() -> Result<File, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(SAMPLE_URL))
        .await
        .map_err(|e| describe(&e))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{SAMPLE_URL} answered {} {} (this build of the page has no sample image)",
            response.status(),
            response.status_text()
        ));
    }
    let blob = wasm_bindgen_futures::JsFuture::from(response.blob().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?;
    let parts = js_sys::Array::of1(&blob);
    File::new_with_blob_sequence(&parts, SAMPLE_NAME).map_err(|e| describe(&e))
}

fn spawn_worker(ctx: &Context<App>, run: u64) -> Result<WorkerHandle, String> {
    let worker = Worker::new(WORKER_URL).map_err(|e| describe(&e))?;
    let link = ctx.link().clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let message = match e.data().as_string() {
            Some(text) => FromWorker::from_json(&text)
                .unwrap_or_else(|message| FromWorker::Failed { message }),
            None => FromWorker::Failed {
                message: "the worker sent a message that is not text".into(),
            },
        };
        link.send_message(Msg::Worker(run, message));
    });
    let link = ctx.link().clone();
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
        e.prevent_default();
        let message = e.message();
        let message = if message.is_empty() {
            "the worker's script could not be loaded or crashed".to_string()
        } else {
            message
        };
        link.send_message(Msg::WorkerError(run, message));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(WorkerHandle {
        worker,
        _on_message: on_message,
        _on_error: on_error,
    })
}
