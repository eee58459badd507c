//! Watches: dops-init follows a DNS name served by the dops DNS (in-process on 127.0.0.1),
//! re-renders a handlebars template, validates it, replaces it atomically, reloads the program,
//! runs on_change; a failing validation keeps the old file and stays UP.
mod init_util;
use dops::init::register::{self, Registrar, RegistrationHandle};
use dops::tsig_key::TsigKey;
use init_util::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn member(server: SocketAddr, key: &TsigKey, instance: &str, ip: &str) -> RegistrationHandle {
    let vars = [
        ("DNS_SERVICE_IP", server.to_string()),
        ("DNS_KEY", key.to_env()),
        ("SERVICE", "web".to_string()),
        ("INSTANCE", instance.to_string()),
        ("SERVICE_IP", ip.to_string()),
    ];
    let r = Registrar::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .unwrap()
        .unwrap();
    let h = register::spawn(r);
    h.set_registered(true);
    let until = Instant::now() + secs(5.0);
    while Instant::now() < until && !h.status().registered {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(h.status().registered, "{:?}", h.status());
    h
}

#[test]
fn a_watch_follows_the_members() {
    let (server, key) = start_local_dns();
    let addr = server.addr();
    let one = member(addr, &key, "one", "127.0.0.11");

    let r = Root::new();
    r.write(
        "lb.cfg.hb",
        "# {{count}} members of {{dns}}\n{{#each addresses}} server {{ host }} {{ ip }}:3000 check\n{{/each}}",
    );
    let reloads = r.p("reloads");
    r.script(
        "bin/lb",
        &format!("trap 'echo reload >> {reloads}' HUP\nwhile :; do sleep 0.05; done"),
    );
    r.initd(
        "10.json",
        &format!(
            r#"{{"programs": {{"lb": {{"command": "{lb}", "startsecs": 0, "reload_signal": "HUP"}}}},
                "watches": {{"lb": {{
                    "dns": "web", "port": 3000, "interval_ms": 100, "debounce_ms": 50,
                    "template": "{tpl}", "output": "{out}",
                    "validate": ["sh", "-c", "test -s {{{{output}}}} && ! grep -q web-bad {{{{output}}}}"],
                    "reload": {{"program": "lb"}},
                    "on_change": "sh -c 'cat > {m}; echo \"$DOPS_MEMBER_COUNT $DOPS_MEMBERS\" >> {m}.env'"
                }}}}}}"#,
            lb = r.p("bin/lb"),
            tpl = r.p("lb.cfg.hb"),
            out = r.p("etc/lb.cfg"),
            m = r.p("members.json"),
        ),
    );
    let mut cmd = r.command(&[]);
    cmd.env("DNS_SERVICE_IP", addr.to_string())
        .env("DNS_ZONE", "local.zone");
    let run = r.spawn_with(cmd);
    run.wait_state("UP", secs(10.0));

    // The first render happened before the program started; no reload for it.
    let cfg = || r.read("etc/lb.cfg");
    assert_eq!(
        cfg(),
        "# 1 members of web.local.zone\n server web-one 127.0.0.11:3000 check\n"
    );
    assert_eq!(r.read("reloads"), "");
    assert_eq!(r.lines("members.json.env"), vec!["1 127.0.0.11"]);

    // A second member: rendered, validated, replaced, the program reloaded, on_change told.
    let t = Instant::now();
    let two = member(addr, &key, "two", "127.0.0.12");
    assert!(
        eventually(secs(5.0), || cfg().contains("web-two 127.0.0.12:3000")),
        "{}\n{}",
        cfg(),
        run.stderr()
    );
    let took = t.elapsed();
    assert!(took < secs(2.0), "followed in {took:?}");
    assert!(eventually(secs(2.0), || r.lines("reloads").len() == 1));
    assert!(eventually(secs(2.0), || r.lines("members.json.env").len() == 2));
    assert_eq!(r.lines("members.json.env")[1], "2 127.0.0.11 127.0.0.12");
    let members: serde_json::Value = serde_json::from_str(&r.read("members.json")).unwrap();
    assert_eq!(members[1]["host"], "web-two");
    assert_eq!(members[1]["port"], 3000);
    // state.json is written just after the output file: give it a moment.
    let two_members =
        |s: &serde_json::Value| s["watches"]["lb"]["members"].as_array().map(Vec::len) == Some(2);
    assert!(
        eventually(secs(2.0), || two_members(&run.state())),
        "{}",
        run.state()
    );
    assert!(run.state()["watches"]["lb"]["error"].is_null());

    // A member leaves.
    one.withdraw_and_stop(secs(2.0));
    assert!(
        eventually(secs(5.0), || !cfg().contains("web-one")),
        "{}",
        cfg()
    );
    assert!(cfg().contains("# 1 members"));
    assert!(eventually(secs(2.0), || r.lines("reloads").len() == 2));

    // A member that fails validation: the old file stays, no reload, still UP, error reported.
    let before = cfg();
    let bad = member(addr, &key, "bad", "127.0.0.13");
    assert!(
        run.wait_for(secs(5.0), |v| v["watches"]["lb"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("validation failed"))),
        "{}",
        run.state()
    );
    assert_eq!(cfg(), before);
    assert_eq!(r.lines("reloads").len(), 2);
    assert_eq!(run.state()["state"], "UP");
    assert!(!r.path("etc/.lb.cfg.dops-new").exists());
    assert!(run.stdout().contains("\"event\":\"watch\""));

    // It leaves again: the next valid set is applied.
    bad.withdraw_and_stop(secs(2.0));
    two.withdraw_and_stop(secs(2.0));
    assert!(
        eventually(secs(5.0), || cfg().starts_with("# 0 members")),
        "{}",
        cfg()
    );
    let _ = server.stop();
}

