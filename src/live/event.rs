//! One event of a platform (`dops events`, the dashboard's stream): when, which instance, what
//! kind, and the details in words and as data. Human lines and JSON lines are made here (the
//! command edge prints them).

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    // The engine's container events.
    Create,
    Start,
    Restart,
    Die,
    Oom,
    Kill,
    Stop,
    Destroy,
    Rename,
    Pause,
    Unpause,
    Health,
    // dops-init's state file.
    Lifecycle,
    Maintenance,
    // The project DNS's records file.
    DnsRegister,
    DnsWithdraw,
    DnsExpire,
    // Roll-outs, derived from the engine's renames and removals of `<name>.old`.
    Replace,
    RolloutDone,
    Rollback,
    /// An action of the dashboard and what the engine reported while carrying it out.
    Action,
    /// Something about the watching itself (the engine's stream lost, a file unreadable).
    Warning,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Start => "start",
            Kind::Restart => "restart",
            Kind::Die => "die",
            Kind::Oom => "oom",
            Kind::Kill => "kill",
            Kind::Stop => "stop",
            Kind::Destroy => "destroy",
            Kind::Rename => "rename",
            Kind::Pause => "pause",
            Kind::Unpause => "unpause",
            Kind::Health => "health",
            Kind::Lifecycle => "lifecycle",
            Kind::Maintenance => "maintenance",
            Kind::DnsRegister => "dns.register",
            Kind::DnsWithdraw => "dns.withdraw",
            Kind::DnsExpire => "dns.expire",
            Kind::Replace => "rollout.replace",
            Kind::RolloutDone => "rollout.done",
            Kind::Rollback => "rollout.rollback",
            Kind::Action => "action",
            Kind::Warning => "warning",
        }
    }

    /// Where it comes from: `engine`, `lifecycle`, `dns`, `rollout`, `action`, `dops`.
    pub fn source(self) -> &'static str {
        match self {
            Kind::Lifecycle | Kind::Maintenance => "lifecycle",
            Kind::DnsRegister | Kind::DnsWithdraw | Kind::DnsExpire => "dns",
            Kind::Replace | Kind::RolloutDone | Kind::Rollback => "rollout",
            Kind::Action => "action",
            Kind::Warning => "dops",
            _ => "engine",
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whom an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    pub service: String,
    /// The instance's name (`one`), or its DNS label (`web-one`) when the service is unknown.
    pub instance: String,
    pub container: String,
}

impl Who {
    /// `<service>-<instance>`; the instance alone when the service is unknown.
    pub fn id(&self) -> String {
        match (self.service.is_empty(), self.instance.is_empty()) {
            (false, false) => format!("{}-{}", self.service, self.instance),
            (true, _) => self.instance.clone(),
            (false, true) => self.service.clone(),
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// Milliseconds since the epoch.
    pub epoch_ms: i64,
    /// `<service>-<instance>` (the DNS name of the instance), or "" for the project.
    pub instance: String,
    /// The service, when known.
    pub service: String,
    /// The container's name when the event is about one.
    pub container: String,
    pub kind: Kind,
    pub source: &'static str,
    /// In words: `WARMUP → UP`, `exited with code 137`, `web.local.zone A 10.200.0.3`.
    pub details: String,
    /// The same as data: `from`, `to`, `exit_code`, `health`, `name`, `address`, …
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, Value>,
}

impl Event {
    pub fn new(epoch_ms: i64, kind: Kind, who: &Who, details: String) -> Event {
        Event {
            time: rfc3339_ms(epoch_ms),
            epoch_ms,
            instance: who.id(),
            service: who.service.clone(),
            container: who.container.clone(),
            kind,
            source: kind.source(),
            details,
            data: BTreeMap::new(),
        }
    }

    /// Add a data field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.data.insert(key.to_string(), value.into());
        self
    }

    /// The human line: `10:09:33.123  web-one           lifecycle         WARMUP → UP` (UTC).
    pub fn line(&self) -> String {
        let who = if self.instance.is_empty() {
            "-"
        } else {
            &self.instance
        };
        format!(
            "{}  {who:<16}  {:<16}  {}",
            clock_ms(self.epoch_ms),
            self.kind.as_str(),
            self.details
        )
    }

    /// One JSON line (no line end).
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `2026-05-01T10:09:33.123Z`.
pub fn rfc3339_ms(epoch_ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(epoch_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `10:09:33.123` (UTC).
fn clock_ms(epoch_ms: i64) -> String {
    rfc3339_ms(epoch_ms)[11..23].to_string()
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An RFC 3339 time (as dops-init writes `since`) → milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json() {
        let who = Who {
            service: "web".into(),
            instance: "one".into(),
            container: "shop-web-one".into(),
        };
        let e = Event::new(
            1_777_630_173_123,
            Kind::Lifecycle,
            &who,
            "WARMUP → UP".into(),
        )
        .with("from", "WARMUP")
        .with("to", "UP");
        assert_eq!(e.time, "2026-05-01T10:09:33.123Z");
        assert_eq!(
            e.line(),
            "10:09:33.123  web-one           lifecycle         WARMUP → UP"
        );
        assert_eq!(
            e.json_line(),
            r#"{"time":"2026-05-01T10:09:33.123Z","epoch_ms":1777630173123,"instance":"web-one","service":"web","container":"shop-web-one","kind":"lifecycle","source":"lifecycle","details":"WARMUP → UP","data":{"from":"WARMUP","to":"UP"}}"#
        );
        assert_eq!(
            parse_rfc3339_ms("2026-05-01T10:09:33.123456Z"),
            Some(1_777_630_173_123)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        let w = Event::new(0, Kind::Warning, &Who::default(), "x".into());
        assert!(w.line().starts_with("00:00:00.000  -    "), "{}", w.line());
    }
}
