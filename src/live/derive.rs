//! From what changed to events (pure): an engine event, a new state file, a new DNS records
//! file. Roll-outs are read from the engine's renames and removals (a roll-out sets the old
//! container aside as `<name>.old`; see `plan::Replacement`):
//!
//! - `X` renamed `X.old` → `rollout.replace` (the roll-out of X began);
//! - `X.old` removed → `rollout.done` (the new X is UP, the old one is gone);
//! - `X.old` renamed back `X` → `rollout.rollback` (the new X did not come up, or an interrupted
//!   roll-out was undone).

use super::event::{Event, Kind, Who};
use crate::dns::records::RecordsFile;
use crate::engine::events::EngineEvent;
use crate::labels;
use crate::state_file::LifecycleState;

/// The suffix of a container a roll-out set aside.
pub const ASIDE: &str = ".old";

/// Whom an engine event is about: its labels, else its name without the project.
pub fn who_of(ev: &EngineEvent, project: &str) -> Who {
    let service = ev.label(labels::SERVICE).unwrap_or_default().to_string();
    let instance = ev.label(labels::INSTANCE).unwrap_or_default().to_string();
    if !service.is_empty() {
        return Who {
            service,
            instance,
            container: ev.name.clone(),
        };
    }
    let base = ev.name.trim_end_matches(ASIDE);
    Who {
        service: String::new(),
        instance: base
            .strip_prefix(&format!("{project}-"))
            .unwrap_or(base)
            .to_string(),
        container: ev.name.clone(),
    }
}

/// The events an engine event means (none for the noise: exec, attach, resize, …).
pub fn engine_event(ev: &EngineEvent, project: &str) -> Vec<Event> {
    let who = who_of(ev, project);
    let ms = ev.time_nano / 1_000_000;
    let one = |kind: Kind, details: String| Event::new(ms, kind, &who, details);
    let mut out = Vec::new();
    let action = ev.action.as_str();
    match action {
        "create" => out.push(
            one(
                Kind::Create,
                format!("created from {}", ev.label("image").unwrap_or("?")),
            )
            .with("image", ev.label("image").unwrap_or_default()),
        ),
        "start" => out.push(one(Kind::Start, "started".into())),
        "restart" => out.push(one(Kind::Restart, "restarted by the engine".into())),
        "die" => {
            let code = ev.label("exitCode").and_then(|c| c.parse::<i64>().ok());
            let details = match code {
                Some(c) if c > 128 && c < 160 => {
                    format!("exited with code {c} (signal {})", c - 128)
                }
                Some(c) => format!("exited with code {c}"),
                None => "exited".to_string(),
            };
            let mut e = one(Kind::Die, details);
            if let Some(c) = code {
                e = e.with("exit_code", c);
            }
            out.push(e);
        }
        "oom" => out.push(one(Kind::Oom, "out of memory: killed by the kernel".into())),
        "kill" => {
            let signal = ev.label("signal").unwrap_or("?");
            out.push(one(Kind::Kill, format!("sent signal {signal}")).with("signal", signal));
        }
        "stop" => out.push(one(Kind::Stop, "stopped".into())),
        "pause" => out.push(one(Kind::Pause, "paused".into())),
        "unpause" => out.push(one(Kind::Unpause, "unpaused".into())),
        "destroy" => {
            out.push(one(Kind::Destroy, "removed".into()));
            if let Some(base) = ev.name.strip_suffix(ASIDE) {
                out.push(
                    one(
                        Kind::RolloutDone,
                        format!(
                            "{base} replaced: the old container ({}) is removed",
                            ev.name
                        ),
                    )
                    .with("replaced", base),
                );
            }
        }
        "rename" => {
            let old = ev.old_name();
            out.push(one(Kind::Rename, format!("renamed from {old}")).with("from", old.as_str()));
            if ev.name == format!("{old}{ASIDE}") {
                out.push(
                    one(
                        Kind::Replace,
                        format!(
                            "{old} set aside as {}: a new container takes its place",
                            ev.name
                        ),
                    )
                    .with("replaced", old.as_str()),
                );
            } else if old == format!("{}{ASIDE}", ev.name) {
                out.push(
                    one(
                        Kind::Rollback,
                        format!(
                            "{} is back: the replacement did not come up (or was undone)",
                            ev.name
                        ),
                    )
                    .with("restored", ev.name.as_str()),
                );
            }
        }
        a if a.starts_with("health_status") => {
            let status = a.split_once(':').map(|(_, s)| s.trim()).unwrap_or_default();
            out.push(one(Kind::Health, status.to_string()).with("health", status));
        }
        _ => {}
    }
    out
}

