//! dops: an orchestrator for whole Docker platforms, in the spirit of DockerOps.
//!
//! The flow of one command (see DESIGN.md): argv → `action` → `project::load` → `engine::observe`
//! → `plan::plan` (pure) → `output` + `engine::apply`.

pub mod action;
pub mod build_order;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod dns;
pub mod dockerfile;
pub mod dockerignore;
pub mod engine;
pub mod host_env;
pub mod init;
pub mod labels;
pub mod live;
pub mod local_addr;
pub mod meta;
pub mod observed;
pub mod output;
pub mod plan;
pub mod project;
pub mod shell_words;
pub mod state_file;
pub mod suggest;
pub mod tsig_key;
pub mod ui;
pub mod wildcard;

pub use commands::run;
