//! `dops-init status [--json]` and `dops-init health` (the Docker HEALTHCHECK): both read
//! `/run/dops/state.json`, so they work from `docker exec` and from the host.
use super::paths::Paths;
use serde_json::Value;

fn read_state(paths: &Paths) -> Result<Value, String> {
    let path = paths.state_json();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (hint: is dops-init the PID 1 of this container?)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("invalid {}: {e}", path.display()))
}

/// Exit 0 only when the lifecycle is UP (maintenance included: the instance keeps running).
pub fn health(paths: &Paths) -> i32 {
    match read_state(paths) {
        Ok(v) => {
            let state = v["state"].as_str().unwrap_or("UNKNOWN");
            if state == "UP" {
                println!("UP");
                0
            } else {
                match v["error"].as_str() {
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
        println!("{v}");
        return 0;
    }
    let mut line = format!(
        "{} since {} (restarts: {})",
        v["state"].as_str().unwrap_or("UNKNOWN"),
        v["since"].as_str().unwrap_or("?"),
        v["restarts"]
    );
    if v["maintenance"].as_bool() == Some(true) {
        line.push_str(", maintenance");
    }
    if let Some(dns) = v["dns"].as_object() {
        let on = dns.get("registered").and_then(Value::as_bool) == Some(true);
        line.push_str(if on {
            ", registered in DNS"
        } else {
            ", not in DNS"
        });
    }
    println!("{line}");
    if let Some(e) = v["error"].as_str() {
        println!("error: {e}");
    }
    if let Some(s) = v["last_stats_at"].as_str() {
        println!("stats ({s}): {}", v["last_stats"]);
    }
    for p in v["programs"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} {:<9} pid {:<7} restarts {}",
            p["name"].as_str().unwrap_or("?"),
            p["state"].as_str().unwrap_or("?"),
            p["pid"].as_i64().map_or("-".to_string(), |n| n.to_string()),
            p["restarts"]
        );
    }
    for (name, w) in v["watches"].as_object().into_iter().flatten() {
        let members: Vec<&str> = w["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["host"].as_str())
            .collect();
        println!(
            "  watch {name} ({}): {}{}",
            w["dns"].as_str().unwrap_or("?"),
            if members.is_empty() {
                "no members".to_string()
            } else {
                members.join(" ")
            },
            w["error"]
                .as_str()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        );
    }
    0
}
