//! Small browser chores: the panic banner, local storage, downloads, the clipboard.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlTextAreaElement, Url};

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

/// Copy `text` to the clipboard; resolves when done. Where the asynchronous clipboard API is
/// missing (a page served over plain HTTP from another host) or refuses, the older
/// `document.execCommand("copy")` on a hidden text area is tried.
pub async fn copy_text(text: &str) -> Result<(), String> {
    let navigator = window().ok_or("no window")?.navigator();
    let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .map(|c| !c.is_undefined() && !c.is_null())
        .unwrap_or(false);
    let mut error = "this browser gives the page no clipboard".to_string();
    if has_clipboard {
        let promise = navigator.clipboard().write_text(text);
        match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(_) => return Ok(()),
            Err(e) => error = describe(&e),
        }
    }
    if copy_with_exec_command(text) {
        Ok(())
    } else {
        Err(error)
    }
}

/// The fallback copy: select `text` in a text area outside the view and ask the document to
/// copy the selection. The focus goes back where it was.
fn copy_with_exec_command(text: &str) -> bool {
    let Some(doc) = window().and_then(|w| w.document()) else {
        return false;
    };
    let Some(body) = doc.body() else {
        return false;
    };
    let Ok(element) = doc.create_element("textarea") else {
        return false;
    };
    let area: HtmlTextAreaElement = element.unchecked_into();
    area.set_value(text);
    let _ = area.set_attribute("readonly", "");
    let _ = area.set_attribute("aria-hidden", "true");
    // Placed by a class: the CSP forbids inline styles.
    area.set_class_name("clipboard-helper");
    let focused = doc.active_element();
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let copied = js_sys::Reflect::get(&doc, &JsValue::from_str("execCommand"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&doc, &JsValue::from_str("copy")).ok())
        .and_then(|ok| ok.as_bool())
        .unwrap_or(false);
    let _ = body.remove_child(&area);
    if let Some(el) = focused.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
    copied
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
