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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The folder in every dops image that holds the metadata chain.
pub const META_DIR: &str = "/dops/meta";
/// The folder of init configuration fragments (the `methods` key lives there).
pub const INITD_DIR: &str = "/dops/init.d";
/// Version of the JSON form; bump when fields change meaning.
pub const SCHEMA: u32 = 1;

/// Label keys of the image metadata.
pub mod keys {
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
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} is not valid JSON: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("{file}: \"methods\" must be an object of command strings, e.g. {{\"validate\": \"/srv/validate.sh\"}}")]
    MethodsShape { file: String },
    #[error("{file}: unknown method \"{name}\" (known: start, update, validate, monitor)")]
    UnknownMethod { file: String, name: String },
    #[error("image label {key} is invalid: {reason}")]
    BadLabel { key: &'static str, reason: String },
    #[error("cannot read the init.d archive: {0}")]
    Tar(std::io::Error),
}

/// The four management methods an image may declare. A method is a shell command string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methods {
    pub start: Option<String>,
    pub update: Option<String>,
    pub validate: Option<String>,
    pub monitor: Option<String>,
}

/// One management method, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Start,
    Update,
    Validate,
    Monitor,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Start,
        Method::Update,
        Method::Validate,
        Method::Monitor,
    ];

    /// The key in `/dops/init.d` `methods` (lowercase).
    pub fn key(self) -> &'static str {
        match self {
            Method::Start => "start",
            Method::Update => "update",
            Method::Validate => "validate",
            Method::Monitor => "monitor",
        }
    }

    /// The name people read (uppercase, as in the reports).
    pub fn upper(self) -> &'static str {
        match self {
            Method::Start => "START",
            Method::Update => "UPDATE",
            Method::Validate => "VALIDATE",
            Method::Monitor => "MONITOR",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Method::Start => keys::METHOD_START,
            Method::Update => keys::METHOD_UPDATE,
            Method::Validate => keys::METHOD_VALIDATE,
            Method::Monitor => keys::METHOD_MONITOR,
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.key().eq_ignore_ascii_case(s))
    }
}

impl Methods {
    pub fn get(&self, m: Method) -> Option<&str> {
        match m {
            Method::Start => self.start.as_deref(),
            Method::Update => self.update.as_deref(),
            Method::Validate => self.validate.as_deref(),
            Method::Monitor => self.monitor.as_deref(),
        }
    }

    fn slot(&mut self, m: Method) -> &mut Option<String> {
        match m {
            Method::Start => &mut self.start,
            Method::Update => &mut self.update,
            Method::Validate => &mut self.validate,
            Method::Monitor => &mut self.monitor,
        }
    }

    pub fn is_empty(&self) -> bool {
        Method::ALL.iter().all(|m| self.get(*m).is_none())
    }

