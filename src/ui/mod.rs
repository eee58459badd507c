//! `dops ui`: a dashboard of one project in the browser, served by dops itself.
//!
//! - `server`: the HTTP server (axum): the page, the live stream (server-sent events), an
//!   instance's log, the actions
//! - `auth`: the token, the Host and Origin checks (pure)
//! - `actions`: what the buttons ask for, and the trait the command edge implements to carry
//!   it out
//! - `assets`: the page, embedded
//!
//! It shows what `live` folds together; it prints nothing (the command edge prints its address).

pub mod actions;
pub mod assets;
pub mod auth;
pub mod server;

pub use actions::{ActionRequest, Job, Jobs, Verb};
pub use server::{bind, Bound, UiOptions};
