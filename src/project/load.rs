//! `load`: the only I/O of the project model. Reads the run conf, host.conf and every
//! `services/<name>/{Dockerfile,required_env_vars.json}`, then hands them to `Project::from_files`.

use std::io::Read;
use std::path::Path;

use super::model::{name_from_dir, Project, ProjectError, ProjectFiles, ServiceFiles};

/// The largest file dops reads as configuration (run.conf, host.conf, a Dockerfile,
/// `required_env_vars.json`): refused before it is read, so a huge file costs nothing.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A configuration file's text: None when it does not exist; an error when it is not a regular
/// file, is larger than [`MAX_FILE_BYTES`], or is not UTF-8 (located: line, column, byte).
fn read(path: &Path, shown: &str) -> Result<Option<String>, ProjectError> {
    let io = |source| ProjectError::Io {
        path: shown.to_string(),
        source,
    };
    // stat first: opening a FIFO would block, and the size is known without reading.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(ProjectError::NotAFile {
            path: shown.to_string(),
        });
    }
    let too_large = |size: u64| ProjectError::TooLarge {
        path: shown.to_string(),
        size,
        limit: MAX_FILE_BYTES,
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        // It grew while being read.
        return Err(too_large(bytes.len() as u64));
    }
    decode(shown, bytes).map(Some)
}

/// The text of a file, or a located error at its first byte that is not UTF-8.
pub(super) fn decode(shown: &str, bytes: Vec<u8>) -> Result<String, ProjectError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let col = std::str::from_utf8(&before[line_start..]).map_or(1, |s| s.chars().count() + 1);
        let bad_len = e.utf8_error().error_len().unwrap_or(bytes.len() - at);
        ProjectError::NotUtf8 {
            path: shown.to_string(),
            line: before.iter().filter(|b| **b == b'\n').count() + 1,
            col,
            offset: at,
            bytes: crate::host_env::escaped(&bytes[at..at + bad_len.min(4)]),
        }
    })
}

/// Load the project in `dir` with the run conf `conf` (a file name such as `run.conf`).
/// A missing `run.conf` is an empty platform; any other missing conf is an error.
pub fn load(dir: &Path, conf: &str) -> Result<Project, ProjectError> {
    let dir = dir.canonicalize().map_err(|source| ProjectError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let services_dir = dir.join("services");
    let mut services = Vec::new();
    let has_services = services_dir.is_dir();
    if has_services {
        let rd = std::fs::read_dir(&services_dir).map_err(|source| ProjectError::Io {
            path: "services/".into(),
            source,
        })?;
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let sdir = services_dir.join(&name);
            let shown = format!("services/{name}/Dockerfile");
            let Some(dockerfile) = read(&sdir.join("Dockerfile"), &shown)? else {
                tracing::debug!("services/{name} has no Dockerfile: not a service");
                continue;
            };
            if let Err(msg) = super::runconf::check_name(&name, true) {
                tracing::warn!("services/{name} ignored: the service name {msg}");
                continue;
            }
            let req_shown = format!("services/{name}/required_env_vars.json");
            services.push(ServiceFiles {
                required_env_vars: read(&sdir.join("required_env_vars.json"), &req_shown)?,
                name,
                dockerfile,
            });
        }
    }
    let run_conf = match read(&dir.join(conf), conf)? {
        Some(text) => Some((conf.to_string(), text)),
        None if conf == "run.conf" => {
            if !has_services {
                return Err(ProjectError::NotAProject {
                    dir: dir.display().to_string(),
                });
            }
            None
        }
        None => {
            let mut available: Vec<String> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.ends_with(".conf") && n != "host.conf")
                        .collect()
                })
                .unwrap_or_default();
            available.sort();
            return Err(ProjectError::NoConf {
                file: conf.to_string(),
                dir: dir.display().to_string(),
                available,
            });
        }
    };
    let host_conf = read(&dir.join("host.conf"), "host.conf")?;
    Project::from_files(
        &dir,
        ProjectFiles {
            run_conf,
            host_conf,
            services,
        },
    )
}

/// The project name of a folder: host.conf's `PROJECT` when the project loads (with the run
/// conf `conf`), else the folder's name as [`name_from_dir`] derives it.
pub fn name_of(dir: &Path, conf: &str) -> String {
    match load(dir, conf) {
        Ok(p) => p.name,
        Err(_) => name_from_dir(dir).unwrap_or_else(|| "dops".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_located() {
        let e = decode(
            "run.conf",
            b"[\n  {\"service\": \"w\xc3\xa9b\xff\"}]".to_vec(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "run.conf: line 2, col 19: invalid UTF-8 at byte 21 (\"\\xff\")\nhint: dops files are UTF-8 text; convert it (e.g. iconv -f latin1 -t utf-8)"
        );
        assert_eq!(decode("a", b"ok\n".to_vec()).unwrap(), "ok\n");
    }

    #[test]
    fn large_files_and_folders_are_refused_before_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("run.conf");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(
            read(&big, "run.conf").unwrap_err().to_string(),
            "run.conf is 4194305 bytes (4.0 MiB): over the 4 MiB limit of a dops configuration file"
        );
        assert_eq!(
            read(tmp.path(), "host.conf").unwrap_err().to_string(),
            "host.conf is not a regular file"
        );
        assert_eq!(read(&tmp.path().join("none"), "x").unwrap(), None);
    }
}
