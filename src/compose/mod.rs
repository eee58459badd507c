//! `dops import compose`: a Compose file → a dops project (pure: the command reads and writes).
//!
//! The flow: [`yaml`] (the file as a tree with positions) → [`model`] (what dops can use, read
//! through [`reader`] with [`interpolate`]ion and [`dotenv`]) → [`importer`] (the project's
//! files, the build contexts to copy, the findings), with [`dockerfile_gen`] and [`health`] for
//! the generated Dockerfiles and healthchecks. Uses `project` (run.conf names and rules) and the
//! leaves; never the engine.

pub mod dockerfile_gen;
pub mod dotenv;
pub mod health;
pub mod importer;
pub mod interpolate;
pub mod model;
pub mod reader;
pub mod report;
#[cfg(test)]
mod tests;
pub mod yaml;

pub use importer::{import, normalize_project_name, ContextCopy, Imported, Input, OutFile, Source};
pub use report::{ComposeError, Finding};
