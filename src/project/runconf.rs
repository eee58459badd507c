//! run.conf: a JSON list of instance entries (with `#` comments), decoded with positions so every
//! error names the file, the line and column, and the JSON path.

use std::fmt;

use serde::Serialize;

use super::extra_args::{self, ExtraArgs};
use super::instance_type::InstanceType;
use super::json::{self, Node, Pos, Value};
use super::links::{LinkSpec, LinkTarget};
use super::policies::{Condition, Dependency, LogOpts, RestartPolicy, UpdateOrder};
use super::props::Overrides;
use super::values::check_env_value;

/// An error in a configuration file: `run.conf: line 12, col 5: [3].instance_type: expected ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// JSON path (`[3].links[0]`); empty for syntax errors.
    pub path: String,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: line {}, col {}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.msg)
    }
}

/// A decoding context: which file, for building errors.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub file: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, pos: Pos, path: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: pos.line,
            col: pos.col,
            path: path.to_string(),
            msg: msg.into(),
        }
    }

    pub fn expected(&self, n: &Node, path: &str, what: &str) -> ConfigError {
        self.err(n.pos, path, format!("expected {what}, found {}", n.found()))
    }

    pub fn parse(&self, text: &str) -> Result<Node, ConfigError> {
        json::parse(text).map_err(|e| self.err(e.pos, "", e.msg))
    }

    pub fn string<'n>(&self, n: &'n Node, path: &str) -> Result<&'n str, ConfigError> {
        match &n.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.expected(n, path, "a string")),
        }
    }

    pub fn opt_string(&self, n: &Node, path: &str) -> Result<Option<String>, ConfigError> {
        match &n.value {
            Value::Null => Ok(None),
            Value::Str(s) => Ok(Some(s.clone())),
            _ => Err(self.expected(n, path, "a string or null")),
        }
    }

    /// A JSON boolean, or a string True/False/yes/no/1/0 (DockerOps files have both).
    pub fn boolean(&self, n: &Node, path: &str) -> Result<bool, ConfigError> {
        match &n.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) => {
                crate::suggest::parse_bool(s).map_err(|_| self.expected(n, path, "true or false"))
            }
            Value::Num(_, raw) if raw == "0" || raw == "1" => Ok(raw == "1"),
            _ => Err(self.expected(n, path, "true or false")),
        }
    }

    /// A scalar as text (env values may be written as numbers or booleans).
    pub fn scalar(&self, n: &Node, path: &str) -> Result<String, ConfigError> {
        match &n.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Num(_, raw) => Ok(raw.clone()),
            Value::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
            _ => Err(self.expected(n, path, "a string, number or boolean")),
        }
    }

    pub fn object<'n>(&self, n: &'n Node, path: &str) -> Result<&'n [json::Member], ConfigError> {
        match &n.value {
            Value::Obj(m) => Ok(m),
            _ => Err(self.expected(n, path, "an object")),
        }
    }

    pub fn list<'n>(&self, n: &'n Node, path: &str) -> Result<&'n [Node], ConfigError> {
        match &n.value {
            Value::Arr(a) => Ok(a),
            _ => Err(self.expected(n, path, "a list")),
        }
    }
}

/// How an instance registers itself in the dops DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsPolicy {
    Append,
    Replace,
    Hide,
}

impl DnsPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsPolicy::Append => "APPEND",
            DnsPolicy::Replace => "REPLACE",
            DnsPolicy::Hide => "HIDE",
        }
    }

    pub fn parse(s: &str) -> Option<DnsPolicy> {
        match s.to_ascii_uppercase().as_str() {
            "APPEND" => Some(DnsPolicy::Append),
            "REPLACE" => Some(DnsPolicy::Replace),
            "HIDE" => Some(DnsPolicy::Hide),
            _ => None,
        }
    }
}

/// A host folder mounted into the instance (run.conf `volumes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeSpec {
    /// As written; relative paths are relative to the project folder.
    pub host: String,
    pub container: String,
    pub read_only: bool,
}

