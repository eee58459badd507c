//! run.conf `extra_args`: the documented subset of `docker run` options, parsed once when the
//! project loads, so an option Docker (or dops) does not know is a located error at plan time
//! rather than a failed run. The engine applies the typed value.

use serde::{Serialize, Serializer};

/// The options dops passes on, with their value's form.
pub const SUPPORTED: &str = "--privileged, --init, --read-only, --cap-add=CAP, --cap-drop=CAP, --add-host=HOST:IP, --device=HOST[:CONTAINER[:rwm]], --shm-size=BYTES[k|m|g], -v/--volume=HOST:CONTAINER[:ro|rw]";

/// `extra_args`, typed. Serialized as the arguments as written (the plan's JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraArgs {
    /// As written, one argument per item (`--cap-add NET_ADMIN` is two).
    pub args: Vec<String>,
    pub privileged: bool,
    pub init: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `HOST:IP`
    pub add_hosts: Vec<String>,
    pub devices: Vec<Device>,
    pub shm_size: Option<i64>,
    /// `HOST:CONTAINER[:ro|rw]`
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub host: String,
    pub container: String,
    /// A non-empty subset of `rwm`.
    pub permissions: String,
}

impl Serialize for ExtraArgs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.args.serialize(s)
    }
}

impl ExtraArgs {
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }
}

/// An argument dops cannot pass on: which one (its index in the list) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraArgError {
    pub index: usize,
    pub msg: String,
}

/// Parse the arguments (`--flag value` or `--flag=value`).
pub fn parse(args: &[String]) -> Result<ExtraArgs, ExtraArgError> {
    let mut out = ExtraArgs {
        args: args.to_vec(),
        ..Default::default()
    };
    let mut i = 0;
    while i < args.len() {
        let at = i;
        let arg = args[i].as_str();
        let err = |msg: String| ExtraArgError { index: at, msg };
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || -> Result<String, ExtraArgError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| err(format!("{flag} needs a value")))
        };
        let no_value = |inline: &Option<String>| match inline {
            Some(_) => Err(err(format!("{flag} takes no value"))),
            None => Ok(()),
        };
        match flag {
            "--privileged" => {
                no_value(&inline)?;
                out.privileged = true
            }
            "--init" => {
                no_value(&inline)?;
                out.init = true
            }
            "--read-only" => {
                no_value(&inline)?;
                out.read_only = true
            }
            "--cap-add" | "--cap-drop" => {
                let v = value()?;
                check_capability(&v).map_err(|m| err(format!("{flag} {v:?}: {m}")))?;
                if flag == "--cap-add" {
                    out.cap_add.push(v);
                } else {
                    out.cap_drop.push(v);
                }
            }
            "--add-host" => {
                let v = value()?;
                check_add_host(&v).map_err(|m| err(format!("{flag} {v:?}: {m}")))?;
                out.add_hosts.push(v);
            }
            "-v" | "--volume" => {
                let v = value()?;
                check_volume(&v).map_err(|m| err(format!("{flag} {v:?}: {m}")))?;
                out.volumes.push(v);
            }
            "--device" => {
                let v = value()?;
                out.devices
                    .push(device(&v).map_err(|m| err(format!("{flag} {v:?}: {m}")))?);
            }
            "--shm-size" => {
                let v = value()?;
                out.shm_size = Some(
                    parse_bytes(&v)
                        .ok_or_else(|| err(format!("{flag} {v:?}: expected BYTES[k|m|g]")))?,
                );
            }
            other if other.starts_with('-') => {
                return Err(err(format!(
                    "unknown or unsupported docker run option {other:?}\nhint: dops supports {SUPPORTED}"
                )))
            }
            other => {
                return Err(err(format!(
                    "{other:?} is not an option (a value without its option?)\nhint: dops supports {SUPPORTED}"
                )))
            }
        }
        i += 1;
    }
    Ok(out)
}

