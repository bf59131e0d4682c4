//! The listing checklist: the listing's text fields (Marketplace Publisher API names) and the
//! checks of `preflight-listing`, run as the publisher types. The form is kept in this
//! browser's local storage, never sent anywhere.

use std::rc::Rc;

use preflight_listing::{Listing, Status, SupportContact, SupportLink, check_listing};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::blob::describe;
use crate::{LISTING_STORAGE_KEY, dom};

#[derive(Clone, PartialEq)]
struct State {
    listing: Listing,
    load_error: Option<String>,
}

type Edit = Rc<dyn Fn(&mut State)>;

impl Reducible for State {
    type Action = Edit;
    fn reduce(self: Rc<Self>, action: Edit) -> Rc<Self> {
        let mut next = (*self).clone();
        action(&mut next);
        Rc::new(next)
    }
}

fn load() -> Listing {
    dom::storage_get(LISTING_STORAGE_KEY)
        .and_then(|text| Listing::from_json(&text).ok())
        .unwrap_or_default()
}

/// A callback that applies `f` with the new text of a field.
fn edit(
    state: &UseReducerHandle<State>,
    f: impl Fn(&mut Listing, String) + 'static,
) -> Callback<String> {
    let state = state.clone();
    let f = Rc::new(f);
    Callback::from(move |value: String| {
        let f = f.clone();
        state.dispatch(Rc::new(move |s: &mut State| {
            f(&mut s.listing, value.clone())
        }));
    })
}

fn contact_mut(l: &mut Listing, i: usize) -> &mut SupportContact {
    if l.support_contacts.len() <= i {
        l.support_contacts
            .resize_with(i + 1, SupportContact::default);
    }
    &mut l.support_contacts[i]
}

fn link_mut(l: &mut Listing, i: usize) -> &mut SupportLink {
    if l.support_links.len() <= i {
        l.support_links.resize_with(i + 1, SupportLink::default);
    }
    &mut l.support_links[i]
}

