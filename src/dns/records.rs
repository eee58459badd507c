//! `dops dns:records`: what the server holds.
//!
//! Mechanism: the server writes `dns-records.json` into its run folder every second and within
//! 100 ms of a change (atomically: temp file + rename). Inside the `dops-dns-master` container that folder is `/run/dops`, which
//! the engine bind-mounts from `<project>/.dops/run/dops-dns-master/` on the host, so the command
//! reads the file with no exec and no network. Lease left is corrected by the file's age.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::DnsError;
use super::registry::RecordView;

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
    let mut rows: Vec<[String; 5]> = vec![[
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
        rows.push([
            r.name.clone(),
            r.rtype.clone(),
            r.value.clone(),
            r.instance.clone(),
            lease,
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
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
