//! What the dashboard's buttons ask for, and how it is handed over: the server sends a [`Job`]
//! to the command edge, which carries it out with the same planner and engine calls as `dops
//! run`, `rerun` and `clean` (never a purge) and answers on the job's channel. The dashboard
//! needs nothing of the commands, and the work runs on the command's own task.

use serde::Deserialize;

use crate::engine::Reporter;

/// The verbs the dashboard offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Run,
    Rerun,
    Clean,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Run => "run",
            Verb::Rerun => "rerun",
            Verb::Clean => "clean",
        }
    }
}

/// One request: `{"verb": "rerun", "service": "web", "instance": "two"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub verb: Verb,
    pub service: String,
    pub instance: String,
}

impl ActionRequest {
    /// Names as dops gives them: letters, digits, `-`, `_`, `.` (no wildcard: one instance).
    pub fn check(&self) -> Result<(), String> {
        for (what, v) in [("service", &self.service), ("instance", &self.instance)] {
            if v.is_empty() || v.len() > 128 {
                return Err(format!("{what}: expected a name of 1 to 128 characters"));
            }
            if let Some(c) = v
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            {
                return Err(format!("{what} {v:?}: '{c}' is not allowed"));
            }
        }
        Ok(())
    }

    /// `rerun web,instance=two`.
    pub fn text(&self) -> String {
        format!(
            "{} {},instance={}",
            self.verb.as_str(),
            self.service,
            self.instance
        )
    }
}

/// An action to carry out: `report` gets the engine's progress (shown as events), `done` the
/// outcome.
pub struct Job {
    pub req: ActionRequest,
    pub report: Reporter,
    pub done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Where the server sends its jobs.
pub type Jobs = tokio::sync::mpsc::Sender<Job>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let r: ActionRequest =
            serde_json::from_str(r#"{"verb":"rerun","service":"web","instance":"two"}"#).unwrap();
        assert_eq!(r.check(), Ok(()));
        assert_eq!(r.text(), "rerun web,instance=two");
        let bad = ActionRequest {
            instance: "*".into(),
            ..r.clone()
        };
        assert!(bad.check().unwrap_err().contains("'*'"));
        assert!(serde_json::from_str::<ActionRequest>(
            r#"{"verb":"purge","service":"web","instance":"two"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<ActionRequest>(
            r#"{"verb":"clean","service":"web","instance":"two","purge":true}"#
        )
        .is_err());
    }
}
