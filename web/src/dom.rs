//! Small browser chores: the panic banner, local storage, downloads, the clipboard.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

use crate::blob::describe;

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Show a message in the page's `#fatal` banner (in index.html, outside Yew's tree, so it
/// works even when the app itself is dead).
pub fn show_fatal(message: &str) {
    let Some(doc) = window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(el) = doc.get_element_by_id("fatal") {
        el.set_text_content(Some(message));
        let _ = el.remove_attribute("hidden");
    }
}

/// A panic in the page shows in the page, not only in the console.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!(
            "Preflight stopped because of an internal error. Reload the page to start again, \
             and please report this: {info}"
        );
        web_sys::console::error_1(&JsValue::from_str(&message));
        show_fatal(&message);
    }));
}

pub fn storage_get(key: &str) -> Option<String> {
    window()?.local_storage().ok()??.get_item(key).ok()?
}

pub fn storage_set(key: &str, value: &str) {
    if let Some(Ok(Some(storage))) = window().map(|w| w.local_storage()) {
        let _ = storage.set_item(key, value);
    }
}

/// Offer `text` as a file download named `name`.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|e| describe(&e))?;
    let url = Url::create_object_url_with_blob(&blob).map_err(|e| describe(&e))?;
    let doc = window().and_then(|w| w.document()).ok_or("no document")?;
    let a: HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|e| describe(&e))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = Url::revoke_object_url(&url);
    Ok(())
}

/// Copy `text` to the clipboard; resolves when done.
pub async fn copy_text(text: &str) -> Result<(), String> {
    let navigator = window().ok_or("no window")?.navigator();
    let promise = navigator.clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| describe(&e))
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
