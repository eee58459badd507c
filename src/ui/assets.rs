//! The page: plain HTML, CSS and JavaScript, embedded in the binary (no build chain, nothing
//! fetched from elsewhere).

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const APP_CSS: &str = include_str!("assets/app.css");
