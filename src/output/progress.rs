//! The engine's progress as the user sees it: one spinner line per build or waited-for instance
//! on a terminal, plain lines otherwise (CI logs, tests, `-v`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Progress, Reporter};

/// The reporter a command hands the engine. `verbose` (`-v`): builds stream their whole output
/// as plain lines instead of a bar each.
pub fn reporter(verbose: bool) -> Reporter {
    let tty = std::io::stderr().is_terminal();
    let shown = Mutex::new(Shown {
        multi: None,
        bars: BTreeMap::new(),
    });
    Arc::new(move |event| {
        if let Ok(mut s) = shown.lock() {
            s.show(event, tty, verbose);
        }
    })
}

/// The bars on screen, by name (a service being built, an instance being waited for).
struct Shown {
    multi: Option<MultiProgress>,
    bars: BTreeMap<String, ProgressBar>,
}

impl Shown {
    fn show(&mut self, event: Progress, tty: bool, verbose: bool) {
        let build_bars = tty && !verbose;
        match event {
            Progress::Done(line) | Progress::BuildNote(line) => self.line(&line),
            Progress::BuildStarted { service } if build_bars => self.bar(&service, "{wide_msg}"),
            Progress::BuildStarted { service } if !verbose => {
                self.line(&format!("building {service}"))
            }
            Progress::BuildStarted { .. } => {}
            Progress::BuildStep { service, step } => {
                if let Some(b) = self.bars.get(&service) {
                    b.set_message(step);
                }
            }
            Progress::BuildOutput { service, line } if verbose => {
                self.line(&format!("[{service}] {line}"))
            }
            Progress::BuildOutput { .. } => {}
            Progress::BuildEnded { service, summary } => {
                if let Some(b) = self.bars.remove(&service) {
                    b.finish_and_clear();
                }
                self.line(&summary);
            }
            Progress::BuildsOver => self.clear(),
            Progress::Waiting { container, state } if tty => {
                if !self.bars.contains_key(&container) {
                    self.bar(&container, "{msg}");
                }
                if let Some(b) = self.bars.get(&container) {
                    b.set_message(state);
                }
            }
            Progress::Waiting { container, state } => self.line(&format!("{container}: {state}")),
            Progress::WaitOver => {
                // The waited-for lines stay on screen with their last state.
                for (_, b) in std::mem::take(&mut self.bars) {
                    b.finish();
                }
                self.multi = None;
            }
        }
    }

    /// A line above the bars (or a plain line when there are none).
    fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => super::print::note(&text),
        }
    }

    fn bar(&mut self, name: &str, msg_template: &str) {
        let multi = self
            .multi
            .get_or_insert_with(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(&format!("{{spinner}} {{prefix:.bold}} {msg_template}"))
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars.insert(name.to_string(), bar);
    }

    fn clear(&mut self) {
        for (_, b) in std::mem::take(&mut self.bars) {
            b.finish_and_clear();
        }
        if let Some(m) = self.multi.take() {
            let _ = m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_without_a_terminal() {
        let mut s = Shown {
            multi: None,
            bars: BTreeMap::new(),
        };
        // No terminal: no bar is ever made, whatever the event.
        for e in [
            Progress::BuildStarted {
                service: "web".into(),
            },
            Progress::BuildStep {
                service: "web".into(),
                step: "Step 1/2".into(),
            },
            Progress::Waiting {
                container: "p-web-one".into(),
                state: "BOOT".into(),
            },
            Progress::WaitOver,
        ] {
            s.show(e, false, false);
            assert!(s.multi.is_none() && s.bars.is_empty());
        }
    }
}