#[test]
fn a_watch_naming_an_unknown_program_is_a_configuration_error() {
    let r = Root::new();
    r.initd(
        "10.json",
        r#"{"watches": {"w": {"dns": "web", "server": "127.0.0.1:1", "template": "/t", "output": "/o", "reload": {"program": "nope"}}}}"#,
    );
    let (st, _, err) = r.run(&[], secs(10.0));
    assert_eq!(st.code(), Some(2));
    assert!(err.contains("watch w") && err.contains("nope"), "{err}");
}

#[test]
fn a_restart_reload_restarts_the_program_and_on_change_alone_works() {
    let (server, key) = start_local_dns();
    let addr = server.addr();

    let r = Root::new();
    r.write("t.hb", "{{#each members}}{{ip}} {{/each}}");
    let starts = r.p("starts");
    r.script(
        "bin/app",
        &format!(
            "echo \"start $(cat {})\" >> {starts}\nexec sleep 1000",
            r.p("etc/app.conf")
        ),
    );
    r.initd(
        "10.json",
        &format!(
            r#"{{"programs": {{"app": {{"command": "{app}", "startsecs": 0, "stopwaitsecs": 1}}}},
                "watches": {{
                    "conf": {{"dns": "web.local.zone", "interval_ms": 100, "debounce_ms": 0,
                              "template": "{tpl}", "output": "{out}", "reload": {{"program": "app", "restart": true}}}},
                    "tell": {{"dns": "web", "interval_ms": 100, "on_change": ["sh", "-c", "echo \"$DOPS_MEMBER_HOSTS\" >> {told}"]}},
                    "cmd": {{"dns": "web", "interval_ms": 100, "template": "{tpl}", "output": "{out2}",
                             "reload": {{"command": "sh -c 'echo \"reloaded $DOPS_MEMBER_COUNT\" >> {reloaded}'"}}}}
                }}}}"#,
            app = r.p("bin/app"),
            tpl = r.p("t.hb"),
            out = r.p("etc/app.conf"),
            told = r.p("told"),
            out2 = r.p("etc/other.conf"),
            reloaded = r.p("reloaded"),
        ),
    );
    let mut cmd = r.command(&[]);
    cmd.env("DNS_SERVICE_IP", addr.to_string());
    let run = r.spawn_with(cmd);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(2.0), || r.lines("starts").len() == 1));
    assert_eq!(r.lines("starts")[0].trim(), "start");
    let _one = member(addr, &key, "one", "127.0.0.21");
    assert!(
        eventually(secs(5.0), || r.lines("starts").len() == 2),
        "{:?}\n{}",
        r.lines("starts"),
        run.stderr()
    );
    assert_eq!(r.lines("starts")[1].trim(), "start 127.0.0.21");
    // The restarted program may write its line before dops-init writes the state file.
    assert!(
        run.wait_for(secs(5.0), |s| s["programs"][0]["restarts"] == 1),
        "{}",
        run.state()
    );
    assert!(eventually(secs(5.0), || r
        .lines("told")
        .last()
        .map(String::as_str)
        == Some("web-one")));
    assert_eq!(r.lines("told")[0], "", "the first run tells the empty set");
    assert!(
        eventually(secs(5.0), || r.lines("reloaded") == vec!["reloaded 1"]),
        "{:?}",
        r.lines("reloaded")
    );
    assert_eq!(r.read("etc/other.conf"), "127.0.0.21 ");
    let _ = server.stop();
}