/// The events between two readings of an instance's state file. `now_ms` dates a change whose
/// `since` is missing.
pub fn lifecycle_change(
    who: &Who,
    prev: Option<&LifecycleState>,
    next: &LifecycleState,
    now_ms: i64,
) -> Vec<Event> {
    let mut out = Vec::new();
    let at = next
        .since
        .as_deref()
        .and_then(super::event::parse_rfc3339_ms)
        .unwrap_or(now_ms);
    let prev_state = prev.map(|p| p.state.as_str()).unwrap_or("");
    if prev_state != next.state && !next.state.is_empty() {
        let mut details = if prev_state.is_empty() {
            format!("→ {}", next.state)
        } else {
            format!("{prev_state} → {}", next.state)
        };
        if let Some(err) = &next.error {
            details.push_str(&format!(" ({err})"));
        }
        let mut e = Event::new(at, Kind::Lifecycle, who, details).with("to", next.state.as_str());
        if !prev_state.is_empty() {
            e = e.with("from", prev_state);
        }
        if next.restarts > 0 {
            e = e.with("restarts", next.restarts);
        }
        out.push(e);
    }
    if prev.is_some_and(|p| p.maintenance != next.maintenance) {
        let on = if next.maintenance { "on" } else { "off" };
        out.push(
            Event::new(now_ms, Kind::Maintenance, who, format!("maintenance {on}"))
                .with("maintenance", next.maintenance),
        );
    }
    out
}

