//! The engine: the only module that talks to Docker (through bollard).
//!
//! It executes what the planner decided and makes no decisions of its own:
//! - `connect`: the connection (API version negotiated; unreachable → `EngineError::Unreachable`)
//! - `observe`: the project's containers, networks and images as plain `Observed` data
//! - `context`: the build context tar, honouring `.dockerignore` with Docker's semantics
//! - `inject`: the final layer that puts dops-init in every image
//! - `build`: image builds (parents first, independent ones in parallel, progress lines)
//! - `apply`: one plan step = one (or a few) Docker API calls
//! - `key_file`: the instance's DNS key file, written before its container starts
//! - `exec`, `logs`: shells and logs of running instances
//! - `events`: the engine's container events for a project (`dops events`, `dops ui`)
//! - `lock`: the project lock (`.dops/lock`) that keeps two dops commands from racing
//! - `progress`: what the engine reports while it works (it never prints)
//! - `error`: what can go wrong, and how bollard's errors are classified
//! - `scratch`: never-started containers that give an image's files (seeding, probes)

pub mod apply;
pub mod build;
pub mod connect;
pub mod container;
pub mod context;
mod error;
pub mod events;
pub mod exec;
pub mod extra_args;
pub mod inject;
mod key_file;
pub mod lock;
pub mod logs;
pub mod network;
pub mod observe;
pub mod progress;
pub mod purge;
pub mod rollout;
mod scratch;
pub mod seed;
pub mod swarm;
pub mod wait;

pub use apply::{apply, ApplyContext};
pub use build::{build_all, BuildOptions, Built};
pub use connect::{connect, connect_for_listing, Engine};
pub use error::EngineError;
pub use lock::ProjectLock;
pub use observe::{observe, observe_all, observe_containers, observe_for_plan};
pub use progress::{Progress, Reporter, Sink};
pub use wait::wait_up;