/// `NET_ADMIN`, `CAP_NET_ADMIN`, `ALL` (letters, digits and `_`).
fn check_capability(v: &str) -> Result<(), String> {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err("expected a capability name such as NET_ADMIN".into())
    }
}

/// `HOST:IP` (the IP may be IPv6, `host-gateway` is Docker's own).
fn check_add_host(v: &str) -> Result<(), String> {
    let Some((host, ip)) = v.split_once(':') else {
        return Err("expected HOST:IP".into());
    };
    let name_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    let ip_ok = ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok();
    if name_ok && ip_ok {
        Ok(())
    } else {
        Err("expected HOST:IP".into())
    }
}

/// `HOST:CONTAINER[:ro|rw]`, the container path absolute.
fn check_volume(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = match parts.as_slice() {
        [h, c] => !h.is_empty() && c.starts_with('/'),
        [h, c, mode] => !h.is_empty() && c.starts_with('/') && matches!(*mode, "ro" | "rw"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("expected HOST:CONTAINER[:ro|rw] with an absolute container path".into())
    }
}

/// `HOST[:CONTAINER[:PERMISSIONS]]`.
fn device(v: &str) -> Result<Device, String> {
    let mut parts = v.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_string();
    let container = parts
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| host.clone());
    let permissions = parts.next().unwrap_or("rwm").to_string();
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err("expected HOST[:CONTAINER[:rwm]] with absolute paths".into());
    }
    if permissions.is_empty() || !permissions.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err("permissions are a subset of rwm".into());
    }
    Ok(Device {
        host,
        container,
        permissions,
    })
}

/// `64m` → 67108864; `k`, `m`, `g` (any case) and `b` suffixes; positive, no overflow.
fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult): (&str, i64) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s.as_str(), 1),
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_supported_subset() {
        let x = parse(&args(&[
            "--privileged",
            "--init",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop=MKNOD",
            "--add-host=db:10.0.0.2",
            "--shm-size=64m",
            "--device=/dev/fuse",
            "-v",
            "/srv:/srv:ro",
            "--read-only",
        ]))
        .unwrap();
        assert!(x.privileged && x.init && x.read_only);
        assert_eq!(x.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(x.cap_drop, vec!["MKNOD"]);
        assert_eq!(x.add_hosts, vec!["db:10.0.0.2"]);
        assert_eq!(x.shm_size, Some(64 * 1024 * 1024));
        assert_eq!(
            x.devices,
            vec![Device {
                host: "/dev/fuse".into(),
                container: "/dev/fuse".into(),
                permissions: "rwm".into()
            }]
        );
        assert_eq!(x.volumes, vec!["/srv:/srv:ro"]);
        assert_eq!(serde_json::to_value(&x).unwrap()[2], "--cap-add");
    }

    #[test]
    fn what_dops_cannot_pass_on() {
        let e = |a: &[&str]| parse(&args(a)).unwrap_err();
        let x = e(&["--init", "--frobnicate"]);
        assert_eq!(x.index, 1);
        assert_eq!(
            x.msg,
            format!("unknown or unsupported docker run option \"--frobnicate\"\nhint: dops supports {SUPPORTED}")
        );
        assert_eq!(e(&["--cap-add"]).msg, "--cap-add needs a value");
        assert_eq!(
            e(&["--privileged=false"]).msg,
            "--privileged takes no value"
        );
        assert_eq!(
            e(&["--add-host", "db"]).msg,
            "--add-host \"db\": expected HOST:IP"
        );
        assert_eq!(
            e(&["--shm-size=99999999999g"]).msg,
            "--shm-size \"99999999999g\": expected BYTES[k|m|g]"
        );
        assert_eq!(e(&["--pid=host"]).index, 0);
        assert_eq!(e(&["--device=/dev/x:/dev/x:q"]).index, 0);
        assert_eq!(e(&["-v", "relative"]).index, 0);
        assert!(e(&["NET_ADMIN"]).msg.contains("is not an option"));
    }
}