/// One entry of run.conf.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfEntry {
    /// Position in the list.
    pub index: usize,
    #[serde(skip)]
    pub pos: Pos,
    pub service: String,
    #[serde(skip)]
    pub service_pos: Pos,
    /// None: a short random name is chosen at run time.
    pub instance: Option<String>,
    pub instance_type: Option<InstanceType>,
    pub links: Vec<LinkSpec>,
    /// In file order.
    pub env_vars: Vec<(String, String)>,
    /// Seconds to wait after starting this instance.
    pub sleep: f64,
    /// The instance properties this entry sets (`publish_ports`, `persistent_data`, …).
    #[serde(flatten)]
    pub props: Overrides,
    pub volumes: Vec<VolumeSpec>,
    pub group: Option<String>,
    /// false: `run:all` skips this entry (it still runs when named).
    pub autorun: bool,
    /// Parsed when loading: an option dops cannot pass on is a load error.
    pub extra_args: ExtraArgs,
    /// Passed to the instance as `CFG` (JSON).
    pub cfg: Option<serde_json::Value>,
    pub dns_update_policy: Option<DnsPolicy>,
    /// Docker's restart policy; None = the type's default (see `plan`).
    pub restart: Option<RestartPolicy>,
    /// json-file log options; None = bounded defaults.
    pub log_opts: Option<LogOpts>,
    /// How a change is rolled out; None = start-first where it can work.
    pub update_order: Option<UpdateOrder>,
    /// How many instances of the service are replaced at once (default 1).
    pub update_parallelism: Option<u32>,
    /// What must run before this entry.
    pub depends_on: Vec<Dependency>,
}

impl RunConfEntry {
    /// An entry with only a service (what `dops run:web` means when run.conf has none).
    pub fn bare(service: &str, instance: Option<&str>) -> RunConfEntry {
        RunConfEntry {
            index: usize::MAX,
            pos: Pos::default(),
            service: service.to_string(),
            service_pos: Pos::default(),
            instance: instance.map(str::to_string),
            instance_type: None,
            links: Vec::new(),
            env_vars: Vec::new(),
            sleep: 0.0,
            props: Overrides::default(),
            volumes: Vec::new(),
            group: None,
            autorun: true,
            extra_args: ExtraArgs::default(),
            cfg: None,
            dns_update_policy: None,
            restart: None,
            log_opts: None,
            update_order: None,
            update_parallelism: None,
            depends_on: Vec::new(),
        }
    }
}

/// Every key an entry may have besides the instance properties ([`Overrides::NAMES`]).
pub const KEYS: &[&str] = &[
    "service",
    "instance",
    "instance_type",
    "links",
    "env_vars",
    "sleep",
    "volumes",
    "group",
    "autorun",
    "extra_args",
    "cfg",
    "dns_update_policy",
    "restart",
    "log_opts",
    "update_order",
    "update_parallelism",
    "depends_on",
];

/// Every key an entry may have.
pub fn all_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().chain(Overrides::NAMES).copied()
}

/// Names of services, instances and groups: letters, digits, `-`, `_`, `.`; a letter or digit first.
pub fn check_name(s: &str, lowercase: bool) -> Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("must not be empty".into()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(format!("must start with a letter or digit, found {s:?}"))
        }
        _ => {}
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{c:?} is not allowed in {s:?} (letters, digits, '-', '_', '.')"
        ));
    }
    if lowercase && s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "must be lowercase (it names an image), found {s:?}"
        ));
    }
    if s.len() > 63 {
        return Err(format!("longer than 63 characters: {s:?}"));
    }
    Ok(())
}

/// Environment variable names: letters, digits and `_`, not starting with a digit.
pub fn check_env_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid variable name {s:?} (letters, digits and '_', not starting with a digit)"
        ))
    }
}

/// The most entries a run conf may have: a project network is a Linux bridge, which takes at most
/// 1024 containers, so more could never run together (and planning stays fast).
pub const MAX_ENTRIES: usize = 1024;

/// The most links a run conf may have in all (each is resolved against every instance).
pub const MAX_LINKS: usize = 8192;

