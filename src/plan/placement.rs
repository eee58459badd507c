//! Where a swarm may run each instance.
//!
//! - A run.conf `group` keeps an instance on the nodes labelled `io.dops.group=<group>` (when
//!   some node carries that label; otherwise the group only selects, as on one engine).
//! - A persistent instance is pinned: its data is a volume on one node, so it must never be moved
//!   silently. The node is recorded as a node label `io.dops.data.<project>.<instance>=true`
//!   (it outlives the service: `clean` then `run` finds the data again) and required by the
//!   instance's constraints. A new one goes to the least loaded ready node (of its group).

use std::collections::BTreeMap;

use super::context::PlanError;
use super::select::Chosen;
use super::step::{Placement, Step};
use crate::labels;
use crate::observed::ObservedNode;

/// The node label a persistent instance is pinned by.
pub fn pin_label(project: &str, hostname: &str) -> String {
    format!("{}.{project}.{hostname}", labels::NODE_DATA_PREFIX)
}

/// The placement of one instance, and the step that pins it when it is placed for the first
/// time. `planned`: pins this plan already gave each node (spreads new ones).
pub(super) fn place(
    project: &str,
    c: &Chosen,
    nodes: &[ObservedNode],
    planned: &mut BTreeMap<String, usize>,
    warnings: &mut Vec<String>,
) -> Result<(Placement, Option<Step>), PlanError> {
    let s = &c.settings;
    let hostname = s.hostname();
    let mut placement = Placement {
        constraints: Vec::new(),
        node: None,
    };
    let group = c.entry.group.as_deref().filter(|g| {
        nodes
            .iter()
            .any(|n| n.labels.get(labels::NODE_GROUP).map(String::as_str) == Some(*g))
    });
    if let Some(g) = group {
        placement
            .constraints
            .push(format!("node.labels.{}=={g}", labels::NODE_GROUP));
    }
    let p = &s.props;
    if !(p.persistent_data || p.persistent_opt || p.persistent_log || p.persistent_home) {
        return Ok((placement, None));
    }
    let label = pin_label(project, &hostname);
    placement
        .constraints
        .push(format!("node.labels.{label}==true"));
    if let Some(n) = nodes
        .iter()
        .find(|n| n.labels.get(&label).map(String::as_str) == Some("true"))
    {
        if !n.is_available() {
            warnings.push(format!(
                "{hostname} is pinned to node {} ({}, {}): its data lives there, so it waits for that node (never moved silently)",
                n.hostname, n.state, n.availability
            ));
        }
        placement.node = Some(n.hostname.clone());
        return Ok((placement, None));
    }
    if nodes.is_empty() {
        warnings.push(format!(
            "{hostname}: no swarm node known; its node is chosen when it first runs"
        ));
        return Ok((placement, None));
    }
    let in_group = |n: &&ObservedNode| {
        group.is_none_or(|g| n.labels.get(labels::NODE_GROUP).map(String::as_str) == Some(g))
    };
    let best = nodes
        .iter()
        .filter(|n| n.is_available())
        .filter(in_group)
        .min_by_key(|n| {
            (
                n.running_tasks + planned.get(&n.hostname).copied().unwrap_or(0),
                n.hostname.clone(),
            )
        })
        .ok_or_else(|| PlanError::Placement {
            instance: hostname.clone(),
            why: match group {
                Some(g) => format!(
                    "no ready, active node labelled {}={g} to keep its data on",
                    labels::NODE_GROUP
                ),
                None => "no ready, active node to keep its data on".to_string(),
            },
            hint: "see 'dops nodes'; 'docker node update --availability active NODE'".into(),
        })?;
    *planned.entry(best.hostname.clone()).or_insert(0) += 1;
    placement.node = Some(best.hostname.clone());
    let pin = Step::Pin {
        container: c.container.clone(),
        node: best.hostname.clone(),
        label,
    };
    Ok((placement, Some(pin)))
}
