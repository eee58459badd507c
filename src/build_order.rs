//! Build order: a service whose Dockerfile says `FROM <project>/<other>` builds after `<other>`.
//! Parents first, ties in name order; cycles and unknown parents are errors that show the chain.

use std::collections::{BTreeMap, BTreeSet};

/// One `FROM <project>/<parent>` of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    pub parent: String,
    /// The image as written in the FROM line.
    pub image: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildOrderError {
    #[error("build cycle: {} (each service is built FROM the next one)", .chain.join(" -> "))]
    Cycle { chain: Vec<String> },
    #[error(
        "services/{service}/Dockerfile: line {line}: FROM {image}: no service '{parent}' in services/ (chain: {})",
        .chain.join(" -> ")
    )]
    UnknownParent {
        service: String,
        parent: String,
        image: String,
        line: usize,
        chain: Vec<String>,
    },
}

/// Every service in build order (parents before children).
pub fn order(graph: &BTreeMap<String, Vec<ParentRef>>) -> Result<Vec<String>, BuildOrderError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        graph: &BTreeMap<String, Vec<ParentRef>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), BuildOrderError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut chain: Vec<String> = stack[start..].to_vec();
                chain.push(name.to_string());
                return Err(BuildOrderError::Cycle { chain });
            }
            None => {}
        }
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        let mut parents: Vec<&ParentRef> = graph
            .get(name)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        parents.sort_by(|a, b| a.parent.cmp(&b.parent));
        for p in parents {
            if !graph.contains_key(&p.parent) {
                let mut chain = stack.clone();
                chain.push(p.parent.clone());
                return Err(BuildOrderError::UnknownParent {
                    service: name.to_string(),
                    parent: p.parent.clone(),
                    image: p.image.clone(),
                    line: p.line,
                    chain,
                });
            }
            visit(&p.parent, graph, marks, stack, out)?;
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        out.push(name.to_string());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::with_capacity(graph.len());
    for name in graph.keys() {
        let mut stack = Vec::new();
        visit(name, graph, &mut marks, &mut stack, &mut out)?;
    }
    Ok(out)
}

/// `targets` and everything they are built FROM, in build order (`full` = the result of `order`).
pub fn with_ancestors(
    full: &[String],
    graph: &BTreeMap<String, Vec<ParentRef>>,
    targets: &BTreeSet<String>,
) -> Vec<String> {
    let mut need: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = targets.iter().cloned().collect();
    while let Some(s) = todo.pop() {
        if need.insert(s.clone()) {
            if let Some(ps) = graph.get(&s) {
                todo.extend(ps.iter().map(|p| p.parent.clone()));
            }
        }
    }
    full.iter().filter(|s| need.contains(*s)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<ParentRef>> {
        edges
            .iter()
            .map(|(s, ps)| {
                (
                    s.to_string(),
                    ps.iter()
                        .map(|p| ParentRef {
                            parent: p.to_string(),
                            image: format!("demo/{p}"),
                            line: 1,
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn parents_first_then_names() {
        let graph = g(&[
            ("web", &["base"]),
            ("base", &[]),
            ("app", &["web", "base"]),
            ("db", &[]),
        ]);
        assert_eq!(order(&graph).unwrap(), vec!["base", "web", "app", "db"]);
    }

    #[test]
    fn cycle_shows_the_chain() {
        let graph = g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            order(&graph).unwrap_err().to_string(),
            "build cycle: a -> b -> c -> a (each service is built FROM the next one)"
        );
        let self_loop = g(&[("a", &["a"])]);
        assert_eq!(
            order(&self_loop).unwrap_err(),
            BuildOrderError::Cycle {
                chain: vec!["a".into(), "a".into()]
            }
        );
    }

    #[test]
    fn unknown_parent_shows_the_chain() {
        let graph = g(&[("app", &["web"]), ("web", &["nope"])]);
        assert_eq!(
            order(&graph).unwrap_err().to_string(),
            "services/web/Dockerfile: line 1: FROM demo/nope: no service 'nope' in services/ (chain: app -> web -> nope)"
        );
    }

    #[test]
    fn ancestors_only() {
        let graph = g(&[("web", &["base"]), ("base", &[]), ("db", &[])]);
        let full = order(&graph).unwrap();
        let t: BTreeSet<String> = ["web".to_string()].into();
        assert_eq!(with_ancestors(&full, &graph, &t), vec!["base", "web"]);
    }
}
