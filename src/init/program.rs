//! One supervised program: its declaration in `/dops/init.d/*.json` and its resolved form.
use super::error::InitError;
use super::paths::Paths;
use super::signals;
use nix::sys::signal::Signal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A command: `["/bin/app", "--flag"]`, or a string split like a shell would (quotes, no
/// expansion): `"/bin/app --flag 'two words'"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Word(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SignalSpec {
    Name(String),
    Number(i32),
}

/// The JSON declaration of a program (supervisord's keys).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    pub command: CommandSpec,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub autorestart: Option<Flag>,
    pub startsecs: Option<f64>,
    pub startretries: Option<u32>,
    pub stopsignal: Option<SignalSpec>,
    pub stopwaitsecs: Option<f64>,
    pub priority: Option<i32>,
    pub reload_signal: Option<SignalSpec>,
    pub exitcodes: Option<Vec<i32>>,
}

/// When a program that has ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Always,
    Never,
    /// Only when its exit code is not one of `exitcodes` (default `[0]`).
    Unexpected,
}

/// A user to run as, resolved from `/etc/passwd` and `/etc/group` (no NSS in a static binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: Option<String>,
}

/// A program ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub name: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub user: Option<User>,
    pub directory: Option<PathBuf>,
    pub autorestart: AutoRestart,
    pub startsecs: Duration,
    pub startretries: u32,
    pub stopsignal: Signal,
    pub stopwait: Duration,
    pub priority: i32,
    pub reload_signal: Signal,
    pub exitcodes: Vec<i32>,
    /// The command line given to dops-init (no init.d programs): its exit ends the container.
    pub main: bool,
}

pub const DEFAULT_STARTSECS: f64 = 1.0;
pub const DEFAULT_STARTRETRIES: u32 = 3;
pub const DEFAULT_STOPWAITSECS: f64 = 5.0;
pub const DEFAULT_PRIORITY: i32 = 999;

impl Program {
    pub fn from_spec(name: &str, spec: &ProgramSpec, paths: &Paths) -> Result<Program, InitError> {
        let bad = |msg: String| InitError::BadProgram {
            name: name.to_string(),
            msg,
        };
        let argv = match &spec.command {
            CommandSpec::Argv(a) => a.clone(),
            CommandSpec::Line(l) => split_command(l).map_err(bad)?,
        };
        if argv.is_empty() || argv[0].is_empty() {
            return Err(bad("command is empty".into()));
        }
        let autorestart = match &spec.autorestart {
            None => AutoRestart::Unexpected,
            Some(Flag::Bool(true)) => AutoRestart::Always,
            Some(Flag::Bool(false)) => AutoRestart::Never,
            Some(Flag::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => AutoRestart::Always,
                "false" => AutoRestart::Never,
                "unexpected" => AutoRestart::Unexpected,
                _ => {
                    return Err(bad(format!(
                        "autorestart must be true, false or \"unexpected\", not {w:?}"
                    )))
                }
            },
        };
        let sig = |s: &Option<SignalSpec>, key: &str, default: Signal| {
            match s {
            None => Ok(default),
            Some(SignalSpec::Name(n)) => signals::parse(n)
                .ok_or_else(|| bad(format!("{key}: unknown signal {n:?} (hint: TERM, INT, QUIT, HUP, USR1, USR2, KILL or a number)"))),
            Some(SignalSpec::Number(n)) => {
                Signal::try_from(*n).map_err(|_| bad(format!("{key}: unknown signal {n}")))
            }
        }
        };
        let dur = |v: Option<f64>, key: &str, default: f64| {
            super::paths::secs(v.unwrap_or(default))
                .ok_or_else(|| bad(format!("{key} must be a number of seconds ≥ 0")))
        };
        let user = match &spec.user {
            None => None,
            Some(u) => Some(resolve_user(u, paths)?),
        };
        Ok(Program {
            name: name.to_string(),
            argv,
            env: spec.env.clone(),
            user,
            directory: spec.directory.clone(),
            autorestart,
            startsecs: dur(spec.startsecs, "startsecs", DEFAULT_STARTSECS)?,
            startretries: spec.startretries.unwrap_or(DEFAULT_STARTRETRIES),
            stopsignal: sig(&spec.stopsignal, "stopsignal", Signal::SIGTERM)?,
            stopwait: dur(spec.stopwaitsecs, "stopwaitsecs", DEFAULT_STOPWAITSECS)?,
            priority: spec.priority.unwrap_or(DEFAULT_PRIORITY),
            reload_signal: sig(&spec.reload_signal, "reload_signal", Signal::SIGHUP)?,
            exitcodes: spec.exitcodes.clone().unwrap_or_else(|| vec![0]),
            main: false,
        })
    }

