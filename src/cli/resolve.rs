//! From clap's view of the command line to an [`Invocation`]: targets resolved, booleans
//! settled, values checked; clap's errors reworded as ours.

use std::error::Error as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::args::*;
use super::error::{did_you_mean, UsageError};
use crate::action::*;
use crate::suggest::{closest, parse_bool};

/// Turn a clap error into ours, with our wording.
pub(super) fn from_clap(err: clap::Error, verb: &str) -> UsageError {
    let ctx = |k: ContextKind| -> Option<String> {
        match err.get(k)? {
            ContextValue::String(s) => Some(s.clone()),
            ContextValue::Strings(v) => v.first().cloned(),
            _ => None,
        }
    };
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            UsageError::Help(err.render().to_string())
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => UsageError::MissingVerb,
        ErrorKind::UnknownArgument => {
            let option = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let suggestion = ctx(ContextKind::SuggestedArg);
            if !option.starts_with('-') {
                let hint = if parse_bool(&option).is_ok() {
                    " (a boolean option takes its value after '=', e.g. --persistent-data=false)"
                } else {
                    ""
                };
                return UsageError::Other(format!(
                    "unexpected argument '{option}' for '{verb}'{hint}"
                ));
            }
            UsageError::UnknownOption {
                verb: verb.to_string(),
                option,
                suggestion,
            }
        }
        ErrorKind::InvalidSubcommand => {
            let found = ctx(ContextKind::InvalidSubcommand).unwrap_or_default();
            UsageError::UnknownVerb {
                found: format!("{verb} {found}"),
                suggestion: ctx(ContextKind::SuggestedSubcommand).map(|s| format!("{verb} {s}")),
            }
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let key = arg
                .split([' ', '=', '['])
                .next()
                .unwrap_or_default()
                .to_string();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            let valid: Vec<String> = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => v.clone(),
                _ => Vec::new(),
            };
            let reason = match err.source() {
                Some(s) => s.to_string(),
                None if !valid.is_empty() => format!(
                    "expected one of {}{}",
                    valid.join(", "),
                    did_you_mean(&closest(&value, valid.iter().map(String::as_str)))
                ),
                None => "not valid".to_string(),
            };
            // A positional is named `<SHELL>` by clap: `shell`, as the user reads it.
            let key = key
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_lowercase();
            if reason.starts_with("expected one of True/False") {
                return UsageError::BadBool { key, value };
            }
            UsageError::BadValue { key, value, reason }
        }
        _ => {
            let text = err.render().to_string();
            let line = text.lines().next().unwrap_or("invalid command line");
            UsageError::Other(line.trim_start_matches("error: ").to_string())
        }
    }
}

/// `30s`, `5m`, `2h`, `1d`, or seconds alone; at most a year.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a number and a unit: 30s, 5m, 2h, 1d".to_string())?;
    let per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: expected s, m, h or d")),
    };
    let secs = n
        .checked_mul(per)
        .filter(|s| *s <= 366 * 86_400)
        .ok_or_else(|| "at most a year".to_string())?;
    Ok(std::time::Duration::from_secs(secs))
}

/// `--conf NAME` → the file name.
pub fn conf_file_name(name: &str) -> String {
    if name.ends_with(".conf") {
        name.to_string()
    } else {
        format!("{name}.conf")
    }
}