#[function_component]
pub fn ListingForm() -> Html {
    let state = use_reducer(|| State {
        listing: load(),
        load_error: None,
    });
    {
        let listing = state.listing.clone();
        use_effect_with(listing, |listing| {
            if let Ok(json) = serde_json::to_string(listing) {
                dom::storage_set(LISTING_STORAGE_KEY, &json);
            }
        });
    }
    let l = &state.listing;
    let checks = check_listing(l);
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let passed = checks.iter().filter(|c| c.status == Status::Pass).count();

    let contacts = if l.support_contacts.is_empty() {
        vec![SupportContact::default()]
    } else {
        l.support_contacts.clone()
    };
    let links = if l.support_links.is_empty() {
        vec![SupportLink::default()]
    } else {
        l.support_links.clone()
    };
    let dispatch = |f: fn(&mut State)| {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Rc::new(f)))
    };
    let on_load_json = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                let result = match text {
                    Ok(t) => Listing::from_json(&t.as_string().unwrap_or_default()),
                    Err(e) => Err(describe(&e)),
                };
                state.dispatch(Rc::new(move |s: &mut State| match &result {
                    Ok(listing) => {
                        s.listing = listing.clone();
                        s.load_error = None;
                    }
                    Err(e) => s.load_error = Some(format!("That file is not a listing: {e}")),
                }));
            });
        })
    };

    html! {
        <section class="card listing" id="listing" aria-labelledby="listing-title">
            <div class="listing-head">
                <div>
                    <h2 id="listing-title">{ "Listing checklist" }</h2>
                    <p class="hint">
                        { "What Marketplace review expects of the listing text. Paste each field, or load the JSON of a listing revision. " }
                        { "Kept in this browser only." }
                    </p>
                </div>
                <div class="listing-actions">
                    <input type="file" id="listing-json" class="visually-hidden" accept=".json,application/json" onchange={on_load_json} />
                    <label for="listing-json" class="button small">{ "Load listing JSON…" }</label>
                    <button type="button" class="button small" id="listing-clear"
                        onclick={dispatch(|s| { s.listing = Listing::default(); s.load_error = None; })}>{ "Clear" }</button>
                </div>
            </div>
            if let Some(e) = &state.load_error {
                <p class="error-text" role="alert">{ e }</p>
            }
            <div class="listing-grid">
                <form class="listing-form" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                    { field("listing-name", "Name", "displayName; at most 80 characters, 36 show in full", &l.display_name, 0, edit(&state, |l, v| l.display_name = v)) }
                    { field("listing-headline", "Headline", "headline; the purpose in at most two lines", &l.headline, 2, edit(&state, |l, v| l.headline = v)) }
                    { field("listing-short-description", "Short description", "shortDescription", &l.short_description, 2, edit(&state, |l, v| l.short_description = v)) }
                    { field("listing-long-description", "Long description", "longDescription; who it is for and why it is valuable", &l.long_description, 5, edit(&state, |l, v| l.long_description = v)) }
                    { field("listing-usage", "Usage information", "usageInformation; how to launch, connect (protocol, user, port, key or password) and configure", &l.usage_information, 5, edit(&state, |l, v| l.usage_information = v)) }
                    { field("listing-sysreq", "System requirements", "systemRequirements; shapes, minimum OCPU and memory, boot volume size, ports", &l.system_requirements, 4, edit(&state, |l, v| l.system_requirements = v)) }
                    <div class="field-row">
                        { field("listing-version", "Version", "versionDetails.number", &l.version_details.number, 0, edit(&state, |l, v| l.version_details.number = v)) }
                        { field("listing-username", "Login user", "the image artifact's username, e.g. opc", &l.username, 0, edit(&state, |l, v| l.username = v)) }
                    </div>
                    { field("listing-release-notes", "Release notes", "versionDetails.description", &l.version_details.description, 3, edit(&state, |l, v| l.version_details.description = v)) }

                    <fieldset>
                        <legend>{ "Support contacts" }</legend>
                        { for contacts.iter().enumerate().map(|(i, c)| html! {
                            <div class="repeat-row" key={format!("contact-{i}")}>
                                { field(&format!("contact-{i}-name"), "Name", "", &c.name, 0, edit(&state, move |l, v| contact_mut(l, i).name = v)) }
                                { field(&format!("contact-{i}-email"), "Email", "", &c.email, 0, edit(&state, move |l, v| contact_mut(l, i).email = v)) }
                                { field(&format!("contact-{i}-phone"), "Phone", "", &c.phone, 0, edit(&state, move |l, v| contact_mut(l, i).phone = v)) }
                                if i > 0 {
                                    { remove_button(&state, format!("Remove contact {}", i + 1), move |l| { l.support_contacts.remove(i); }) }
                                }
                            </div>
                        }) }
                        <button type="button" class="button small" id="add-contact"
                            onclick={dispatch(|s| { let n = s.listing.support_contacts.len().max(1); s.listing.support_contacts.resize_with(n + 1, SupportContact::default); })}>{ "Add a contact" }</button>
                    </fieldset>

                    <fieldset>
                        <legend>{ "Links" }</legend>
                        { for links.iter().enumerate().map(|(i, link)| html! {
                            <div class="repeat-row" key={format!("link-{i}")}>
                                { field(&format!("link-{i}-name"), "Name", "", &link.name, 0, edit(&state, move |l, v| link_mut(l, i).name = v)) }
                                { field(&format!("link-{i}-url"), "URL", "", &link.url, 0, edit(&state, move |l, v| link_mut(l, i).url = v)) }
                                if i > 0 {
                                    { remove_button(&state, format!("Remove link {}", i + 1), move |l| { l.support_links.remove(i); }) }
                                }
                            </div>
                        }) }
                        <button type="button" class="button small" id="add-link"
                            onclick={dispatch(|s| { let n = s.listing.support_links.len().max(1); s.listing.support_links.resize_with(n + 1, SupportLink::default); })}>{ "Add a link" }</button>
                    </fieldset>
                </form>

                <aside class="checks" aria-labelledby="checks-title">
                    <h3 id="checks-title">{ "Checks" }</h3>
                    <p class="hint" aria-live="polite">
                        { if l.is_empty() { "Fill in the form to run the checks.".to_string() } else { format!("{passed} passed, {failed} failed") } }
                    </p>
                    <ul class="check-list">
                        { for checks.iter().map(|c| html! {
                            <li class={classes!("check", c.status.as_str())} data-check={c.id} data-status={c.status.as_str()}>
                                <span class="check-status">{ status_word(c.status) }</span>
                                <div class="check-body">
                                    <p class="check-title"><code class="rule-id">{ c.id }</code>{ " " }{ c.title }</p>
                                    <p class="check-message">{ &c.message }</p>
                                    { for c.notes.iter().map(|n| html! { <p class="check-note">{ n }</p> }) }
                                </div>
                            </li>
                        }) }
                    </ul>
                    <p class="hint">
                        <a href={preflight_listing::LISTING_GUIDELINES} target="_blank" rel="noopener noreferrer">{ "Oracle's listing guidelines" }</a>
                    </p>
                </aside>
            </div>
        </section>
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "Pass",
        Status::Fail => "Fail",
        Status::Na => "N/A",
    }
}

fn remove_button(
    state: &UseReducerHandle<State>,
    label: String,
    f: impl Fn(&mut Listing) + 'static,
) -> Html {
    let state = state.clone();
    let f = Rc::new(f);
    let onclick = Callback::from(move |_: MouseEvent| {
        let f = f.clone();
        state.dispatch(Rc::new(move |s: &mut State| f(&mut s.listing)));
    });
    html! {
        <button type="button" class="button small remove" aria-label={label} {onclick}>{ "Remove" }</button>
    }
}

/// A labelled text field: one line when `rows` is 0, a text area otherwise.
fn field(id: &str, label: &str, hint: &str, value: &str, rows: u32, on: Callback<String>) -> Html {
    let hint_id = format!("{id}-hint");
    let described = (!hint.is_empty()).then(|| hint_id.clone());
    let control = if rows == 0 {
        let on = on.clone();
        let oninput = Callback::from(move |e: InputEvent| {
            if let Some(input) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            {
                on.emit(input.value());
            }
        });
        html! { <input type="text" id={id.to_string()} value={value.to_string()} {oninput} aria-describedby={described} spellcheck="true" /> }
    } else {
        let oninput = Callback::from(move |e: InputEvent| {
            if let Some(area) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
            {
                on.emit(area.value());
            }
        });
        html! { <textarea id={id.to_string()} rows={rows.to_string()} value={value.to_string()} {oninput} aria-describedby={described} spellcheck="true" /> }
    };
    html! {
        <div class="field">
            <label for={id.to_string()}>{ label }</label>
            { control }
            if !hint.is_empty() {
                <p class="field-hint" id={hint_id}>{ hint }</p>
            }
        </div>
    }
}
