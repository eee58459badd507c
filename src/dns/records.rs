//! `dops dns:records`: what the server holds.
//!
//! Mechanism: the server writes `dns-records.json` into its run folder every second and within
//! 100 ms of a change (atomically: temp file + rename). Inside the `dops-dns-master` container that folder is `/run/dops`, which
//! the engine bind-mounts from `<project>/.dops/run/dops-dns-master/` on the host, so the command
//! reads the file with no exec and no network. Lease left is corrected by the file's age.
//!
//! `dops dns:records --server ADDR` asks a server instead: a zone transfer (AXFR over TCP,
//! signed with the project key, [`transfer`]). It shows what that server answers now; leases do
//! not travel in DNS, so there is no lease column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{DNSClass, LowerName, Name, RecordType, TSigner};

use super::error::DnsError;
use super::registry::{RecordView, Registry};
use super::tsig::SharedKey;

/// File name of the snapshot.
pub const RECORDS_FILE: &str = "dns-records.json";

/// The snapshot the server writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordsFile {
    pub zone: String,
    /// Milliseconds since the epoch when written.
    pub written_at_ms: u64,
    pub ttl: u32,
    pub lease_ms: u64,
    pub records: Vec<RecordView>,
}

/// Where `dops dns:records` looks on the host.
pub fn host_path(project_dir: &Path) -> PathBuf {
    project_dir
        .join(".dops")
        .join("run")
        .join("dops-dns-master")
        .join(RECORDS_FILE)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Write atomically.
pub fn write(path: &Path, file: &RecordsFile) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

pub fn read(path: &Path) -> Result<RecordsFile, DnsError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DnsError::NoRecords {
                path: path.to_path_buf(),
            }
        } else {
            DnsError::BadRecords {
                path: path.to_path_buf(),
                why: e.to_string(),
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|e| DnsError::BadRecords {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// The records as seen at `now_ms`: lease left reduced by the snapshot's age, dead ones dropped.
pub fn current(file: &RecordsFile, now_ms: u64) -> Vec<RecordView> {
    let age = now_ms.saturating_sub(file.written_at_ms);
    file.records
        .iter()
        .filter(|r| r.lease_left_ms > age)
        .map(|r| RecordView {
            lease_left_ms: r.lease_left_ms - age,
            ..r.clone()
        })
        .collect()
}

/// Is the snapshot older than a few refresh periods (the server is probably not running)?
pub fn is_stale(file: &RecordsFile, now_ms: u64) -> bool {
    now_ms.saturating_sub(file.written_at_ms) > 5_000
}

/// A plain table: NAME TYPE ADDRESS INSTANCE LEASE LEFT.
pub fn render(records: &[RecordView]) -> String {
    let mut rows: Vec<Vec<String>> = vec![vec![
        "NAME".into(),
        "TYPE".into(),
        "ADDRESS".into(),
        "INSTANCE".into(),
        "LEASE LEFT".into(),
    ]];
    for r in records {
        let lease = format!("{:.1}s", r.lease_left_ms as f64 / 1000.0);
        let lease = if r.answered {
            lease
        } else {
            format!("{lease} (held back by REPLACE)")
        };
        rows.push(vec![
            r.name.clone(),
            r.rtype.clone(),
            r.value.clone(),
            r.instance.clone(),
            lease,
        ]);
    }
    table(&rows)
}

/// A record as a zone transfer shows it: no lease (the wire has none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TransferredRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    pub instance: String,
}

/// A plain table: NAME TYPE ADDRESS INSTANCE.
pub fn render_transferred(records: &[TransferredRecord]) -> String {
    let mut rows: Vec<Vec<String>> = vec![vec![
        "NAME".into(),
        "TYPE".into(),
        "ADDRESS".into(),
        "INSTANCE".into(),
    ]];
    for r in records {
        rows.push(vec![
            r.name.clone(),
            r.rtype.clone(),
            r.value.clone(),
            r.instance.clone(),
        ]);
    }
    table(&rows)
}

/// The zone `zone` as `server` answers it: a zone transfer signed with `key` (the project key),
/// over TCP. The SOA, the NS and the server's own names are left out; each address is attributed
/// to its instance as the server's PTR answers do.
pub fn transfer(
    server: SocketAddr,
    zone: &str,
    key: &SharedKey,
    timeout: Duration,
) -> Result<Vec<TransferredRecord>, DnsError> {
    let failed = |why: String| DnsError::Transfer { server, why };
    let mut zone_name =
        Name::from_ascii(zone.trim_end_matches('.')).map_err(|e| DnsError::BadConfig {
            what: "zone".into(),
            why: format!("{zone:?}: {e}"),
        })?;
    zone_name.set_fqdn(true);
    let mut key_name =
        Name::from_ascii(&key.name).map_err(|e| DnsError::BadKey { why: e.to_string() })?;
    key_name.set_fqdn(true);
    let signer = TSigner::new(key.secret.clone(), TsigAlgorithm::HmacSha256, key_name, 300)
        .map_err(|e| DnsError::BadKey { why: e.to_string() })?;
    let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(zone_name.clone(), RecordType::AXFR));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut verifier = msg
        .finalize(&signer, now)
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| failed("no tsig verifier".into()))?;
    let bytes = msg.to_vec().map_err(|e| failed(e.to_string()))?;
    let raw = exchange_tcp(server, &bytes, timeout).map_err(|e| failed(e.to_string()))?;
    let answer = Message::from_vec(&raw).map_err(|e| failed(e.to_string()))?;
    let rcode = answer.metadata.response_code;
    if rcode != ResponseCode::NoError {
        return Err(failed(format!(
            "{} (hint: is {zone} the zone it serves, and .dops/dns.key this project's key?)",
            format!("{rcode:?}").to_ascii_uppercase()
        )));
    }
    verifier
        .verify(&raw)
        .map_err(|e| failed(format!("the answer is not authentic: {e}")))?;
    let apex = LowerName::new(&zone_name);
    let own: Vec<LowerName> = ["ns", "dns"]
        .iter()
        .filter_map(|l| zone_name.prepend_label(*l).ok())
        .map(|n| LowerName::new(&n))
        .collect();
    let mut adds: Vec<_> = answer
        .answers
        .into_iter()
        .filter(|r| {
            let n = LowerName::new(&r.name);
            n != apex && !own.contains(&n) && r.dns_class == DNSClass::IN
        })
        .collect();
    for r in &mut adds {
        r.ttl = 1;
    }
    // The registry's own attribution (the longest first label holding an address).
    let mut reg = Registry::new(&zone_name, Duration::from_secs(3600));
    let at = Instant::now();
    reg.apply_update(&[], &adds, at)
        .map_err(|code| failed(format!("unexpected records in the transfer: {code}")))?;
    Ok(reg
        .snapshot(at)
        .into_iter()
        .map(|v| TransferredRecord {
            name: v.name,
            rtype: v.rtype,
            value: v.value,
            instance: v.instance,
        })
        .collect())
}

