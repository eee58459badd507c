//! run.conf `extra_args`, already checked and typed when the project loaded
//! (`project::extra_args`), applied to a container's host config. Nothing left to refuse here.

use bollard::models::{DeviceMapping, HostConfig};

use crate::project::ExtraArgs;

/// Set what `extra_args` asks for on the host config.
pub fn apply_extra_args(x: &ExtraArgs, hc: &mut HostConfig) {
    if x.privileged {
        hc.privileged = Some(true);
    }
    if x.init {
        hc.init = Some(true);
    }
    if x.read_only {
        hc.readonly_rootfs = Some(true);
    }
    let extend = |slot: &mut Option<Vec<String>>, items: &[String]| {
        if !items.is_empty() {
            slot.get_or_insert_with(Vec::new)
                .extend(items.iter().cloned());
        }
    };
    extend(&mut hc.cap_add, &x.cap_add);
    extend(&mut hc.cap_drop, &x.cap_drop);
    extend(&mut hc.extra_hosts, &x.add_hosts);
    extend(&mut hc.binds, &x.volumes);
    for d in &x.devices {
        hc.devices.get_or_insert_with(Vec::new).push(DeviceMapping {
            path_on_host: Some(d.host.clone()),
            path_in_container: Some(d.container.clone()),
            cgroup_permissions: Some(d.permissions.clone()),
        });
    }
    if let Some(n) = x.shm_size {
        hc.shm_size = Some(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_extra_args_reach_the_host_config() {
        let args: Vec<String> = [
            "--privileged",
            "--init",
            "--cap-add",
            "NET_ADMIN",
            "--add-host=db:10.0.0.2",
            "--shm-size=64m",
            "-v=/a:/b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let x = crate::project::extra_args::parse(&args).unwrap();
        let mut hc = HostConfig {
            binds: Some(vec!["/run:/run/dops".into()]),
            ..Default::default()
        };
        apply_extra_args(&x, &mut hc);
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.init, Some(true));
        assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(hc.extra_hosts, Some(vec!["db:10.0.0.2".to_string()]));
        assert_eq!(hc.shm_size, Some(64 * 1024 * 1024));
        assert_eq!(
            hc.binds,
            Some(vec!["/run:/run/dops".to_string(), "/a:/b".to_string()])
        );
        assert_eq!(hc.readonly_rootfs, None);
    }
}
