//! `dops status`: per instance, the lifecycle state dops-init reports (and since when), restarts,
//! the last monitor JSON, the DNS registration, and Docker's health.
//!
//! The lifecycle comes from `/run/dops/state.json`, which the engine bind-mounts from the host
//! folder `<project>/.dops/run/<service>-<instance>/`: no exec, no Docker call for it. Docker's
//! view (running or not, health) comes from `engine::observe`.

use std::path::Path;

use serde::Serialize;

use super::session::Session;
use super::stop_signal::stop_signal;
use crate::action::{StatusAction, Target};
use crate::observed::{Observed, ObservedContainer};
use crate::output;
use crate::state_file::{self, host_run_dir, LifecycleState};

/// One row of `dops status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceStatus {
    pub container: String,
    pub service: String,
    pub instance: String,
    /// Docker's state: running, exited, created, ...
    pub docker_state: String,
    /// Docker's health: starting, healthy, unhealthy (None without a HEALTHCHECK).
    pub health: Option<String>,
    /// What dops-init last wrote; None when there is no state file (yet).
    pub lifecycle: Option<LifecycleState>,
    /// Why the state file could not be read (other than not existing).
    pub state_error: Option<String>,
}

/// The status of every observed container `select` accepts, in container-name order.
pub fn collect(
    project_dir: &Path,
    observed: &Observed,
    select: &dyn Fn(&ObservedContainer) -> bool,
) -> Vec<InstanceStatus> {
    let mut rows: Vec<InstanceStatus> = observed
        .containers
        .iter()
        .filter(|c| select(c))
        .map(|c| {
            // The engine records the host folder of `/run/dops` in a label; else the convention.
            let dir = c
                .run_dir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| host_run_dir(project_dir, &c.service, &c.instance));
            let path = dir.join(state_file::FILE_NAME);
            let (lifecycle, state_error) = match state_file::read(&path) {
                Ok(s) => (s, None),
                Err(e) => (None, Some(e)),
            };
            InstanceStatus {
                container: c.name.clone(),
                service: c.service.clone(),
                instance: c.instance.clone(),
                docker_state: c.state.clone(),
                health: c.health.clone(),
                lifecycle,
                state_error,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.container.cmp(&b.container));
    rows
}

/// "3s", "5m", "2h", "4d".
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl InstanceStatus {
    /// The lifecycle state as shown: the init's state, or Docker's when the init wrote nothing
    /// (a stopped container shows Docker's state: its last state file is stale).
    pub fn state_text(&self) -> String {
        match (&self.lifecycle, self.docker_state.as_str()) {
            (Some(l), "running") if l.maintenance => format!("{} (maintenance)", l.state),
            (Some(l), "running") => l.state.clone(),
            (Some(l), docker) => format!("{docker} (last: {})", l.state),
            (None, docker) => docker.to_string(),
        }
    }

    fn since_text(&self, now: i64) -> String {
        match self.lifecycle.as_ref() {
            Some(LifecycleState {
                since: Some(since),
                since_epoch,
                ..
            }) => match since_epoch {
                Some(e) => format!("{since} ({} ago)", ago(now - e)),
                None => since.clone(),
            },
            _ => "-".to_string(),
        }
    }

    fn dns_text(&self) -> String {
        match self.lifecycle.as_ref().and_then(|l| l.dns.as_ref()) {
            Some(d) if d.registered => {
                if d.names.is_empty() {
                    "registered".to_string()
                } else {
                    d.names.join(" ")
                }
            }
            Some(_) => "not registered".to_string(),
            None => "-".to_string(),
        }
    }

    fn monitor_text(&self) -> String {
        match self.lifecycle.as_ref().and_then(|l| l.last_stats.as_ref()) {
            Some(v) if !v.is_null() => truncate(&v.to_string(), 60),
            _ => "-".to_string(),
        }
    }
}

/// The readable table, with error lines under the instances that have one. `now`: unix seconds.
pub fn render(rows: &[InstanceStatus], now: i64) -> String {
    if rows.is_empty() {
        return "no instances (hint: start some with `dops run:all`)\n".to_string();
    }
    let header = [
        "INSTANCE", "STATE", "SINCE", "RESTARTS", "HEALTH", "DNS", "MONITOR",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.container.clone(),
                r.state_text(),
                r.since_text(now),
                r.lifecycle
                    .as_ref()
                    .map(|l| l.restarts.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.health.clone().unwrap_or_else(|| "-".into()),
                r.dns_text(),
                r.monitor_text(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for (r, row) in rows.iter().zip(cells.iter()) {
        out.push_str(&line(row));
        if let Some(e) = r.lifecycle.as_ref().and_then(|l| l.error.as_ref()) {
            out.push_str(&format!("  error: {e}\n"));
        }
        if let Some(e) = &r.state_error {
            out.push_str(&format!("  cannot read state: {e}\n"));
        }
    }
    out
}

/// The `--json` form: an array of rows.
pub fn to_json(rows: &[InstanceStatus]) -> String {
    serde_json::to_string_pretty(rows).expect("status serializes")
}

/// `dops status[:<target>] [--json] [--watch]`.
pub fn execute(s: &Session, action: &StatusAction) -> anyhow::Result<i32> {
    let project = s.project_name();
    let target = action.target.clone();
    s.block_on(async {
        let select = |c: &ObservedContainer| match &target {
            None | Some(Target::All) | Some(Target::Group { .. }) => true,
            Some(t) => t.matches(&c.service, &c.instance, None),
        };
        let snapshot = || async {
            let observed = s.observe_containers().await?;
            anyhow::Ok(collect(s.dir(), &observed, &select))
        };
        if !action.watch {
            let rows = snapshot().await?;
            if s.global.json {
                output::out(&format!("{}\n", to_json(&rows)));
            } else {
                output::out(&render(&rows, now()));
            }
            return Ok(0);
        }
        // --watch: redraw every 2 seconds until Ctrl-C. One stop future for the whole loop, so
        // that a Ctrl-C that comes while a snapshot is taken is not lost (see stop_signal).
        let stop = stop_signal();
        tokio::pin!(stop);
        loop {
            let rows = snapshot().await?;
            let body = if s.global.json {
                to_json(&rows) + "\n"
            } else {
                format!(
                    "dops status: project {project}   (every 2s, Ctrl-C to stop)\n\n{}",
                    render(&rows, now())
                )
            };
            // Home, clear screen, draw.
            output::out(&format!("\x1b[H\x1b[2J{body}"));
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
        }
        Ok(0)
    })
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(
        service: &str,
        instance: &str,
        state: &str,
        health: Option<&str>,
    ) -> ObservedContainer {
        ObservedContainer {
            name: format!("shop-{service}-{instance}"),
            service: service.into(),
            instance: instance.into(),
            state: state.into(),
            health: health.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn collects_state_files_and_renders_a_table() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = host_run_dir(tmp.path(), "web", "one");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("state.json"),
            r#"{"state":"UP","since":"2026-11-23T16:00:00Z","since_epoch":1795363200,"restarts":2,
               "maintenance":false,"last_stats":{"rps":12,"queue":0},"last_stats_at":"2026-11-23T16:01:00Z",
               "error":null,"dns":{"registered":true,"names":["web-one.local.zone","web.local.zone"]},
               "future_field":1}"#,
        )
        .unwrap();
        let broken = host_run_dir(tmp.path(), "db", "one");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("state.json"), "{").unwrap();
        let failing = host_run_dir(tmp.path(), "db", "two");
        std::fs::create_dir_all(&failing).unwrap();
        std::fs::write(
            failing.join("state.json"),
            r#"{"state":"ERROR","since":"2026-11-23T15:00:00Z","since_epoch":1795359600,"restarts":5,"error":"restart budget exhausted","dns":{"registered":false,"names":[]}}"#,
        )
        .unwrap();
        let observed = Observed {
            containers: vec![
                container("web", "one", "running", Some("healthy")),
                container("db", "one", "running", None),
                container("db", "two", "running", Some("unhealthy")),
                container("cache", "one", "exited", None),
                container("other", "x", "running", None),
            ],
            ..Default::default()
        };
        let rows = collect(tmp.path(), &observed, &|c| c.service != "other");
        assert_eq!(
            rows.iter()
                .map(|r| r.container.as_str())
                .collect::<Vec<_>>(),
            [
                "shop-cache-one",
                "shop-db-one",
                "shop-db-two",
                "shop-web-one"
            ]
        );
        let web = &rows[3];
        assert_eq!(web.lifecycle.as_ref().unwrap().restarts, 2);
        assert_eq!(
            web.lifecycle.as_ref().unwrap().last_stats.as_ref().unwrap()["rps"],
            12
        );
        let table = render(&rows, 1_795_363_200 + 300);
        let expected = "\
INSTANCE        STATE    SINCE                           RESTARTS  HEALTH     DNS                                MONITOR
shop-cache-one  exited   -                               -         -          -                                  -
shop-db-one     running  -                               -         -          -                                  -
  cannot read state: PATH: not valid JSON: EOF while parsing an object at line 1 column 1
shop-db-two     ERROR    2026-11-23T15:00:00Z (65m ago)  5         unhealthy  not registered                     -
  error: restart budget exhausted
shop-web-one    UP       2026-11-23T16:00:00Z (5m ago)   2         healthy    web-one.local.zone web.local.zone  {\"rps\":12,\"queue\":0}
";
        let table = table.replace(&broken.join("state.json").display().to_string(), "PATH");
        assert_eq!(table, expected, "got:\n{table}");
        let json: serde_json::Value = serde_json::from_str(&to_json(&rows)).unwrap();
        assert_eq!(json[3]["lifecycle"]["last_stats"]["queue"], 0);
        assert_eq!(json[3]["health"], "healthy");
        assert_eq!(json[0]["lifecycle"], serde_json::Value::Null);
    }

    #[test]
    fn states_of_stopped_and_maintenance_instances() {
        let mut r = InstanceStatus {
            container: "p-s-i".into(),
            service: "s".into(),
            instance: "i".into(),
            docker_state: "running".into(),
            health: None,
            lifecycle: Some(LifecycleState {
                state: "UP".into(),
                maintenance: true,
                ..Default::default()
            }),
            state_error: None,
        };
        assert_eq!(r.state_text(), "UP (maintenance)");
        r.docker_state = "exited".into();
        assert_eq!(r.state_text(), "exited (last: UP)");
        assert_eq!(
            render(&[], 0),
            "no instances (hint: start some with `dops run:all`)\n"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(ago(-5), "0s");
        assert_eq!(ago(119), "119s");
        assert_eq!(ago(120), "2m");
        assert_eq!(ago(7200), "2h");
        assert_eq!(ago(200_000), "2d");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
