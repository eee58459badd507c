//! `dops-init status [--json]` and `dops-init health` (the Docker HEALTHCHECK): both read
//! `/run/dops/state.json`, so they work from `docker exec` and from the host.
use super::output::{log, out};
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
/// Healthy for a swarm: UP; after the first UP (the lifecycle has restarted, or is restarting),
/// also in any state but ERROR and STOPPED, and in maintenance. Swarm kills an unhealthy task,
/// and waits for the first healthy answer before it calls a task running: that one stays UP.
pub fn health_swarm(paths: &Paths) -> i32 {
    match read_state(paths) {
        Ok(v) => {
            let alive = v.state == "UP"
                || (v.maintenance && v.state != "ERROR" && v.state != "STOPPED")
                || ((v.restarts > 0 || v.state == "RESTARTING")
                    && v.state != "ERROR"
                    && v.state != "STOPPED");
            out(if v.state.is_empty() {
                "UNKNOWN"
            } else {
                &v.state
            });
            if alive {
                0
            } else {
                1
            }
        }
        Err(e) => {
            log(&e.to_string());
            1
        }
    }
}

pub fn health(paths: &Paths) -> i32 {
    match read_state(paths) {
        Ok(v) => {
            let state = if v.state.is_empty() {
                "UNKNOWN"
            } else {
                &v.state
            };
            if state == "UP" {
                out("UP");
                0
            } else {
                match &v.error {
                    Some(e) => out(&format!("{state}: {e}")),
                    None => out(state),
                }
                1
            }
        }
        Err(e) => {
            log(&e.to_string());
            1
        }
    }
}

/// Print the state: one human line (and the programs), or the state file itself with `--json`.
pub fn status(paths: &Paths, as_json: bool) -> i32 {
    let v = match read_state(paths) {
        Ok(v) => v,
        Err(e) => {
            log(&e.to_string());
            return 1;
        }
    };
    if as_json {
        out(&serde_json::to_string(&v).unwrap_or_default());
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
    out(&line);
    if let Some(e) = &v.error {
        out(&format!("error: {e}"));
    }
    if let Some(s) = &v.last_stats_at {
        let stats = v.last_stats.clone().unwrap_or_default();
        out(&format!("stats ({s}): {stats}"));
    }
    for p in &v.programs {
        out(&format!(
            "  {:<16} {:<9} pid {:<7} restarts {}",
            p.name,
            p.state,
            p.pid.map_or("-".to_string(), |n| n.to_string()),
            p.restarts
        ));
    }
    for (name, w) in &v.watches {
        let members: Vec<&str> = w.members.iter().map(|m| m.host.as_str()).collect();
        out(&format!(
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
        ));
    }
    0
}
