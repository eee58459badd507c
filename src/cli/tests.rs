//! The parser's tests: both spellings, every verb, the error wording.

use super::*;
use std::path::PathBuf;

use crate::action::*;
use crate::suggest::{closest, levenshtein};

fn p(s: &str) -> Result<Invocation, UsageError> {
    let args: Vec<String> = s.split_whitespace().map(String::from).collect();
    parse(&args)
}

fn err(s: &str) -> String {
    p(s).expect_err(s).to_string()
}

#[test]
fn both_spellings_give_the_same_action() {
    let pairs = [
        (
            "run:postgres,instance=master,persistent_data=True",
            "run postgres --instance master --persistent-data",
        ),
        ("run:all", "run all"),
        ("run:group=db", "run --group db"),
        ("run:group=db", "run group=db"),
        (
            "run:web,instance=two,linked=no,safemode=YES",
            "run web --instance two --linked=false --safemode",
        ),
        ("rerun:web,instance=two", "rerun web --instance two"),
        ("build:all,no_cache=1", "build all --no-cache"),
        ("build:web,cause=fix", "build web --cause fix"),
        (
            "clean:all,orphans=true,purge=True,yes=1",
            "clean all --orphans --purge --yes",
        ),
        ("clean:web*,dry_run=True", "clean web* --dry-run"),
        ("ps:all,all=True", "ps all --all"),
        ("ps", "ps"),
        ("plan:web,instance=two", "plan web --instance two"),
        ("plan:all,of=clean,purge=yes", "plan all --of clean --purge"),
        ("shell:web,instance=two", "shell web --instance two"),
        ("ssh:web,instance=two", "shell web --instance two"),
        (
            "logs:web,instance=two,follow=True",
            "logs web --instance two -f",
        ),
        ("info:web", "info web"),
        ("getip:web,instance=one", "getip web --instance one"),
        ("examine:web", "examine web"),
        ("validate:web", "validate web"),
        ("update:web,instance=one", "update web --instance one"),
        ("status:all,watch=True", "status all --watch"),
        ("events", "events"),
        ("events:web,since=5m", "events web --since 5m"),
        ("ui:port=8080,read_only=True", "ui --port 8080 --read-only"),
        ("ui:bind=0.0.0.0", "ui --bind 0.0.0.0"),
        ("install_demo", "install-demo"),
        ("demo", "demo"),
        (
            "dns:serve,listen=127.0.0.1:5353,zone=x.zone",
            "dns serve --listen 127.0.0.1:5353 --zone x.zone",
        ),
        ("dns:records", "dns records"),
        ("run:web,conf=prod", "--conf prod run web"),
        ("run:web,conf=prod.conf", "run web --conf prod"),
        (
            "run:web,timeout=30,wait=true,replace=true",
            "run web --timeout 30 --wait --replace",
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(p(a).expect(a), p(b).expect(b), "{a} vs {b}");
    }
}

#[test]
fn resolved_run_action() {
    let inv =
        p("--json -vv run:postgres,instance=master,persistent_data=False,instance_type=standard")
            .unwrap();
    assert!(inv.global.json);
    assert_eq!(inv.global.verbose, 2);
    assert_eq!(inv.global.conf, "run.conf");
    let Action::Run(r) = inv.action else { panic!() };
    assert_eq!(
        r.target,
        Target::Select {
            service: "postgres".into(),
            instance: Some("master".into())
        }
    );
    assert_eq!(r.overrides.props.persistent_data, Some(false));
    assert_eq!(r.overrides.props.publish_ports, None);
    assert_eq!(r.overrides.instance_type.as_deref(), Some("standard"));
    assert_eq!(r.recreate, Recreate::Changed);
}

#[test]
fn rerun_replaces_and_group_joins() {
    let Action::Rerun(r) = p("rerun:group=front").unwrap().action else {
        panic!()
    };
    assert_eq!(r.recreate, Recreate::Always);
    // group= as the first element is the target; later it is the group the instance joins
    assert_eq!(
        r.target,
        Target::Group {
            name: "front".into()
        }
    );
    let Action::Run(r) = p("run:web,instance=one,group=front").unwrap().action else {
        panic!()
    };
    assert_eq!(r.overrides.group.as_deref(), Some("front"));
    let Action::Run(r) = p("run:all,group=front").unwrap().action else {
        panic!()
    };
    assert_eq!(
        r.target,
        Target::Group {
            name: "front".into()
        }
    );
}

#[test]
fn booleans_any_case() {
    for (v, b) in [
        ("True", true),
        ("TRUE", true),
        ("yes", true),
        ("Yes", true),
        ("1", true),
        ("false", false),
        ("No", false),
        ("0", false),
        ("FALSE", false),
    ] {
        let Action::Run(r) = p(&format!("run:web,publish_ports={v}")).unwrap().action else {
            panic!()
        };
        assert_eq!(r.overrides.props.publish_ports, Some(b), "{v}");
        let Action::Run(r) = p(&format!("run web --publish-ports={v}")).unwrap().action else {
            panic!()
        };
        assert_eq!(r.overrides.props.publish_ports, Some(b), "{v}");
    }
}

#[test]
fn shell_command_after_double_dash() {
    let Action::Shell(s) = p("shell:web,instance=one -- ls -l /").unwrap().action else {
        panic!()
    };
    assert_eq!(s.command, vec!["ls", "-l", "/"]);
    let Action::Shell(s) = p("ssh web --instance one -- ls").unwrap().action else {
        panic!()
    };
    assert_eq!(s.command, vec!["ls"]);
}

#[test]
fn wildcard_targets() {
    let Action::Clean(c) = p("clean:web*,instance=*").unwrap().action else {
        panic!()
    };
    assert_eq!(
        c.target,
        Target::Select {
            service: "web*".into(),
            instance: Some("*".into())
        }
    );
    let Action::Clean(c) = p("clean:*").unwrap().action else {
        panic!()
    };
    assert!(c.target.matches("anything", "x", None));
}

#[test]
fn conf_names() {
    assert_eq!(p("--conf prod plan:all").unwrap().global.conf, "prod.conf");
    assert_eq!(
        p("plan:all,conf=run_published.conf").unwrap().global.conf,
        "run_published.conf"
    );
    assert_eq!(
        p("--project /x plan:all").unwrap().global.project_dir,
        Some(PathBuf::from("/x"))
    );
}

#[test]
fn error_texts() {
    assert_eq!(
        err("rnu:web"),
        "unknown command 'rnu' (did you mean 'run'?)"
    );
    assert_eq!(
        err("bulid web"),
        "unknown command 'bulid' (did you mean 'build'?)"
    );
    assert_eq!(err("frobnicate"), "unknown command 'frobnicate'");
    assert_eq!(
        err("run:web,instanec=two"),
        "unknown key 'instanec' for 'run' (did you mean 'instance'?)"
    );
    assert_eq!(
        err("run:web,persistent_dat=True"),
        "unknown key 'persistent_dat' for 'run' (did you mean 'persistent_data'?)"
    );
    assert_eq!(
        err("run web --instanec two"),
        "unknown option '--instanec' for 'run' (did you mean '--instance'?)"
    );
    assert_eq!(
        err("run:web,persistent_data=maybe"),
        "invalid value 'maybe' for 'persistent_data': expected one of True/False, yes/no, 1/0"
    );
    assert_eq!(
        err("run web --persistent-data=maybe"),
        "invalid value 'maybe' for '--persistent-data': expected one of True/False, yes/no, 1/0"
    );
    assert_eq!(
        err("run"),
        "missing target for 'run' (e.g. 'dops run:all' or 'dops run <service>')"
    );
    assert_eq!(
        err("run:web,instance=a,instance=b"),
        "key 'instance' given twice"
    );
    assert_eq!(err("run:web,=x"), "empty key in '=x' (expected key=value)");
    assert_eq!(err("run:web,instance_type=mastr"), "invalid value 'mastr' for 'instance_type': expected one of standard, published, persistent, master, debug (did you mean 'master'?)");
    assert_eq!(
        err("shell:all"),
        "'shell' needs one service, not 'all' (e.g. 'dops shell:web,instance=one')"
    );
    assert_eq!(
        err("dns:serv"),
        "unknown command 'dns:serv' (did you mean 'dns:serve'?)"
    );
    assert_eq!(err(""), "missing command (try 'dops --help')");
    assert_eq!(
        err("run:web,timeout=soon"),
        "invalid value 'soon' for '--timeout': invalid digit found in string"
    );
    assert_eq!(err("run:we/b"), "invalid value 'we/b' for 'target': '/' is not allowed (letters, digits, '-', '_', '.', '*')");
    assert_eq!(
        err("run:all,instance=one"),
        "'run': instance needs a service, not 'all'"
    );
    assert_eq!(
        err("build:web,instance=one"),
        "unknown key 'instance' for 'build'"
    );
    assert_eq!(
        err("run web --persistent-data false"),
        "unexpected argument 'false' for 'run' (a boolean option takes its value after '=', e.g. --persistent-data=false)"
    );
    assert_eq!(err("run web db"), "unexpected argument 'db' for 'run'");
    assert_eq!(
        err("run:web extra"),
        "unexpected argument 'extra' for 'run'"
    );
}

#[test]
fn events_and_ui_options() {
    let Action::Events(e) = p("events:web,instance=one,since=90s").unwrap().action else {
        panic!()
    };
    assert_eq!(e.since, Some(std::time::Duration::from_secs(90)));
    assert_eq!(e.target.unwrap().instance(), Some("one"));
    assert_eq!(
        resolve::parse_duration("2h"),
        Ok(std::time::Duration::from_secs(7200))
    );
    assert_eq!(resolve::parse_duration("1d").unwrap().as_secs(), 86_400);
    assert_eq!(resolve::parse_duration("15").unwrap().as_secs(), 15);
    assert!(resolve::parse_duration("5w").is_err());
    assert!(resolve::parse_duration("999999999999999999d").is_err());
    assert_eq!(
        err("events --since soon"),
        "invalid value 'soon' for '--since': expected a number and a unit: 30s, 5m, 2h, 1d"
    );
    let Action::Ui(u) = p("ui").unwrap().action else {
        panic!()
    };
    assert_eq!(
        (u.bind.to_string(), u.port, u.read_only),
        ("127.0.0.1".into(), 0, false)
    );
    assert_eq!(
        err("ui --bind localhost"),
        "invalid value 'localhost' for '--bind': not an IP address (127.0.0.1, ::1, 0.0.0.0, …)"
    );
}

#[test]
fn help_is_not_an_error() {
    assert!(matches!(p("--help"), Err(UsageError::Help(_))));
    assert!(matches!(p("run --help"), Err(UsageError::Help(_))));
    assert!(matches!(p("--version"), Err(UsageError::Help(_))));
}

#[test]
fn closest_is_reasonable() {
    assert_eq!(closest("rn", VERBS.iter().copied()), Some("run".into()));
    assert_eq!(closest("xyzzy", VERBS.iter().copied()), None);
    assert_eq!(levenshtein("kitten", "sitting"), 3);
}
