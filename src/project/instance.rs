//! An instance's effective properties. Precedence: command-line keys > run.conf entry > the
//! instance type's defaults; the type itself: command line > run.conf `instance_type` > the
//! instance's name (`master` → master) > standard.

use serde::Serialize;

use super::instance_type::InstanceType;
use super::runconf::RunConfEntry;
use crate::action::Overrides;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSettings {
    pub service: String,
    pub instance: String,
    pub instance_type: InstanceType,
    pub linked: bool,
    pub publish_ports: bool,
    pub persistent_data: bool,
    pub persistent_opt: bool,
    pub persistent_log: bool,
    pub persistent_home: bool,
    pub interactive: bool,
    pub safemode: bool,
    pub nethost: bool,
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
    let d = instance_type.defaults();
    let pick = |c: Option<bool>, e: Option<bool>, t: bool| c.or(e).unwrap_or(t);
    InstanceSettings {
        service: entry.service.clone(),
        instance: instance.to_string(),
        instance_type,
        linked: pick(cli.linked, entry.linked, d.linked),
        publish_ports: pick(cli.publish_ports, entry.publish_ports, d.publish_ports),
        persistent_data: pick(
            cli.persistent_data,
            entry.persistent_data,
            d.persistent_data,
        ),
        persistent_opt: pick(cli.persistent_opt, entry.persistent_opt, d.persistent_opt),
        persistent_log: pick(cli.persistent_log, entry.persistent_log, d.persistent_log),
        persistent_home: pick(
            cli.persistent_home,
            entry.persistent_home,
            d.persistent_home,
        ),
        interactive: pick(cli.interactive, entry.interactive, d.interactive),
        safemode: pick(cli.safemode, entry.safemode, d.safemode),
        nethost: pick(cli.nethost, Some(entry.nethost), false),
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
        assert!(s.publish_ports && s.persistent_data && s.persistent_log && !s.persistent_opt);
        let s = settings(&entry(), "one", &Overrides::default());
        assert_eq!(s.instance_type, InstanceType::Standard);
        assert!(!s.publish_ports && !s.persistent_data);
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
        assert!(s.interactive && s.safemode && !s.linked);
    }

    #[test]
    fn precedence_cli_over_run_conf_over_type() {
        let mut e = entry(); // master: persistent_data true by type
        assert!(settings(&e, "master", &Overrides::default()).persistent_data);
        e.persistent_data = Some(false);
        assert!(!settings(&e, "master", &Overrides::default()).persistent_data);
        let cli = Overrides {
            persistent_data: Some(true),
            ..Default::default()
        };
        assert!(settings(&e, "master", &cli).persistent_data);
        // and the other way round
        e.publish_ports = Some(true);
        let s = settings(&e, "one", &Overrides::default());
        assert!(s.publish_ports);
        let cli = Overrides {
            publish_ports: Some(false),
            ..Default::default()
        };
        assert!(!settings(&e, "one", &cli).publish_ports);
    }

    #[test]
    fn group_and_nethost() {
        let mut e = entry();
        e.group = Some("db".into());
        e.nethost = true;
        let s = settings(&e, "one", &Overrides::default());
        assert_eq!(s.group.as_deref(), Some("db"));
        assert!(s.nethost);
        let cli = Overrides {
            group: Some("x".into()),
            nethost: Some(false),
            ..Default::default()
        };
        let s = settings(&e, "one", &cli);
        assert_eq!(s.group.as_deref(), Some("x"));
        assert!(!s.nethost);
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
