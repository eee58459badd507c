//! The project model: run.conf, host.conf, instance types, env resolution, links, Dockerfiles.
//!
//! [`load`] is the only function here that does I/O: it reads the files into [`ProjectFiles`];
//! [`Project::from_files`] (in `model`) builds and validates the model from them (pure, used by
//! tests).

pub mod engine_conf;
pub mod env;
pub mod extra_args;
pub mod hostconf;
pub mod instance;
pub mod instance_type;
pub mod json;
pub mod links;
mod load;
mod model;
pub mod policies;
pub mod props;
pub mod runconf;
pub mod values;

pub use crate::dockerfile::{DockerfileInfo, ExposedPort};
pub use engine_conf::{EngineConf, EngineKind};
pub use env::{EnvError, HostContext};
pub use extra_args::ExtraArgs;
pub use hostconf::{HostConf, RequiredVar};
pub use instance::{settings, InstanceSettings};
pub use instance_type::{InstanceType, TypeDefaults};
pub use links::{LinkSpec, LinkTarget};
pub use load::{load, name_of};
pub use runconf::{ConfigError, DnsPolicy, RunConfEntry, VolumeSpec};

pub use model::{
    name_from_dir, LoadWarning, Project, ProjectError, ProjectFiles, Service, ServiceFiles,
    DEFAULT_ZONE, DNS_INSTANCE, DNS_SERVICE,
};

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    pub fn files(run_conf: &str, services: &[(&str, &str)]) -> ProjectFiles {
        ProjectFiles {
            run_conf: Some(("run.conf".into(), run_conf.into())),
            host_conf: None,
            services: services
                .iter()
                .map(|(n, d)| ServiceFiles {
                    name: n.to_string(),
                    dockerfile: d.to_string(),
                    required_env_vars: None,
                })
                .collect(),
        }
    }

    #[test]
    fn model_from_files() {
        let p = Project::from_files(
            Path::new("/p/Demo"),
            files(
                "[{\"service\": \"web\", \"instance\": \"one\"}]",
                &[
                    ("base", "FROM debian:12\nEXPOSE 22\n"),
                    ("web", "FROM demo/base:latest\nEXPOSE 80\n"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(p.name, "demo");
        assert_eq!(p.build_order, vec!["base", "dops-dns", "web"]);
        assert_eq!(p.services["web"].parents, vec!["base"]);
        let ports: Vec<u16> = p.services["web"]
            .ports
            .iter()
            .map(|p| p.container)
            .collect();
        assert_eq!(ports, vec![22, 80]);
        assert!(p.services["dops-dns"].builtin);
        assert!(p.dns_enabled());
        assert_eq!(p.dns_zone(), "local.zone");
    }

    #[test]
    fn unknown_service_in_run_conf() {
        let err = Project::from_files(
            Path::new("/p/demo"),
            files("[\n  {\"service\": \"wbe\"}]", &[("web", "FROM x\n")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "run.conf: line 2, col 15: [0].service: unknown service \"wbe\" (did you mean \"web\"?)"
        );
    }

    #[test]
    fn dns_off_by_host_conf_or_autorun() {
        let mut f = files("[]", &[("web", "FROM x\n")]);
        f.host_conf = Some("{\"DNS\": \"off\", \"DNS_ZONE\": \"corp.zone\"}".into());
        let p = Project::from_files(Path::new("/p/demo"), f).unwrap();
        assert!(!p.dns_enabled());
        assert!(!p.services.contains_key(DNS_SERVICE));
        assert_eq!(p.dns_zone(), "corp.zone");
        let f = files(
            "[{\"service\": \"dops-dns\", \"instance\": \"master\", \"autorun\": false}]",
            &[("web", "FROM x\n")],
        );
        let p = Project::from_files(Path::new("/p/demo"), f).unwrap();
        assert!(!p.dns_enabled());
    }

    #[test]
    fn projects_own_dops_dns_is_not_builtin() {
        let p = Project::from_files(
            Path::new("/p/demo"),
            files("[]", &[("dops-dns", "FROM debian\n")]),
        )
        .unwrap();
        assert!(!p.services[DNS_SERVICE].builtin);
    }

    #[test]
    fn build_cycle_is_a_load_error() {
        let err = Project::from_files(
            Path::new("/p/demo"),
            files("[]", &[("a", "FROM demo/b\n"), ("b", "FROM demo/a\n")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "build cycle: a -> b -> a (each service is built FROM the next one)"
        );
    }

    #[test]
    fn names_from_folders() {
        assert_eq!(
            name_from_dir(Path::new("/x/My Proj")).as_deref(),
            Some("my-proj")
        );
        assert_eq!(name_from_dir(Path::new("/")), None);
    }
}
