//! The order instances start in: what a link points at, or what `depends_on` names, starts
//! first; otherwise run.conf order (the DNS first). A cycle is a plan error that names it.

use std::collections::{BTreeMap, BTreeSet};

use super::context::PlanError;
use super::select::Chosen;
use crate::project::links::{self, LinkCandidates, LinkResolution};
use crate::project::policies::Condition;

/// For each chosen instance (by index), the chosen instances it must start after, with the
/// condition to wait for (links: started).
pub(super) fn dependencies(
    chosen: &[Chosen],
    candidates: &LinkCandidates,
) -> Vec<BTreeMap<usize, Condition>> {
    let index: BTreeMap<&str, usize> = chosen
        .iter()
        .enumerate()
        .map(|(i, c)| (c.container.as_str(), i))
        .collect();
    chosen
        .iter()
        .map(|c| {
            let mut deps: BTreeMap<usize, Condition> = BTreeMap::new();
            let mut add = |i: usize, cond: Condition| {
                let slot = deps.entry(i).or_insert(cond);
                // The stronger condition wins: completed > up > started.
                if rank(cond) > rank(*slot) {
                    *slot = cond;
                }
            };
            if c.settings.props.linked {
                for l in &c.entry.links {
                    let target = match links::resolve(l, &c.container, candidates) {
                        LinkResolution::One(t) | LinkResolution::FirstOf(t, _) => t,
                        LinkResolution::NotFound => continue,
                    };
                    if let Some(&i) = index.get(target.as_str()) {
                        add(i, Condition::Started);
                    }
                }
            }
            for d in &c.entry.depends_on {
                for (i, other) in chosen.iter().enumerate() {
                    let same = other.settings.service == d.service
                        && d.instance
                            .as_deref()
                            .is_none_or(|n| n == other.settings.instance);
                    if same && other.container != c.container {
                        add(i, d.condition);
                    }
                }
            }
            deps
        })
        .collect()
}

fn rank(c: Condition) -> u8 {
    match c {
        Condition::Started => 0,
        Condition::Up => 1,
        Condition::Completed => 2,
    }
}

/// The chosen instances' indexes in start order: each after what it depends on, else in the
/// order given (stable). A cycle is an error naming it.
pub(super) fn start_order(
    chosen: &[Chosen],
    deps: &[BTreeMap<usize, Condition>],
    conf_file: &str,
) -> Result<Vec<usize>, PlanError> {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut order = Vec::with_capacity(chosen.len());
    while order.len() < chosen.len() {
        let next = (0..chosen.len())
            .find(|i| !done.contains(i) && deps[*i].keys().all(|d| done.contains(d)));
        match next {
            Some(i) => {
                done.insert(i);
                order.push(i);
            }
            None => {
                // Every one left waits for another one left: follow the waits to a cycle.
                let start = (0..chosen.len()).find(|i| !done.contains(i)).unwrap_or(0);
                let mut path = vec![start];
                let mut at = start;
                while let Some(&next) = deps[at].keys().find(|d| !done.contains(*d)) {
                    if let Some(pos) = path.iter().position(|p| *p == next) {
                        let mut cycle: Vec<String> = path[pos..]
                            .iter()
                            .map(|i| chosen[*i].settings.hostname())
                            .collect();
                        cycle.push(chosen[next].settings.hostname());
                        let first = &chosen[path[pos]];
                        return Err(PlanError::Cycle {
                            file: conf_file.to_string(),
                            line: first.entry.pos.line,
                            index: first.entry.index,
                            chain: cycle.join(" -> "),
                        });
                    }
                    path.push(next);
                    at = next;
                }
                // Not reachable: a node with unmet dependencies always leads to a cycle.
                order.extend((0..chosen.len()).filter(|i| !done.contains(i)));
                break;
            }
        }
    }
    Ok(order)
}