/// Parse a whole run conf. `file` is the name used in messages (e.g. `run.conf`).
pub fn parse(file: &str, text: &str) -> Result<Vec<RunConfEntry>, ConfigError> {
    let cx = Ctx { file };
    let root = cx.parse(text)?;
    let items = match &root.value {
        Value::Arr(a) => a,
        _ => return Err(cx.expected(&root, "", "a list of instance entries")),
    };
    if let Some(over) = items.get(MAX_ENTRIES) {
        return Err(cx.err(
            over.pos,
            &format!("[{MAX_ENTRIES}]"),
            format!(
                "more than {MAX_ENTRIES} entries ({} in all): a project network holds at most {MAX_ENTRIES} containers",
                items.len()
            ),
        ));
    }
    let mut links = 0usize;
    let mut out: Vec<RunConfEntry> = Vec::with_capacity(items.len());
    // (service, instance) → its index in `out`: duplicates found in constant time.
    let mut seen: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let entry = entry(&cx, i, item)?;
        links += entry.links.len();
        if links > MAX_LINKS {
            return Err(cx.err(
                entry.pos,
                &format!("[{i}].links"),
                format!("more than {MAX_LINKS} links in all"),
            ));
        }
        if let Some(inst) = &entry.instance {
            let key = (entry.service.clone(), inst.clone());
            if let Some(prev) = seen.get(&key).map(|&j| &out[j]) {
                return Err(cx.err(
                    entry.pos,
                    &format!("[{i}]"),
                    format!(
                        "instance {}-{inst} is already defined at [{}] (line {})",
                        entry.service, prev.index, prev.pos.line
                    ),
                ));
            }
            seen.insert(key, out.len());
        }
        out.push(entry);
    }
    Ok(out)
}

