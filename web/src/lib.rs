//! The Preflight web page.
//!
//! Two binaries built by Trunk (see `index.html`): `app`, the Yew page, and `worker`, the
//! dedicated Web Worker that runs [`preflight_core::inspect`] on the dropped file through a
//! [`blob::BlobSource`] (synchronous `FileReaderSync` reads, which only workers have). The page
//! never blocks and never holds the image; the worker reads only the parts a check needs.
//!
//! What builds natively too (and is tested there): the worker protocol and the text the page
//! shows. Everything that touches the browser is compiled only for `wasm`.

pub mod decision;
pub mod present;
pub mod protocol;

#[cfg(target_family = "wasm")]
pub mod app;
#[cfg(target_family = "wasm")]
pub mod blob;
#[cfg(target_family = "wasm")]
mod decision_view;
#[cfg(target_family = "wasm")]
mod dom;
#[cfg(target_family = "wasm")]
mod listing_form;
#[cfg(target_family = "wasm")]
mod report_view;
#[cfg(target_family = "wasm")]
pub mod worker;

/// Where the page keeps the listing form between visits (this browser only).
pub const LISTING_STORAGE_KEY: &str = "preflight.listing.v1";
/// The worker's loader, relative to the page (Trunk's `data-loader-shim`).
pub const WORKER_URL: &str = "./worker_loader.js";
/// The sample image shipped with the page (built by `cargo xtask site`).
pub const SAMPLE_URL: &str = "./sample/debian-12-sample.qcow2";
pub const SAMPLE_NAME: &str = "debian-12-sample.qcow2";
