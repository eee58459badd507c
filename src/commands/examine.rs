//! `dops examine:<svc>[,instance=…]`: the image metadata chain of an instance (this image and
//! every dops ancestor) as the readable report, or `--json`.
//!
//! A container carries its image's labels, and the labels carry the whole chain
//! (`io.dops.meta.ancestry`), so one observe is enough: no exec, and it works for stopped
//! instances too.

use crate::meta::{self, BuildMeta, MetaError, RuntimeInfo};
use crate::observed::ObservedContainer;

/// The metadata chain (oldest first) recorded in a container's labels; empty for a non-dops image.
pub fn chain_of(container: &ObservedContainer) -> Result<Vec<BuildMeta>, MetaError> {
    Ok(BuildMeta::from_labels(&container.labels)?
        .map(|m| m.chain())
        .unwrap_or_default())
}

/// The run-time facts of a container shown at the top of the report.
pub fn runtime_of(container: &ObservedContainer) -> RuntimeInfo {
    RuntimeInfo {
        container: Some(container.name.clone()),
        started: time::OffsetDateTime::from_unix_timestamp(container.created)
            .ok()
            .filter(|_| container.created > 0)
            .map(|t| (meta::rfc3339(t), container.created)),
    }
}

/// The report (or JSON) for one container.
pub fn report(container: &ObservedContainer, json: bool) -> Result<String, MetaError> {
    let chain = chain_of(container)?;
    let methods = chain.last().map(|m| m.methods.clone()).unwrap_or_default();
    let runtime = runtime_of(container);
    Ok(if json {
        meta::examine_json(&runtime, &methods, &chain)
    } else {
        meta::examine_report(&runtime, &methods, &chain)
    })
}
