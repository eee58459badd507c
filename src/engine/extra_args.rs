//! run.conf `extra_args`: the documented subset of `docker run` flags, applied to a container's
//! host config.

use bollard::models::{DeviceMapping, HostConfig};

use super::error::EngineError;

/// run.conf `extra_args`: the documented subset of `docker run` flags, applied to the host config.
pub fn apply_extra_args(args: &[String], hc: &mut HostConfig) -> Result<(), EngineError> {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let bad = || EngineError::ExtraArg {
            arg: arg.to_string(),
        };
        let mut value = || -> Result<String, EngineError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i).cloned().ok_or_else(bad)
        };
        match flag {
            "--privileged" => hc.privileged = Some(true),
            "--read-only" => hc.readonly_rootfs = Some(true),
            "--cap-add" => hc.cap_add.get_or_insert_with(Vec::new).push(value()?),
            "--cap-drop" => hc.cap_drop.get_or_insert_with(Vec::new).push(value()?),
            "--add-host" => hc.extra_hosts.get_or_insert_with(Vec::new).push(value()?),
            "-v" | "--volume" => hc.binds.get_or_insert_with(Vec::new).push(value()?),
            "--device" => {
                let v = value()?;
                let mut parts = v.splitn(3, ':');
                let host = parts.next().unwrap_or_default().to_string();
                let inside = parts
                    .next()
                    .map(str::to_string)
                    .unwrap_or_else(|| host.clone());
                let perms = parts.next().unwrap_or("rwm").to_string();
                hc.devices.get_or_insert_with(Vec::new).push(DeviceMapping {
                    path_on_host: Some(host),
                    path_in_container: Some(inside),
                    cgroup_permissions: Some(perms),
                });
            }
            "--shm-size" => {
                let v = value()?;
                hc.shm_size = Some(parse_bytes(&v).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
        i += 1;
    }
    Ok(())
}

fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_lowercase();
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s.as_str(), 1),
    };
    num.parse::<i64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_args_subset() {
        let mut hc = HostConfig::default();
        let args: Vec<String> = [
            "--privileged",
            "--cap-add",
            "NET_ADMIN",
            "--add-host=db:10.0.0.2",
            "--shm-size=64m",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        apply_extra_args(&args, &mut hc).unwrap();
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(hc.extra_hosts, Some(vec!["db:10.0.0.2".to_string()]));
        assert_eq!(hc.shm_size, Some(64 * 1024 * 1024));
        let err = apply_extra_args(&["--pid=host".to_string()], &mut hc).unwrap_err();
        assert!(err.to_string().contains("unsupported extra_args entry"));
        assert_eq!(err.exit_code(), 2);
    }
}