    /// Apply one fragment's `methods` object: a string sets, `null` or `""` clears.
    fn apply(&mut self, file: &str, value: &serde_json::Value) -> Result<(), MetaError> {
        let obj = value.as_object().ok_or_else(|| MetaError::MethodsShape {
            file: file.to_string(),
        })?;
        for (name, v) in obj {
            let m = Method::parse(name).ok_or_else(|| MetaError::UnknownMethod {
                file: file.to_string(),
                name: name.clone(),
            })?;
            match v {
                serde_json::Value::Null => *self.slot(m) = None,
                serde_json::Value::String(s) if s.trim().is_empty() => *self.slot(m) = None,
                serde_json::Value::String(s) => *self.slot(m) = Some(s.clone()),
                _ => {
                    return Err(MetaError::MethodsShape {
                        file: file.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

/// The methods declared by a set of `/dops/init.d` fragments `(file name, content)`, merged in
/// file-name order (later files override earlier ones). Only `.json` files count, as in dops-init.
pub fn methods_from_initd(files: &[(String, String)]) -> Result<Methods, MetaError> {
    let mut sorted: Vec<&(String, String)> = files
        .iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    sorted.sort_by(|a, b| base_name(&a.0).cmp(base_name(&b.0)));
    let mut methods = Methods::default();
    for (name, content) in sorted {
        let v: serde_json::Value =
            serde_json::from_str(content).map_err(|source| MetaError::Json {
                what: name.clone(),
                source,
            })?;
        if let Some(m) = v.get("methods") {
            methods.apply(name, m)?;
        }
    }
    Ok(methods)
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The methods of an init.d folder on disk (missing folder: no methods).
pub fn methods_from_initd_dir(dir: &Path) -> Result<Methods, MetaError> {
    methods_from_initd(&read_json_files(dir)?)
}

/// The methods in a tar archive of the init.d folder, as Docker's "download from container"
/// returns it (entries `init.d/10-base.json`, ...). Lets the injector read what the built image
/// really holds, parents' fragments included.
pub fn methods_from_initd_tar(archive: &[u8]) -> Result<Methods, MetaError> {
    use std::io::Read as _;
    let mut files = Vec::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(MetaError::Tar)? {
        let mut entry = entry.map_err(MetaError::Tar)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(MetaError::Tar)?
            .to_string_lossy()
            .into_owned();
        let mut content = String::new();
        entry.read_to_string(&mut content).map_err(MetaError::Tar)?;
        files.push((path, content));
    }
    methods_from_initd(&files)
}

/// `(file name, content)` of every `*.json` in a folder, in file-name order; missing folder: none.
pub fn read_json_files(dir: &Path) -> Result<Vec<(String, String)>, MetaError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MetaError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| MetaError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let path = entry.path();
        let content =
            std::fs::read_to_string(&path).map_err(|source| MetaError::Read { path, source })?;
        files.push((name, content));
    }
    files.sort();
    Ok(files)
}

/// The git state of the project folder at build time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// Full commit hash of HEAD.
    pub commit: String,
    /// Uncommitted changes (tracked or untracked) under the project folder.
    pub dirty: bool,
    /// `remote.origin.url`, when set.
    #[serde(default)]
    pub source: Option<String>,
    /// `git describe --tags --always --dirty`.
    #[serde(default)]
    pub describe: Option<String>,
}

impl GitInfo {
    /// Ask the host's `git` about `dir`. None when git is absent or `dir` is not in a checkout
    /// (or a checkout without commits).
    pub fn of_dir(dir: &Path) -> Option<GitInfo> {
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .env("GIT_OPTIONAL_LOCKS", "0")
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let commit = git(&["rev-parse", "--verify", "HEAD"])?;
        if commit.is_empty() {
            return None;
        }
        // `.dops/` is dops's own run-time folder (state, keys, locks), never part of a build.
        let dirty = git(&["status", "--porcelain", "--", ".", ":(exclude).dops"])
            .map(|s| !s.is_empty())
            .unwrap_or(true);
        let source = git(&["config", "--get", "remote.origin.url"]).filter(|s| !s.is_empty());
        let describe =
            git(&["describe", "--tags", "--always", "--dirty"]).filter(|s| !s.is_empty());
        Some(GitInfo {
            commit,
            dirty,
            source,
            describe,
        })
    }
}

/// Why an image was built: `manual`, `ci` (the `CI` environment variable is set), or what the
/// user passed with `--cause`.
pub fn resolve_cause(explicit: Option<&str>, ci_env: Option<&str>) -> (String, bool) {
    let ci = ci_env
        .map(|v| {
            let v = v.trim();
            !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
        })
        .unwrap_or(false);
    let cause = match explicit.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if ci => "ci".to_string(),
        None => "manual".to_string(),
    };
    (cause, ci)
}

/// The metadata of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildMeta {
    pub schema: u32,
    /// Depth in the dops ancestry: 0 for an image not built FROM a dops image.
    pub level: u32,
    pub project: String,
    pub service: String,
    /// `<project>/<service>`
    pub image: String,
    /// Every tag the image was given at build time.
    pub tags: Vec<String>,
    /// RFC 3339, UTC, whole seconds.
    pub build_time: String,
    pub build_time_epoch: i64,
    pub build_host: String,
    /// None when the project folder is not a git checkout (or git is absent).
    pub git: Option<GitInfo>,
    pub cause: String,
    pub ci: bool,
    pub dops_version: String,
    /// The FROM of the service's Dockerfile.
    pub base_image: Option<String>,
    pub methods: Methods,
    /// The dops images this one was built FROM, oldest first (not part of the JSON file: each
    /// ancestor has its own file; carried in the labels).
    #[serde(skip)]
    pub ancestors: Vec<BuildMeta>,
}

impl BuildMeta {
    /// Gather the metadata of a build happening now: clock, host name, git state of
    /// `project_dir`, the cause (`explicit`, else `ci` when `CI` is set, else `manual`).
    /// Tags default to `<image>:latest`; set others with [`BuildMeta::with_tags`]. Call
    /// [`BuildMeta::with_base_labels`] with the base image's labels to record the ancestry.
    pub fn collect(
        project_dir: &Path,
        project: &str,
        service: &str,
        image: &str,
        base_image: Option<&str>,
        cause: Option<&str>,
        methods: Methods,
    ) -> BuildMeta {
        let now = OffsetDateTime::now_utc();
        let ci_env = std::env::var("CI").ok();
        let (cause, ci) = resolve_cause(cause, ci_env.as_deref());
        let host = nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        BuildMeta {
            schema: SCHEMA,
            level: 0,
            project: project.to_string(),
            service: service.to_string(),
            image: image.to_string(),
            tags: vec![default_tag(image)],
            build_time: rfc3339(now),
            build_time_epoch: now.unix_timestamp(),
            build_host: host,
            git: GitInfo::of_dir(project_dir),
            cause,
            ci,
            dops_version: env!("CARGO_PKG_VERSION").to_string(),
            base_image: base_image.map(str::to_string),
            methods,
            ancestors: Vec::new(),
        }
    }

    pub fn with_tags(mut self, tags: Vec<String>) -> BuildMeta {
        self.tags = tags;
        self
    }

    /// Record the ancestry from the labels of the base image: when it is a dops image, its own
    /// metadata and its ancestors become this image's ancestors and `level` follows.
    pub fn with_base_labels(
        mut self,
        base_labels: &BTreeMap<String, String>,
    ) -> Result<BuildMeta, MetaError> {
        self.ancestors = match BuildMeta::from_labels(base_labels)? {
            Some(parent) => parent.chain(),
            None => Vec::new(),
        };
        self.level = self.ancestors.len() as u32;
        Ok(self)
    }

    /// The ancestors followed by this image (oldest first), each without its own ancestors.
    pub fn chain(&self) -> Vec<BuildMeta> {
        let mut out = self.ancestors.clone();
        let mut me = self.clone();
        me.ancestors.clear();
        out.push(me);
        out
    }

    /// `<NN>-<project>-<service>.json`: file-name order in `/dops/meta/` is ancestry order.
    pub fn json_file_name(&self) -> String {
        format!("{:02}-{}-{}.json", self.level, self.project, self.service)
    }

    /// The path inside the image: `/dops/meta/<json_file_name>`.
    pub fn json_path(&self) -> String {
        format!("{META_DIR}/{}", self.json_file_name())
    }

    /// The JSON file content (pretty, trailing newline). Ancestors are not included.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("metadata serializes");
        s.push('\n');
        s
    }

    pub fn from_json(text: &str) -> Result<BuildMeta, MetaError> {
        serde_json::from_str(text).map_err(|source| MetaError::Json {
            what: "image metadata".to_string(),
            source,
        })
    }

    /// The label form. Every key is present (empty when unknown): a child image inherits its
    /// parent's labels, so a missing key would show the parent's value.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            l.insert(k.to_string(), v);
        };
        let git = self.git.as_ref();
        put(keys::CREATED, self.build_time.clone());
        put(
            keys::REVISION,
            git.map(|g| g.commit.clone()).unwrap_or_default(),
        );
        put(
            keys::SOURCE,
            git.and_then(|g| g.source.clone()).unwrap_or_default(),
        );
        put(keys::TITLE, self.image.clone());
        put(
            keys::VERSION,
            git.and_then(|g| g.describe.clone()).unwrap_or_default(),
        );
        put(keys::BASE_NAME, self.base_image.clone().unwrap_or_default());
        put(keys::PROJECT, self.project.clone());
        put(keys::SERVICE, self.service.clone());
        put(keys::TAGS, self.tags.join(","));
        put(keys::BUILD_EPOCH, self.build_time_epoch.to_string());
        put(keys::BUILD_HOST, self.build_host.clone());
        put(keys::BUILD_CAUSE, self.cause.clone());
        put(keys::BUILD_CI, self.ci.to_string());
        put(
            keys::GIT_DIRTY,
            git.map(|g| g.dirty.to_string()).unwrap_or_default(),
        );
        put(keys::DOPS_VERSION, self.dops_version.clone());
        for m in Method::ALL {
            put(
                m.label(),
                self.methods.get(m).unwrap_or_default().to_string(),
            );
        }
        put(keys::LEVEL, self.level.to_string());
        put(keys::SCHEMA, self.schema.to_string());
        let ancestry: Vec<serde_json::Value> = self
            .ancestors
            .iter()
            .map(|a| serde_json::to_value(a).expect("metadata serializes"))
            .collect();
        put(
            keys::ANCESTRY,
            serde_json::to_string(&ancestry).expect("metadata serializes"),
        );
        put(
            keys::META_JSON,
            serde_json::to_string(self).expect("metadata serializes"),
        );
        l
    }

