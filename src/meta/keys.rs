//! Label keys of the image metadata: OCI keys where they exist, `io.dops.*` for the rest.

pub const CREATED: &str = "org.opencontainers.image.created";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const SOURCE: &str = "org.opencontainers.image.source";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const PROJECT: &str = crate::labels::PROJECT;
pub const SERVICE: &str = crate::labels::SERVICE;
pub const TAGS: &str = "io.dops.tags";
pub const BUILD_EPOCH: &str = "io.dops.build.epoch";
pub const BUILD_HOST: &str = "io.dops.build.host";
pub const BUILD_CAUSE: &str = "io.dops.build.cause";
pub const BUILD_CI: &str = "io.dops.build.ci";
pub const GIT_DIRTY: &str = "io.dops.git.dirty";
pub const DOPS_VERSION: &str = "io.dops.version";
pub const METHOD_START: &str = "io.dops.method.start";
pub const METHOD_UPDATE: &str = "io.dops.method.update";
pub const METHOD_VALIDATE: &str = "io.dops.method.validate";
pub const METHOD_MONITOR: &str = "io.dops.method.monitor";
pub const LEVEL: &str = "io.dops.meta.level";
pub const ANCESTRY: &str = "io.dops.meta.ancestry";
/// The image's own metadata as compact JSON: authoritative when parsing back, because the
/// single keys can be overwritten later (a child's build labels `io.dops.service` anew).
pub const META_JSON: &str = "io.dops.meta";
pub const SCHEMA: &str = "io.dops.meta.schema";
