//! The management methods an image declares (START/UPDATE/VALIDATE/MONITOR) in its
//! `/dops/init.d` fragments, merged in file-name order.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::MetaError;
use super::files::read_json_files;
use super::keys;

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

    pub(super) fn label(self) -> &'static str {
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

    pub(super) fn slot(&mut self, m: Method) -> &mut Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
