//! What the page and the inspection worker say to each other.
//!
//! Page → worker: `[File, verify_manifest]` as a JavaScript array (browsers clone the `File` by
//! reference, not by content; see [`to_worker`] and [`from_page`]).
//! Worker → page: [`FromWorker`] as a JSON string, so no JavaScript glue is needed on either
//! side and the protocol is tested natively like any other Rust.

#[cfg(target_family = "wasm")]
pub use request::{from_page, to_worker};
use serde::{Deserialize, Serialize};

#[cfg(target_family = "wasm")]
mod request {
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::File;

    /// The page's request: the file and whether to check an OVA manifest.
    pub fn to_worker(file: &File, verify_manifest: bool) -> JsValue {
        js_sys::Array::of2(file, &JsValue::from_bool(verify_manifest)).into()
    }

    /// The worker's side of [`to_worker`]; a bare `File` is accepted too.
    pub fn from_page(data: JsValue) -> Option<(File, bool)> {
        if let Some(file) = data.dyn_ref::<File>() {
            return Some((file.clone(), false));
        }
        let array = data.dyn_into::<js_sys::Array>().ok()?;
        let file = array.get(0).dyn_into::<File>().ok()?;
        Some((file, array.get(1).as_bool().unwrap_or(false)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's module is loaded and its message handler installed: send the file now.
    Ready,
    Progress(Progress),
    /// The report as the CLI writes it with `--format json` (pretty, newline at the end).
    Done {
        report: String,
    },
    /// The image could not be inspected (unsupported, unreadable) or the worker panicked.
    Failed {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// What the inspection is doing, for people ("reading the container").
    pub stage: String,
    /// 1-based stage number out of `steps`.
    pub step: u32,
    pub steps: u32,
    /// Bytes and calls read from the file so far (below the block cache).
    pub bytes_read: u64,
    pub read_calls: u64,
}

impl FromWorker {
    pub fn to_json(&self) -> String {
        // A tagged enum of strings and integers always encodes.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"kind":"failed","message":"encoding"}"#.into())
    }

    pub fn from_json(text: &str) -> Result<FromWorker, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable message from the worker: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let cases = [
            FromWorker::Ready,
            FromWorker::Progress(Progress {
                stage: "reading the container".into(),
                step: 1,
                steps: 6,
                bytes_read: 1 << 40,
                read_calls: 3,
            }),
            FromWorker::Done {
                report: "{\n}\n".into(),
            },
            FromWorker::Failed {
                message: "x: not a disk image".into(),
            },
        ];
        for case in cases {
            assert_eq!(FromWorker::from_json(&case.to_json()).unwrap(), case);
        }
        assert_eq!(FromWorker::Ready.to_json(), r#"{"kind":"ready"}"#);
        assert!(FromWorker::from_json("{}").is_err());
    }
}
