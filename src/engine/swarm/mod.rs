//! The Swarm backend: the same plan, carried out on Docker Swarm (host.conf `"ENGINE": "swarm"`
//! or `--engine swarm`, with `DOCKER_HOST` pointing at a manager).
//!
//! One Swarm service per instance (`<project>-<service>-<instance>`, one replica) so instance
//! names stay first-class; the project network is an attachable overlay; images are built on
//! the build engine, then pushed to the registry every node pulls from, tagged by content (a
//! rebuild is a new tag). A replacement is `update_service` (Swarm's own roll-out, with
//! rollback), and dops waits for its outcome: a rollback is a failure.
//!
//! - `target`: the engines involved (manager, builder, one node) and the registry
//! - `service_spec`: an instance as a service (pure)
//! - `observe`: services, tasks and nodes as `Observed`
//! - `images`: content tags, pushed
//! - `apply`: the plan's steps
//! - `wait`: tasks until UP, updates until done
//! - `nodes`: pins, `dops nodes`
//! - `tasks`: where an instance runs (its node, its container), its logs

pub mod apply;
pub mod images;
pub mod nodes;
pub mod observe;
pub mod service_spec;
pub mod target;
pub mod tasks;
pub mod wait;

pub use apply::apply;
pub use observe::observe;
pub use target::Swarm;
