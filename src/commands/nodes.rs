//! `dops nodes`: a swarm's nodes (role, state, availability, address, labels) and the project's
//! instances on each, with where persistent instances are pinned.

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

use super::session::Session;
use crate::labels;
use crate::output;
use crate::project::EngineKind;

#[derive(Debug, Serialize)]
struct NodeRow {
    hostname: String,
    role: String,
    state: String,
    availability: String,
    addr: String,
    labels: Vec<String>,
    /// The project's instances whose task runs there.
    instances: Vec<String>,
    /// The project's persistent instances whose data lives there.
    pinned: Vec<String>,
}

pub fn execute(s: &Session) -> anyhow::Result<i32> {
    if s.engine_kind() != EngineKind::Swarm {
        anyhow::bail!(
            "dops nodes lists a swarm's nodes; this project runs on one engine\nhint: set \"ENGINE\": \"swarm\" in host.conf (or --engine swarm) with DOCKER_HOST at a manager"
        );
    }
    let project = s.project_name();
    let observed = s.block_on(s.observe())?;
    let pin_prefix = format!("{}.{project}.", labels::NODE_DATA_PREFIX);
    let rows: Vec<NodeRow> = observed
        .nodes
        .iter()
        .map(|n| NodeRow {
            hostname: n.hostname.clone(),
            role: n.role.clone(),
            state: n.state.clone(),
            availability: n.availability.clone(),
            addr: n.addr.clone(),
            labels: n
                .labels
                .iter()
                .filter(|(k, _)| !k.starts_with(labels::NODE_DATA_PREFIX))
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            instances: observed
                .containers
                .iter()
                .filter(|c| c.is_running() && c.node.as_deref() == Some(n.hostname.as_str()))
                .map(|c| format!("{}-{}", c.service, c.instance))
                .collect(),
            pinned: n
                .labels
                .keys()
                .filter_map(|k| k.strip_prefix(&pin_prefix).map(str::to_string))
                .collect(),
        })
        .collect();
    if s.global.json {
        output::json(&rows);
        return Ok(0);
    }
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header([
        "NODE",
        "ROLE",
        "STATE",
        "AVAILABILITY",
        "ADDR",
        "INSTANCES",
        "DATA OF",
        "LABELS",
    ]);
    let dash = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    for r in &rows {
        t.add_row([
            r.hostname.clone(),
            r.role.clone(),
            r.state.clone(),
            r.availability.clone(),
            r.addr.clone(),
            dash(&r.instances),
            dash(&r.pinned),
            dash(&r.labels),
        ]);
    }
    let text: Vec<String> = t
        .to_string()
        .lines()
        .map(|l| {
            l.trim_end()
                .strip_prefix(' ')
                .unwrap_or(l.trim_end())
                .to_string()
        })
        .collect();
    output::out(&format!("{}\n", text.join("\n")));
    Ok(0)
}
