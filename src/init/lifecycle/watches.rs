//! The lifecycle's side of DNS watches: start the pollers once UP, and on a change re-render the
//! template, reload or restart the program, run `on_change`, and record the members.

use super::hook_result::describe;
use std::process::Command;
use std::time::{Instant, SystemTime};

use serde_json::json;

use super::machine::{Init, Stop};
use crate::init::output::log;
use crate::init::state::rfc3339;
use crate::init::watch::{self, Member, Reload, Watch, WatchMsg};
use crate::state_file::{WatchMember, WatchState};

impl Init {
    /// WARMUP, before svcup: a first render of every watch (so a program finds its configuration
    /// when it starts), then one poller thread per watch.
    pub(super) fn start_watches(&mut self) -> Result<(), Stop> {
        if self.watches_started {
            return Ok(());
        }
        self.watches_started = true;
        for w in self.watches.clone() {
            let (members, last) = match w.lookup() {
                Ok(m) => (m.clone(), Some(m)),
                Err(e) => {
                    log(&format!(
                        "watch {}: lookup of {} failed: {e}",
                        w.name, w.qname
                    ));
                    (Vec::new(), None)
                }
            };
            self.apply_watch(&w, &members, true)?;
            w.spawn_poller(
                last,
                self.watch_tx.clone(),
                self.sig.waker(),
                self.watch_stop.clone(),
            );
        }
        Ok(())
    }

    pub(super) fn run_watch_changes(&mut self) -> Result<(), Stop> {
        for m in std::mem::take(&mut self.watch_pending) {
            match m {
                WatchMsg::Changed { name, members } => {
                    if let Some(w) = self.watches.iter().find(|w| w.name == name).cloned() {
                        self.apply_watch(&w, &members, false)?;
                    }
                }
                WatchMsg::Failed { name, error } => {
                    log(&format!("watch {name}: {error}"));
                    if let Some(v) = self.doc.watches.get_mut(&name) {
                        v.error = Some(error);
                        self.dirty = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// A member set to apply: render, validate, replace, reload; on_change. Failures are
    /// reported (state.json, sinks, log) and never leave UP: the old file stays in place.
    pub(super) fn apply_watch(
        &mut self,
        w: &Watch,
        members: &[Member],
        initial: bool,
    ) -> Result<(), Stop> {
        let mut errors: Vec<String> = Vec::new();
        let env = watch::env(w, members);
        let mut changed = false;
        if let Some((tpl, out)) = &w.template {
            match self.install_template(w, tpl, out, members, &env)? {
                Ok(c) => changed = c,
                Err(e) => errors.push(e),
            }
        }
        if changed && !initial {
            match &w.reload {
                Reload::None => {}
                Reload::Signal(p) => {
                    if !self.sup.reload(p) {
                        errors.push(format!("program {p} is not running; not reloaded"));
                    }
                }
                Reload::Restart(p) => {
                    let ev = self.sup.restart_program(p, Instant::now());
                    self.handle_events(ev);
                }
                Reload::Command(c) => {
                    let r = self.run_side_hook(
                        &format!("watch {} reload", w.name),
                        watch_command(c, &env),
                        None,
                    )?;
                    if !r.exit.success() {
                        errors.push(format!("reload command failed ({})", describe(&r)));
                    }
                }
            }
        }
        if let Some(c) = &w.on_change {
            let data = w.context(members)["members"].to_string();
            let stdin = self.stdin_with(&w.name, &data);
            let r = self.run_side_hook(
                &format!("watch {} on_change", w.name),
                watch_command(c, &env),
                stdin,
            )?;
            if !r.exit.success() {
                errors.push(format!("on_change failed ({})", describe(&r)));
            }
        }
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        if let Some(e) = &error {
            log(&format!("watch {}: {e}", w.name));
        }
        let entry = WatchState {
            dns: w.qname.clone(),
            members: members
                .iter()
                .map(|m| WatchMember {
                    ip: m.ip.to_string(),
                    host: m.host.clone(),
                })
                .collect(),
            changed_at: Some(rfc3339(SystemTime::now())),
            error,
        };
        let mut ev = self.event("watch");
        ev["watch"] = json!(w.name);
        ev["members"] = json!(entry.members);
        ev["error"] = json!(entry.error);
        self.doc.watches.insert(w.name.clone(), entry);
        self.dirty = true;
        self.notify.send(&ev);
        Ok(())
    }

    /// Render to a candidate file next to the output, validate it, rename it over the output.
    /// `Ok(Ok(true))`: the output changed.
    pub(super) fn install_template(
        &mut self,
        w: &Watch,
        tpl: &std::path::Path,
        out: &std::path::Path,
        members: &[Member],
        env: &std::collections::BTreeMap<String, String>,
    ) -> Result<Result<bool, String>, Stop> {
        let text = match std::fs::read_to_string(tpl) {
            Ok(t) => t,
            Err(e) => return Ok(Err(format!("cannot read template {}: {e}", tpl.display()))),
        };
        let rendered = match watch::render(&text, &w.context(members)) {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("template {}: {e}", tpl.display()))),
        };
        if std::fs::read_to_string(out).ok().as_deref() == Some(rendered.as_str()) {
            return Ok(Ok(false));
        }
        let candidate = out.with_file_name(format!(
            ".{}.dops-new",
            out.file_name().unwrap_or_default().to_string_lossy()
        ));
        let written = out
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|_| std::fs::write(&candidate, &rendered));
        if let Err(e) = written {
            return Ok(Err(format!("cannot write {}: {e}", candidate.display())));
        }
        if let Some(v) = &w.validate {
            let argv = watch::substitute(
                v,
                &candidate.display().to_string(),
                &out.display().to_string(),
            );
            let r = self.run_side_hook(
                &format!("watch {} validate", w.name),
                watch_command(&argv, env),
                None,
            )?;
            if !r.exit.success() {
                let _ = std::fs::remove_file(&candidate);
                return Ok(Err(format!(
                    "validation failed, {} kept ({})",
                    out.display(),
                    describe(&r)
                )));
            }
        }
        if let Err(e) = std::fs::rename(&candidate, out) {
            let _ = std::fs::remove_file(&candidate);
            return Ok(Err(format!("cannot replace {}: {e}", out.display())));
        }
        Ok(Ok(true))
    }

    /// A file holding `data`, already unlinked, for a command's stdin.
    pub(super) fn stdin_with(&self, name: &str, data: &str) -> Option<std::process::Stdio> {
        let p = self.paths.run_dir().join(format!(".watch-{name}.stdin"));
        std::fs::write(&p, format!("{data}\n")).ok()?;
        let f = std::fs::File::open(&p).ok();
        let _ = std::fs::remove_file(&p);
        f.map(std::process::Stdio::from)
    }
}

pub(super) fn watch_command(
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
) -> Command {
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]).envs(env);
    crate::init::signals::reset_in_child(&mut c);
    c
}