fn exchange_tcp(server: SocketAddr, bytes: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&server, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let len = u16::try_from(bytes.len()).map_err(std::io::Error::other)?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map(Vec::len).unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, left: u64) -> RecordView {
        RecordView {
            name: name.into(),
            rtype: "A".into(),
            value: "10.0.0.1".into(),
            instance: "web-one".into(),
            lease_left_ms: left,
            registered_at_epoch: 0,
            answered: true,
        }
    }

    #[test]
    fn write_read_and_age() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(RECORDS_FILE);
        let file = RecordsFile {
            zone: "local.zone.".into(),
            written_at_ms: 10_000,
            ttl: 2,
            lease_ms: 6000,
            records: vec![view("web.local.zone.", 6000), view("old.local.zone.", 500)],
        };
        write(&path, &file).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, file);
        let cur = current(&back, 11_000);
        assert_eq!(cur.len(), 1);
        assert_eq!(cur[0].lease_left_ms, 5000);
        let text = render(&cur);
        assert!(
            text.contains("web.local.zone.") && text.contains("web-one") && text.contains("5.0s")
        );
        assert!(is_stale(&back, 20_000));
        assert!(matches!(
            read(&tmp.path().join("nope.json")),
            Err(DnsError::NoRecords { .. })
        ));
    }
}
