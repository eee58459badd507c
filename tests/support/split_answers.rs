//! A forwarder between dops and the real engine that delivers each streamed answer with its
//! messages cut before their line ends: Docker ends every message of a build (or push) stream
//! with "\r\n", and a read that ends between a message's `}` and that "\r\n" is what made
//! bollard's decoder fail at the end of the answer ("bytes remaining on stream") in CI. Here
//! every such cut happens, on purpose, so that a test sees it every time rather than once in a
//! hundred runs.
//!
//! Requests go to the engine untouched. Answers are re-framed only in their chunked encoding:
//! each chunk is sent as pieces that end with `}` and start with "\r\n", one write apart with a
//! pause, so that the client reads them separately. The bytes of the body are unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The forwarder; it listens until dropped (the listening thread ends with the process).
pub struct SplitAnswers {
    socket: PathBuf,
    cuts: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl SplitAnswers {
    /// Forward to the engine the tests use (`DOCKER_HOST` when it is a unix socket).
    pub fn start() -> Self {
        let engine = match std::env::var("DOCKER_HOST") {
            Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
            _ => PathBuf::from("/var/run/docker.sock"),
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("split.sock");
        let listener = UnixListener::bind(&socket).expect("bind the forwarder");
        let cuts = Arc::new(AtomicUsize::new(0));
        let counted = cuts.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = match UnixStream::connect(&engine) {
                    Ok(s) => s,
                    Err(_) => continue,
                };
                let counted = counted.clone();
                std::thread::spawn(move || forward(client, server, &counted));
            }
        });
        SplitAnswers {
            socket,
            cuts,
            _dir: dir,
        }
    }

    /// `unix://…`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// How many line ends were cut from their message so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

/// One connection: requests copied as they are, answers re-chunked.
fn forward(mut client: UnixStream, server: UnixStream, cuts: &AtomicUsize) {
    let (Ok(mut to_server), Ok(to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client, &mut to_server);
        let _ = to_server.shutdown(std::net::Shutdown::Write);
    });
    let _ = answers(BufReader::new(server), to_client, cuts);
}

/// The engine's answers on one connection, one after the other (keep-alive).
fn answers(
    mut from: BufReader<UnixStream>,
    mut to: UnixStream,
    cuts: &AtomicUsize,
) -> std::io::Result<()> {
    loop {
        let mut head = Vec::new();
        loop {
            let before = head.len();
            from.read_until(b'\n', &mut head)?;
            if head.len() == before {
                return Ok(()); // the engine closed the connection
            }
            if head.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        to.write_all(&head)?;
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if status == 101 {
            // A hijacked stream (attach, exec): raw bytes both ways from here on.
            std::io::copy(&mut from, &mut to)?;
            return Ok(());
        }
        if (100..200).contains(&status) || status == 204 || status == 304 {
            continue; // no body
        }
        if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            rechunk(&mut from, &mut to, cuts)?;
        } else if let Some(length) = header("content-length:").and_then(|v| v.parse().ok()) {
            std::io::copy(&mut (&mut from).take(length), &mut to)?;
        } else {
            std::io::copy(&mut from, &mut to)?;
            return Ok(());
        }
    }
}

/// One chunked body: every chunk re-sent as pieces cut before each "\r\n" that follows a `}`.
fn rechunk(
    from: &mut BufReader<UnixStream>,
    to: &mut UnixStream,
    cuts: &AtomicUsize,
) -> std::io::Result<()> {
    loop {
        let mut size = String::new();
        from.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|e| std::io::Error::other(format!("chunk size {size:?}: {e}")))?;
        if size == 0 {
            // The last chunk and the (empty) trailer.
            loop {
                let mut line = String::new();
                if from.read_line(&mut line)? == 0 || line == "\r\n" {
                    break;
                }
            }
            to.write_all(b"0\r\n\r\n")?;
            return Ok(());
        }
        let mut data = vec![0; size + 2];
        from.read_exact(&mut data)?;
        data.truncate(size);
        let mut start = 0;
        for i in 0..data.len().saturating_sub(2) {
            if &data[i..i + 3] == b"}\r\n" {
                send_chunk(to, &data[start..=i])?;
                start = i + 1;
                cuts.fetch_add(1, Ordering::SeqCst);
            }
        }
        send_chunk(to, &data[start..])?;
    }
}

fn send_chunk(to: &mut UnixStream, piece: &[u8]) -> std::io::Result<()> {
    if piece.is_empty() {
        return Ok(());
    }
    to.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
    to.write_all(piece)?;
    to.write_all(b"\r\n")?;
    to.flush()?;
    // Apart in time, so that the client reads each piece on its own.
    std::thread::sleep(Duration::from_millis(5));
    Ok(())
}