fn resolve_target(verb: &str, sel: SelectCli) -> Result<Option<Target>, UsageError> {
    let check = |s: &str, what: &str| -> Result<(), UsageError> {
        if s.is_empty() {
            return Err(UsageError::BadValue {
                key: what.to_string(),
                value: s.to_string(),
                reason: "must not be empty".to_string(),
            });
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*')))
        {
            return Err(UsageError::BadValue {
                key: what.to_string(),
                value: s.to_string(),
                reason: format!("'{c}' is not allowed (letters, digits, '-', '_', '.', '*')"),
            });
        }
        Ok(())
    };
    if let Some(i) = &sel.instance {
        check(i, "instance")?;
    }
    if let Some(g) = &sel.group {
        check(g, "group")?;
    }
    let target = match sel.target.as_deref() {
        None => sel.group.map(|name| Target::Group { name }),
        Some("all") => Some(match sel.group {
            Some(name) => Target::Group { name },
            None => Target::All,
        }),
        Some(t) if t.starts_with("group=") => {
            let name = t["group=".len()..].to_string();
            check(&name, "group")?;
            Some(Target::Group { name })
        }
        Some(t) => {
            check(t, "target")?;
            Some(Target::Select {
                service: t.to_string(),
                instance: sel.instance.clone(),
            })
        }
    };
    if let (Some(Target::All | Target::Group { .. }), Some(_)) = (&target, &sel.instance) {
        return Err(UsageError::Other(format!(
            "'{verb}': instance needs a service, not '{}'",
            target.as_ref().map(|t| t.to_string()).unwrap_or_default()
        )));
    }
    Ok(target)
}

fn required(verb: &str, t: Option<Target>) -> Result<Target, UsageError> {
    t.ok_or_else(|| UsageError::MissingTarget {
        verb: verb.to_string(),
    })
}

fn one_service(verb: &str, t: Target) -> Result<Target, UsageError> {
    match &t {
        Target::Select { service, .. } if !service.contains('*') => Ok(t),
        _ => Err(UsageError::NeedOneService {
            verb: verb.to_string(),
            target: t.to_string(),
        }),
    }
}

/// `--env KEY=VALUE` (`env=KEY=VALUE`): a valid name that dops does not fix itself, and a value
/// dops can use when it acts on that name.
fn command_line_env(kv: &str) -> Result<(String, String), UsageError> {
    let bad = |reason: String| UsageError::BadValue {
        key: "env".into(),
        value: kv.to_string(),
        reason,
    };
    let Some((name, value)) = kv.split_once('=') else {
        return Err(bad("expected KEY=VALUE".into()));
    };
    crate::project::runconf::check_env_name(name).map_err(bad)?;
    if crate::project::env::FIXED.contains(&name) {
        return Err(bad(format!(
            "{name} is set by dops from the instance's settings (command-line options like --instance-type or --persistent-data change it)"
        )));
    }
    crate::project::values::check_env_value(name, value).map_err(bad)?;
    Ok((name.to_string(), value.to_string()))
}

fn run_action(verb: &str, mut r: RunCli, rerun: bool) -> Result<RunAction, UsageError> {
    let group = r.select.group.clone();
    if verb == "up" && r.select.target.is_none() && r.select.group.is_none() {
        r.select.target = Some("all".into());
    }
    let target = required(verb, resolve_target(verb, r.select)?)?;
    if let Some(t) = &r.instance_type {
        if crate::project::InstanceType::parse(t).is_none() {
            return Err(UsageError::BadValue {
                key: "instance_type".into(),
                value: t.clone(),
                reason: format!(
                    "expected one of standard, published, persistent, master, debug{}",
                    did_you_mean(&closest(
                        t,
                        crate::project::InstanceType::NAMES.iter().copied()
                    ))
                ),
            });
        }
    }
    // With a service target, --group is the group the new instance joins; otherwise a filter.
    let group_override = match &target {
        Target::Select { .. } => group,
        _ => None,
    };
    let env = r
        .env
        .iter()
        .map(|kv| command_line_env(kv))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunAction {
        target,
        overrides: Overrides {
            instance_type: r.instance_type,
            group: group_override,
            props: r.props.0,
            env,
        },
        recreate: match (
            rerun || r.replace.unwrap_or(false) || r.force_recreate.unwrap_or(false),
            r.no_recreate.unwrap_or(false),
        ) {
            (true, true) => {
                return Err(UsageError::Other(format!(
                "'{verb}': --no-recreate and --force-recreate (or --replace) contradict each other"
            )))
            }
            (true, false) => Recreate::Always,
            (false, true) => Recreate::Never,
            (false, false) => Recreate::Changed,
        },
        orphans: r.orphans.unwrap_or(false),
        rollback: !r.no_rollback.unwrap_or(false),
        wait: r.wait.unwrap_or(false),
        timeout_s: r.timeout,
        dry_run: r.dry_run.unwrap_or(false),
    })
}

