//! Node labels: where a persistent instance's data lives (`plan::placement`).

use bollard::query_parameters::UpdateNodeOptions;

use super::target::Swarm;
use crate::engine::error::EngineError;

/// Set (`Some`) or remove (`None`) one label of a node (id or hostname). Node updates are
/// versioned: a concurrent change makes Swarm refuse ours, so it is read and tried again.
pub async fn set_label(
    swarm: &Swarm,
    node: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), EngineError> {
    let api = swarm.manager.api();
    let mut last = None;
    for _ in 0..5 {
        let n = api
            .inspect_node(node)
            .await
            .map_err(|e| EngineError::docker(format!("inspect node {node}"), e))?;
        let mut spec = n.spec.unwrap_or_default();
        let mut labels = spec.labels.unwrap_or_default();
        match value {
            Some(v) => labels.insert(key.to_string(), v.to_string()),
            None => labels.remove(key),
        };
        spec.labels = Some(labels);
        let version = n.version.and_then(|v| v.index).unwrap_or_default();
        let id = n.id.unwrap_or_else(|| node.to_string());
        match api
            .update_node(
                &id,
                spec,
                UpdateNodeOptions {
                    version: i64::try_from(version).unwrap_or(i64::MAX),
                },
            )
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(EngineError::docker(
        format!("label node {node} with {key}"),
        last.expect("five attempts"),
    ))
}
