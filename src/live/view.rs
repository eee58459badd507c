//! What the dashboard shows of a platform, as plain data: one view per instance (Docker's state
//! and dops-init's lifecycle side by side), the DNS records, the recent events and the monitor
//! history, and the updates that change them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::event::Event;
use crate::dns::records::RecordsFile;
use crate::observed::ObservedContainer;
use crate::state_file::LifecycleState;

/// Docker's state of a declared instance that has no container.
pub const ABSENT: &str = "absent";

/// One instance (a container of the project, or a declared instance without one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceView {
    pub container: String,
    pub service: String,
    pub instance: String,
    pub instance_type: String,
    pub image: String,
    /// Docker's state: created, running, exited, … or `absent`.
    pub docker_state: String,
    /// Docker's health (with a HEALTHCHECK).
    pub health: Option<String>,
    pub ip: Option<String>,
    /// Published ports, `host_ip:host_port->container_port/proto`.
    pub ports: Vec<String>,
    /// Unix seconds of creation (0: absent).
    pub created: i64,
    /// The run conf declares this instance (actions may be offered on it).
    pub declared: bool,
    /// What dops-init last wrote (None: no state file yet).
    pub lifecycle: Option<LifecycleState>,
    /// Why the state file could not be read.
    pub state_error: Option<String>,
    #[serde(skip)]
    pub run_dir: Option<PathBuf>,
}

impl InstanceView {
    /// The view of an observed container (its lifecycle filled in by the caller).
    pub fn of(c: &ObservedContainer, declared: bool) -> InstanceView {
        InstanceView {
            container: c.name.clone(),
            service: c.service.clone(),
            instance: c.instance.clone(),
            instance_type: c.instance_type.clone(),
            image: c.image.clone(),
            docker_state: c.state.clone(),
            health: c.health.clone(),
            ip: c.ip.map(|i| i.to_string()),
            ports: c.ports.clone(),
            created: c.created,
            declared,
            lifecycle: None,
            state_error: None,
            run_dir: c.run_dir().map(|d| d.to_path_buf()),
        }
    }

    /// A declared instance with no container.
    pub fn absent(container: &str, service: &str, instance: &str) -> InstanceView {
        InstanceView {
            container: container.to_string(),
            service: service.to_string(),
            instance: instance.to_string(),
            instance_type: String::new(),
            image: String::new(),
            docker_state: ABSENT.to_string(),
            health: None,
            ip: None,
            ports: Vec::new(),
            created: 0,
            declared: true,
            lifecycle: None,
            state_error: None,
            run_dir: None,
        }
    }
}

/// One monitor blob's numbers, for the small charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub t: i64,
    pub values: BTreeMap<String, f64>,
}

/// At most this many numeric fields are charted per instance.
const MAX_FIELDS: usize = 12;

impl Sample {
    /// The numeric fields of a monitor blob (nested objects as `a.b`, two levels), in name
    /// order, at most [`MAX_FIELDS`].
    pub fn of(t: i64, blob: &Value) -> Option<Sample> {
        fn walk(prefix: &str, v: &Value, depth: u8, out: &mut BTreeMap<String, f64>) {
            match v {
                Value::Number(n) => {
                    if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                        out.insert(prefix.to_string(), f);
                    }
                }
                Value::Object(m) if depth < 2 => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
        let mut values = BTreeMap::new();
        walk("", blob, 0, &mut values);
        let values: BTreeMap<String, f64> = values.into_iter().take(MAX_FIELDS).collect();
        (!values.is_empty()).then_some(Sample { t, values })
    }
}

/// Everything at once: what a new page starts from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub project: String,
    /// Milliseconds since the epoch when taken.
    pub now_ms: i64,
    /// In container-name order.
    pub instances: Vec<InstanceView>,
    /// The project DNS's last records file (None: no DNS, or not written yet).
    pub records: Option<RecordsFile>,
    /// The recent events, oldest first.
    pub events: Vec<Event>,
    /// Per container, the monitor samples of the last minutes, oldest first.
    pub stats: BTreeMap<String, Vec<Sample>>,
}

/// One change, as the dashboard's stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Event { event: Event },
    Instance { instance: Box<InstanceView> },
    Removed { container: String },
    Records { records: RecordsFile },
    Stats { container: String, sample: Sample },
}

impl Update {
    /// The name of the server-sent event.
    pub fn name(&self) -> &'static str {
        match self {
            Update::Event { .. } => "event",
            Update::Instance { .. } => "instance",
            Update::Removed { .. } => "removed",
            Update::Records { .. } => "records",
            Update::Stats { .. } => "stats",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_keep_numbers_two_levels_deep() {
        let blob = serde_json::json!({"rps": 12, "ok": true, "name": "x",
            "conn": {"active": 3, "deep": {"x": 1}}, "load": 0.5});
        let s = Sample::of(7, &blob).unwrap();
        assert_eq!(
            s.values.keys().collect::<Vec<_>>(),
            ["conn.active", "load", "rps"]
        );
        assert_eq!(s.values["load"], 0.5);
        assert!(Sample::of(7, &serde_json::json!({"a": "b"})).is_none());
        assert!(Sample::of(7, &Value::Null).is_none());
    }
}
