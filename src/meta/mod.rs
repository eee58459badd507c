//! Image metadata: the "container as a package" record dops writes into every image it builds.
//!
//! One [`BuildMeta`] describes one image: who built it (project, service, image name, tags), when
//! and where (RFC 3339 time + epoch, build host), from what (the git commit of the project folder
//! and whether it was dirty, the base image), why (the build cause), with which dops, and how to
//! manage it (the START/UPDATE/VALIDATE/MONITOR methods declared in its `/dops/init.d` fragments).
//!
//! It is stored twice by the engine's injection layer:
//! - as image labels ([`BuildMeta::labels`]): OCI keys where they exist
//!   (`org.opencontainers.image.created`, `.revision`, `.source`, `.title`, `.version`,
//!   `.base.name`), `io.dops.*` for the rest. Every key is always written (empty when unknown)
//!   because a child image inherits its parent's labels and must not show the parent's values as
//!   its own. The ancestors' metadata travels in `io.dops.meta.ancestry` (a JSON array), so the
//!   host can show the whole chain from one image inspect.
//! - as one JSON file per image in `/dops/meta/` ([`BuildMeta::json_file_name`]:
//!   `<NN>-<project>-<service>.json`, `NN` = the image's depth in its dops ancestry). A child
//!   image keeps its parents' files (they are in the parent layers), so reading the folder in
//!   file-name order gives the ancestry, oldest first ([`read_meta_dir`]).
//!
//! Everything here is pure except [`BuildMeta::collect`] (clock, hostname, `git`, `CI`) and the
//! folder readers.
//!
//! - [`model`]: [`BuildMeta`], its labels and JSON forms
//! - [`keys`], [`error`], [`files`]: label keys, errors, the JSON files of a folder
//! - [`methods`]: the START/UPDATE/VALIDATE/MONITOR methods of `/dops/init.d`
//! - [`entrypoints`]: `/entrypoints/*.sh` in image ancestry order (parents first)
//! - [`collect`]: clock, host, git and cause of a build happening now
//! - [`report`]: the readable `examine` report

mod collect;
mod entrypoints;
mod error;
mod files;
pub mod keys;
mod methods;
mod model;
mod report;

pub use collect::resolve_cause;
pub use entrypoints::{ancestry_order, entrypoints_from_tar, is_entrypoint_name, ENTRYPOINTS_DIR};
pub use error::MetaError;
pub use files::read_json_files;
pub use methods::*;
pub use model::{
    read_meta_dir, rfc3339, BuildMeta, GitInfo, INITD_DIR, INIT_PATH, META_DIR, SCHEMA,
};
pub use report::{examine_json, examine_report, RuntimeInfo};
