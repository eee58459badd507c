//! `dops-init status [--json]` and `dops-init health` (the Docker HEALTHCHECK): both read
//! `/run/dops/state.json`, so they work from `docker exec` and from the host.
use super::paths::Paths;
use crate::state_file::{self, LifecycleState};

fn read_state(paths: &Paths) -> Result<LifecycleState, String> {
    let path = paths.state_json();
    match state_file::read(&path) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(format!(
            "cannot read {}: no such file (hint: is dops-init the PID 1 of this container?)",
            path.display()
        )),
        Err(e) => Err(format!(
            "cannot read {e} (hint: is dops-init the PID 1 of this container?)"
        )),
    }
}

/// Exit 0 only when the lifecycle is UP (maintenance included: the instance keeps running).
pub fn health(paths: &Paths) -> i32 {
    match read_state(paths) {
        Ok(v) => {
            let state = if v.state.is_empty() {
                "UNKNOWN"
            } else {
                &v.state
            };
            if state == "UP" {
                println!("UP");
                0
            } else {
                match &v.error {
                    Some(e) => println!("{state}: {e}"),
                    None => println!("{state}"),
                }
                1
            }
        }
        Err(e) => {
            eprintln!("dops-init: {e}");
            1
        }
    }
}

/// Print the state: one human line (and the programs), or the state file itself with `--json`.
pub fn status(paths: &Paths, as_json: bool) -> i32 {
    let v = match read_state(paths) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("dops-init: {e}");
            return 1;
        }
    };
    if as_json {
        println!("{}", serde_json::to_string(&v).unwrap_or_default());
        return 0;
    }
    let mut line = format!(
        "{} since {} (restarts: {})",
        if v.state.is_empty() {
            "UNKNOWN"
        } else {
            &v.state
        },
        v.since.as_deref().unwrap_or("?"),
        v.restarts
    );
    if v.maintenance {
        line.push_str(", maintenance");
    }
    if let Some(dns) = &v.dns {
        line.push_str(if dns.registered {
            ", registered in DNS"
        } else {
            ", not in DNS"
        });
    }
    println!("{line}");
    if let Some(e) = &v.error {
        println!("error: {e}");
    }
    if let Some(s) = &v.last_stats_at {
        let stats = v.last_stats.clone().unwrap_or_default();
        println!("stats ({s}): {stats}");
    }
    for p in &v.programs {
        println!(
            "  {:<16} {:<9} pid {:<7} restarts {}",
            p.name,
            p.state,
            p.pid.map_or("-".to_string(), |n| n.to_string()),
            p.restarts
        );
    }
    for (name, w) in &v.watches {
        let members: Vec<&str> = w.members.iter().map(|m| m.host.as_str()).collect();
        println!(
            "  watch {name} ({}): {}{}",
            w.dns,
            if members.is_empty() {
                "no members".to_string()
            } else {
                members.join(" ")
            },
            w.error
                .as_ref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        );
    }
    0
}
