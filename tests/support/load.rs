//! A small bounded HTTP load through the demo's balancer: every response is logged with its
//! time ("web one (web-one)" → `Ok("one")`, anything else → `Err`), so a test can say which
//! instance served when and whether any request failed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// One GET / through the balancer: the instance that answered ("web one (web-one)" → "one").
pub fn get(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
    s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(format!("http {status}"));
    }
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let mut words = body.split_whitespace();
    match (words.next(), words.next()) {
        (Some("web"), Some(instance)) => Ok(instance.to_string()),
        _ => Err(format!("unexpected body {body:?}")),
    }
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub at: f64,
    pub result: Result<String, String>,
}

/// A bounded load: `clients` threads, one request at a time each, until stopped (or 10 min).
pub struct Load {
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<Hit>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, hits) = (stop.clone(), hits.clone());
                std::thread::spawn(move || {
                    let until = Instant::now() + Duration::from_secs(600);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let result = get(addr);
                        let failed = result.is_err();
                        hits.lock().unwrap().push(Hit { at: now(), result });
                        std::thread::sleep(Duration::from_millis(if failed { 50 } else { 10 }));
                    }
                })
            })
            .collect();
        Load {
            stop,
            hits,
            threads,
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// When `instance` first answered (after `since`).
    pub fn first_since(&self, instance: &str, since: f64) -> Option<f64> {
        self.hits()
            .iter()
            .find(|h| h.at >= since && h.result.as_deref() == Ok(instance))
            .map(|h| h.at)
    }

    pub fn first(&self, instance: &str) -> Option<f64> {
        self.first_since(instance, 0.0)
    }

    pub fn last(&self, instance: &str) -> Option<f64> {
        self.hits()
            .iter()
            .rev()
            .find(|h| h.result.as_deref() == Ok(instance))
            .map(|h| h.at)
    }

    pub fn failures_between(&self, a: f64, b: f64) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.result.is_err() && h.at >= a && h.at <= b)
            .collect()
    }

    pub fn finish(mut self) -> Vec<Hit> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.hits()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// "n requests, k failed; one 40%, two 60%".
pub fn summary(hits: &[Hit]) -> String {
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failed = 0;
    for h in hits {
        match &h.result {
            Ok(i) => *by.entry(i.as_str()).or_default() += 1,
            Err(_) => failed += 1,
        }
    }
    let parts: Vec<String> = by
        .iter()
        .map(|(i, n)| format!("{i} {:.0}%", 100.0 * *n as f64 / hits.len().max(1) as f64))
        .collect();
    format!(
        "{} requests, {failed} failed; {}",
        hits.len(),
        parts.join(", ")
    )
}