    /// Parse the label form back. `Ok(None)` when the labels carry no dops build metadata (not
    /// a dops image).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Option<BuildMeta>, MetaError> {
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        let opt = |k: &str| Some(get(k).to_string()).filter(|s| !s.is_empty());
        let bad = |key: &'static str, reason: String| MetaError::BadLabel { key, reason };
        let ancestors = match get(keys::ANCESTRY) {
            "" => Vec::new(),
            s => serde_json::from_str(s).map_err(|e| bad(keys::ANCESTRY, format!("{e}")))?,
        };
        if let Some(json) = opt(keys::META_JSON) {
            let mut meta: BuildMeta =
                serde_json::from_str(&json).map_err(|e| bad(keys::META_JSON, format!("{e}")))?;
            meta.ancestors = ancestors;
            return Ok(Some(meta));
        }
        // Without the JSON label (labels written by hand or by other tools): the single keys.
        let epoch = get(keys::BUILD_EPOCH);
        if epoch.is_empty() {
            return Ok(None);
        }
        let build_time_epoch: i64 = epoch
            .parse()
            .map_err(|e| bad(keys::BUILD_EPOCH, format!("{e}")))?;
        let parse_bool = |key: &'static str| -> Result<Option<bool>, MetaError> {
            match get(key) {
                "" => Ok(None),
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                other => Err(bad(key, format!("expected true or false, got {other:?}"))),
            }
        };
        let git = match opt(keys::REVISION) {
            Some(commit) => Some(GitInfo {
                commit,
                dirty: parse_bool(keys::GIT_DIRTY)?.unwrap_or(false),
                source: opt(keys::SOURCE),
                describe: opt(keys::VERSION),
            }),
            None => None,
        };
        let mut methods = Methods::default();
        for m in Method::ALL {
            *methods.slot(m) = opt(m.label());
        }
        let level = match get(keys::LEVEL) {
            "" => 0,
            s => s.parse().map_err(|e| bad(keys::LEVEL, format!("{e}")))?,
        };
        let schema = match get(keys::SCHEMA) {
            "" => SCHEMA,
            s => s.parse().map_err(|e| bad(keys::SCHEMA, format!("{e}")))?,
        };
        Ok(Some(BuildMeta {
            schema,
            level,
            project: get(keys::PROJECT).to_string(),
            service: get(keys::SERVICE).to_string(),
            image: get(keys::TITLE).to_string(),
            tags: get(keys::TAGS)
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            build_time: get(keys::CREATED).to_string(),
            build_time_epoch,
            build_host: get(keys::BUILD_HOST).to_string(),
            git,
            cause: get(keys::BUILD_CAUSE).to_string(),
            ci: parse_bool(keys::BUILD_CI)?.unwrap_or(false),
            dops_version: get(keys::DOPS_VERSION).to_string(),
            base_image: opt(keys::BASE_NAME),
            methods,
            ancestors,
        }))
    }
}

