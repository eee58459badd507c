//! `load`: the only I/O of the project model. Reads the run conf, host.conf and every
//! `services/<name>/{Dockerfile,required_env_vars.json}`, then hands them to `Project::from_files`.

use std::path::Path;

use super::model::{name_from_dir, Project, ProjectError, ProjectFiles, ServiceFiles};

fn read(path: &Path, shown: &str) -> Result<Option<String>, ProjectError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProjectError::Io {
            path: shown.to_string(),
            source,
        }),
    }
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
