//! An instance's effective properties. Precedence: command-line keys > run.conf entry > the
//! instance type's defaults; the type itself: command line > run.conf `instance_type` > the
//! instance's name (`master` → master) > standard.

use serde::Serialize;

use super::instance_type::InstanceType;
use super::props::{self, Settled};
use super::runconf::RunConfEntry;

/// Instance properties given on the command line; they win over run.conf and the type defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overrides {
    pub instance_type: Option<String>,
    pub group: Option<String>,
    #[serde(flatten)]
    pub props: props::Overrides,
    /// `--env KEY=VALUE` / `env=KEY=VALUE`, in command-line order (a later one wins): the
    /// highest precedence of an instance's environment (origin `command_line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self == &Overrides::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSettings {
    pub service: String,
    pub instance: String,
    pub instance_type: InstanceType,
    #[serde(flatten)]
    pub props: Settled,
    pub group: Option<String>,
}

impl InstanceSettings {
    /// `<service>-<instance>`
    pub fn hostname(&self) -> String {
        format!("{}-{}", self.service, self.instance)
    }
}

/// Combine the command line, the run.conf entry and the type defaults. `cli.instance_type` must
/// already be valid (the CLI parser checks it); an invalid one is ignored.
pub fn settings(entry: &RunConfEntry, instance: &str, cli: &Overrides) -> InstanceSettings {
    let instance_type = cli
        .instance_type
        .as_deref()
        .and_then(InstanceType::parse)
        .or(entry.instance_type)
        .unwrap_or_else(|| InstanceType::from_instance_name(instance));
    InstanceSettings {
        service: entry.service.clone(),
        instance: instance.to_string(),
        instance_type,
        props: cli.props.or(&entry.props).settle(&instance_type.defaults()),
        group: cli.group.clone().or_else(|| entry.group.clone()),
    }
}

/// A short random instance name from a seed: a letter then five letters or digits. The planner
/// stays pure: the command layer passes a random seed, tests a fixed one.
pub fn random_name(seed: u64, n: u64) -> String {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // splitmix64
    let mut x = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut s = String::with_capacity(6);
    s.push(ALPHA[(next() % ALPHA.len() as u64) as usize] as char);
    for _ in 0..5 {
        s.push(ALNUM[(next() % ALNUM.len() as u64) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> RunConfEntry {
        RunConfEntry::bare("postgres", Some("master"))
    }

    #[test]
    fn type_from_the_name() {
        let s = settings(&entry(), "master", &Overrides::default());
        assert_eq!(s.instance_type, InstanceType::Master);
        assert!(
            s.props.publish_ports
                && s.props.persistent_data
                && s.props.persistent_log
                && !s.props.persistent_opt
        );
        let s = settings(&entry(), "one", &Overrides::default());
        assert_eq!(s.instance_type, InstanceType::Standard);
        assert!(!s.props.publish_ports && !s.props.persistent_data);
    }

    #[test]
    fn run_conf_type_beats_the_name_and_cli_beats_both() {
        let mut e = entry();
        e.instance_type = Some(InstanceType::Standard);
        assert_eq!(
            settings(&e, "master", &Overrides::default()).instance_type,
            InstanceType::Standard
        );
        let cli = Overrides {
            instance_type: Some("debug".into()),
            ..Default::default()
        };
        let s = settings(&e, "master", &cli);
        assert_eq!(s.instance_type, InstanceType::Debug);
        assert!(s.props.interactive && s.props.safemode && !s.props.linked);
    }

    #[test]
    fn precedence_cli_over_run_conf_over_type() {
        let mut e = entry(); // master: persistent_data true by type
        assert!(
            settings(&e, "master", &Overrides::default())
                .props
                .persistent_data
        );
        e.props.persistent_data = Some(false);
        assert!(
            !settings(&e, "master", &Overrides::default())
                .props
                .persistent_data
        );
        let cli = Overrides {
            props: crate::project::props::Overrides {
                persistent_data: Some(true),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(settings(&e, "master", &cli).props.persistent_data);
        // and the other way round
        e.props.publish_ports = Some(true);
        let s = settings(&e, "one", &Overrides::default());
        assert!(s.props.publish_ports);
        let cli = Overrides {
            props: crate::project::props::Overrides {
                publish_ports: Some(false),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!settings(&e, "one", &cli).props.publish_ports);
    }

    #[test]
    fn group_and_nethost() {
        let mut e = entry();
        e.group = Some("db".into());
        e.props.nethost = Some(true);
        let s = settings(&e, "one", &Overrides::default());
        assert_eq!(s.group.as_deref(), Some("db"));
        assert!(s.props.nethost);
        let cli = Overrides {
            group: Some("x".into()),
            props: crate::project::props::Overrides {
                nethost: Some(false),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = settings(&e, "one", &cli);
        assert_eq!(s.group.as_deref(), Some("x"));
        assert!(!s.props.nethost);
    }

    #[test]
    fn random_names_are_short_stable_and_distinct() {
        let a = random_name(42, 0);
        assert_eq!(a.len(), 6);
        assert!(a.chars().next().unwrap().is_ascii_lowercase());
        assert_eq!(a, random_name(42, 0));
        assert_ne!(a, random_name(42, 1));
        assert_ne!(a, random_name(43, 0));
    }
}
