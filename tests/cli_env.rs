//! Issue 14: the command line's environment (`--env KEY=VALUE`, `env=KEY=VALUE`, repeatable, the
//! highest precedence, origin `command line` in the plan) and the host port a published port is
//! published on (`PUBLISH_PORT_<port>`, from any layer of the environment). `plan` only reads
//! the project (the engine is asked what runs, nothing more).

mod support;

use support::Test;

const DOCKERFILE: &str = "FROM dops-test/busybox\nEXPOSE 80 8404 53/udp\n";

/// A project with one published service, `web` (`A` set in run.conf), and no DNS.
fn web(tag: &str, host_conf: &str) -> Test {
    Test::new(tag)
        .write("services/web/Dockerfile", DOCKERFILE)
        .write("host.conf", host_conf)
        .write(
            "run.conf",
            "[{\"service\": \"web\", \"instance\": \"one\", \"instance_type\": \"published\", \"env_vars\": {\"A\": \"run.conf\"}}]\n",
        )
}

const NO_DNS: &str = "{\"DNS\": false}\n";

/// The lines of the `env` block and the `ports` block of a plan's text, trimmed.
fn block(text: &str, head: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(head) {
            inside = true;
            out.push(rest.trim().to_string());
        } else if inside && line.starts_with("                ") {
            out.push(t.to_string());
        } else {
            inside = false;
        }
    }
    out.iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn env_on_the_command_line_wins_and_is_shown_with_its_origin() {
    for args in [
        &["plan:web,instance=one,env=A=cli,env=NEW=x y"][..],
        &[
            "plan",
            "web",
            "--instance",
            "one",
            "--env",
            "A=cli",
            "--env=NEW=x y",
        ][..],
    ] {
        let p = web("env-cli", "{\"DNS\": false, \"A\": \"host.conf\"}\n")
            .env("A", "host env")
            .args(args)
            .stdout_contains("A=cli")
            .run();
        let out = p.dops(args);
        let text = String::from_utf8_lossy(&out.stdout);
        let env = block(&text, "env");
        assert!(env.contains(&"A=cli (command line)".to_string()), "{text}");
        assert!(
            env.contains(&"NEW=x y (command line)".to_string()),
            "{text}"
        );
        assert!(env.contains(&"SERVICE=web (fixed)".to_string()), "{text}");
    }
    // The JSON plan carries the origin as data.
    let p = web("env-json", NO_DNS)
        .args(&["--json", "plan:web,instance=one,env=A=cli"])
        .stdout_contains("\"origin\": \"command_line\"")
        .run();
    let out = p.dops(&["--json", "plan:web,instance=one,env=A=cli"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "run")
        .unwrap();
    let a = run["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "A")
        .unwrap();
    assert_eq!(
        a,
        &serde_json::json!({"name": "A", "value": {"kind": "literal", "value": "cli"}, "origin": "command_line"})
    );
}

#[test]
fn env_on_the_command_line_is_checked() {
    web("env-bad1", NO_DNS)
        .args(&["plan:web,env=A"])
        .stderr("dops: error: invalid value 'A' for 'env': expected KEY=VALUE\n")
        .status(2)
        .run();
    web("env-bad2", NO_DNS)
        .args(&["plan", "web", "--env", "1A=x"])
        .stderr("dops: error: invalid value '1A=x' for 'env': invalid variable name \"1A\" (letters, digits and '_', not starting with a digit)\n")
        .status(2)
        .run();
    web("env-bad3", NO_DNS)
        .args(&["plan", "web", "--env", "INSTANCE=two"])
        .stderr("dops: error: invalid value 'INSTANCE=two' for 'env': INSTANCE is set by dops from the instance's settings (command-line options like --instance-type or --persistent-data change it)\n")
        .status(2)
        .run();
    web("env-bad4", NO_DNS)
        .args(&["plan:web,env=PUBLISH_ON_IP=nowhere"])
        .stderr_contains("dops: error: invalid value 'PUBLISH_ON_IP=nowhere' for 'env': \"nowhere\" is not an IP address\n")
        .status(2)
        .run();
    web("env-bad5", NO_DNS)
        .args(&["plan:web,env=PUBLISH_PORT_80=http"])
        .stderr("dops: error: invalid value 'PUBLISH_PORT_80=http' for 'env': \"http\" is not a host port (a number from 1 to 65535)\n")
        .status(2)
        .run();
    // Other keys still may not repeat.
    web("env-bad6", NO_DNS)
        .args(&["plan:web,instance=one,instance=two"])
        .stderr("dops: error: key 'instance' given twice\n")
        .status(2)
        .run();
}

#[test]
fn publish_port_variables_choose_the_host_ports() {
    // The Dockerfile's ports, on their own numbers.
    let p = web("port-none", NO_DNS)
        .args(&["plan:web"])
        .stdout_contains("ports")
        .run();
    let text = String::from_utf8_lossy(&p.dops(&["plan:web"]).stdout).into_owned();
    assert_eq!(
        block(&text, "ports"),
        [
            "127.0.0.1:53 -> 53/udp",
            "127.0.0.1:80 -> 80/tcp",
            "127.0.0.1:8404 -> 8404/tcp"
        ],
        "{text}"
    );
    // host.conf chooses two; the command line wins over it for one.
    let p = web(
        "port-hc",
        "{\"DNS\": false, \"PUBLISH_PORT_80\": \"18080\", \"PUBLISH_PORT_53_UDP\": \"5353\", \"PUBLISH_PORT_8404\": \"\"}\n",
    )
    .args(&["plan:web"])
    .stdout_contains("PUBLISH_PORT_80=18080")
    .run();
    let text = String::from_utf8_lossy(&p.dops(&["plan:web"]).stdout).into_owned();
    assert_eq!(
        block(&text, "ports"),
        [
            "127.0.0.1:5353 -> 53/udp",
            "127.0.0.1:18080 -> 80/tcp",
            "127.0.0.1:8404 -> 8404/tcp"
        ],
        "{text}"
    );
    let text = String::from_utf8_lossy(
        &p.dops(&["plan:web", "--env", "PUBLISH_PORT_80=28080"])
            .stdout,
    )
    .into_owned();
    assert_eq!(
        block(&text, "ports")[1],
        "127.0.0.1:28080 -> 80/tcp",
        "{text}"
    );
    assert!(
        block(&text, "env").contains(&"PUBLISH_PORT_80=28080 (command line)".to_string()),
        "{text}"
    );
    // A value that is no port, from the host environment (which overrides a defined one).
    web(
        "port-bad",
        "{\"DNS\": false, \"PUBLISH_PORT_80\": \"18080\"}\n",
    )
    .write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\", \"instance_type\": \"published\", \"env_vars\": {\"PUBLISH_PORT_80\": \"18081\"}}]\n",
    )
    .env("PUBLISH_PORT_80", "99999")
    .args(&["plan:web"])
    .stderr("dops: error: web-one: PUBLISH_PORT_80 (from host env): \"99999\" is not a host port (a number from 1 to 65535)\n")
    .status(2)
    .run();
    // Two instances on one host port: the plan's conflict check sees the chosen ports.
    Test::new("port-clash")
        .write("services/web/Dockerfile", DOCKERFILE)
        .write("host.conf", NO_DNS)
        .write(
            "run.conf",
            "[{\"service\": \"web\", \"instance\": \"one\", \"instance_type\": \"published\", \"env_vars\": {\"PUBLISH_PORT_80\": \"18080\", \"PUBLISH_PORT_8404\": \"18404\", \"PUBLISH_PORT_53_UDP\": \"1053\"}},
              {\"service\": \"web\", \"instance\": \"two\", \"instance_type\": \"published\", \"env_vars\": {\"PUBLISH_PORT_80\": \"18080\", \"PUBLISH_PORT_8404\": \"28404\", \"PUBLISH_PORT_53_UDP\": \"2053\"}}]\n",
        )
        .args(&["plan:all"])
        .stdout_contains("run {project}-web-two")
        .stderr("dops: warning: web-two and web-one both publish 127.0.0.1:18080/tcp; the second will fail to start (set \"publish_ports\": false on one, or another host port with PUBLISH_PORT_80)\n")
        .run();
}
