//! The launch-decision card: the mode, firmware and devices to set, the evidence chain that
//! decided them, the drivers each mode needs, every mode and shape with why, and the
//! artifacts to paste or download (capability schema, OCI CLI commands, image_metadata.json).
//!
//! A report of an older core carries only the mode, firmware and reasons: the card then shows
//! those and the import command made here, as before. Without a mode it is "undecided".

use std::rc::Rc;

use preflight_report::{
    Artifacts, ChainStep, DriverReach, ModeOption, Recommendation, Report, ShapeFit,
};
use yew::prelude::*;

use crate::decision;
use crate::dom;
use crate::present;
use crate::report_view::CodeBlock;

#[derive(Properties, PartialEq)]
pub struct DecisionProps {
    pub report: Rc<Report>,
}

#[function_component]
pub fn DecisionCard(props: &DecisionProps) -> Html {
    let r = &props.report;
    let rec = &r.recommendation;
    let decided = rec.launch_mode.is_some();
    let mode_attr = rec.launch_mode.clone().unwrap_or_else(|| "NONE".into());
    html! {
        <section class={classes!("card", "launch-mode", "decision", (!decided).then_some("undecided"))}
            id="decision" data-launch-mode={mode_attr} aria-labelledby="launch-mode-title">
            <div class="decision-head">
                <div class="decision-mode">
                    <h2 id="launch-mode-title" class="decision-title">{ "Launch mode" }</h2>
                    if let Some(m) = &rec.launch_mode {
                        <p class="mode-big"><code id="launch-mode">{ m }</code></p>
                        <p class="mode-meaning">{ decision::mode_meaning(m) }</p>
                    } else {
                        <p class="mode-big"><span id="launch-mode">{ "Not decided" }</span></p>
                        <p class="mode-meaning">{ "Preflight could not decide how this image should boot on OCI; the reasons below say what is missing." }</p>
                    }
                </div>
                { decision_facts(r) }
            </div>
            if !rec.reasons.is_empty() {
                <section class="decision-part" aria-labelledby="reasons-title">
                    <h3 id="reasons-title">{ "Why" }</h3>
                    <ul class="reasons" id="reasons">
                        { for rec.reasons.iter().map(|reason| html! { <li>{ reason }</li> }) }
                    </ul>
                </section>
            }
            if !rec.chain.is_empty() {
                { chain_view(&rec.chain) }
            }
            if !rec.drivers.is_empty() {
                { drivers_view(&rec.drivers) }
            }
            if !rec.modes.is_empty() {
                { modes_view(&rec.modes, rec.launch_mode.as_deref()) }
            }
            if !rec.shapes.is_empty() {
                { shapes_view(rec) }
            }
            if let Some(a) = &rec.artifacts {
                { artifacts_view(a) }
            } else if let Some(cmd) = present::import_command(r) {
                <section class="decision-part" aria-labelledby="import-title">
                    <h3 id="import-title">{ "Import with the OCI CLI" }</h3>
                    <p class="hint">{ "After uploading the image to Object Storage; fill in the values in angle brackets." }</p>
                    <CodeBlock text={cmd} label="import command" />
                </section>
            }
        </section>
    }
}

/// Firmware (the first is the one to set), architecture, OS, NIC and boot volume.
fn decision_facts(r: &Report) -> Html {
    let rec = &r.recommendation;
    let arch = rec
        .architecture
        .clone()
        .or_else(|| r.guest.as_ref().and_then(|g| g.arch.clone()));
    let os = r
        .guest
        .as_ref()
        .and_then(|g| g.os.as_ref())
        .and_then(|os| os.pretty_name.clone().or_else(|| os.name.clone()));
    html! {
        <dl class="facts decision-facts">
            <dt>{ "Firmware" }</dt>
            <dd>
                if rec.firmware.is_empty() {
                    { "not found" }
                } else {
                    <ol class="firmware-list" id="firmware">
                        { for rec.firmware.iter().enumerate().map(|(i, fw)| html! {
                            <li data-firmware={fw.clone()}>
                                <code>{ fw }</code>
                                if i == 0 {
                                    <span class="tag">{ "set this" }</span>
                                } else {
                                    <span class="tag muted">{ "also boots" }</span>
                                }
                                <span class="fact-note">{ decision::firmware_meaning(fw) }</span>
                            </li>
                        }) }
                    </ol>
                }
            </dd>
            <dt>{ "Architecture" }</dt>
            <dd id="architecture">{ arch.unwrap_or_else(|| "unknown".into()) }</dd>
            if let Some(os) = os {
                <dt>{ "Operating system" }</dt>
                <dd>{ os }</dd>
            }
            if let Some(nic) = &rec.network_attachment {
                <dt>{ "NIC attachment" }</dt>
                <dd id="network-attachment"><code>{ nic }</code><span class="fact-note">{ decision::network_meaning(nic) }</span></dd>
            }
            if let Some(volume) = &rec.boot_volume_type {
                <dt>{ "Boot volume type" }</dt>
                <dd id="boot-volume-type"><code>{ volume }</code><span class="fact-note">{ decision::volume_meaning(volume) }</span></dd>
            }
        </dl>
    }
}

