//! Instance types and their default properties: the DockerOps property table, exactly.
//!
//! | instance name | type       | linked | publish ports | persistent data | persistent opt | persistent log | interactive | entrypoints (not safemode) |
//! |---------------|------------|:------:|:-------------:|:---------------:|:--------------:|:--------------:|:-----------:|:--------------------------:|
//! | *             | standard   | yes    | no            | no              | no             | no             | no          | yes                        |
//! | published     | published  | yes    | yes           | no              | no             | no             | no          | yes                        |
//! | persistent    | persistent | yes    | no            | yes             | no             | yes            | no          | yes                        |
//! | master        | master     | yes    | yes           | yes             | no             | yes            | no          | yes                        |
//! | debug         | debug      | no     | no            | no              | no             | no             | yes         | no                         |
//!
//! `persistent_home` and `nethost` are dops additions: off for every type.

use std::fmt;

use serde::Serialize;

use super::props::Settled;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum InstanceType {
    Standard,
    Published,
    Persistent,
    Master,
    Debug,
}

/// The properties an instance type gives by default.
pub type TypeDefaults = Settled;

impl InstanceType {
    pub const ALL: [InstanceType; 5] = [
        InstanceType::Standard,
        InstanceType::Published,
        InstanceType::Persistent,
        InstanceType::Master,
        InstanceType::Debug,
    ];
    pub const NAMES: [&'static str; 5] = ["standard", "published", "persistent", "master", "debug"];

    pub fn parse(s: &str) -> Option<InstanceType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceType::Standard => "standard",
            InstanceType::Published => "published",
            InstanceType::Persistent => "persistent",
            InstanceType::Master => "master",
            InstanceType::Debug => "debug",
        }
    }

    /// An instance named after a type takes that type (`instance=master` → master); any other
    /// name is standard.
    pub fn from_instance_name(instance: &str) -> InstanceType {
        Self::parse(instance).unwrap_or(InstanceType::Standard)
    }

    pub fn defaults(self) -> TypeDefaults {
        let (
            linked,
            publish_ports,
            persistent_data,
            persistent_opt,
            persistent_log,
            interactive,
            entrypoints,
        ) = match self {
            InstanceType::Standard => (true, false, false, false, false, false, true),
            InstanceType::Published => (true, true, false, false, false, false, true),
            InstanceType::Persistent => (true, false, true, false, true, false, true),
            InstanceType::Master => (true, true, true, false, true, false, true),
            InstanceType::Debug => (false, false, false, false, false, true, false),
        };
        TypeDefaults {
            linked,
            publish_ports,
            persistent_data,
            persistent_opt,
            persistent_log,
            persistent_home: false,
            interactive,
            safemode: !entrypoints,
            nethost: false,
        }
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerops_table() {
        // (type, linked, publish, data, opt, log, interactive, safemode)
        let table = [
            ("standard", true, false, false, false, false, false, false),
            ("published", true, true, false, false, false, false, false),
            ("persistent", true, false, true, false, true, false, false),
            ("master", true, true, true, false, true, false, false),
            ("debug", false, false, false, false, false, true, true),
        ];
        for (name, linked, publish, data, opt, log, interactive, safemode) in table {
            let d = InstanceType::parse(name).unwrap().defaults();
            assert_eq!(d.linked, linked, "{name} linked");
            assert_eq!(d.publish_ports, publish, "{name} publish_ports");
            assert_eq!(d.persistent_data, data, "{name} persistent_data");
            assert_eq!(d.persistent_opt, opt, "{name} persistent_opt");
            assert_eq!(d.persistent_log, log, "{name} persistent_log");
            assert_eq!(d.interactive, interactive, "{name} interactive");
            assert_eq!(d.safemode, safemode, "{name} safemode");
            assert!(!d.persistent_home);
        }
    }

    #[test]
    fn instance_named_after_a_type_takes_it() {
        for (name, expected) in [
            ("master", InstanceType::Master),
            ("debug", InstanceType::Debug),
            ("published", InstanceType::Published),
            ("persistent", InstanceType::Persistent),
            ("one", InstanceType::Standard),
            ("Master", InstanceType::Standard),
        ] {
            assert_eq!(
                InstanceType::from_instance_name(name),
                expected,
                "instance {name}"
            );
        }
    }
}