fn entry(cx: &Ctx, i: usize, n: &Node) -> Result<RunConfEntry, ConfigError> {
    let base = format!("[{i}]");
    let members = cx.object(n, &base)?;
    let mut e = RunConfEntry::bare("", None);
    e.index = i;
    e.pos = n.pos;
    let mut has_service = false;
    for m in members {
        let path = format!("{base}.{}", m.key);
        let v = &m.value;
        match m.key.as_str() {
            "service" => {
                let s = cx.string(v, &path)?;
                check_name(s, true).map_err(|msg| cx.err(v.pos, &path, msg))?;
                e.service = s.to_string();
                e.service_pos = v.pos;
                has_service = true;
            }
            "instance" => {
                e.instance = cx.opt_string(v, &path)?;
                if let Some(s) = &e.instance {
                    check_name(s, false).map_err(|msg| cx.err(v.pos, &path, msg))?;
                }
            }
            "instance_type" => {
                if let Value::Null = v.value {
                    continue;
                }
                let s = cx.string(v, &path)?;
                e.instance_type = Some(InstanceType::parse(s).ok_or_else(|| {
                    let hint = crate::suggest::closest(s, InstanceType::NAMES.iter().copied())
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    cx.err(
                        v.pos,
                        &path,
                        format!(
                            "expected one of standard, published, persistent, master, debug, found {}{hint}",
                            v.found()
                        ),
                    )
                })?);
            }
            "links" => {
                for (j, l) in cx.list(v, &path)?.iter().enumerate() {
                    e.links.push(link(cx, l, &format!("{path}[{j}]"))?);
                }
            }
            "env_vars" => {
                for var in cx.object(v, &path)? {
                    let p = format!("{path}.{}", var.key);
                    check_env_name(&var.key).map_err(|msg| cx.err(var.key_pos, &p, msg))?;
                    let value = cx.scalar(&var.value, &p)?;
                    check_env_value(&var.key, &value)
                        .map_err(|msg| cx.err(var.value.pos, &p, msg))?;
                    e.env_vars.push((var.key.clone(), value));
                }
            }
            "sleep" => {
                e.sleep = match &v.value {
                    Value::Num(f, _) if *f >= 0.0 && *f <= 86400.0 => *f,
                    Value::Str(s) => match s.trim().parse::<f64>() {
                        Ok(f) if (0.0..=86400.0).contains(&f) => f,
                        _ => return Err(cx.expected(v, &path, "seconds (0 to 86400)")),
                    },
                    _ => return Err(cx.expected(v, &path, "seconds (0 to 86400)")),
                }
            }
            "autorun" => e.autorun = cx.boolean(v, &path)?,
            prop if Overrides::NAMES.contains(&prop) => {
                let value = Some(cx.boolean(v, &path)?);
                if let Some(slot) = e.props.get_mut(prop) {
                    *slot = value;
                }
            }
            "volumes" => {
                for (j, vol) in cx.list(v, &path)?.iter().enumerate() {
                    e.volumes.push(volume(cx, vol, &format!("{path}[{j}]"))?);
                }
            }
            "group" => {
                e.group = cx.opt_string(v, &path)?;
                if let Some(g) = &e.group {
                    check_name(g, false).map_err(|msg| cx.err(v.pos, &path, msg))?;
                }
            }
            "extra_args" => {
                // Each argument with where it is written (a string's words share its position).
                let args: Vec<(String, Pos)> = match &v.value {
                    Value::Str(s) => s
                        .split_whitespace()
                        .map(|w| (w.to_string(), v.pos))
                        .collect(),
                    Value::Arr(items) => items
                        .iter()
                        .enumerate()
                        .map(|(j, a)| {
                            cx.string(a, &format!("{path}[{j}]"))
                                .map(|s| (s.to_string(), a.pos))
                        })
                        .collect::<Result<_, _>>()?,
                    Value::Null => Vec::new(),
                    _ => return Err(cx.expected(v, &path, "a list of strings")),
                };
                let words: Vec<String> = args.iter().map(|(w, _)| w.clone()).collect();
                e.extra_args = extra_args::parse(&words).map_err(|err| {
                    cx.err(
                        args[err.index].1,
                        &format!("{path}[{}]", err.index),
                        err.msg,
                    )
                })?;
            }
            "cfg" => {
                cx.object(v, &path)?;
                e.cfg = Some(v.to_json());
            }
            "dns_update_policy" => {
                let s = cx.string(v, &path)?;
                e.dns_update_policy = Some(DnsPolicy::parse(s).ok_or_else(|| {
                    cx.err(
                        v.pos,
                        &path,
                        format!("expected one of APPEND, REPLACE, HIDE, found {}", v.found()),
                    )
                })?);
            }
            "restart" => {
                let s = cx.string(v, &path)?;
                e.restart = Some(RestartPolicy::parse(s).map_err(|msg| cx.err(v.pos, &path, msg))?);
            }
            "log_opts" => {
                let mut opts = LogOpts::new();
                for o in cx.object(v, &path)? {
                    opts.insert(
                        o.key.clone(),
                        cx.scalar(&o.value, &format!("{path}.{}", o.key))?,
                    );
                }
                e.log_opts = Some(opts);
            }
            "update_order" => {
                let s = cx.string(v, &path)?;
                e.update_order =
                    Some(UpdateOrder::parse(s).map_err(|msg| cx.err(v.pos, &path, msg))?);
            }
            "update_parallelism" => {
                e.update_parallelism = Some(match &v.value {
                    Value::Num(f, _) if *f >= 1.0 && *f <= 1000.0 && f.fract() == 0.0 => *f as u32,
                    _ => return Err(cx.expected(v, &path, "a whole number from 1 to 1000")),
                })
            }
            "depends_on" => {
                for (j, d) in cx.list(v, &path)?.iter().enumerate() {
                    e.depends_on
                        .push(dependency(cx, d, &format!("{path}[{j}]"))?);
                }
            }
            other => {
                let hint = crate::suggest::closest(other, all_keys())
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_else(|| {
                        format!(
                            " (known keys: {})",
                            all_keys().collect::<Vec<_>>().join(", ")
                        )
                    });
                return Err(cx.err(m.key_pos, &path, format!("unknown key{hint}")));
            }
        }
    }
    if !has_service {
        return Err(cx.err(n.pos, &base, "missing key \"service\""));
    }
    Ok(e)
}