    /// The command line given to dops-init, run as the single program (tini behaviour).
    pub fn main_command(argv: Vec<String>) -> Program {
        let name = std::path::Path::new(&argv[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "main".into());
        Program {
            name,
            argv,
            env: BTreeMap::new(),
            user: None,
            directory: None,
            autorestart: AutoRestart::Never,
            startsecs: Duration::ZERO,
            startretries: 0,
            stopsignal: Signal::SIGTERM,
            stopwait: super::paths::env_secs("DOPS_INIT_STOPWAIT")
                .unwrap_or(Duration::from_secs_f64(DEFAULT_STOPWAITSECS)),
            priority: DEFAULT_PRIORITY,
            reload_signal: Signal::SIGHUP,
            exitcodes: vec![0],
            main: true,
        }
    }
}

pub use crate::shell_words::split as split_command;

/// `name`, `uid` or `uid:gid`, resolved from `/etc/passwd` and `/etc/group` read directly.
pub fn resolve_user(spec: &str, paths: &Paths) -> Result<User, InitError> {
    let passwd_path = paths.etc("passwd");
    let passwd = std::fs::read_to_string(&passwd_path).unwrap_or_default();
    let group = std::fs::read_to_string(paths.etc("group")).unwrap_or_default();
    let unknown = || InitError::UnknownUser {
        user: spec.to_string(),
        passwd: passwd_path.clone(),
    };
    let (who, explicit_gid) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let by_uid = who
            .parse::<u32>()
            .is_ok_and(|u| f[2].parse::<u32>() == Ok(u));
        (f[0] == who || by_uid).then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
                f[5].to_string(),
            )
        })
    });
    let (name, uid, mut gid, home) = match entry {
        Some((n, Some(u), Some(g), h)) => (Some(n), u, g, Some(h)),
        _ => match who.parse::<u32>() {
            Ok(u) => (None, u, u, None),
            Err(_) => return Err(unknown()),
        },
    };
    if let Some(g) = explicit_gid {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g)
                        .then(|| f[2].parse::<u32>().ok())
                        .flatten()
                })
                .ok_or_else(unknown)?,
        };
    }
    let mut groups = vec![gid];
    if let Some(n) = &name {
        for l in group.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == n) {
                if let Ok(g) = f[2].parse::<u32>() {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
        }
    }
    Ok(User {
        name,
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_users_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwww:x:34:\nlog:x:50:www,other\n",
        )
        .unwrap();
        let p = Paths::new(dir.path());
        let u = resolve_user("www", &p).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.clone()), (33, 34, vec![34, 50]));
        assert_eq!(u.home.as_deref(), Some("/var/www"));
        assert_eq!(resolve_user("33", &p).unwrap().name.as_deref(), Some("www"));
        let n = resolve_user("1234:log", &p).unwrap();
        assert_eq!((n.uid, n.gid), (1234, 50));
        assert!(resolve_user("nobody-here", &p).is_err());
    }

    #[test]
    fn spec_defaults_and_errors() {
        let p = Paths::new(std::path::Path::new("/nonexistent"));
        let spec: ProgramSpec =
            serde_json::from_str(r#"{"command":"sleep 10","autorestart":true,"stopsignal":"INT"}"#)
                .unwrap();
        let prog = Program::from_spec("s", &spec, &p).unwrap();
        assert_eq!(prog.argv, vec!["sleep", "10"]);
        assert_eq!(prog.autorestart, AutoRestart::Always);
        assert_eq!(prog.stopsignal, Signal::SIGINT);
        assert_eq!(prog.priority, DEFAULT_PRIORITY);
        let bad: ProgramSpec =
            serde_json::from_str(r#"{"command":["x"],"stopsignal":"NOPE"}"#).unwrap();
        assert!(Program::from_spec("b", &bad, &p).is_err());
        assert!(serde_json::from_str::<ProgramSpec>(r#"{"command":"x","comand":1}"#).is_err());
    }
}
