//! The boolean properties of an instance (DockerOps' property table, plus dops' own), as one
//! generic set: `Props<bool>` for settled values (a type's defaults, an instance's settings),
//! `Props<Option<bool>>` for what a layer overrides (run.conf, the command line).
//!
//! The list is written once, in [`instance_props!`]: the run.conf keys, the command-line options
//! (`--persistent-data[=BOOL]`, `persistent_data=True`), the type defaults and the settings all
//! follow it, so adding a property touches this file and the type table.

use serde::Serialize;

macro_rules! instance_props {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// One value per instance property.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct Props<T> {
            $($(#[$doc])* pub $name: T,)*
        }

        impl<T> Props<T> {
            /// The property names, as run.conf spells them.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The value of a property by its run.conf name.
            pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }

            /// Combine two sets property by property.
            pub fn zip_with<U, V>(&self, other: &Props<U>, f: impl Fn(&T, &U) -> V) -> Props<V> {
                Props { $($name: f(&self.$name, &other.$name),)* }
            }

            /// (name, value) in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, &T)> {
                [$((stringify!($name), &self.$name)),*].into_iter()
            }
        }
    };
}

instance_props!(
    /// Links to other instances become `<NAME>_SERVICE_IP` variables.
    linked,
    /// The image's ports are published on the host.
    publish_ports,
    /// `/data` on the host, seeded from the image on first use.
    persistent_data,
    /// `/opt` on the host.
    persistent_opt,
    /// `/var/log` on the host.
    persistent_log,
    /// `/home` on the host (a dops addition).
    persistent_home,
    /// A terminal attached: the instance is started by `run` in the foreground.
    interactive,
    /// The entry points (`/entrypoints/*.sh`) are skipped.
    safemode,
    /// The host's network instead of the project network (a dops addition).
    nethost,
);

/// Settled values: every property decided.
pub type Settled = Props<bool>;
/// Overrides: what one layer (run.conf, the command line) sets; None = not said.
pub type Overrides = Props<Option<bool>>;

impl Props<Option<bool>> {
    /// Where `self` says nothing, `lower` decides (command line over run.conf).
    pub fn or(&self, lower: &Overrides) -> Overrides {
        self.zip_with(lower, |a, b| a.or(*b))
    }

    /// Settle every property: `self` where it says something, else the default.
    pub fn settle(&self, defaults: &Settled) -> Settled {
        self.zip_with(defaults, |o, d| o.unwrap_or(*d))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().all(|(_, v)| v.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_settle_in_order() {
        let cli = Overrides {
            publish_ports: Some(false),
            ..Default::default()
        };
        let run_conf = Overrides {
            publish_ports: Some(true),
            nethost: Some(true),
            ..Default::default()
        };
        let defaults = Settled {
            linked: true,
            ..Default::default()
        };
        let s = cli.or(&run_conf).settle(&defaults);
        assert!(s.linked && !s.publish_ports && s.nethost && !s.persistent_data);
        assert_eq!(Props::<bool>::NAMES.len(), s.iter().count());
        assert!(Overrides::default().is_empty());
    }
}