/// `"db"`, `"db-master"` (resolved against the services by the project model) or
/// `{"service": "db", "instance": null, "condition": "started" | "up" | "completed"}`.
fn dependency(cx: &Ctx, n: &Node, path: &str) -> Result<Dependency, ConfigError> {
    match &n.value {
        Value::Str(s) => {
            check_name(s, true).map_err(|msg| cx.err(n.pos, path, msg))?;
            Ok(Dependency {
                service: s.to_string(),
                instance: None,
                condition: Condition::Started,
            })
        }
        Value::Obj(members) => {
            let mut service = None;
            let mut instance = None;
            let mut condition = Condition::Started;
            for m in members {
                let p = format!("{path}.{}", m.key);
                match m.key.as_str() {
                    "service" => {
                        let s = cx.string(&m.value, &p)?;
                        check_name(s, true).map_err(|msg| cx.err(m.value.pos, &p, msg))?;
                        service = Some(s.to_string());
                    }
                    "instance" => instance = cx.opt_string(&m.value, &p)?,
                    "condition" => {
                        let s = cx.string(&m.value, &p)?;
                        condition =
                            Condition::parse(s).map_err(|msg| cx.err(m.value.pos, &p, msg))?;
                    }
                    other => {
                        let hint =
                            crate::suggest::closest(other, ["service", "instance", "condition"])
                                .map(|c| format!(" (did you mean {c:?}?)"))
                                .unwrap_or_else(|| {
                                    " (a dependency has service, instance, condition)".into()
                                });
                        return Err(cx.err(m.key_pos, &p, format!("unknown key{hint}")));
                    }
                }
            }
            let service = service.ok_or_else(|| cx.err(n.pos, path, "missing key \"service\""))?;
            Ok(Dependency {
                service,
                instance,
                condition,
            })
        }
        _ => Err(cx.expected(
            n,
            path,
            "\"service\", \"service-instance\" or {\"service\", \"instance\", \"condition\"}",
        )),
    }
}

fn link(cx: &Ctx, n: &Node, path: &str) -> Result<LinkSpec, ConfigError> {
    match &n.value {
        Value::Str(s) => {
            let Some((target, name)) = s.rsplit_once(':') else {
                return Err(cx.expected(n, path, "\"service-instance:NAME\""));
            };
            if target.is_empty() || name.is_empty() {
                return Err(cx.expected(n, path, "\"service-instance:NAME\""));
            }
            check_env_name(name).map_err(|m| cx.err(n.pos, path, format!("link name: {m}")))?;
            Ok(LinkSpec {
                name: name.to_string(),
                target: LinkTarget::Hostname(target.to_string()),
            })
        }
        Value::Obj(members) => {
            let mut name = None;
            let mut service = None;
            let mut instance = None;
            for m in members {
                let p = format!("{path}.{}", m.key);
                match m.key.as_str() {
                    "name" => {
                        let s = cx.string(&m.value, &p)?;
                        check_env_name(s)
                            .map_err(|msg| cx.err(m.value.pos, &p, format!("link name: {msg}")))?;
                        name = Some(s.to_string());
                    }
                    "service" => service = Some(cx.string(&m.value, &p)?.to_string()),
                    "instance" => instance = cx.opt_string(&m.value, &p)?,
                    other => {
                        let hint = crate::suggest::closest(other, ["name", "service", "instance"])
                            .map(|c| format!(" (did you mean {c:?}?)"))
                            .unwrap_or_else(|| " (a link has name, service, instance)".into());
                        return Err(cx.err(m.key_pos, &p, format!("unknown key{hint}")));
                    }
                }
            }
            let name = name.ok_or_else(|| cx.err(n.pos, path, "missing key \"name\""))?;
            let service = service.ok_or_else(|| cx.err(n.pos, path, "missing key \"service\""))?;
            Ok(LinkSpec {
                name,
                target: LinkTarget::Service { service, instance },
            })
        }
        _ => Err(cx.expected(
            n,
            path,
            "\"service-instance:NAME\" or {\"name\", \"service\", \"instance\"}",
        )),
    }
}

