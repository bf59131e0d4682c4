//! The Preflight web page (Yew), placeholder until the web issue lands.
