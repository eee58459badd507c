//! The project model: run.conf, host.conf, instance types, env resolution, links, Dockerfiles.
//! `load` is the only function here that does I/O.

pub mod instance_type;

pub use instance_type::{InstanceType, TypeDefaults};
