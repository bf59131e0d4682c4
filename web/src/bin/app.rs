//! The page: `trunk build` compiles this for the browser (see index.html).

#[cfg(target_family = "wasm")]
fn main() {
    preflight_web::app::start();
}

#[cfg(not(target_family = "wasm"))]
fn main() {
    eprintln!("the Preflight page runs in a browser: build it with `trunk build` (DEVELOPERS.md)");
}
