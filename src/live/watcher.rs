//! The live view of one project: the engine's container events, the state files and the DNS
//! records file, folded into one state (what the dashboard shows) and one stream of updates
//! (what `dops events` prints and the dashboard's page receives).
//!
//! Three inputs, no polling: the engine's event stream (reconnected when the engine goes away;
//! after a container is created, started, renamed, stopped or removed, one list call beside the
//! stream refreshes addresses and ports), the inotify watch of `.dops/run`, and what the dashboard itself
//! publishes (its actions and the engine's progress while it carries them out).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::derive::{self, ASIDE};
use super::event::{now_ms, parse_rfc3339_ms, Event, Kind, Who};
use super::files::{self, Changed, FileWatch};
use super::view::{InstanceView, Sample, Snapshot, Update};
use crate::dns::records::{self, RecordsFile, RECORDS_FILE};
use crate::engine::events::{container_events, EngineEvent};
use crate::engine::{observe, Engine, EngineError};
use crate::labels;
use crate::observed::ObservedContainer;
use crate::state_file::{self, LifecycleState};

/// Events kept for a new page.
const KEEP_EVENTS: usize = 500;
/// Monitor samples kept per instance, and for how long.
const KEEP_SAMPLES: usize = 300;
const KEEP_SAMPLES_MS: i64 = 15 * 60 * 1000;
/// Updates a slow reader may fall behind before it is told it missed some.
const CHANNEL: usize = 4096;

/// A declared instance (run conf entry with an instance name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub container: String,
    pub service: String,
    pub instance: String,
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub project: String,
    /// The canonical project folder (`.dops/run` is watched there).
    pub project_dir: PathBuf,
    pub declared: Vec<Declared>,
    /// Replay what happened since then (milliseconds since the epoch): the engine's events it
    /// still remembers, lifecycle states and DNS registrations that began since.
    pub since_ms: Option<i64>,
}

/// Where the containers come from: the engine, or a fixed list (a dashboard without an engine:
/// tests and the rendering benchmark, with real state files).
// The engine is boxed: its client is large, the fixed list small.
pub enum Source {
    Engine(Box<Engine>),
    Fixed(Vec<ObservedContainer>),
}

/// The live state of a project; cheap to clone.
#[derive(Clone)]
pub struct Live {
    shared: Arc<Mutex<State>>,
    tx: broadcast::Sender<Update>,
}

/// What [`Live::start`] gives: the handle, the replayed history (oldest first), and a receiver
/// subscribed before anything was sent.
pub struct Started {
    pub live: Live,
    pub history: Vec<Event>,
    pub updates: broadcast::Receiver<Update>,
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot watch {path}: {why}\nhint: dops reads the instances' state files there; check the folder's permissions and the inotify limits (fs.inotify.max_user_watches)")]
    Watch { path: String, why: String },
}

