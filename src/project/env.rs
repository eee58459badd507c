//! Environment resolution, in this order, each value remembering where it came from:
//!
//! 1. `services/<svc>/required_env_vars.json`: the names that must end up set (an object form may
//!    give defaults, origin `required_env_vars`);
//! 2. run.conf `env_vars` (origin `run_conf`);
//! 3. the fixed variables: `SERVICE`, `INSTANCE`, `INSTANCE_TYPE`, `PERSISTENT_DATA`,
//!    `PERSISTENT_LOG`, `PERSISTENT_OPT`, `PERSISTENT_HOME`, `SAFEMODE`, `INTERACTIVE`,
//!    `HOST_HOSTNAME`, and `CFG` when run.conf has `cfg` (origin `fixed`);
//! 4. links: `<NAME>_SERVICE_IP` (origin `link`);
//! 5. the dops DNS: `DNS_SERVICE_IP`, `DNS_ZONE`, `DNS_KEY`, `DNS_UPDATE_POLICY`, only where still
//!    unset, so a run.conf value or a link named `dns` wins (origin `dns`);
//! 6. the host environment overrides variables already defined (declared required names
//!    included), never the fixed ones (origin `host_env`);
//! 7. `host.conf` fills what is still unset (origin `host_conf`);
//! 8. the command line (`--env KEY=VALUE`, `env=KEY=VALUE`) sets or overrides anything but the
//!    fixed variables (refused there when the command line is read) (origin `command_line`).
//!
//! Then a required variable still unset is an error, and a `*_IP` value `from_<iface>` becomes the
//! IPv4 address of that host interface (the addresses are an input: no I/O here).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Serialize;

use super::hostconf::{HostConf, RequiredVar};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
    pub origin: EnvOrigin,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum EnvValue {
    Literal(String),
    /// The IPv4 address of this container on the project network, known at apply time.
    IpOf(String),
}

/// Where an environment variable's value came from, in resolution order.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EnvOrigin {
    RequiredEnvVars,
    RunConf,
    Fixed,
    Link,
    HostEnv,
    HostConf,
    CommandLine,
    Dns,
}

impl std::fmt::Display for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::Literal(s) => f.write_str(s),
            EnvValue::IpOf(c) => write!(f, "<ip of {c}>"),
        }
    }
}

impl std::fmt::Display for EnvOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EnvOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvOrigin::RequiredEnvVars => "required_env_vars.json",
            EnvOrigin::RunConf => "run.conf",
            EnvOrigin::Fixed => "fixed",
            EnvOrigin::Link => "link",
            EnvOrigin::HostEnv => "host env",
            EnvOrigin::HostConf => "host.conf",
            EnvOrigin::CommandLine => "command line",
            EnvOrigin::Dns => "dns",
        }
    }
}

/// What the planner knows about the host, captured by the command layer (the only I/O).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostContext {
    /// The host environment of the dops process (the variables that are UTF-8).
    pub env: BTreeMap<String, String>,
    /// Host variables whose value is not UTF-8: an error if resolution would use one.
    pub env_not_utf8: BTreeSet<String>,
    pub hostname: String,
    /// IPv4 address of each host interface (first one per interface).
    pub interfaces: BTreeMap<String, Ipv4Addr>,
}

pub const FIXED: &[&str] = &[
    "SERVICE",
    "INSTANCE",
    "INSTANCE_TYPE",
    "PERSISTENT_DATA",
    "PERSISTENT_LOG",
    "PERSISTENT_OPT",
    "PERSISTENT_HOME",
    "SAFEMODE",
    "INTERACTIVE",
    "HOST_HOSTNAME",
    "CFG",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("{instance}: required variable {name} is not set (required by {file}; set it in run.conf env_vars, host.conf or the host environment)")]
    MissingRequired {
        instance: String,
        name: String,
        file: String,
    },
    #[error("{instance}: {name}={value} (from {origin}): no host interface '{}' with an IPv4 address (found: {found})", .value.strip_prefix("from_").unwrap_or(.value))]
    NoInterface {
        instance: String,
        name: String,
        value: String,
        origin: EnvOrigin,
        found: String,
    },
    #[error("{instance}: {name} from the host environment is not valid UTF-8\nhint: set it to UTF-8 text, or unset it")]
    HostNotUtf8 { instance: String, name: String },
}