pub(super) fn resolve(cli: Cli) -> Result<Invocation, UsageError> {
    let global = GlobalOpts {
        project_dir: cli.project,
        conf: conf_file_name(cli.conf.as_deref().unwrap_or("run")),
        json: cli.json,
        verbose: cli.verbose,
        engine: cli.engine,
    };
    let Some(verb) = cli.verb else {
        return Err(UsageError::MissingVerb);
    };
    let action = match verb {
        VerbCli::Build(b) => {
            let sel = SelectCli {
                target: b.target,
                instance: None,
                group: None,
            };
            Action::Build(BuildAction {
                target: required("build", resolve_target("build", sel)?)?,
                no_cache: b.no_cache.unwrap_or(false),
                cause: b.cause,
                dry_run: b.dry_run.unwrap_or(false),
            })
        }
        VerbCli::Run(r) => Action::Run(run_action("run", r, false)?),
        VerbCli::Rerun(r) => Action::Rerun(run_action("rerun", r, true)?),
        VerbCli::Up(r) => Action::Up(run_action("up", r, false)?),
        VerbCli::Plan(p) => {
            let of = match p.of.as_deref() {
                None | Some("run") => PlanOf::Run,
                Some("rerun") => PlanOf::Rerun,
                Some("build") => PlanOf::Build,
                Some("clean") => PlanOf::Clean,
                Some(o) => {
                    return Err(UsageError::BadValue {
                        key: "of".into(),
                        value: o.into(),
                        reason: format!(
                            "expected one of run, rerun, build, clean{}",
                            did_you_mean(&closest(o, ["run", "rerun", "build", "clean"]))
                        ),
                    })
                }
            };
            let run = run_action("plan", p.run, of == PlanOf::Rerun)?;
            Action::Plan(PlanAction {
                of,
                orphans: run.orphans,
                run,
                purge: p.purge.unwrap_or(false),
                no_cache: p.no_cache.unwrap_or(false),
            })
        }
        VerbCli::Clean(c) => Action::Clean(CleanAction {
            target: required("clean", resolve_target("clean", c.select)?)?,
            orphans: c.orphans.unwrap_or(false),
            purge: c.purge.unwrap_or(false),
            yes: c.yes.unwrap_or(false),
            dry_run: c.dry_run.unwrap_or(false),
        }),
        VerbCli::Ps(p) => Action::Ps(PsAction {
            target: resolve_target("ps", p.select)?,
            all: p.all.unwrap_or(false),
        }),
        VerbCli::Shell(s) => Action::Shell(ShellAction {
            target: one_service(
                "shell",
                required("shell", resolve_target("shell", s.select)?)?,
            )?,
            command: s.command,
        }),
        VerbCli::Logs(l) => Action::Logs(LogsAction {
            target: required("logs", resolve_target("logs", l.select)?)?,
            follow: l.follow.unwrap_or(false),
            tail: l.tail,
        }),
        VerbCli::Info(s) => Action::Info(TargetAction {
            target: resolve_target("info", s)?,
        }),
        VerbCli::Getip(s) => Action::Getip(TargetAction {
            target: Some(one_service(
                "getip",
                required("getip", resolve_target("getip", s)?)?,
            )?),
        }),
        VerbCli::Examine(s) => Action::Examine(TargetAction {
            target: resolve_target("examine", s)?,
        }),
        VerbCli::Validate(s) => Action::Validate(TargetAction {
            target: resolve_target("validate", s)?,
        }),
        VerbCli::Update(s) => Action::Update(TargetAction {
            target: resolve_target("update", s)?,
        }),
        VerbCli::Status(s) => Action::Status(StatusAction {
            target: resolve_target("status", s.select)?,
            watch: s.watch.unwrap_or(false),
        }),
        VerbCli::Events(e) => Action::Events(EventsAction {
            target: resolve_target("events", e.select)?,
            since: e
                .since
                .map(|s| {
                    parse_duration(&s).map_err(|reason| UsageError::BadValue {
                        key: "--since".into(),
                        value: s.clone(),
                        reason,
                    })
                })
                .transpose()?,
        }),
        VerbCli::Ui(u) => Action::Ui(UiAction {
            bind: match u.bind {
                None => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                Some(b) => b.parse().map_err(|_| UsageError::BadValue {
                    key: "--bind".into(),
                    value: b.clone(),
                    reason: "not an IP address (127.0.0.1, ::1, 0.0.0.0, …)".into(),
                })?,
            },
            port: u.port.unwrap_or(0),
            read_only: u.read_only.unwrap_or(false),
        }),
        VerbCli::InstallDemo(d) => Action::InstallDemo(DemoAction {
            dir: d.dir,
            force: d.force.unwrap_or(false),
            port: None,
        }),
        VerbCli::Demo(d) => Action::Demo(DemoAction {
            dir: d.demo.dir,
            force: d.demo.force.unwrap_or(false),
            port: d.port,
        }),
        VerbCli::Dns(DnsCli::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }) => Action::Dns(DnsAction::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }),
        VerbCli::Dns(DnsCli::Records { server, zone }) => {
            Action::Dns(DnsAction::Records { server, zone })
        }
        VerbCli::Completions { shell } => Action::Completions(CompletionsAction { shell }),
        VerbCli::Nodes => Action::Nodes,
        VerbCli::Import(ImportCli::Compose {
            file,
            into,
            force,
            strict,
        }) => Action::Import(ImportAction::Compose {
            file,
            into,
            force: force.unwrap_or(false),
            strict: strict.unwrap_or(false),
        }),
    };
    Ok(Invocation { global, action })
}
