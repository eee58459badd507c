//! Shells and one-off commands in running instances, through the exec API (no SSH anywhere).
//!
//! With a terminal on both ends the exec gets a real TTY: the local terminal goes to raw mode
//! (restored on every exit path), the remote size follows the local one (SIGWINCH → resize).
//! Without one (scripts, tests) stdout and stderr are kept apart. Either way the command's exit
//! code is returned, so `dops shell:web -- cmd` exits with cmd's code.

use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, CreateExecResults, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptions, ResizeContainerTTYOptions, ResizeExecOptions,
};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::connect::Engine;
use super::error::{is_not_found, EngineError};
use super::progress::Sink;

/// The default interactive shell: bash when the image has it, sh otherwise.
pub fn default_shell() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi".into(),
    ]
}

/// Whether to give the exec a TTY: both stdin and stdout are terminals.
pub fn want_tty() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The local terminal in raw mode until dropped.
struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

/// The local terminal's size (rows, columns).
fn term_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let rc = unsafe { libc::ioctl(std::io::stdout().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Local stdin, read by a plain thread (never blocks the runtime's shutdown).
fn stdin_channel() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
type Input = Pin<Box<dyn AsyncWrite + Send>>;

enum Resize<'a> {
    Exec(&'a str),
    Container(&'a str),
}

async fn resize(engine: &Engine, target: &Resize<'_>) {
    let Some((h, w)) = term_size() else {
        return;
    };
    let _ = match target {
        Resize::Exec(id) => {
            engine
                .api()
                .resize_exec(
                    id,
                    ResizeExecOptions {
                        h: h as i32,
                        w: w as i32,
                    },
                )
                .await
        }
        Resize::Container(name) => {
            engine
                .api()
                .resize_container_tty(
                    name,
                    ResizeContainerTTYOptions {
                        h: h as i32,
                        w: w as i32,
                    },
                )
                .await
        }
    };
}

/// Pump a TTY session: raw local terminal, stdin → input, output → stdout, resizes.
async fn tty_session(
    engine: &Engine,
    mut output: Output,
    mut input: Input,
    target: Resize<'_>,
    sink: &dyn Sink,
) {
    let raw = RawMode::enter();
    resize(engine, &target).await;
    // The process may not have its terminal yet at the first resize (Docker's CLI retries too).
    let again = tokio::time::sleep(Duration::from_millis(150));
    tokio::pin!(again);
    let mut resized_again = false;
    let mut winch =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    let mut stdin = stdin_channel();
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(out)) => sink.out(&out.into_bytes()),
                _ => break,
            },
            data = stdin.recv() => match data {
                Some(d) => {
                    if input.write_all(&d).await.is_err() {
                        break;
                    }
                    let _ = input.flush().await;
                }
                None => {
                    let _ = input.shutdown().await;
                }
            },
            _ = async {
                match winch.as_mut() {
                    Some(s) => { s.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => resize(engine, &target).await,
            _ = &mut again, if !resized_again => {
                resized_again = true;
                resize(engine, &target).await;
            }
        }
    }
    drop(raw);
}

/// Run `cmd` in a running container; returns its exit code. `tty`: a real terminal session.
pub async fn exec(
    engine: &Engine,
    container: &str,
    cmd: Vec<String>,
    tty: bool,
    sink: &dyn Sink,
) -> Result<i64, EngineError> {
    let mut env = Vec::new();
    if tty {
        env.push(format!(
            "TERM={}",
            std::env::var("TERM").unwrap_or_else(|_| "xterm".into())
        ));
    }
    let created = create_exec_in(
        engine,
        container,
        CreateExecOptions {
            attach_stdin: Some(tty),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            env: Some(env),
            cmd: Some(cmd),
            ..Default::default()
        },
    )
    .await?;
    let started = engine
        .api()
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| EngineError::docker(format!("exec in {container}"), e))?;
    if let StartExecResults::Attached { mut output, input } = started {
        if tty {
            tty_session(engine, output, input, Resize::Exec(&created.id), sink).await;
        } else {
            drop(input);
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(LogOutput::StdErr { message }) => sink.err(&message),
                    Ok(other) => sink.out(&other.into_bytes()),
                    Err(_) => break,
                }
            }
        }
    }
    // The exit code can lag the end of the stream by a moment.
    for _ in 0..50 {
        let info = engine
            .api()
            .inspect_exec(&created.id)
            .await
            .map_err(|e| EngineError::docker("inspect exec", e))?;
        if info.running != Some(true) {
            if let Some(code) = info.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(EngineError::Other(format!(
        "the command in {container} did not report an exit code"
    )))
}

/// Create an exec in a running container, naming the container in the error when it is
/// missing (404) or not running (409).
async fn create_exec_in(
    engine: &Engine,
    container: &str,
    options: CreateExecOptions<String>,
) -> Result<CreateExecResults, EngineError> {
    match engine.api().create_exec(container, options).await {
        Ok(c) => Ok(c),
        Err(e) if is_not_found(&e) => Err(EngineError::NoSuchContainer {
            name: container.to_string(),
        }),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Err(EngineError::NotRunning {
            name: container.to_string(),
        }),
        Err(e) => Err(EngineError::docker(format!("exec in {container}"), e)),
    }
}

/// Attach the local terminal to a created interactive container, start it, and stay attached
/// until it exits; returns its exit code. Attaching first means no output is missed, however
/// fast the program ends.
pub async fn attach_and_start(
    engine: &Engine,
    container: &str,
    sink: &dyn Sink,
) -> Result<i64, EngineError> {
    let attached = engine
        .api()
        .attach_container(
            container,
            Some(AttachContainerOptions {
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
                logs: false,
                detach_keys: None,
            }),
        )
        .await
        .map_err(|e| EngineError::docker(format!("attach to {container}"), e))?;
    super::container::start_container(engine, container).await?;
    if want_tty() {
        tty_session(
            engine,
            attached.output,
            attached.input,
            Resize::Container(container),
            sink,
        )
        .await;
    } else {
        drop(attached.input);
        let mut output = attached.output;
        while let Some(Ok(chunk)) = output.next().await {
            sink.out(&chunk.into_bytes());
        }
    }
    // The exit code, once the container has stopped.
    let mut wait = engine.api().wait_container(container, None);
    match wait.next().await {
        Some(Ok(r)) => Ok(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(EngineError::docker(format!("wait for {container}"), e)),
        None => Ok(0),
    }
}

// ---------------------------------------------------------------------------------------------
// meta (issue 8): exec with captured output, for `validate`/`update` (several instances at once,
// each reported on its own). Written by the meta engineer.

/// What a captured exec produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` in a running container without a TTY and capture its output and exit code.
pub async fn exec_capture(
    engine: &Engine,
    container: &str,
    cmd: Vec<String>,
) -> Result<Captured, EngineError> {
    let created = create_exec_in(
        engine,
        container,
        CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(cmd),
            ..Default::default()
        },
    )
    .await?;
    let started = engine
        .api()
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| EngineError::docker(format!("exec in {container}"), e))?;
    let mut out = Captured::default();
    if let StartExecResults::Attached { mut output, input } = started {
        drop(input);
        let (mut so, mut se) = (Vec::new(), Vec::new());
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(LogOutput::StdErr { message }) => se.extend_from_slice(&message),
                Ok(other) => so.extend_from_slice(&other.into_bytes()),
                Err(_) => break,
            }
        }
        out.stdout = String::from_utf8_lossy(&so).into_owned();
        out.stderr = String::from_utf8_lossy(&se).into_owned();
    }
    for _ in 0..50 {
        let info = engine
            .api()
            .inspect_exec(&created.id)
            .await
            .map_err(|e| EngineError::docker("inspect exec", e))?;
        if info.running != Some(true) {
            if let Some(code) = info.exit_code {
                out.exit_code = code;
                return Ok(out);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(EngineError::Other(format!(
        "the command in {container} did not report an exit code"
    )))
}
// --- end meta ---