/// Everything env resolution reads, already gathered by the planner.
#[derive(Debug, Clone)]
pub struct EnvInputs<'a> {
    /// `<service>-<instance>`, for messages.
    pub instance: &'a str,
    pub required: &'a [RequiredVar],
    /// `services/<svc>/required_env_vars.json`, for messages.
    pub required_file: String,
    pub run_conf: &'a [(String, String)],
    pub fixed: Vec<(String, String)>,
    pub links: Vec<(String, EnvValue)>,
    pub dns: Vec<(String, EnvValue)>,
    pub host: &'a HostContext,
    pub host_conf: &'a HostConf,
    /// `--env KEY=VALUE`, in command-line order.
    pub command_line: &'a [(String, String)],
}

/// The variables being resolved, by name (one lookup per step, whatever their number).
type Vars = BTreeMap<String, (EnvValue, EnvOrigin)>;

fn set(vars: &mut Vars, name: &str, value: EnvValue, origin: EnvOrigin) {
    match vars.get_mut(name) {
        Some(v) => *v = (value, origin),
        None => {
            vars.insert(name.to_string(), (value, origin));
        }
    }
}

/// Resolve one instance's environment (sorted by name).
pub fn resolve(inp: &EnvInputs) -> Result<Vec<EnvVar>, EnvError> {
    let lit = |s: &str| EnvValue::Literal(s.to_string());
    let mut vars: Vars = BTreeMap::new();
    let mut declared: Vec<&str> = Vec::new();
    for r in inp.required {
        declared.push(&r.name);
        if let Some(d) = &r.default {
            set(&mut vars, &r.name, lit(d), EnvOrigin::RequiredEnvVars);
        }
    }
    for (k, v) in inp.run_conf {
        set(&mut vars, k, lit(v), EnvOrigin::RunConf);
    }
    for (k, v) in &inp.fixed {
        set(&mut vars, k, lit(v), EnvOrigin::Fixed);
    }
    for (k, v) in &inp.links {
        set(&mut vars, k, v.clone(), EnvOrigin::Link);
    }
    for (k, v) in &inp.dns {
        if !vars.contains_key(k) {
            set(&mut vars, k, v.clone(), EnvOrigin::Dns);
        }
    }
    let defined: BTreeSet<String> = vars
        .keys()
        .cloned()
        .chain(declared.iter().map(|s| s.to_string()))
        .filter(|n| !FIXED.contains(&n.as_str()))
        .collect();
    for name in defined {
        if inp.host.env_not_utf8.contains(&name) {
            return Err(EnvError::HostNotUtf8 {
                instance: inp.instance.to_string(),
                name,
            });
        }
        if let Some(v) = inp.host.env.get(&name) {
            set(&mut vars, &name, lit(v), EnvOrigin::HostEnv);
        }
    }
    for (k, v) in &inp.host_conf.vars {
        if !vars.contains_key(k) {
            set(&mut vars, k, lit(v), EnvOrigin::HostConf);
        }
    }
    for (k, v) in inp.command_line {
        if !FIXED.contains(&k.as_str()) {
            set(&mut vars, k, lit(v), EnvOrigin::CommandLine);
        }
    }
    for name in declared {
        if !vars.contains_key(name) {
            return Err(EnvError::MissingRequired {
                instance: inp.instance.to_string(),
                name: name.to_string(),
                file: inp.required_file.clone(),
            });
        }
    }
    for (name, (value, origin)) in vars.iter_mut() {
        if !name.ends_with("_IP") {
            continue;
        }
        let EnvValue::Literal(text) = value else {
            continue;
        };
        let Some(iface) = text.strip_prefix("from_") else {
            continue;
        };
        match inp.host.interfaces.get(iface) {
            Some(ip) => *value = EnvValue::Literal(ip.to_string()),
            None => {
                let found: Vec<&str> = inp.host.interfaces.keys().map(String::as_str).collect();
                return Err(EnvError::NoInterface {
                    instance: inp.instance.to_string(),
                    name: name.clone(),
                    value: text.clone(),
                    origin: *origin,
                    found: if found.is_empty() {
                        "none".to_string()
                    } else {
                        found.join(", ")
                    },
                });
            }
        }
    }
    Ok(vars
        .into_iter()
        .map(|(name, (value, origin))| EnvVar {
            name,
            value,
            origin,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(vars: &'a [EnvVar], name: &str) -> Option<(&'a EnvValue, EnvOrigin)> {
        vars.iter()
            .find(|v| v.name == name)
            .map(|v| (&v.value, v.origin))
    }

    fn lit(s: &str) -> EnvValue {
        EnvValue::Literal(s.to_string())
    }

    struct Fx {
        required: Vec<RequiredVar>,
        run_conf: Vec<(String, String)>,
        host: HostContext,
        host_conf: HostConf,
        command_line: Vec<(String, String)>,
    }

    impl Fx {
        fn new() -> Fx {
            Fx {
                required: Vec::new(),
                run_conf: Vec::new(),
                host: HostContext::default(),
                host_conf: HostConf::default(),
                command_line: Vec::new(),
            }
        }
        fn inputs(&self) -> EnvInputs<'_> {
            EnvInputs {
                instance: "web-one",
                required: &self.required,
                required_file: "services/web/required_env_vars.json".into(),
                run_conf: &self.run_conf,
                fixed: vec![
                    ("SERVICE".into(), "web".into()),
                    ("INSTANCE".into(), "one".into()),
                ],
                links: vec![("DB_SERVICE_IP".into(), EnvValue::IpOf("p-db-one".into()))],
                dns: vec![
                    (
                        "DNS_SERVICE_IP".into(),
                        EnvValue::IpOf("p-dops-dns-master".into()),
                    ),
                    ("DNS_ZONE".into(), lit("local.zone")),
                ],
                host: &self.host,
                host_conf: &self.host_conf,
                command_line: &self.command_line,
            }
        }
    }

    #[test]
    fn each_step_in_order_with_its_origin() {
        let mut fx = Fx::new();
        fx.required = vec![
            RequiredVar {
                name: "A".into(),
                default: Some("req".into()),
            },
            RequiredVar {
                name: "B".into(),
                default: None,
            },
            RequiredVar {
                name: "C".into(),
                default: None,
            },
        ];
        fx.run_conf = vec![
            ("A".into(), "runconf".into()),
            ("SERVICE".into(), "fake".into()),
            ("D".into(), "d".into()),
        ];
        fx.host.env = [
            ("A", "hostenv"),
            ("B", "hostenvB"),
            ("SERVICE", "x"),
            ("UNRELATED", "u"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        fx.host_conf.vars = vec![
            ("C".into(), "hc".into()),
            ("D".into(), "hcD".into()),
            ("E".into(), "e".into()),
        ];
        let vars = resolve(&fx.inputs()).unwrap();
        // host env overrides a defined variable
        assert_eq!(get(&vars, "A"), Some((&lit("hostenv"), EnvOrigin::HostEnv)));
        // host env may set a declared required name
        assert_eq!(
            get(&vars, "B"),
            Some((&lit("hostenvB"), EnvOrigin::HostEnv))
        );
        // host.conf fills what is unset, and only that
        assert_eq!(get(&vars, "C"), Some((&lit("hc"), EnvOrigin::HostConf)));
        assert_eq!(get(&vars, "D"), Some((&lit("d"), EnvOrigin::RunConf)));
        assert_eq!(get(&vars, "E"), Some((&lit("e"), EnvOrigin::HostConf)));
        // fixed beats run.conf and the host env
        assert_eq!(get(&vars, "SERVICE"), Some((&lit("web"), EnvOrigin::Fixed)));
        // host env does not add new names
        assert_eq!(get(&vars, "UNRELATED"), None);
        assert_eq!(
            get(&vars, "DB_SERVICE_IP"),
            Some((&EnvValue::IpOf("p-db-one".into()), EnvOrigin::Link))
        );
        assert_eq!(
            get(&vars, "DNS_ZONE"),
            Some((&lit("local.zone"), EnvOrigin::Dns))
        );
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn the_command_line_wins_over_everything_but_the_fixed_variables() {
        let mut fx = Fx::new();
        fx.run_conf = vec![("A".into(), "rc".into())];
        fx.host.env = [("A".to_string(), "hostenv".to_string())].into();
        fx.host_conf.vars = vec![("B".into(), "hc".into())];
        fx.required = vec![RequiredVar {
            name: "C".into(),
            default: None,
        }];
        fx.command_line = vec![
            ("A".into(), "cli".into()),
            ("B".into(), "cli-b".into()),
            ("C".into(), "cli-c".into()),
            ("DB_SERVICE_IP".into(), "10.0.0.9".into()),
            ("NEW".into(), "1".into()),
            ("NEW".into(), "2".into()),
            ("SERVICE".into(), "nope".into()),
        ];
        let vars = resolve(&fx.inputs()).unwrap();
        assert_eq!(get(&vars, "A"), Some((&lit("cli"), EnvOrigin::CommandLine)));
        assert_eq!(
            get(&vars, "B"),
            Some((&lit("cli-b"), EnvOrigin::CommandLine))
        );
        // a required variable may come from the command line alone
        assert_eq!(
            get(&vars, "C"),
            Some((&lit("cli-c"), EnvOrigin::CommandLine))
        );
        assert_eq!(
            get(&vars, "DB_SERVICE_IP"),
            Some((&lit("10.0.0.9"), EnvOrigin::CommandLine))
        );
        // new names are added; the later of two wins
        assert_eq!(get(&vars, "NEW"), Some((&lit("2"), EnvOrigin::CommandLine)));
        assert_eq!(get(&vars, "SERVICE"), Some((&lit("web"), EnvOrigin::Fixed)));
        // from_<iface> applies to command-line values too
        fx.command_line = vec![
            ("C".into(), "c".into()),
            ("SERVICE_IP".into(), "from_eth0".into()),
        ];
        fx.host
            .interfaces
            .insert("eth0".into(), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(
            get(&resolve(&fx.inputs()).unwrap(), "SERVICE_IP"),
            Some((&lit("10.1.2.3"), EnvOrigin::CommandLine))
        );
    }

    #[test]
    fn required_default_is_overridden_by_run_conf() {
        let mut fx = Fx::new();
        fx.required = vec![RequiredVar {
            name: "A".into(),
            default: Some("req".into()),
        }];
        assert_eq!(
            get(&resolve(&fx.inputs()).unwrap(), "A"),
            Some((&lit("req"), EnvOrigin::RequiredEnvVars))
        );
        fx.run_conf = vec![("A".into(), "rc".into())];
        assert_eq!(
            get(&resolve(&fx.inputs()).unwrap(), "A"),
            Some((&lit("rc"), EnvOrigin::RunConf))
        );
    }

    #[test]
    fn run_conf_dns_value_beats_the_builtin_dns() {
        let mut fx = Fx::new();
        fx.run_conf = vec![("DNS_ZONE".into(), "my.zone".into())];
        assert_eq!(
            get(&resolve(&fx.inputs()).unwrap(), "DNS_ZONE"),
            Some((&lit("my.zone"), EnvOrigin::RunConf))
        );
    }

    #[test]
    fn missing_required_names_it_and_where() {
        let mut fx = Fx::new();
        fx.required = vec![RequiredVar {
            name: "DB_PASSWORD".into(),
            default: None,
        }];
        assert_eq!(
            resolve(&fx.inputs()).unwrap_err().to_string(),
            "web-one: required variable DB_PASSWORD is not set (required by services/web/required_env_vars.json; set it in run.conf env_vars, host.conf or the host environment)"
        );
    }

    #[test]
    fn from_iface_for_ip_values() {
        let mut fx = Fx::new();
        fx.run_conf = vec![
            ("SERVICE_IP".into(), "from_eth0".into()),
            ("NOT_AN_ADDR".into(), "from_eth0".into()),
        ];
        fx.host
            .interfaces
            .insert("eth0".into(), Ipv4Addr::new(10, 1, 2, 3));
        fx.host.interfaces.insert("lo".into(), Ipv4Addr::LOCALHOST);
        let vars = resolve(&fx.inputs()).unwrap();
        assert_eq!(
            get(&vars, "SERVICE_IP"),
            Some((&lit("10.1.2.3"), EnvOrigin::RunConf))
        );
        assert_eq!(
            get(&vars, "NOT_AN_ADDR"),
            Some((&lit("from_eth0"), EnvOrigin::RunConf))
        );
        fx.run_conf = vec![("SERVICE_IP".into(), "from_wlan9".into())];
        assert_eq!(
            resolve(&fx.inputs()).unwrap_err().to_string(),
            "web-one: SERVICE_IP=from_wlan9 (from run.conf): no host interface 'wlan9' with an IPv4 address (found: eth0, lo)"
        );
    }
}