impl Live {
    /// Take the first picture (one list call, the state files, the DNS records), replay the
    /// history asked for, then follow every source in background tasks of the current runtime.
    pub async fn start(source: Source, opts: LiveOptions) -> Result<Started, LiveError> {
        let t0_nanos = now_ms() * 1_000_000;
        let root = opts.project_dir.join(".dops").join("run");
        // The watch first: nothing written after the first reading is missed.
        let (ftx, frx) = tokio::sync::mpsc::unbounded_channel();
        let watch = files::watch(&root, ftx).map_err(|e| LiveError::Watch {
            path: root.display().to_string(),
            why: e.to_string(),
        })?;
        let containers = match &source {
            Source::Engine(engine) => observe(engine, &opts.project).await?.containers,
            Source::Fixed(list) => list.clone(),
        };
        let mut state = State {
            project: opts.project.clone(),
            project_dir: opts.project_dir.clone(),
            containers: BTreeMap::new(),
            declared: opts.declared.clone(),
            states: HashMap::new(),
            records: None,
            events: VecDeque::new(),
            stats: HashMap::new(),
        };
        state.set_containers(containers);
        for c in state.containers.values().cloned().collect::<Vec<_>>() {
            if let Some(dir) = c.run_dir() {
                let path = dir.join(state_file::FILE_NAME);
                state.file_changed(&path);
            }
        }
        if let Some(path) = state.records_path() {
            state.file_changed(&path);
        }
        let mut history = Vec::new();
        if let Some(since) = opts.since_ms {
            if let Source::Engine(engine) = &source {
                let past = container_events(
                    engine,
                    &opts.project,
                    Some(since * 1_000_000),
                    Some(t0_nanos),
                );
                let past: Vec<Result<EngineEvent, EngineError>> = past.collect().await;
                for ev in past {
                    history.extend(derive::engine_event(&ev?, &opts.project));
                }
            }
            history.extend(state.history_since(since));
            history.sort_by_key(|e| e.epoch_ms);
        }
        for e in history
            .iter()
            .skip(history.len().saturating_sub(KEEP_EVENTS))
        {
            state.events.push_back(e.clone());
        }
        let (tx, updates) = broadcast::channel(CHANNEL);
        let live = Live {
            shared: Arc::new(Mutex::new(state)),
            tx,
        };
        tokio::spawn(follow_files(live.clone(), watch, frx));
        if let Source::Engine(engine) = source {
            tokio::spawn(follow_engine(live.clone(), *engine, t0_nanos));
        }
        Ok(Started {
            live,
            history,
            updates,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a state that is still consistent enough to show.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Apply a change and send what it means, under the lock (so a new subscriber gets either
    /// the state before and the update, or the state after and not the update).
    fn apply(&self, f: impl FnOnce(&mut State) -> Vec<Update>) {
        let mut s = self.lock();
        let updates = f(&mut s);
        for u in updates {
            if let Update::Event { event } = &u {
                s.remember(event.clone());
            }
            let _ = self.tx.send(u);
        }
    }

    /// Everything now, and the updates from now on.
    pub fn subscribe(&self) -> (Snapshot, broadcast::Receiver<Update>) {
        let s = self.lock();
        (s.snapshot(), self.tx.subscribe())
    }

    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot()
    }

    /// One instance's view, by container name.
    pub fn instance(&self, container: &str) -> Option<InstanceView> {
        let s = self.lock();
        s.views().into_iter().find(|v| v.container == container)
    }

    /// Send an event of the dashboard's own (an action, what the engine reported).
    pub fn publish(&self, event: Event) {
        self.apply(|_| vec![Update::Event { event }]);
    }

    /// Whom a service and instance name: for events about an instance that may not run.
    pub fn who(&self, service: &str, instance: &str) -> Who {
        let s = self.lock();
        let container = s
            .containers
            .values()
            .find(|c| c.service == service && c.instance == instance)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("{}-{service}-{instance}", s.project));
        Who {
            service: service.to_string(),
            instance: instance.to_string(),
            container,
        }
    }

    fn warn(&self, text: String) {
        self.publish(Event::new(now_ms(), Kind::Warning, &Who::default(), text));
    }
}

/// Follow the state files and the DNS records file.
async fn follow_files(
    live: Live,
    _watch: FileWatch,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Changed>,
) {
    while let Some(c) = rx.recv().await {
        match c {
            Changed::File(path) => live.apply(|s| s.file_changed(&path)),
            Changed::Rescan => live.apply(|s| s.rescan()),
        }
    }
}

/// Does this engine event change a container's address, ports or presence?
fn refreshes(action: &str) -> bool {
    matches!(
        action,
        "create" | "start" | "restart" | "die" | "stop" | "destroy" | "rename"
    )
}

/// Follow the engine's events from `since` (nanoseconds), reconnecting when the engine goes.
/// The list call that refreshes addresses and ports runs beside, so it never holds an event.
async fn follow_engine(live: Live, engine: Engine, mut since: i64) {
    let project = live.lock().project.clone();
    let refresh = Arc::new(tokio::sync::Notify::new());
    {
        let (live, engine, project, refresh) = (
            live.clone(),
            engine.clone(),
            project.clone(),
            refresh.clone(),
        );
        tokio::spawn(async move {
            loop {
                // Several events in a row: one list call after them.
                refresh.notified().await;
                if let Ok(o) = observe(&engine, &project).await {
                    live.apply(|s| s.set_containers(o.containers));
                }
            }
        });
    }
    let mut lost = false;
    loop {
        let mut stream = Box::pin(container_events(&engine, &project, Some(since), None));
        if lost {
            // What changed while the stream was down.
            if let Ok(o) = observe(&engine, &project).await {
                live.apply(|s| s.set_containers(o.containers));
                live.warn("the engine's events are followed again".into());
                lost = false;
            }
        }
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => {
                    since = since.max(ev.time_nano + 1);
                    live.apply(|s| s.engine_event(&ev));
                    if refreshes(&ev.action) {
                        refresh.notify_one();
                    }
                }
                Err(e) => {
                    if !lost {
                        live.warn(format!("lost the engine's events ({e}); retrying"));
                        lost = true;
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The folded state.
struct State {
    project: String,
    project_dir: PathBuf,
    containers: BTreeMap<String, ObservedContainer>,
    declared: Vec<Declared>,
    /// Run folder → the last state file read there (or why it could not be read).
    states: HashMap<PathBuf, Result<Option<LifecycleState>, String>>,
    records: Option<RecordsFile>,
    events: VecDeque<Event>,
    stats: HashMap<String, VecDeque<Sample>>,
}

impl State {
    fn remember(&mut self, e: Event) {
        if self.events.len() >= KEEP_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn is_declared(&self, service: &str, instance: &str) -> bool {
        self.declared
            .iter()
            .any(|d| d.service == service && d.instance == instance)
    }

    fn view_of(&self, c: &ObservedContainer) -> InstanceView {
        let declared = !c.name.ends_with(ASIDE) && self.is_declared(&c.service, &c.instance);
        let mut v = InstanceView::of(c, declared);
        if let Some(dir) = &v.run_dir {
            match self.states.get(dir) {
                Some(Ok(l)) => v.lifecycle = l.clone(),
                Some(Err(e)) => v.state_error = Some(e.clone()),
                None => {}
            }
        }
        v
    }

    fn absent_view(&self, name: &str) -> Option<InstanceView> {
        self.declared
            .iter()
            .find(|d| d.container == name)
            .map(|d| InstanceView::absent(&d.container, &d.service, &d.instance))
    }

    /// Every instance: the containers, and the declared instances without one.
    fn views(&self) -> Vec<InstanceView> {
        let mut out: Vec<InstanceView> =
            self.containers.values().map(|c| self.view_of(c)).collect();
        for d in &self.declared {
            if !self.containers.contains_key(&d.container) {
                out.push(InstanceView::absent(&d.container, &d.service, &d.instance));
            }
        }
        out.sort_by(|a, b| a.container.cmp(&b.container));
        out
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            project: self.project.clone(),
            now_ms: now_ms(),
            instances: self.views(),
            records: self.records.clone(),
            events: self.events.iter().cloned().collect(),
            stats: self
                .stats
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect(),
        }
    }

    /// The update that shows a container as it is now (gone: removed, or absent if declared).
    fn update_of(&self, name: &str) -> Update {
        match self.containers.get(name) {
            Some(c) => Update::Instance {
                instance: Box::new(self.view_of(c)),
            },
            None => match self.absent_view(name) {
                Some(v) => Update::Instance {
                    instance: Box::new(v),
                },
                None => Update::Removed {
                    container: name.to_string(),
                },
            },
        }
    }

    /// What the engine lists now: an update for each container that changed, appeared or went.
    fn set_containers(&mut self, list: Vec<ObservedContainer>) -> Vec<Update> {
        let new: BTreeMap<String, ObservedContainer> =
            list.into_iter().map(|c| (c.name.clone(), c)).collect();
        let mut changed: Vec<String> = Vec::new();
        for (name, c) in &new {
            if self.containers.get(name) != Some(c) {
                changed.push(name.clone());
            }
        }
        for name in self.containers.keys() {
            if !new.contains_key(name) {
                changed.push(name.clone());
            }
        }
        self.containers = new;
        changed.iter().map(|n| self.update_of(n)).collect()
    }

    /// An engine event: its lines, and the container as the event leaves it.
    fn engine_event(&mut self, ev: &EngineEvent) -> Vec<Update> {
        let mut touched = vec![ev.name.clone()];
        match ev.action.as_str() {
            "create" => {
                let c = ObservedContainer {
                    id: ev.id.clone(),
                    name: ev.name.clone(),
                    service: ev.label(labels::SERVICE).unwrap_or_default().to_string(),
                    instance: ev.label(labels::INSTANCE).unwrap_or_default().to_string(),
                    instance_type: ev
                        .label(labels::INSTANCE_TYPE)
                        .unwrap_or_default()
                        .to_string(),
                    image: ev.label("image").unwrap_or_default().to_string(),
                    state: "created".into(),
                    created: ev.time_nano / 1_000_000_000,
                    labels: ev
                        .attributes
                        .iter()
                        .filter(|(k, _)| k.starts_with("io.dops."))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    ..Default::default()
                };
                self.containers.entry(ev.name.clone()).or_insert(c);
            }
            "start" | "restart" | "unpause" => self.set_state(&ev.name, "running"),
            "pause" => self.set_state(&ev.name, "paused"),
            "die" => self.set_state(&ev.name, "exited"),
            "destroy" => {
                self.containers.remove(&ev.name);
            }
            "rename" => {
                let old = ev.old_name();
                if let Some(mut c) = self.containers.remove(&old) {
                    c.name = ev.name.clone();
                    self.containers.insert(ev.name.clone(), c);
                }
                if let Some(samples) = self.stats.remove(&old) {
                    self.stats.insert(ev.name.clone(), samples);
                }
                touched.push(old);
            }
            a if a.starts_with("health_status") => {
                let status = a.split_once(':').map(|(_, s)| s.trim().to_string());
                if let Some(c) = self.containers.get_mut(&ev.name) {
                    c.health = status;
                }
            }
            _ => {}
        }
        let mut out: Vec<Update> = derive::engine_event(ev, &self.project)
            .into_iter()
            .map(|event| Update::Event { event })
            .collect();
        if ev.action == "destroy" {
            self.stats.remove(&ev.name);
        }
        out.extend(touched.iter().map(|n| self.update_of(n)));
        out
    }

    fn set_state(&mut self, name: &str, state: &str) {
        if let Some(c) = self.containers.get_mut(name) {
            c.state = state.to_string();
        }
    }

    /// Whom a run folder belongs to: the container whose label names it, else the convention
    /// (`<service>-<instance>[.N]`).
    fn who_of_dir(&self, dir: &Path) -> Who {
        if let Some(c) = self.containers.values().find(|c| c.run_dir() == Some(dir)) {
            return Who {
                service: c.service.clone(),
                instance: c.instance.clone(),
                container: c.name.clone(),
            };
        }
        let name = dir
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = match name.rsplit_once('.') {
            Some((b, n)) if n.chars().all(|c| c.is_ascii_digit()) => b.to_string(),
            _ => name,
        };
        Who {
            service: String::new(),
            container: format!("{}-{base}", self.project),
            instance: base,
        }
    }

    /// Whom a DNS record names: its instance label (`web-one`), else the container with its
    /// address (a service record outliving the instance's own, `web` → `web-one`).
    fn who_of_record(&self, label: &str, value: &str) -> Who {
        let found = self
            .containers
            .values()
            .filter(|c| !c.name.ends_with(ASIDE))
            .find(|c| format!("{}-{}", c.service, c.instance) == label)
            .or_else(|| {
                self.containers
                    .values()
                    .find(|c| c.ip.is_some_and(|ip| ip.to_string() == value))
            });
        match found {
            Some(c) => Who {
                service: c.service.clone(),
                instance: c.instance.clone(),
                container: c.name.clone(),
            },
            None => Who {
                instance: label.to_string(),
                ..Who::default()
            },
        }
    }

    /// The records file of the project DNS: in the run folder of its container, else where
    /// `dops dns:records` looks.
    fn records_path(&self) -> Option<PathBuf> {
        let dns = self
            .containers
            .values()
            .filter(|c| c.service == crate::project::DNS_SERVICE && !c.name.ends_with(ASIDE))
            .find_map(|c| c.run_dir().map(|d| d.join(RECORDS_FILE)));
        let fallback = records::host_path(&self.project_dir);
        match dns {
            Some(p) => Some(p),
            None => fallback.exists().then_some(fallback),
        }
    }

    /// A state file or a records file changed: read it, say what changed.
    fn file_changed(&mut self, path: &Path) -> Vec<Update> {
        let Some(dir) = path.parent() else {
            return Vec::new();
        };
        if path.file_name().is_some_and(|f| f == RECORDS_FILE) {
            return self.records_changed(path);
        }
        let next = state_file::read(path);
        let prev = self.states.get(dir).cloned();
        if prev.as_ref() == Some(&next) {
            return Vec::new();
        }
        self.states.insert(dir.to_path_buf(), next.clone());
        let who = self.who_of_dir(dir);
        let mut out = Vec::new();
        let prev_state = match &prev {
            Some(Ok(p)) => p.clone(),
            _ => None,
        };
        if let Ok(Some(next)) = &next {
            out.extend(
                derive::lifecycle_change(&who, prev_state.as_ref(), next, now_ms())
                    .into_iter()
                    .map(|event| Update::Event { event }),
            );
            let new_blob = prev_state
                .as_ref()
                .is_none_or(|p| p.last_stats_at != next.last_stats_at);
            if let (true, Some(blob)) = (new_blob, next.last_stats.as_ref()) {
                let t = next
                    .last_stats_at
                    .as_deref()
                    .and_then(parse_rfc3339_ms)
                    .unwrap_or_else(now_ms);
                if let Some(sample) = Sample::of(t, blob) {
                    let samples = self.stats.entry(who.container.clone()).or_default();
                    samples.push_back(sample.clone());
                    while samples.len() > KEEP_SAMPLES
                        || samples.front().is_some_and(|s| s.t < t - KEEP_SAMPLES_MS)
                    {
                        samples.pop_front();
                    }
                    out.push(Update::Stats {
                        container: who.container.clone(),
                        sample,
                    });
                }
            }
        }
        if let Err(e) = &next {
            if !matches!(&prev, Some(Err(p)) if p == e) {
                out.push(Update::Event {
                    event: Event::new(now_ms(), Kind::Warning, &who, e.clone()),
                });
            }
        }
        if self.containers.contains_key(&who.container) {
            out.push(self.update_of(&who.container));
        }
        out
    }

    fn records_changed(&mut self, path: &Path) -> Vec<Update> {
        // Only the current DNS server's file (an old server's folder keeps a stale one).
        if self.records_path().is_some_and(|p| p != path) {
            return Vec::new();
        }
        let Ok(next) = records::read(path) else {
            return Vec::new();
        };
        let mut out: Vec<Update> = derive::records_change(self.records.as_ref(), &next, &|l, v| {
            self.who_of_record(l, v)
        })
        .into_iter()
        .map(|event| Update::Event { event })
        .collect();
        self.records = Some(next.clone());
        out.push(Update::Records { records: next });
        out
    }

    /// The kernel dropped events: read every known file again.
    fn rescan(&mut self) -> Vec<Update> {
        let mut paths: Vec<PathBuf> = self
            .containers
            .values()
            .filter_map(|c| c.run_dir().map(|d| d.join(state_file::FILE_NAME)))
            .collect();
        paths.extend(self.records_path());
        paths.iter().flat_map(|p| self.file_changed(p)).collect()
    }

    /// The lifecycle states and DNS registrations that began since `since_ms`.
    fn history_since(&self, since_ms: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for c in self.containers.values() {
            let v = self.view_of(c);
            let Some(l) = &v.lifecycle else { continue };
            let Some(at) = l.since.as_deref().and_then(parse_rfc3339_ms) else {
                continue;
            };
            if at >= since_ms {
                let who = Who {
                    service: c.service.clone(),
                    instance: c.instance.clone(),
                    container: c.name.clone(),
                };
                out.extend(derive::lifecycle_change(&who, None, l, at));
            }
        }
        if let Some(r) = &self.records {
            for rec in &r.records {
                let at = rec.registered_at_epoch as i64 * 1000;
                if at >= since_ms {
                    let mut e = derive::records_change(
                        None,
                        &RecordsFile {
                            records: vec![rec.clone()],
                            ..r.clone()
                        },
                        &|l, v| self.who_of_record(l, v),
                    );
                    for e in &mut e {
                        e.epoch_ms = at;
                        e.time = super::event::rfc3339_ms(at);
                    }
                    out.extend(e);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(dir: &Path, service: &str, instance: &str) -> ObservedContainer {
        let run = state_file::host_run_dir(dir, service, instance);
        std::fs::create_dir_all(&run).unwrap();
        ObservedContainer {
            name: format!("p-{service}-{instance}"),
            service: service.into(),
            instance: instance.into(),
            state: "running".into(),
            labels: BTreeMap::from([(labels::RUN_DIR.to_string(), run.display().to_string())]),
            ..Default::default()
        }
    }

    fn write_state(dir: &Path, service: &str, instance: &str, body: &str) {
        let run = state_file::host_run_dir(dir, service, instance);
        let tmp = run.join(".state.json.tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, run.join("state.json")).unwrap();
    }

    #[test]
    fn a_record_names_its_instance_by_label_else_by_address() {
        let tmp = tempfile::tempdir().unwrap();
        let mut one = container(tmp.path(), "web", "one");
        one.ip = Some("10.0.0.5".parse().unwrap());
        let state = State {
            project: "p".into(),
            project_dir: tmp.path().to_path_buf(),
            containers: BTreeMap::from([(one.name.clone(), one)]),
            declared: Vec::new(),
            states: HashMap::new(),
            records: None,
            events: VecDeque::new(),
            stats: HashMap::new(),
        };
        assert_eq!(
            state.who_of_record("web-one", "10.0.0.9").container,
            "p-web-one"
        );
        // the service record outlived the instance's own: its address still names it
        assert_eq!(
            state.who_of_record("web", "10.0.0.5").container,
            "p-web-one"
        );
        let nobody = state.who_of_record("web", "10.0.0.9");
        assert_eq!(
            (nobody.instance.as_str(), nobody.container.as_str()),
            ("web", "")
        );
    }

    async fn next_event(rx: &mut broadcast::Receiver<Update>) -> Event {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Ok(Update::Event { event })) => return event,
                Ok(Ok(_)) => continue,
                other => panic!("no event: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn state_files_become_events_views_and_samples() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let one = container(dir, "web", "one");
        write_state(
            dir,
            "web",
            "one",
            r#"{"state":"WARMUP","since":"2026-05-01T10:00:00Z"}"#,
        );
        let started = Live::start(
            Source::Fixed(vec![one]),
            LiveOptions {
                project: "p".into(),
                project_dir: dir.to_path_buf(),
                declared: vec![
                    Declared {
                        container: "p-web-one".into(),
                        service: "web".into(),
                        instance: "one".into(),
                    },
                    Declared {
                        container: "p-web-two".into(),
                        service: "web".into(),
                        instance: "two".into(),
                    },
                ],
                since_ms: Some(0),
            },
        )
        .await
        .unwrap();
        assert_eq!(started.history.len(), 1);
        assert_eq!(started.history[0].details, "→ WARMUP");
        let mut rx = started.updates;
        let live = started.live;
        let snap = live.snapshot();
        assert_eq!(
            snap.instances
                .iter()
                .map(|v| (v.container.as_str(), v.docker_state.as_str()))
                .collect::<Vec<_>>(),
            [("p-web-one", "running"), ("p-web-two", "absent")]
        );
        write_state(
            dir,
            "web",
            "one",
            r#"{"state":"UP","since":"2026-05-01T10:00:01Z","last_stats":{"rps":5},"last_stats_at":"2026-05-01T10:00:02Z"}"#,
        );
        let e = next_event(&mut rx).await;
        assert_eq!(
            (e.kind, e.details.as_str()),
            (Kind::Lifecycle, "WARMUP → UP")
        );
        assert_eq!(e.container, "p-web-one");
        let v = live.instance("p-web-one").unwrap();
        assert_eq!(v.lifecycle.unwrap().state, "UP");
        assert_eq!(live.snapshot().stats["p-web-one"][0].values["rps"], 5.0);
        // A state file that is not JSON: a warning, the view says why.
        write_state(dir, "web", "one", "{");
        let e = next_event(&mut rx).await;
        assert_eq!(e.kind, Kind::Warning);
        assert!(live.instance("p-web-one").unwrap().state_error.is_some());
        live.publish(Event::new(
            1,
            Kind::Action,
            &live.who("web", "two"),
            "run".into(),
        ));
        assert_eq!(next_event(&mut rx).await.container, "p-web-two");
        assert_eq!(live.snapshot().events.last().unwrap().details, "run");
    }
}