fn volume(cx: &Ctx, n: &Node, path: &str) -> Result<VolumeSpec, ConfigError> {
    let v = match &n.value {
        Value::Str(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [h, c] => VolumeSpec {
                    host: h.to_string(),
                    container: c.to_string(),
                    read_only: false,
                },
                [h, c, mode] if *mode == "ro" || *mode == "rw" => VolumeSpec {
                    host: h.to_string(),
                    container: c.to_string(),
                    read_only: *mode == "ro",
                },
                _ => return Err(cx.expected(n, path, "\"HOST:CONTAINER[:ro]\"")),
            }
        }
        Value::Obj(members) => {
            let mut v = VolumeSpec {
                host: String::new(),
                container: String::new(),
                read_only: false,
            };
            for m in members {
                let p = format!("{path}.{}", m.key);
                match m.key.as_str() {
                    "host" => v.host = cx.string(&m.value, &p)?.to_string(),
                    "container" => v.container = cx.string(&m.value, &p)?.to_string(),
                    "read_only" => v.read_only = cx.boolean(&m.value, &p)?,
                    _ => {
                        return Err(cx.err(
                            m.key_pos,
                            &p,
                            "unknown key (a volume has host, container, read_only)",
                        ))
                    }
                }
            }
            v
        }
        _ => return Err(cx.expected(n, path, "\"HOST:CONTAINER[:ro]\" or an object")),
    };
    if v.host.is_empty() || !v.container.starts_with('/') {
        return Err(cx.err(
            n.pos,
            path,
            "a volume needs a host path and an absolute container path",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> String {
        parse("run.conf", text).unwrap_err().to_string()
    }

    #[test]
    fn lifecycle_and_rollout_keys() {
        let entries = parse(
            "run.conf",
            r#"[{"service": "web", "instance": "one", "restart": "on-failure:3",
                 "log_opts": {"max-size": "1m", "max-file": 2}, "update_order": "stop-first",
                 "update_parallelism": 2,
                 "depends_on": ["db", {"service": "cache", "instance": "a", "condition": "up"}]}]"#,
        )
        .unwrap();
        let w = &entries[0];
        assert_eq!(w.restart, Some(RestartPolicy::OnFailure { max: 3 }));
        assert_eq!(
            w.log_opts
                .as_ref()
                .unwrap()
                .get("max-file")
                .map(String::as_str),
            Some("2")
        );
        assert_eq!(w.update_order, Some(UpdateOrder::StopFirst));
        assert_eq!(w.update_parallelism, Some(2));
        assert_eq!(w.depends_on.len(), 2);
        assert_eq!(w.depends_on[1].condition, Condition::Up);
        assert_eq!(
            e(r#"[{"service": "web", "restart": "sometimes"}]"#),
            "run.conf: line 1, col 32: [0].restart: expected one of no, always, unless-stopped, on-failure[:N], found \"sometimes\""
        );
        assert_eq!(
            e(r#"[{"service": "web", "update_parallelism": 0}]"#),
            "run.conf: line 1, col 43: [0].update_parallelism: expected a whole number from 1 to 1000, found 0"
        );
        assert!(
            e(r#"[{"service": "web", "depends_on": [{"service": "db", "when": "up"}]}]"#)
                .contains("[0].depends_on[0].when: unknown key")
        );
    }

    #[test]
    fn a_dockerops_run_conf_with_comments() {
        let text = r#"
# the DNS first
[
 {
  "service": "dockerops-dns",   # the dns
  "instance": "master",
  "sleep": 0,
  "links": [],
  "env_vars": {"SERVICE_IP":"from_eth0" }
  },
 {
  "service": "dockerops-base",
  "instance": "one",
  "sleep": 1.5,
  "links": ["dockerops-dns-master:dns"],
  },
 {
  "service": "demo",
  "instance": "one",
  "publish_ports": "True",
  "links": [{"name": "BASE", "service": "dockerops-base", "instance": null}],
  "cfg": {"a": {"b": [1, "x#y"]}},
  "dns_update_policy": "replace",
  "volumes": ["./shared:/shared:ro", {"host": "/tmp", "container": "/t"}],
  "extra_args": "--privileged --init",
  "autorun": false, "group": "front", "nethost": false
 }
]
"#;
        let entries = parse("run.conf", text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].service, "dockerops-dns");
        assert_eq!(
            entries[0].env_vars,
            vec![("SERVICE_IP".into(), "from_eth0".into())]
        );
        assert_eq!(entries[1].sleep, 1.5);
        assert_eq!(
            entries[1].links[0],
            LinkSpec {
                name: "dns".into(),
                target: LinkTarget::Hostname("dockerops-dns-master".into())
            }
        );
        let d = &entries[2];
        assert_eq!(d.props.publish_ports, Some(true));
        assert_eq!(
            d.links[0].target,
            LinkTarget::Service {
                service: "dockerops-base".into(),
                instance: None
            }
        );
        assert_eq!(d.cfg, Some(serde_json::json!({"a": {"b": [1, "x#y"]}})));
        assert_eq!(d.dns_update_policy, Some(DnsPolicy::Replace));
        assert!(d.volumes[0].read_only);
        assert_eq!(d.volumes[1].container, "/t");
        assert_eq!(d.extra_args.args, vec!["--privileged", "--init"]);
        assert!(d.extra_args.privileged && d.extra_args.init);
        assert!(!d.autorun);
        assert_eq!(d.group.as_deref(), Some("front"));
        assert_eq!(d.pos.line, 17);
    }

    #[test]
    fn error_positions_and_paths() {
        let text = "[\n {\"service\": \"web\"},\n {\"service\": \"web\", \"instance\": \"two\"},\n {\"service\": \"db\"},\n {\"service\": \"db\",\n    \"instance_type\": \"mastr\"}\n]";
        assert_eq!(
            e(text),
            "run.conf: line 6, col 22: [3].instance_type: expected one of standard, published, persistent, master, debug, found \"mastr\" (did you mean \"master\"?)"
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"instanec\": \"x\"}]"),
            "run.conf: line 1, col 21: [0].instanec: unknown key (did you mean \"instance\"?)"
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"frobs\": 1}]"),
            format!(
                "run.conf: line 1, col 21: [0].frobs: unknown key (known keys: {})",
                all_keys().collect::<Vec<_>>().join(", ")
            )
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"sleep\": \"soon\"}]"),
            "run.conf: line 1, col 30: [0].sleep: expected seconds (0 to 86400), found \"soon\""
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"links\": [\"nocolon\"]}]"),
            "run.conf: line 1, col 31: [0].links[0]: expected \"service-instance:NAME\", found \"nocolon\""
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"links\": [{\"name\": \"DB\", \"servce\": \"db\"}]}]"),
            "run.conf: line 1, col 46: [0].links[0].servce: unknown key (did you mean \"service\"?)"
        );
        assert_eq!(
            e("[{\"instance\": \"one\"}]"),
            "run.conf: line 1, col 2: [0]: missing key \"service\""
        );
        assert_eq!(
            e("{\"service\": \"web\"}"),
            "run.conf: line 1, col 1: expected a list of instance entries, found an object"
        );
        assert_eq!(
            e("[{\"service\": \"Web\"}]"),
            "run.conf: line 1, col 14: [0].service: must be lowercase (it names an image), found \"Web\""
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"publish_ports\": \"maybe\"}]"),
            "run.conf: line 1, col 38: [0].publish_ports: expected true or false, found \"maybe\""
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"env_vars\": {\"1A\": \"x\"}}]"),
            "run.conf: line 1, col 34: [0].env_vars.1A: invalid variable name \"1A\" (letters, digits and '_', not starting with a digit)"
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"instance\": \"a\"},\n{\"service\": \"web\", \"instance\": \"a\"}]"),
            "run.conf: line 2, col 1: [1]: instance web-a is already defined at [0] (line 1)"
        );
        assert_eq!(
            e("[{\"service\": \"web\", \"dns_update_policy\": \"ALL\"}]"),
            "run.conf: line 1, col 42: [0].dns_update_policy: expected one of APPEND, REPLACE, HIDE, found \"ALL\""
        );
        assert_eq!(
            e("[{\"service\": \"web\",}\n# comment \"x\n{}]"),
            "run.conf: line 3, col 1: expected ',' or ']', found '{'"
        );
    }

    #[test]
    fn comment_inside_a_string_is_text() {
        let entries = parse(
            "run.conf",
            "[{\"service\": \"web\", \"env_vars\": {\"A\": \"x # y\"}}] # end",
        )
        .unwrap();
        assert_eq!(entries[0].env_vars[0].1, "x # y");
    }

    #[test]
    fn env_scalars() {
        let entries = parse(
            "run.conf",
            "[{\"service\": \"web\", \"env_vars\": {\"A\": 3, \"B\": true, \"C\": \"s\"}}]",
        )
        .unwrap();
        assert_eq!(
            entries[0].env_vars,
            vec![
                ("A".into(), "3".into()),
                ("B".into(), "True".into()),
                ("C".into(), "s".into())
            ]
        );
    }
}
