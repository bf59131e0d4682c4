//! The report: verdict, launch-decision card (`decision_view.rs`), findings grouped by level, rules that could not
//! run, and the details (image, partitions, guest, notes, what was read).

use std::rc::Rc;

use preflight_report::{Area, Finding, Level, Report, human_size};
use yew::prelude::*;

use crate::decision_view::DecisionCard;
use crate::dom;
use crate::present;

#[derive(Properties, PartialEq)]
pub struct ReportProps {
    pub report: Rc<Report>,
    pub on_download: Callback<()>,
}

#[function_component]
pub fn ReportView(props: &ReportProps) -> Html {
    let r = &props.report;
    let status = present::status_class(r.verdict.status);
    let on_download = {
        let cb = props.on_download.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <section class="report" aria-labelledby="verdict-title" id="report">
            <div class={classes!("card", "verdict", status)} data-verdict={status}>
                <div class="verdict-main">
                    <p class="eyebrow">{ &r.image.name }{ " · " }{ present::format_label(&r.image) }{ " · " }{ human_size(r.image.virtual_size) }{ " virtual" }</p>
                    <h2 id="verdict-title">{ present::verdict_title(r) }</h2>
                    <p>{ &r.verdict.summary }</p>
                    <ul class="counts">
                        <li class="count blocker">{ r.verdict.blockers }{ " blocker" }{ plural(r.verdict.blockers) }</li>
                        <li class="count warning">{ r.verdict.warnings }{ " warning" }{ plural(r.verdict.warnings) }</li>
                        <li class="count info">{ r.verdict.infos }{ " info" }</li>
                        <li class="count not-evaluated">{ r.verdict.not_evaluated }{ " not evaluated" }</li>
                    </ul>
                </div>
                <div class="verdict-actions">
                    <button type="button" class="button" id="download-report" onclick={on_download}>
                        { "Download report (JSON)" }
                    </button>
                    <p class="hint">{ present::read_summary(r.stats.bytes_read, r.stats.read_calls, r.image.file_size, r.stats.elapsed_ms) }</p>
                </div>
            </div>
            <DecisionCard report={props.report.clone()} />
            { findings_view(r) }
            { not_evaluated_view(r) }
            { details_view(r) }
        </section>
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn findings_view(r: &Report) -> Html {
    if r.findings.is_empty() {
        return html! {
            <section class="card findings" id="findings">
                <h2>{ "Guideline findings" }</h2>
                <p class="all-clear">{ "No rule found anything to fix." }</p>
            </section>
        };
    }
    let levels = [Level::Blocker, Level::Warning, Level::Info];
    let counts = |items: &[&Finding]| {
        html! {
            <span class="level-counts">
                { for levels.iter().map(|l| {
                    let n = items.iter().filter(|f| f.level == *l).count();
                    html! {
                        <span class={classes!("badge", l.as_str(), (n == 0).then_some("none"))} data-count-level={l.as_str()}>
                            { format!("{n} {}", present::level_word(*l, n)) }
                        </span>
                    }
                }) }
            </span>
        }
    };
    let all: Vec<&Finding> = r.findings.iter().collect();
    html! {
        <section class="findings" id="findings" aria-labelledby="findings-title">
            <h2 id="findings-title" class="section-title">{ "Guideline findings" }</h2>
            <p class="findings-summary">{ counts(&all) }</p>
            { for Area::ALL.iter().map(|area| {
                let mut items: Vec<&Finding> = r.findings.iter().filter(|f| f.area == *area).collect();
                if items.is_empty() {
                    return html! {};
                }
                items.sort_by_key(|f| levels.iter().position(|l| *l == f.level));
                html! {
                    <section class="level-group" data-area-group={present::area_id(*area)}>
                        <h3>
                            <span class="area-name">{ area.label() }</span>
                            { counts(&items) }
                        </h3>
                        { for items.into_iter().map(finding_view) }
                    </section>
                }
            }) }
        </section>
    }
}

fn finding_view(f: &Finding) -> Html {
    html! {
        <article class={classes!("card", "finding", f.level.as_str())} data-rule={f.rule.clone()} data-level={f.level.as_str()}>
            <header class="finding-head">
                <code class="rule-id">{ &f.rule }</code>
                <h4>{ &f.title }</h4>
            </header>
            if !f.evidence.is_empty() {
                <div class="evidence">
                    <h5>{ "Evidence" }</h5>
                    <ul>
                        { for f.evidence.iter().map(|e| html! {
                            <li>
                                <code class="path">{ &e.path }{ e.line.map(|l| format!(":{l}")).unwrap_or_default() }</code>
                                <span class="detail">{ &e.detail }</span>
                            </li>
                        }) }
                    </ul>
                </div>
            }
            <div class="remedy">
                <h5>{ "How to fix" }</h5>
                <CodeBlock text={f.remedy.clone()} label={format!("remedy for {}", f.rule)} />
            </div>
            if !f.source.is_empty() {
                <p class="source">
                    <a href={f.source.clone()} target="_blank" rel="noopener noreferrer">{ "Source: " }{ source_label(&f.source) }</a>
                </p>
            }
        </article>
    }
}

/// "docs.oracle.com/…/importingcustomimagelinux.htm" for a long URL.
fn source_label(url: &str) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    match (rest.split('/').next(), rest.rsplit('/').next()) {
        (Some(host), Some(last)) if rest.matches('/').count() > 1 && !last.is_empty() => {
            format!("{host}/…/{last}")
        }
        _ => rest.to_string(),
    }
}

fn not_evaluated_view(r: &Report) -> Html {
    if r.not_evaluated.is_empty() {
        return html! {};
    }
    html! {
        <section class="card not-evaluated" id="not-evaluated">
            <h2>{ "Not evaluated" }</h2>
            <p class="hint">{ "These rules could not run on this image, so they are not a pass." }</p>
            <ul>
                { for r.not_evaluated.iter().map(|n| html! {
                    <li data-rule={n.rule.clone()} data-level="not-evaluated">
                        <code class="rule-id">{ &n.rule }</code>{ " " }<strong>{ &n.title }</strong>
                        <span class="detail">{ ": " }{ &n.reason }</span>
                    </li>
                }) }
            </ul>
        </section>
    }
}

fn details_view(r: &Report) -> Html {
    html! {
        <details class="card details" id="details">
            <summary>{ "Image details" }</summary>
            <dl class="facts wide">
                <dt>{ "Format" }</dt><dd>{ present::container_summary(&r.image) }</dd>
                <dt>{ "File size" }</dt><dd>{ human_size(r.image.file_size) }</dd>
                <dt>{ "Virtual size" }</dt><dd>{ human_size(r.image.virtual_size) }</dd>
                if let Some(q) = &r.image.qcow2 {
                    <dt>{ "QCOW2" }</dt>
                    <dd>{ format!("version {}, compat {}, {} clusters, {} compression{}", q.version, q.compat, human_size(q.cluster_size), q.compression_type, if q.backing_file.is_some() { ", has a backing file" } else { "" }) }</dd>
                }
                if let Some(p) = &r.image.parent {
                    <dt>{ "Parent image" }</dt><dd>{ p }</dd>
                }
                if !r.image.other_files.is_empty() {
                    <dt>{ "Data in other files" }</dt><dd>{ r.image.other_files.join(", ") }</dd>
                }
                if r.image.bytes_missing > 0 {
                    <dt>{ "Read as zeros" }</dt><dd>{ format!("{} held by files not given", human_size(r.image.bytes_missing)) }</dd>
                }
                { for r.image.details.iter().map(|d| html! {
                    <>
                        <dt>{ &d.name }</dt><dd>{ &d.value }</dd>
                    </>
                }) }
                if let Some(a) = &r.image.archive {
                    <dt>{ "Archive" }</dt>
                    <dd>{ present::archive_summary(a) }</dd>
                    if let Some(m) = &a.oci_metadata {
                        <dt>{ "image_metadata.json" }</dt>
                        <dd>{ present::oci_metadata_summary(m) }</dd>
                    }
                    if let Some(o) = &a.ovf {
                        <dt>{ "OVF descriptor" }</dt>
                        <dd>{ present::ovf_summary(o) }</dd>
                    }
                    { for a.problems.iter().map(|p| html! {
                        <>
                            <dt>{ "Archive problem" }</dt><dd class="warning-text">{ p }</dd>
                        </>
                    }) }
                }
                { for r.image.warnings.iter().map(|w| html! {
                    <>
                        <dt>{ "Container warning" }</dt><dd class="warning-text">{ w }</dd>
                    </>
                }) }
                if let Some(t) = &r.partition_table {
                    <dt>{ "Partition table" }</dt><dd>{ t.scheme.to_uppercase() }</dd>
                }
                if let Some(g) = &r.guest {
                    if !g.kernels.is_empty() {
                        <dt>{ "Kernels" }</dt>
                        <dd>{ g.kernels.iter().map(|k| k.version.clone()).collect::<Vec<_>>().join(", ") }</dd>
                    }
                    if !g.users.is_empty() {
                        <dt>{ "Login users" }</dt>
                        <dd>{ g.users.iter().filter(|u| u.uid == 0 || u.uid >= 1000).map(|u| format!("{} ({})", u.name, u.password)).collect::<Vec<_>>().join(", ") }</dd>
                    }
                }
            </dl>
            if !r.volumes.is_empty() {
                <div class="table-scroll">
                    <table>
                        <caption>{ "Volumes" }</caption>
                        <thead><tr><th scope="col">{ "#" }</th><th scope="col">{ "Start" }</th><th scope="col">{ "Size" }</th><th scope="col">{ "Type" }</th><th scope="col">{ "Content" }</th><th scope="col">{ "Mounted at" }</th></tr></thead>
                        <tbody>
                            { for r.volumes.iter().map(|v| html! {
                                <tr>
                                    <td>{ v.number.map(|n| n.to_string()).or_else(|| v.lv.clone()).unwrap_or_else(|| v.kind.clone()) }</td>
                                    <td>{ if v.lv.is_some() { "—".to_string() } else { human_size(v.start) } }</td>
                                    <td>{ human_size(v.size) }</td>
                                    <td>{ v.partition_type_name.clone().or_else(|| v.partition_type.clone()).unwrap_or_default() }</td>
                                    <td>{ v.content.clone().unwrap_or_else(|| "unknown".into()) }</td>
                                    <td>{ v.mounted_at.clone().unwrap_or_default() }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
            if let Some(e) = &r.guest_error {
                <p class="warning-text">{ "The guest could not be inspected: " }{ e }</p>
            }
            if !r.notes.is_empty() {
                <h3>{ "Notes" }</h3>
                <ul>{ for r.notes.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
            }
        </details>
    }
}

#[derive(Properties, PartialEq)]
pub struct CodeBlockProps {
    pub text: AttrValue,
    /// What is copied, for screen readers ("remedy for S01").
    pub label: AttrValue,
}

/// Preformatted text with a copy button.
#[function_component]
pub fn CodeBlock(props: &CodeBlockProps) -> Html {
    let state = use_state(|| None::<Result<(), String>>);
    let onclick = {
        let state = state.clone();
        let text = props.text.clone();
        Callback::from(move |_: MouseEvent| {
            let state = state.clone();
            let text = text.clone();
            wasm_bindgen_futures::spawn_local(async move {
                state.set(Some(dom::copy_text(&text).await));
            });
        })
    };
    let (button_text, status) = match &*state {
        None => ("Copy", String::new()),
        Some(Ok(())) => ("Copied", "Copied to the clipboard.".to_string()),
        Some(Err(_)) => (
            "Copy",
            "Copying failed: select the text and copy it.".to_string(),
        ),
    };
    html! {
        <div class="code-block">
            <pre><code>{ &props.text }</code></pre>
            <button type="button" class="button small copy-button" {onclick}
                aria-label={format!("Copy the {}", props.label)}>{ button_text }</button>
            <span class="copy-status" role="status">{ status }</span>
        </div>
    }
}
