//! The label keys dops puts on what it creates (containers, networks, images). A leaf shared by
//! the planner, the engine and the image metadata, so a key has one spelling.
//!
//! Image metadata keys (`org.opencontainers.image.*`, `io.dops.build.*`, …) live in
//! `meta::keys`, which takes the project and service keys from here.

/// The project a container, network or image belongs to.
pub const PROJECT: &str = "io.dops.project";
pub const SERVICE: &str = "io.dops.service";
pub const INSTANCE: &str = "io.dops.instance";
pub const INSTANCE_TYPE: &str = "io.dops.instance_type";
/// On a container: the host folder of its `/run/dops` (where dops-init writes `state.json`).
pub const RUN_DIR: &str = "io.dops.run_dir";
/// On a container: the run conf it was declared in (orphans are counted per run conf).
pub const CONF: &str = "io.dops.conf";
/// On a container: its desired state as dops created it (JSON; see `plan::desired`).
pub const DESIRED: &str = "io.dops.desired";
/// On a container: a hash of its desired state.
pub const FINGERPRINT: &str = "io.dops.fingerprint";
/// On a container: made for a run.conf entry without an instance name (a random name).
pub const UNNAMED: &str = "io.dops.unnamed";
/// On a project network: the address reserved for the project's DNS server.
pub const DNS_ADDRESS: &str = "io.dops.dns_address";
/// On an image build: a service embedded in dops (the dops DNS).
pub const BUILTIN: &str = "io.dops.builtin";
/// On the init carrier images (never labelled with a project: they are shared).
pub const INIT: &str = "io.dops.init";
/// On every dops image: the id of the service's own image (before the injection layer).
pub const BASE: &str = "io.dops.base";
/// On every dops image: the init carrier image it got its dops-init from.
pub const INIT_IMAGE: &str = "io.dops.init_image";
/// On a swarm service: the id of the image its reference was pushed from (the plan compares it
/// with the built image, as it does a container's image id).
pub const IMAGE_ID: &str = "io.dops.image_id";
/// On a swarm node: the run.conf `group` whose instances it takes.
pub const NODE_GROUP: &str = "io.dops.group";
/// On a swarm node, `<prefix>.<project>.<service>-<instance>=true`: the persistent instance whose
/// data lives there (see `plan::placement`).
pub const NODE_DATA_PREFIX: &str = "io.dops.data";