/// The registrations and withdrawals between two records files of the project DNS. A record
/// that goes while its lease still ran was withdrawn; one whose lease ran out expired.
/// `who`: whom a record's instance label (`web-one`) and value (its address) name.
pub fn records_change(
    prev: Option<&RecordsFile>,
    next: &RecordsFile,
    who: &dyn Fn(&str, &str) -> Who,
) -> Vec<Event> {
    let key =
        |r: &crate::dns::registry::RecordView| (r.name.clone(), r.rtype.clone(), r.value.clone());
    let at = next.written_at_ms as i64;
    let mut out = Vec::new();
    let empty = Vec::new();
    let before = prev.map(|p| &p.records).unwrap_or(&empty);
    for r in &next.records {
        if !before.iter().any(|b| key(b) == key(r)) {
            out.push(
                Event::new(
                    at,
                    Kind::DnsRegister,
                    &who(&r.instance, &r.value),
                    format!("{} {} {}", r.name, r.rtype, r.value),
                )
                .with("name", r.name.as_str())
                .with("type", r.rtype.as_str())
                .with("value", r.value.as_str()),
            );
        }
    }
    if let Some(p) = prev {
        let age = next.written_at_ms.saturating_sub(p.written_at_ms);
        for b in &p.records {
            if next.records.iter().any(|r| key(r) == key(b)) {
                continue;
            }
            // Lease left when it went, as far as the previous snapshot tells.
            let expired = b.lease_left_ms <= age + 500;
            let (kind, how) = if expired {
                (Kind::DnsExpire, "lease expired")
            } else {
                (Kind::DnsWithdraw, "withdrawn")
            };
            out.push(
                Event::new(
                    at,
                    kind,
                    &who(&b.instance, &b.value),
                    format!("{} {} {} {how}", b.name, b.rtype, b.value),
                )
                .with("name", b.name.as_str())
                .with("type", b.rtype.as_str())
                .with("value", b.value.as_str()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::registry::RecordView;
    use std::collections::BTreeMap;

    fn ev(action: &str, name: &str, attrs: &[(&str, &str)]) -> EngineEvent {
        let mut attributes: BTreeMap<String, String> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        attributes.insert(labels::SERVICE.into(), "web".into());
        attributes.insert(labels::INSTANCE.into(), "one".into());
        EngineEvent {
            time_nano: 1_777_630_173_123_456_789,
            action: action.into(),
            id: "abc".into(),
            name: name.into(),
            attributes,
        }
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn engine_events_become_lines() {
        let die = engine_event(&ev("die", "p-web-one", &[("exitCode", "137")]), "p");
        assert_eq!(die[0].details, "exited with code 137 (signal 9)");
        assert_eq!(die[0].data["exit_code"], 137);
        assert_eq!(die[0].instance, "web-one");
        assert_eq!(die[0].epoch_ms, 1_777_630_173_123);
        let health = engine_event(&ev("health_status: unhealthy", "p-web-one", &[]), "p");
        assert_eq!(
            (health[0].kind, health[0].details.as_str()),
            (Kind::Health, "unhealthy")
        );
        assert!(engine_event(&ev("exec_start: sh -c true", "p-web-one", &[]), "p").is_empty());
        let create = engine_event(&ev("create", "p-web-one", &[("image", "p/web")]), "p");
        assert_eq!(create[0].details, "created from p/web");
        // Without labels: the name without the project.
        let bare = EngineEvent {
            action: "start".into(),
            name: "p-db-master".into(),
            ..Default::default()
        };
        assert_eq!(engine_event(&bare, "p")[0].instance, "db-master");
    }

    #[test]
    fn roll_outs_from_renames_and_removals() {
        let aside = engine_event(
            &ev("rename", "p-web-one.old", &[("oldName", "/p-web-one")]),
            "p",
        );
        assert_eq!(kinds(&aside), ["rename", "rollout.replace"]);
        assert_eq!(
            aside[1].details,
            "p-web-one set aside as p-web-one.old: a new container takes its place"
        );
        let done = engine_event(&ev("destroy", "p-web-one.old", &[]), "p");
        assert_eq!(kinds(&done), ["destroy", "rollout.done"]);
        let back = engine_event(
            &ev("rename", "p-web-one", &[("oldName", "/p-web-one.old")]),
            "p",
        );
        assert_eq!(kinds(&back), ["rename", "rollout.rollback"]);
        let plain = engine_event(&ev("rename", "p-web-two", &[("oldName", "/p-x")]), "p");
        assert_eq!(kinds(&plain), ["rename"]);
    }

    #[test]
    fn lifecycle_transitions() {
        let who = Who {
            service: "web".into(),
            instance: "one".into(),
            container: "p-web-one".into(),
        };
        let warm = LifecycleState {
            state: "WARMUP".into(),
            since: Some("2026-05-01T10:09:33.000Z".into()),
            ..Default::default()
        };
        let up = LifecycleState {
            state: "UP".into(),
            since: Some("2026-05-01T10:09:33.500Z".into()),
            ..Default::default()
        };
        let first = lifecycle_change(&who, None, &warm, 5);
        assert_eq!(first[0].details, "→ WARMUP");
        let e = lifecycle_change(&who, Some(&warm), &up, 5);
        assert_eq!(e[0].details, "WARMUP → UP");
        assert_eq!(e[0].epoch_ms, 1_777_630_173_500);
        // A new monitor blob, same state: nothing.
        let mut up2 = up.clone();
        up2.last_stats = Some(serde_json::json!({"rps": 3}));
        assert!(lifecycle_change(&who, Some(&up), &up2, 5).is_empty());
        up2.maintenance = true;
        assert_eq!(
            kinds(&lifecycle_change(&who, Some(&up), &up2, 5)),
            ["maintenance"]
        );
        let err = LifecycleState {
            state: "ERROR".into(),
            error: Some("restart budget exhausted".into()),
            ..Default::default()
        };
        assert_eq!(
            lifecycle_change(&who, Some(&up), &err, 5)[0].details,
            "UP → ERROR (restart budget exhausted)"
        );
    }

    fn rec(name: &str, value: &str, left: u64) -> RecordView {
        RecordView {
            name: name.into(),
            rtype: "A".into(),
            value: value.into(),
            instance: "web-one".into(),
            lease_left_ms: left,
            registered_at_epoch: 0,
            answered: true,
        }
    }

    fn file(at: u64, records: Vec<RecordView>) -> RecordsFile {
        RecordsFile {
            zone: "local.zone.".into(),
            written_at_ms: at,
            ttl: 2,
            lease_ms: 6000,
            records,
        }
    }

    #[test]
    fn dns_registrations_withdrawals_and_expiries() {
        let who = |label: &str, _: &str| Who {
            service: "web".into(),
            instance: label.trim_start_matches("web-").into(),
            container: format!("p-{label}"),
        };
        let a = file(1000, vec![rec("web.local.zone.", "10.0.0.1", 6000)]);
        let first = records_change(None, &a, &who);
        assert_eq!(kinds(&first), ["dns.register"]);
        assert_eq!(first[0].details, "web.local.zone. A 10.0.0.1");
        assert_eq!(first[0].instance, "web-one");
        let b = file(
            2000,
            vec![
                rec("web.local.zone.", "10.0.0.1", 5000),
                rec("web.local.zone.", "10.0.0.2", 6000),
            ],
        );
        assert_eq!(kinds(&records_change(Some(&a), &b, &who)), ["dns.register"]);
        // 10.0.0.1 goes with 5 s of lease left: withdrawn; then 10.0.0.2 runs out.
        let c = file(3000, vec![rec("web.local.zone.", "10.0.0.2", 200)]);
        let gone = records_change(Some(&b), &c, &who);
        assert_eq!(kinds(&gone), ["dns.withdraw"]);
        assert_eq!(gone[0].details, "web.local.zone. A 10.0.0.1 withdrawn");
        let d = file(4000, vec![]);
        assert_eq!(kinds(&records_change(Some(&c), &d, &who)), ["dns.expire"]);
        assert!(records_change(Some(&d), &d, &who).is_empty());
    }
}
