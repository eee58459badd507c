//! The engine's event stream for one project's containers (create, start, die with its exit
//! code, OOM, health changes, renames, removal), as plain data: `dops events` and `dops ui`
//! read it without polling.
//!
//! One `GET /events` filtered by `type=container`, the project label and the instance label; with `since` the engine
//! first replays what it still remembers (a bounded buffer of its recent events), then streams.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use super::connect::Engine;
use super::error::EngineError;
use crate::labels;

/// One container event, as the engine reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineEvent {
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// `create`, `start`, `die`, `oom`, `kill`, `stop`, `destroy`, `rename`, `restart`,
    /// `health_status: healthy`, …
    pub action: String,
    pub id: String,
    /// The container's name (without Docker's leading slash) when the event was sent.
    pub name: String,
    /// The attributes: the container's labels, `exitCode`, `signal`, `oldName`, `image`, …
    pub attributes: BTreeMap<String, String>,
}

impl EngineEvent {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// A `rename`'s previous name, without Docker's leading slash ("" when not given).
    pub fn old_name(&self) -> String {
        self.label("oldName")
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string()
    }
}

/// The engine's form of a time: `seconds.nanoseconds`.
fn engine_time(nanos: i64) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}

/// Container events of `project` from `since` (nanoseconds since the epoch; None: from now),
/// until `until` (None: forever). The stream ends, or gives an error, when the engine goes away.
pub fn container_events(
    engine: &Engine,
    project: &str,
    since: Option<i64>,
    until: Option<i64>,
) -> impl Stream<Item = Result<EngineEvent, EngineError>> + Send + 'static {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        // Instances only: a build's intermediate containers and the engine's scratch containers
        // carry the project label too, but no instance.
        (
            "label".to_string(),
            vec![
                format!("{}={project}", labels::PROJECT),
                labels::INSTANCE.to_string(),
            ],
        ),
    ]);
    let options = EventsOptions {
        since: since.map(engine_time),
        until: until.map(engine_time),
        filters: Some(filters),
    };
    engine.api().events(Some(options)).map(|m| {
        let m = m.map_err(|e| EngineError::docker("follow the engine's events", e))?;
        let actor = m.actor.unwrap_or_default();
        let attributes: BTreeMap<String, String> =
            actor.attributes.unwrap_or_default().into_iter().collect();
        Ok(EngineEvent {
            time_nano: m
                .time_nano
                .or(m.time.map(|t| t.saturating_mul(1_000_000_000)))
                .unwrap_or_default(),
            action: m.action.unwrap_or_default(),
            id: actor.id.unwrap_or_default(),
            name: attributes
                .get("name")
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            attributes,
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_in_the_engine_form() {
        assert_eq!(
            super::engine_time(1_700_000_000_000_000_001),
            "1700000000.000000001"
        );
        assert_eq!(super::engine_time(5), "0.000000005");
    }
}
