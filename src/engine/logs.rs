//! Logs of one or several instances, optionally followed across restarts (a container that stops
//! and comes back, or is removed and run again under the same name), prefixed by instance when
//! there are several.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use super::connect::Engine;
use super::error::{is_not_found, EngineError};
use super::progress::Sink;

/// The output lock and the sink every followed container writes to.
pub(super) type Shared = (Mutex<()>, Arc<dyn Sink>);

/// What to show.
#[derive(Debug, Clone)]
pub struct LogsOptionsDops {
    pub follow: bool,
    /// "all" or a number of lines.
    pub tail: String,
}

/// Send the logs of `containers` (name, prefix shown before every line or empty) to `sink`.
pub async fn logs(
    engine: &Engine,
    containers: Vec<(String, String)>,
    opts: LogsOptionsDops,
    sink: Arc<dyn Sink>,
) -> Result<(), EngineError> {
    // One line at a time from whichever container, never two half lines mixed.
    let out = Arc::new((Mutex::new(()), sink));
    let mut set = tokio::task::JoinSet::new();
    for (name, prefix) in containers {
        let engine = engine.clone();
        let opts = opts.clone();
        let out = out.clone();
        set.spawn(async move { follow_one(&engine, &name, &prefix, &opts, &out).await });
    }
    first_error(set).await
}

/// Wait for every task of the set; the first error, if any.
pub(super) async fn first_error(
    mut set: tokio::task::JoinSet<Result<(), EngineError>>,
) -> Result<(), EngineError> {
    let mut first_err = None;
    while let Some(r) = set.join_next().await {
        if let Ok(Err(e)) = r {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub(super) fn emit(out: &Shared, prefix: &str, stderr: bool, text: &str) {
    let (lock, sink) = out;
    let _guard = lock.lock();
    let mut buf = String::new();
    for line in text.split_inclusive('\n') {
        buf.push_str(prefix);
        buf.push_str(line);
    }
    if !buf.ends_with('\n') {
        buf.push('\n');
    }
    if stderr {
        sink.err(buf.as_bytes());
    } else {
        sink.out(buf.as_bytes());
    }
}

/// A container's log chunks cut into lines, per stream: a line may arrive in several chunks.
#[derive(Default)]
pub(super) struct LogLines {
    /// What stdout [0] and stderr [1] printed after their last newline.
    partial: [String; 2],
}

impl LogLines {
    /// Add a chunk of one stream; `line` gets each line it completes, without its newline.
    pub(super) fn push(&mut self, is_err: bool, bytes: &[u8], mut line: impl FnMut(&str)) {
        let buf = &mut self.partial[usize::from(is_err)];
        buf.push_str(&String::from_utf8_lossy(bytes));
        while let Some(nl) = buf.find('\n') {
            let complete: String = buf.drain(..=nl).collect();
            line(complete.trim_end_matches('\n'));
        }
    }

    /// What each stream printed after its last newline (is_err, text), where there is some.
    pub(super) fn rest(&self) -> impl Iterator<Item = (bool, &str)> {
        self.partial
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .map(|(i, r)| (i == 1, r.as_str()))
    }
}

/// Split Docker's "2024-01-01T00:00:00.123456789Z message" into (timestamp, message).
pub(super) fn split_ts(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((ts, rest)) if ts.len() >= 20 && ts.as_bytes()[4] == b'-' => (ts, rest),
        _ => ("", line),
    }
}

async fn follow_one(
    engine: &Engine,
    name: &str,
    prefix: &str,
    opts: &LogsOptionsDops,
    out: &Shared,
) -> Result<(), EngineError> {
    // The last timestamp shown: on a re-attach, older lines are not shown again.
    let mut last_ts = String::new();
    let mut since: i32 = 0;
    let mut first = true;
    loop {
        let options = LogsOptions {
            follow: opts.follow,
            stdout: true,
            stderr: true,
            since,
            until: 0,
            timestamps: true,
            tail: if first {
                opts.tail.clone()
            } else {
                "all".into()
            },
        };
        let mut stream = engine.api().logs(name, Some(options));
        let mut lines = LogLines::default();
        while let Some(item) = stream.next().await {
            let (is_err, bytes) = match item {
                Ok(LogOutput::StdErr { message }) => (true, message),
                Ok(o) => (false, o.into_bytes()),
                Err(e) if is_not_found(&e) && !first => break,
                Err(e) if is_not_found(&e) => {
                    return Err(EngineError::NoSuchContainer {
                        name: name.to_string(),
                    })
                }
                Err(e) => return Err(EngineError::docker(format!("logs of {name}"), e)),
            };
            lines.push(is_err, &bytes, |line| {
                let (ts, msg) = split_ts(line);
                if !ts.is_empty() {
                    if ts <= last_ts.as_str() {
                        return;
                    }
                    last_ts = ts.to_string();
                }
                emit(out, prefix, is_err, msg);
            });
        }
        first = false;
        if !opts.follow {
            return Ok(());
        }
        // The container stopped or went away: wait for it to run again, then re-attach.
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match engine.api().inspect_container(name, None).await {
                Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => break,
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(EngineError::docker(format!("inspect {name}"), e)),
            }
        }
        since = time_secs(&last_ts);
    }
}

/// The last `n` lines a container printed (stdout and stderr together), for an error message.
pub async fn tail(engine: &Engine, name: &str, n: usize) -> String {
    let options = LogsOptions {
        follow: false,
        stdout: true,
        stderr: true,
        since: 0,
        until: 0,
        timestamps: false,
        tail: n.to_string(),
    };
    let mut stream = engine.api().logs(name, Some(options));
    let mut text = String::new();
    while let Some(Ok(item)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&item.into_bytes()));
        // Bounded: a container that floods its output mid-read can't hold us.
        if text.len() > 64 * 1024 {
            break;
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn time_secs(ts: &str) -> i32 {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp() as i32)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_chunks_become_lines_per_stream() {
        let mut lines = LogLines::default();
        let mut got = Vec::new();
        lines.push(false, b"one\ntw", |l| got.push(format!("out {l}")));
        lines.push(true, b"err", |l| got.push(format!("err {l}")));
        lines.push(false, b"o\nthree", |l| got.push(format!("out {l}")));
        assert_eq!(got, ["out one", "out two"]);
        let rest: Vec<_> = lines.rest().collect();
        assert_eq!(rest, [(false, "three"), (true, "err")]);
    }

    #[test]
    fn timestamps_are_split_off() {
        assert_eq!(
            split_ts("2024-05-01T10:00:00.123456789Z hello world"),
            ("2024-05-01T10:00:00.123456789Z", "hello world")
        );
        assert_eq!(split_ts("no stamp"), ("", "no stamp"));
        assert_eq!(time_secs("2024-05-01T10:00:00.5Z"), 1714557600);
    }
}