fn default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// RFC 3339 in UTC with whole seconds: `2026-11-23T16:39:07Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The metadata chain stored in a `/dops/meta` folder, in file-name (= ancestry) order.
pub fn read_meta_dir(dir: &Path) -> Result<Vec<BuildMeta>, MetaError> {
    read_json_files(dir)?
        .into_iter()
        .map(|(name, content)| {
            serde_json::from_str(&content).map_err(|source| MetaError::Json {
                what: dir.join(name).display().to_string(),
                source,
            })
        })
        .collect()
}

/// Run-time facts shown at the top of an examine report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuntimeInfo {
    /// The container's name, when examined from the host.
    pub container: Option<String>,
    /// When the container was created (host view): (RFC 3339, epoch).
    pub created: Option<(String, i64)>,
    /// When the container (its init) started (inside view): (RFC 3339, epoch).
    pub started: Option<(String, i64)>,
}

const KEY_WIDTH: usize = 22;

fn row(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "  {key:>KEY_WIDTH$}: {value}");
}

fn or_not_set(v: Option<&str>) -> &str {
    v.unwrap_or("not set")
}

/// The readable report of a metadata chain (oldest first), in the style of `container --examine`:
/// run-time facts, the container's management methods (`methods`: the effective ones), then one
/// section per image.
pub fn examine_report(runtime: &RuntimeInfo, methods: &Methods, chain: &[BuildMeta]) -> String {
    let mut out = String::new();
    if let Some(c) = &runtime.container {
        let _ = writeln!(out, "Container {c}");
    }
    if let Some((when, epoch)) = &runtime.created {
        let _ = writeln!(out, "Container created at {when} ({epoch})");
    }
    if let Some((when, epoch)) = &runtime.started {
        let _ = writeln!(out, "Container started at {when} ({epoch})");
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str("Container management methods:\n\n");
    let mut any = false;
    for m in Method::ALL {
        if let Some(cmd) = methods.get(m) {
            any = true;
            let _ = writeln!(
                out,
                "   Container supports {} method using command {cmd}",
                m.upper()
            );
        }
    }
    if !any {
        out.push_str("   Container declares no management methods\n");
    }
    if chain.is_empty() {
        out.push_str("\nNo dops metadata found (not a dops image)\n");
    }
    for meta in chain {
        let _ = writeln!(out, "\nMetadata for image {}\n", meta.image);
        out.push_str("  Names:\n");
        row(&mut out, "Project Name", &meta.project);
        row(&mut out, "Service Name", &meta.service);
        row(&mut out, "Image Name", &meta.image);
        row(&mut out, "Image Tag Names", &meta.tags.join(", "));
        row(
            &mut out,
            "Base Image",
            or_not_set(meta.base_image.as_deref()),
        );
        out.push_str("\n  Build Info:\n");
        row(&mut out, "CI Run", &meta.ci.to_string());
        match &meta.git {
            Some(g) => {
                row(&mut out, "Git Hash", &g.commit);
                row(&mut out, "Git Dirty", &g.dirty.to_string());
                if let Some(s) = &g.source {
                    row(&mut out, "Git Source", s);
                }
            }
            None => row(&mut out, "Git Hash", "not a git checkout"),
        }
        row(&mut out, "Build Cause", &meta.cause);
        row(
            &mut out,
            "Build Time",
            &format!("{} ({})", meta.build_time, meta.build_time_epoch),
        );
        row(&mut out, "Build Host", &meta.build_host);
        row(&mut out, "dops Version", &meta.dops_version);
        out.push_str("\n  Actions:\n");
        for m in Method::ALL {
            row(&mut out, m.upper(), or_not_set(meta.methods.get(m)));
        }
    }
    out
}

/// The `--json` form of an examine: `{"runtime": …, "methods": …, "chain": [meta, …]}`.
pub fn examine_json(runtime: &RuntimeInfo, methods: &Methods, chain: &[BuildMeta]) -> String {
    let v = serde_json::json!({
        "runtime": runtime,
        "methods": methods,
        "chain": chain,
    });
    serde_json::to_string_pretty(&v).expect("examine serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(level: u32, service: &str, commit: &str) -> BuildMeta {
        BuildMeta {
            schema: SCHEMA,
            level,
            project: "shop".into(),
            service: service.into(),
            image: format!("shop/{service}"),
            tags: vec![format!("shop/{service}:latest"), "reg.example/x:1".into()],
            build_time: "2026-11-23T16:39:07Z".into(),
            build_time_epoch: 1_795_365_547,
            build_host: "buildbox".into(),
            git: Some(GitInfo {
                commit: commit.into(),
                dirty: level == 1,
                source: Some("https://git.example/shop.git".into()),
                describe: Some("v1.0-2-gabc".into()),
            }),
            cause: "manual".into(),
            ci: false,
            dops_version: "0.1.0".into(),
            base_image: Some(if level == 0 {
                "debian:12".into()
            } else {
                "shop/base".into()
            }),
            methods: Methods {
                start: None,
                update: Some("/srv/update.sh".into()),
                validate: Some("/srv/validate.sh --all".into()),
                monitor: None,
            },
            ancestors: vec![],
        }
    }

    #[test]
    fn json_round_trip_and_file_name() {
        let m = sample(1, "web", "abc123");
        assert_eq!(m.json_file_name(), "01-shop-web.json");
        assert_eq!(m.json_path(), "/dops/meta/01-shop-web.json");
        let text = m.to_json();
        assert!(text.contains("\"build_time_epoch\": 1795365547"));
        assert_eq!(BuildMeta::from_json(&text).unwrap(), m);
        let mut no_git = m.clone();
        no_git.git = None;
        no_git.base_image = None;
        assert_eq!(BuildMeta::from_json(&no_git.to_json()).unwrap(), no_git);
        assert!(BuildMeta::from_json("{\"project\": 1}").is_err());
    }

    #[test]
    fn labels_round_trip_with_ancestry() {
        let parent = sample(0, "base", "1111");
        let child = sample(1, "web", "2222")
            .with_base_labels(&parent.labels())
            .unwrap();
        assert_eq!(child.level, 1);
        assert_eq!(child.ancestors, vec![parent.clone()]);
        let labels = child.labels();
        assert_eq!(labels[keys::CREATED], "2026-11-23T16:39:07Z");
        assert_eq!(labels[keys::REVISION], "2222");
        assert_eq!(labels[keys::TITLE], "shop/web");
        assert_eq!(labels[keys::SOURCE], "https://git.example/shop.git");
        assert_eq!(labels[keys::PROJECT], "shop");
        assert_eq!(labels[keys::METHOD_VALIDATE], "/srv/validate.sh --all");
        assert_eq!(labels[keys::METHOD_START], "");
        let back = BuildMeta::from_labels(&labels).unwrap().unwrap();
        assert_eq!(back, child);
        // The single keys alone parse back to the same (labels written without the JSON).
        let mut single = labels.clone();
        single.remove(keys::META_JSON);
        assert_eq!(BuildMeta::from_labels(&single).unwrap().unwrap(), child);
        // A later build that relabels io.dops.service (the child's own build, before its
        // injection) does not change what the parent's labels say.
        let mut relabelled = parent.labels();
        relabelled.insert(keys::SERVICE.into(), "web".into());
        let seen = BuildMeta::from_labels(&relabelled).unwrap().unwrap();
        assert_eq!(seen.service, "base");
        let chain = back.chain();
        assert_eq!(
            chain.iter().map(|m| m.service.as_str()).collect::<Vec<_>>(),
            ["base", "web"]
        );
        // A grandchild carries both ancestors, in order.
        let grand = sample(0, "api", "3333")
            .with_base_labels(&child.labels())
            .unwrap();
        assert_eq!(grand.level, 2);
        assert_eq!(grand.json_file_name(), "02-shop-api.json");
        let back = BuildMeta::from_labels(&grand.labels()).unwrap().unwrap();
        assert_eq!(
            back.chain()
                .iter()
                .map(|m| m.git.as_ref().unwrap().commit.as_str())
                .collect::<Vec<_>>(),
            ["1111", "2222", "3333"]
        );
    }

    #[test]
    fn labels_without_git_clear_inherited_values() {
        let mut m = sample(0, "web", "x");
        m.git = None;
        m.methods = Methods::default();
        let labels = m.labels();
        assert_eq!(labels[keys::REVISION], "");
        assert_eq!(labels[keys::GIT_DIRTY], "");
        let back = BuildMeta::from_labels(&labels).unwrap().unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn foreign_and_broken_labels() {
        let mut l = BTreeMap::new();
        l.insert("maintainer".to_string(), "someone".to_string());
        assert_eq!(BuildMeta::from_labels(&l).unwrap(), None);
        l.insert(keys::BUILD_EPOCH.to_string(), "soon".to_string());
        let err = BuildMeta::from_labels(&l).unwrap_err().to_string();
        assert!(err.contains("io.dops.build.epoch"), "{err}");
        // Not a dops base image: no ancestry.
        let m = sample(0, "web", "x")
            .with_base_labels(&BTreeMap::new())
            .unwrap();
        assert_eq!(m.level, 0);
        assert!(m.ancestors.is_empty());
    }

    #[test]
    fn methods_merge_in_file_name_order() {
        let files = vec![
            (
                "50-app.json".to_string(),
                r#"{"methods": {"validate": "/app/validate", "start": null}}"#.to_string(),
            ),
            (
                "10-base.json".to_string(),
                r#"{"programs": {}, "methods": {"start": "/base/start", "validate": "/base/v", "update": "/base/u"}}"#
                    .to_string(),
            ),
            ("README".to_string(), "not json".to_string()),
        ];
        let m = methods_from_initd(&files).unwrap();
        assert_eq!(
            m,
            Methods {
                start: None,
                update: Some("/base/u".into()),
                validate: Some("/app/validate".into()),
                monitor: None,
            }
        );
        let bad = vec![(
            "10-x.json".to_string(),
            r#"{"methods": {"reboot": "x"}}"#.to_string(),
        )];
        let err = methods_from_initd(&bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "10-x.json: unknown method \"reboot\" (known: start, update, validate, monitor)"
        );
        let bad = vec![("10-x.json".to_string(), "{".to_string())];
        assert!(methods_from_initd(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("10-x.json is not valid JSON"));
        let bad = vec![("10-x.json".to_string(), r#"{"methods": ["x"]}"#.to_string())];
        assert!(matches!(
            methods_from_initd(&bad),
            Err(MetaError::MethodsShape { .. })
        ));
    }

    #[test]
    fn methods_from_a_tar_archive() {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in [
            ("init.d/20-b.json", r#"{"methods": {"monitor": "echo {}"}}"#),
            (
                "init.d/10-a.json",
                r#"{"methods": {"monitor": "old", "update": "u"}}"#,
            ),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder
                .append_data(&mut h, name, content.as_bytes())
                .unwrap();
        }
        let bytes = builder.into_inner().unwrap();
        let m = methods_from_initd_tar(&bytes).unwrap();
        assert_eq!(m.monitor.as_deref(), Some("echo {}"));
        assert_eq!(m.update.as_deref(), Some("u"));
    }

    #[test]
    fn cause_from_flag_ci_env_or_manual() {
        assert_eq!(resolve_cause(None, None), ("manual".to_string(), false));
        assert_eq!(resolve_cause(None, Some("true")), ("ci".to_string(), true));
        assert_eq!(resolve_cause(None, Some("1")), ("ci".to_string(), true));
        assert_eq!(resolve_cause(None, Some("")), ("manual".to_string(), false));
        assert_eq!(
            resolve_cause(None, Some("false")),
            ("manual".to_string(), false)
        );
        assert_eq!(
            resolve_cause(Some("nightly"), Some("true")),
            ("nightly".to_string(), true)
        );
        assert_eq!(
            resolve_cause(Some("hotfix"), None),
            ("hotfix".to_string(), false)
        );
    }

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    #[test]
    fn git_info_of_a_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(GitInfo::of_dir(dir), None, "not a checkout");
        git(dir, &["init", "-q"]);
        assert_eq!(GitInfo::of_dir(dir), None, "no commit yet");
        std::fs::write(dir.join("run.conf"), "{}").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-q", "-m", "one"]);
        git(
            dir,
            &["remote", "add", "origin", "https://git.example/p.git"],
        );
        let head = {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["rev-parse", "HEAD"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let info = GitInfo::of_dir(dir).unwrap();
        assert_eq!(info.commit, head);
        assert_eq!(info.commit.len(), 40);
        assert!(!info.dirty);
        assert_eq!(info.source.as_deref(), Some("https://git.example/p.git"));
        std::fs::create_dir_all(dir.join(".dops/run")).unwrap();
        std::fs::write(dir.join(".dops/run/state.json"), "{}").unwrap();
        assert!(
            !GitInfo::of_dir(dir).unwrap().dirty,
            ".dops/ does not count"
        );
        std::fs::write(dir.join("run.conf"), "{\"changed\": 1}").unwrap();
        let info = GitInfo::of_dir(dir).unwrap();
        assert!(info.dirty);
        assert!(info.describe.unwrap().ends_with("-dirty"));
        // collect() records it.
        let m = BuildMeta::collect(
            dir,
            "p",
            "web",
            "p/web",
            Some("debian:12"),
            None,
            Methods::default(),
        );
        assert_eq!(m.git.as_ref().unwrap().commit, head);
        assert_eq!(m.tags, ["p/web:latest"]);
        assert_eq!(m.level, 0);
        assert!(m.build_time.ends_with('Z'));
        let parsed = OffsetDateTime::parse(&m.build_time, &Rfc3339).unwrap();
        assert_eq!(parsed.unix_timestamp(), m.build_time_epoch);
        assert_eq!(m.dops_version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn read_meta_dir_in_ancestry_order() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = sample(0, "zbase", "1111");
        let child = sample(1, "aweb", "2222");
        for m in [&child, &parent] {
            std::fs::write(tmp.path().join(m.json_file_name()), m.to_json()).unwrap();
        }
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let chain = read_meta_dir(tmp.path()).unwrap();
        assert_eq!(chain, vec![parent, child]);
        assert!(read_meta_dir(&tmp.path().join("missing"))
            .unwrap()
            .is_empty());
        std::fs::write(tmp.path().join("05-broken.json"), "{").unwrap();
        let err = read_meta_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("05-broken.json is not valid JSON"), "{err}");
    }

    #[test]
    fn examine_report_snapshot() {
        let parent = sample(0, "base", "1111");
        let mut child = sample(1, "web", "2222");
        child.git.as_mut().unwrap().source = None;
        child.methods.monitor = Some("/srv/stats.sh".into());
        let runtime = RuntimeInfo {
            container: Some("shop-web-one".into()),
            created: Some(("2026-11-23T16:59:00Z".into(), 1_795_366_740)),
            started: Some(("2026-11-23T17:00:00Z".into(), 1_795_366_800)),
        };
        let report = examine_report(&runtime, &child.methods, &[parent, child.clone()]);
        let expected = "\
Container shop-web-one
Container created at 2026-11-23T16:59:00Z (1795366740)
Container started at 2026-11-23T17:00:00Z (1795366800)

Container management methods:

   Container supports UPDATE method using command /srv/update.sh
   Container supports VALIDATE method using command /srv/validate.sh --all
   Container supports MONITOR method using command /srv/stats.sh

Metadata for image shop/base

  Names:
            Project Name: shop
            Service Name: base
              Image Name: shop/base
         Image Tag Names: shop/base:latest, reg.example/x:1
              Base Image: debian:12

  Build Info:
                  CI Run: false
                Git Hash: 1111
               Git Dirty: false
              Git Source: https://git.example/shop.git
             Build Cause: manual
              Build Time: 2026-11-23T16:39:07Z (1795365547)
              Build Host: buildbox
            dops Version: 0.1.0

  Actions:
                   START: not set
                  UPDATE: /srv/update.sh
                VALIDATE: /srv/validate.sh --all
                 MONITOR: not set

Metadata for image shop/web

  Names:
            Project Name: shop
            Service Name: web
              Image Name: shop/web
         Image Tag Names: shop/web:latest, reg.example/x:1
              Base Image: shop/base

  Build Info:
                  CI Run: false
                Git Hash: 2222
               Git Dirty: true
             Build Cause: manual
              Build Time: 2026-11-23T16:39:07Z (1795365547)
              Build Host: buildbox
            dops Version: 0.1.0

  Actions:
                   START: not set
                  UPDATE: /srv/update.sh
                VALIDATE: /srv/validate.sh --all
                 MONITOR: /srv/stats.sh
";
        assert_eq!(report, expected, "got:\n{report}");
        let empty = examine_report(&RuntimeInfo::default(), &Methods::default(), &[]);
        assert_eq!(
            empty,
            "Container management methods:\n\n   Container declares no management methods\n\nNo dops metadata found (not a dops image)\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&examine_json(&runtime, &child.methods, &[child.clone()]))
                .unwrap();
        assert_eq!(json["chain"][0]["git"]["commit"], "2222");
        assert_eq!(json["methods"]["monitor"], "/srv/stats.sh");
        assert_eq!(json["runtime"]["container"], "shop-web-one");
    }
}
