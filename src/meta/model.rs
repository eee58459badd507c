//! One image's metadata ([`BuildMeta`]): its labels form and its JSON file form, and the chain of
//! its dops ancestors.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::MetaError;
use super::files::read_json_files;
use super::keys;
use super::methods::{Method, Methods};

/// The folder in every dops image that holds the metadata chain.
pub const META_DIR: &str = "/dops/meta";
/// Where dops-init lives in every dops image (the injected entrypoint).
pub const INIT_PATH: &str = "/dops/bin/dops-init";
/// The folder of init configuration fragments (the `methods` key lives there).
pub const INITD_DIR: &str = "/dops/init.d";
/// Version of the JSON form; bump when fields change meaning.
pub const SCHEMA: u32 = 1;

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
    /// The entry points (`/entrypoints/*.sh` file names) this image has, its parents' included:
    /// dops-init runs them parents first (see `entrypoints`). Empty in metadata written before
    /// dops recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoints: Vec<String>,
    /// The dops images this one was built FROM, oldest first (not part of the JSON file: each
    /// ancestor has its own file; carried in the labels).
    #[serde(skip)]
    pub ancestors: Vec<BuildMeta>,
}

impl BuildMeta {
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

    /// The labels that say what was built, from what and why, without when: every label but
    /// the build time and what the built image itself determines (its methods, its ancestry,
    /// which the base image id already pins down). Two builds with the same identity labels of
    /// the same image are the same build: the first is kept (Docker's cache, its instances kept);
    /// any difference (a new commit, dirtiness, the cause, CI, the host, the dops version) makes
    /// a new metadata layer, so the image describes the build that was asked for.
    pub fn identity_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels();
        for k in [
            keys::CREATED,
            keys::BUILD_EPOCH,
            keys::META_JSON,
            keys::ANCESTRY,
            keys::LEVEL,
        ] {
            l.remove(k);
        }
        for m in Method::ALL {
            l.remove(m.label());
        }
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
            entrypoints: Vec::new(),
            ancestors,
        }))
    }
}

pub(super) fn default_tag(image: &str) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::meta::methods::Methods;

    pub(crate) fn sample(level: u32, service: &str, commit: &str) -> BuildMeta {
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
            entrypoints: vec![],
            ancestors: vec![],
        }
    }

    #[test]
    fn the_identity_is_everything_but_the_time_and_what_the_image_decides() {
        let a = sample(0, "web", "aaaa");
        let mut later = a.clone();
        later.build_time = "2026-11-24T08:00:00Z".into();
        later.build_time_epoch += 55_000;
        later.methods = Methods::default();
        later.ancestors = vec![sample(0, "base", "aaaa")];
        later.level = 1;
        assert_eq!(a.identity_labels(), later.identity_labels());
        assert!(!a.identity_labels().contains_key(keys::CREATED));
        let changed = |f: &dyn Fn(&mut BuildMeta)| {
            let mut b = a.clone();
            f(&mut b);
            a.identity_labels() != b.identity_labels()
        };
        assert!(changed(&|b| b.git.as_mut().unwrap().commit = "bbbb".into()));
        assert!(changed(&|b| b.git = None));
        assert!(changed(&|b| b.git.as_mut().unwrap().dirty = true));
        assert!(changed(&|b| b.cause = "nightly".into()));
        assert!(changed(&|b| b.ci = true));
        assert!(changed(&|b| b.dops_version = "0.2.0".into()));
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
}