fn chain_view(chain: &[ChainStep]) -> Html {
    html! {
        <section class="decision-part" aria-labelledby="chain-title">
            <h3 id="chain-title">{ "Evidence chain" }</h3>
            <p class="hint">{ "What the firmware finds on this disk, link by link, up to the drivers the kernel needs to mount the root." }</p>
            <ol class="chain" id="chain">
                { for chain.iter().map(|step| {
                    let (symbol, said) = decision::mark(step.ok);
                    html! {
                        <li class={classes!("chain-step", if step.ok { "ok" } else { "broken" })}
                            data-chain-step={step.step.clone()} data-ok={step.ok.to_string()}>
                            <span class="chain-mark" aria-hidden="true">{ symbol }</span>
                            <div class="chain-body">
                                <p class="chain-line">
                                    <span class="chain-name">{ &step.step }</span>
                                    <span class="visually-hidden">{ format!(" ({said}): ") }</span>
                                    <span class="chain-summary">{ &step.summary }</span>
                                </p>
                                if let Some(path) = &step.path {
                                    <code class="path">{ path }</code>
                                }
                                if !step.details.is_empty() {
                                    <details class="chain-details">
                                        <summary>{ details_label(step.details.len()) }</summary>
                                        <ul>{ for step.details.iter().map(|d| html! { <li>{ d }</li> }) }</ul>
                                    </details>
                                }
                            </div>
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}

fn details_label(n: usize) -> String {
    if n == 1 {
        "1 detail".into()
    } else {
        format!("{n} details")
    }
}

fn drivers_view(drivers: &[DriverReach]) -> Html {
    html! {
        <section class="decision-part" aria-labelledby="drivers-title">
            <h3 id="drivers-title">{ "Drivers at boot" }</h3>
            <p class="hint">{ "A driver the boot volume or NIC needs must be built into the kernel or inside its initramfs; a module only on disk is loaded too late." }</p>
            <div class="table-scroll">
                <table class="decision-table" id="drivers-table">
                    <caption class="visually-hidden">{ "Drivers each launch mode needs and whether they are reachable at boot" }</caption>
                    <thead>
                        <tr>
                            <th scope="col">{ "Driver" }</th>
                            <th scope="col">{ "Purpose" }</th>
                            <th scope="col">{ "Status" }</th>
                            <th scope="col">{ "Evidence" }</th>
                        </tr>
                    </thead>
                    <tbody>
                        { for drivers.iter().map(|d| {
                            let badge = decision::driver_badge(&d.status);
                            html! {
                                <tr data-driver={d.name.clone()} data-status={d.status.clone()}>
                                    <th scope="row"><code>{ &d.name }</code></th>
                                    <td class="long" data-label="Purpose">{ &d.purpose }</td>
                                    <td data-label="Status"><span class={classes!("reach", badge.class)}>{ badge.text }</span></td>
                                    <td class="long" data-label="Evidence">
                                        if let Some(e) = &d.evidence {
                                            <code class="path">{ e }</code>
                                        }
                                    </td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn modes_view(modes: &[ModeOption], chosen: Option<&str>) -> Html {
    html! {
        <section class="decision-part" aria-labelledby="modes-title">
            <h3 id="modes-title">{ "Launch modes" }</h3>
            <ul class="mode-options" id="modes">
                { for modes.iter().map(|m| {
                    let is_chosen = chosen == Some(m.mode.as_str());
                    html! {
                        <li class={classes!("mode-option", if m.possible { "possible" } else { "impossible" }, is_chosen.then_some("chosen"))}
                            data-mode={m.mode.clone()} data-possible={m.possible.to_string()}>
                            <div class="mode-option-head">
                                <code>{ &m.mode }</code>
                                <span class={classes!("reach", if m.possible { "ok" } else { "bad" })}>
                                    { if m.possible { "possible" } else { "not possible" } }
                                </span>
                                if is_chosen {
                                    <span class="tag">{ "recommended" }</span>
                                }
                            </div>
                            <p>{ &m.why }</p>
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}

fn shapes_view(rec: &Recommendation) -> Html {
    let shapes: Vec<&ShapeFit> = decision::shapes_fitting_first(&rec.shapes);
    html! {
        <section class="decision-part" aria-labelledby="shapes-title">
            <h3 id="shapes-title">{ "Shapes" }</h3>
            <p class="hint">
                { decision::shapes_summary(&rec.shapes) }
                if let Some(date) = &rec.shapes_as_of {
                    { " · " }<span id="shapes-as-of">{ format!("shape table as of {date}") }</span>
                }
            </p>
            <div class="table-scroll">
                <table class="decision-table" id="shapes-table">
                    <caption class="visually-hidden">{ "Every shape of the shape table, whether this image fits it, and why" }</caption>
                    <thead>
                        <tr>
                            <th scope="col">{ "Shape" }</th>
                            <th scope="col">{ "Processor" }</th>
                            <th scope="col">{ "VM/BM" }</th>
                            <th scope="col">{ "Fits" }</th>
                            <th scope="col">{ "Why" }</th>
                        </tr>
                    </thead>
                    <tbody>
                        { for shapes.into_iter().map(shape_row) }
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn shape_row(s: &ShapeFit) -> Html {
    let (symbol, _) = decision::mark(s.fits);
    let title = decision::kind_title(&s.kind);
    html! {
        <tr class={classes!(if s.fits { "fits" } else { "no-fit" })} data-shape={s.shape.clone()} data-fits={s.fits.to_string()}>
            <th scope="row"><code>{ &s.shape }</code></th>
            <td data-label="Processor">{ &s.processor }</td>
            <td data-label="VM/BM">
                if title.is_empty() {
                    { &s.kind }
                } else {
                    <abbr title={title}>{ &s.kind }</abbr>
                }
            </td>
            <td data-label="Fits">
                <span class={classes!("mark", if s.fits { "ok" } else { "bad" })} aria-hidden="true">{ symbol }</span>
                <span class="visually-hidden">{ if s.fits { "fits" } else { "does not fit" } }</span>
            </td>
            <td class="long" data-label="Why">{ &s.why }</td>
        </tr>
    }
}

fn artifacts_view(a: &Artifacts) -> Html {
    // The same files as the CLI's --emit-artifacts writes.
    let schema = a.schema_json();
    let metadata = a.metadata_json();
    let script = a.commands_script();
    let shape_commands = decision::shape_commands_text(a);
    html! {
        <section class="decision-part artifacts" aria-labelledby="artifacts-title" id="artifacts">
            <h3 id="artifacts-title">{ "Ready to paste" }</h3>
            <p class="hint">{ "Fill in the placeholders (OCIDs, namespace, bucket) before running the commands. Downloads are made inside this page; nothing is sent anywhere." }</p>
            <Artifact id="schema" title="Image capability schema" label="image capability schema"
                text={schema} file={Some(DownloadFile::new(Artifacts::SCHEMA_FILE, "application/json"))} json=true />
            <div class="artifact-group" data-artifact="commands">
                <div class="artifact-head">
                    <h4>{ "OCI CLI commands" }</h4>
                    <div class="artifact-actions">
                        <DownloadButton id="commands" file={DownloadFile::new(Artifacts::COMMANDS_FILE, "text/x-shellscript")}
                            text={script} label="all OCI CLI commands" />
                    </div>
                </div>
                if !a.import_command.is_empty() {
                    <Artifact id="import" title="1. Import the image" label="import command" text={a.import_command.clone()} />
                }
                if !a.schema_command.is_empty() {
                    <Artifact id="schema-command" title="2. Apply the capability schema" label="schema command" text={a.schema_command.clone()} />
                }
                if !shape_commands.is_empty() {
                    <Artifact id="shape-commands" title="3. Add shape compatibility" label="shape compatibility commands" text={shape_commands} />
                }
            </div>
            <Artifact id="metadata" title="image_metadata.json (for an .oci archive)" label="image_metadata.json"
                text={metadata} file={Some(DownloadFile::new(Artifacts::METADATA_FILE, "application/json"))} json=true />
        </section>
    }
}

/// A file a Download button makes.
#[derive(Clone, PartialEq)]
pub struct DownloadFile {
    pub name: AttrValue,
    pub mime: AttrValue,
}

impl DownloadFile {
    fn new(name: &'static str, mime: &'static str) -> Self {
        DownloadFile {
            name: AttrValue::Static(name),
            mime: AttrValue::Static(mime),
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct ArtifactProps {
    /// Test hook and id suffix: "schema" → `data-artifact="schema"`, `#copy-schema`,
    /// `#download-schema`.
    pub id: AttrValue,
    pub title: AttrValue,
    /// What is copied or downloaded, for screen readers ("import command").
    pub label: AttrValue,
    pub text: AttrValue,
    #[prop_or_default]
    pub file: Option<DownloadFile>,
    /// JSON keeps its lines and scrolls in a box; commands wrap.
    #[prop_or_default]
    pub json: bool,
}

/// A titled block of text with Copy and, when it is a file, Download.
#[function_component]
pub fn Artifact(props: &ArtifactProps) -> Html {
    html! {
        <div class="artifact" data-artifact={props.id.clone()}>
            <div class="artifact-head">
                <h4>{ &props.title }</h4>
                <div class="artifact-actions">
                    <CopyButton id={props.id.clone()} text={props.text.clone()} label={props.label.clone()} />
                    if let Some(file) = &props.file {
                        <DownloadButton id={props.id.clone()} file={file.clone()} text={props.text.clone()} label={props.label.clone()} />
                    }
                </div>
            </div>
            <pre class={classes!("artifact-text", props.json.then_some("json"))} tabindex="0"
                aria-label={props.label.clone()}><code>{ &props.text }</code></pre>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct CopyProps {
    pub id: AttrValue,
    pub text: AttrValue,
    pub label: AttrValue,
}

/// Copies its text to the clipboard (or says how to copy it by hand).
#[function_component]
pub fn CopyButton(props: &CopyProps) -> Html {
    let state = use_state(|| None::<bool>);
    let onclick = {
        let state = state.clone();
        let text = props.text.clone();
        Callback::from(move |_: MouseEvent| {
            let state = state.clone();
            let text = text.clone();
            wasm_bindgen_futures::spawn_local(async move {
                state.set(Some(dom::copy_text(&text).await.is_ok()));
            });
        })
    };
    let (button_text, status) = match *state {
        None => ("Copy", ""),
        Some(true) => ("Copied", "Copied to the clipboard."),
        Some(false) => (
            "Copy",
            "This browser did not let the page copy: select the text and copy it.",
        ),
    };
    html! {
        <span class="action">
            <button type="button" class="button small copy-button" id={format!("copy-{}", props.id)} {onclick}
                aria-label={format!("Copy the {}", props.label)}>{ button_text }</button>
            <span class={classes!("action-status", (*state == Some(false)).then_some("failed"))} role="status">{ status }</span>
        </span>
    }
}

#[derive(Properties, PartialEq)]
pub struct DownloadProps {
    pub id: AttrValue,
    pub file: DownloadFile,
    pub text: AttrValue,
    pub label: AttrValue,
}

/// Saves its text as a file made in the page (a Blob's object URL; nothing is sent).
#[function_component]
pub fn DownloadButton(props: &DownloadProps) -> Html {
    let error = use_state(|| None::<String>);
    let onclick = {
        let error = error.clone();
        let text = props.text.clone();
        let file = props.file.clone();
        Callback::from(move |_: MouseEvent| {
            error.set(dom::download(&file.name, &file.mime, &text).err());
        })
    };
    html! {
        <span class="action">
            <button type="button" class="button small download-button" id={format!("download-{}", props.id)} {onclick}
                aria-label={format!("Download the {} as {}", props.label, props.file.name)}>
                { "Download " }<span class="file-name-inline">{ &props.file.name }</span>
            </button>
            <span class="action-status failed" role="status">
                { error.as_ref().map(|e| format!("The download failed: {e}")).unwrap_or_default() }
            </span>
        </span>
    }
}
