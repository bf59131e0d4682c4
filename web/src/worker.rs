//! The inspection worker: receives a `File`, runs the core on it, posts progress and the
//! report (see [`crate::protocol`]). Everything here runs in a dedicated Web Worker, so the
//! synchronous reads never block the page.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use preflight_core::{Options, Stage};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, File, MessageEvent};

use crate::blob::BlobSource;
use crate::protocol::{FromWorker, Progress};

/// Progress messages while bytes are being read: at most one per this many milliseconds.
const PROGRESS_INTERVAL_MS: f64 = 100.0;
const STEPS: u32 = 6;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &FromWorker) {
    // Posting a string to our own parent cannot fail in a way we could report.
    let _ = scope().post_message(&JsValue::from_str(&message.to_json()));
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The worker's entry point: install the panic hook and the message handler, say ready.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        post(&FromWorker::Failed {
            message: format!("internal error, please report it with the image's format: {info}"),
        });
    }));
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(on_message);
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    handler.forget();
    post(&FromWorker::Ready);
}

fn on_message(event: MessageEvent) {
    let message = match crate::protocol::from_page(event.data()) {
        Some((file, verify_manifest)) => inspect_file(&file, verify_manifest),
        None => FromWorker::Failed {
            message: "the worker was sent something that is not a file".into(),
        },
    };
    post(&message);
}

fn stage_step(stage: Stage) -> u32 {
    match stage {
        Stage::Container | Stage::Decompressing => 1,
        Stage::Volumes => 2,
        Stage::Guest => 3,
        Stage::Facts => 4,
        Stage::Rules => 5,
        Stage::Done => 6,
    }
}

/// Inspect one file: the report as the CLI's JSON, or why it could not be inspected.
pub fn inspect_file(file: &File, verify_manifest: bool) -> FromWorker {
    let started = now_ms();
    let name = file.name();
    let current = Rc::new(RefCell::new((Stage::Container.label().to_string(), 1u32)));
    let last_post = Rc::new(Cell::new(0.0f64));

    let observer = {
        let current = current.clone();
        let last_post = last_post.clone();
        move |bytes_read: u64, read_calls: u64| {
            let now = now_ms();
            if now - last_post.get() < PROGRESS_INTERVAL_MS {
                return;
            }
            last_post.set(now);
            let (stage, step) = current.borrow().clone();
            post(&FromWorker::Progress(Progress {
                stage,
                step,
                steps: STEPS,
                bytes_read,
                read_calls,
            }));
        }
    };
    let source = match BlobSource::new(file.clone().into()) {
        Ok(s) => s.with_observer(Box::new(observer)),
        Err(message) => return FromWorker::Failed { message },
    };
    let progress = move |stage: Stage, stats: preflight_io::ReadStats| {
        *current.borrow_mut() = (stage.label().to_string(), stage_step(stage));
        let now = now_ms();
        // Decompressing calls back every few megabytes: post at the observer's pace.
        if stage == Stage::Decompressing && now - last_post.get() < PROGRESS_INTERVAL_MS {
            return;
        }
        last_post.set(now);
        post(&FromWorker::Progress(Progress {
            stage: stage.label().to_string(),
            step: stage_step(stage),
            steps: STEPS,
            bytes_read: stats.bytes_read,
            read_calls: stats.read_calls,
        }));
    };
    // toISOString is UTC, as the CLI's date.
    let today: String = js_sys::Date::new_0().to_iso_string().into();
    let options = Options {
        verify_manifest,
        today: today.get(..10).map(str::to_string),
        progress: Some(Box::new(progress)),
        ..Options::default()
    };
    match preflight_core::inspect(Box::new(source), &name, &options) {
        Ok(mut report) => {
            report.stats.elapsed_ms = (now_ms() - started).max(0.0) as u64;
            match serde_json::to_string_pretty(&report) {
                Ok(json) => FromWorker::Done {
                    report: json + "\n",
                },
                Err(e) => FromWorker::Failed {
                    message: format!("could not encode the report: {e}"),
                },
            }
        }
        Err(e) => FromWorker::Failed {
            message: format!("{name}: {e}"),
        },
    }
}
