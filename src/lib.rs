//! dops: an orchestrator for whole Docker platforms, in the spirit of DockerOps.
//!
//! The flow of one command (see DESIGN.md): argv → `action` → `project::load` → `engine::observe`
//! → `plan::plan` (pure) → `output` + `engine::apply`.

pub mod action;
pub mod build_order;
pub mod cli;
pub mod commands;
pub mod dns;
pub mod engine;
pub mod init;
pub mod meta;
pub mod observed;
pub mod output;
pub mod plan;
pub mod project;
