//! Issue 13, "Hardening": every bad input of the table gets its exact message and exit code, and
//! nothing panics. `plan` only reads the project (the engine is asked what runs, nothing more);
//! the `clean --purge` rows create labelled containers on the real engine.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use support::{docker, Test};

const DOCKERFILE: &str = "FROM dops-test/busybox\nEXPOSE 80\n";
const NO_DNS: &str = "{\"DNS\": false}\n";

/// A project with one service, `web`, and no DNS.
fn web(tag: &str, run_conf: &str) -> Test {
    Test::new(tag)
        .write("services/web/Dockerfile", DOCKERFILE)
        .write("host.conf", NO_DNS)
        .write("run.conf", run_conf)
}

fn os(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

const PUBLISHED: &str =
    "[{\"service\": \"web\", \"instance\": \"one\", \"publish_ports\": true}]\n";

// --- arguments and the host environment -------------------------------------------------------

#[test]
fn an_argument_that_is_not_utf8() {
    web("h-arg", PUBLISHED)
        .args_os(&[os(b"plan:\xff")])
        .stderr("dops: error: argument \"plan:\u{fffd}\" is not valid UTF-8\n")
        .status(2)
        .run();
    web("h-arg2", PUBLISHED)
        .args_os(&[os(b"plan"), os(b"w\xffb")])
        .stderr("dops: error: argument \"w\u{fffd}b\" is not valid UTF-8\n")
        .status(2)
        .run();
}

#[test]
fn host_variables_that_are_not_utf8_and_not_dops_are_ignored() {
    web("h-env", PUBLISHED)
        .env("WEIRD", os(b"\xff"))
        .env(os(b"N\xffME"), "x")
        .args(&["plan:all"])
        .stdout_contains("run {project}-web-one ({project}/web, type standard)")
        .run();
}

#[test]
fn host_variables_dops_needs_must_be_utf8() {
    web("h-env-own", PUBLISHED)
        .env("DATA_DIR", os(b"/srv/\xff"))
        .args(&["plan:all"])
        .stderr("dops: error: environment variable DATA_DIR is not valid UTF-8: \"/srv/\\xff\"\nhint: set it to UTF-8 text, or unset it\n")
        .status(2)
        .run();
    web("h-env-docker", PUBLISHED)
        .env("DOCKER_HOST", os(b"unix:///\xff"))
        .args(&["ps"])
        .stderr("dops: error: environment variable DOCKER_HOST is not valid UTF-8: \"unix:///\\xff\"\nhint: set it to UTF-8 text, or unset it\n")
        .status(2)
        .run();
    // an instance variable the host environment would override
    web(
        "h-env-inst",
        "[{\"service\": \"web\", \"instance\": \"one\", \"env_vars\": {\"PUBLISH_ON_IP\": \"\"}}]\n",
    )
    .env("PUBLISH_ON_IP", os(b"\xff"))
    .args(&["plan:all"])
    .stderr("dops: error: web-one: PUBLISH_ON_IP from the host environment is not valid UTF-8\nhint: set it to UTF-8 text, or unset it\n")
    .status(2)
    .run();
}

// --- where ports are published ----------------------------------------------------------------

const HINT_IP: &str = "hint: an address of this host (127.0.0.1, or 0.0.0.0 for every interface), or from_<interface> (e.g. from_eth0)";

#[test]
fn publish_on_ip_not_an_address_in_run_conf() {
    web(
        "h-ip-rc",
        "[{\"service\": \"web\", \"instance\": \"one\", \"publish_ports\": true,\n  \"env_vars\": {\"PUBLISH_ON_IP\": \"not-an-ip\"}}]\n",
    )
    .args(&["plan:all"])
    .stderr(&format!("dops: error: run.conf: line 2, col 33: [0].env_vars.PUBLISH_ON_IP: \"not-an-ip\" is not an IP address\n{HINT_IP}\n"))
    .status(2)
    .run();
}

#[test]
fn service_ip_not_an_address_in_host_conf_or_the_host_environment() {
    Test::new("h-ip-hc")
        .write("services/web/Dockerfile", DOCKERFILE)
        .write("host.conf", "{\"DNS\": false,\n \"SERVICE_IP\": \"10.0.0.300\"}\n")
        .write("run.conf", PUBLISHED)
        .args(&["plan:all"])
        .stderr(&format!("dops: error: host.conf: line 2, col 16: SERVICE_IP: \"10.0.0.300\" is not an IP address\n{HINT_IP}\n"))
        .status(2)
        .run();
    web(
        "h-ip-env",
        "[{\"service\": \"web\", \"instance\": \"one\", \"publish_ports\": true, \"env_vars\": {\"SERVICE_IP\": \"\"}}]\n",
    )
    .env("SERVICE_IP", "not-an-ip")
    .args(&["plan:all"])
    .stderr(&format!("dops: error: web-one: SERVICE_IP (from host env): \"not-an-ip\" is not an IP address\n{HINT_IP}\n"))
    .status(2)
    .run();
}

#[test]
fn from_an_unknown_interface() {
    web(
        "h-ip-iface",
        "[{\"service\": \"web\", \"instance\": \"one\", \"env_vars\": {\"PUBLISH_ON_IP\": \"from_nosuch0\"}}]\n",
    )
    .args(&["plan:all"])
    .stderr_contains("dops: error: web-one: PUBLISH_ON_IP=from_nosuch0 (from run.conf): no host interface 'nosuch0' with an IPv4 address (found: ")
    .status(2)
    .run();
}

#[test]
fn an_explicit_address_is_used_as_given() {
    web(
        "h-ip-ok",
        "[{\"service\": \"web\", \"instance\": \"one\", \"publish_ports\": true, \"env_vars\": {\"PUBLISH_ON_IP\": \"::1\"}}]\n",
    )
    .args(&["plan:all"])
    .stdout_contains("ports      [::1]:80 -> 80/tcp")
    .run();
}

// --- extra_args -------------------------------------------------------------------------------

#[test]
fn extra_args_docker_does_not_know() {
    web(
        "h-extra",
        "[{\"service\": \"web\", \"instance\": \"one\",\n  \"extra_args\": [\"--init\", \"--frobnicate\"]}]\n",
    )
    .args(&["run:all", "--dry-run"])
    .stderr("dops: error: run.conf: line 2, col 28: [0].extra_args[1]: unknown or unsupported docker run option \"--frobnicate\"\nhint: dops supports --privileged, --init, --read-only, --cap-add=CAP, --cap-drop=CAP, --add-host=HOST:IP, --device=HOST[:CONTAINER[:rwm]], --shm-size=BYTES[k|m|g], -v/--volume=HOST:CONTAINER[:ro|rw]\n")
    .status(2)
    .run();
    web(
        "h-extra2",
        "[{\"service\": \"web\", \"instance\": \"one\", \"extra_args\": \"--cap-add\"}]\n",
    )
    .args(&["plan:all"])
    .stderr("dops: error: run.conf: line 1, col 54: [0].extra_args[0]: --cap-add needs a value\n")
    .status(2)
    .run();
}

// --- Dockerfile ports -------------------------------------------------------------------------

#[test]
fn ports_a_dockerfile_declares_but_dops_cannot_publish_are_warnings() {
    Test::new("h-expose")
        .write(
            "services/web/Dockerfile",
            "FROM dops-test/busybox\nEXPOSE 80 99999\nEXPOSE 0 abc\n# dops: expose 80 as 70000\nEXPOSE 8000-8001/udp\n",
        )
        .write("host.conf", NO_DNS)
        .write("run.conf", PUBLISHED)
        .args(&["plan:all"])
        .stdout_contains("     ports      127.0.0.1:80 -> 80/tcp\n                127.0.0.1:8000 -> 8000/udp\n                127.0.0.1:8001 -> 8001/udp\n")
        .stderr("dops: warning: services/web/Dockerfile:2: EXPOSE 99999: port 99999 is out of range (1 to 65535); not published\n\
                 dops: warning: services/web/Dockerfile:3: EXPOSE 0: port 0 is out of range (1 to 65535); not published\n\
                 dops: warning: services/web/Dockerfile:3: EXPOSE abc: \"abc\" is not a port number; not published\n\
                 dops: warning: services/web/Dockerfile:4: # dops: expose 80 as 70000: host port 70000 is out of range (1 to 65535); not published\n")
        .run();
}

// --- the files: size and encoding -------------------------------------------------------------

#[test]
fn files_over_the_size_limit() {
    let t = web("h-big", PUBLISHED);
    std::fs::File::create(t.project.path("run.conf"))
        .unwrap()
        .set_len(21 * 1024 * 1024)
        .unwrap();
    t.args(&["plan:all"])
        .stderr("dops: error: run.conf is 22020096 bytes (21.0 MiB): over the 4 MiB limit of a dops configuration file\n")
        .status(2)
        .run();
    let t = web("h-big-df", PUBLISHED);
    std::fs::File::create(t.project.path("services/web/Dockerfile"))
        .unwrap()
        .set_len(4 * 1024 * 1024 + 1)
        .unwrap();
    t.args(&["plan:all"])
        .stderr("dops: error: services/web/Dockerfile is 4194305 bytes (4.0 MiB): over the 4 MiB limit of a dops configuration file\n")
        .status(2)
        .run();
}

const UTF8_HINT: &str =
    "hint: dops files are UTF-8 text; convert it (e.g. iconv -f latin1 -t utf-8)";

#[test]
fn invalid_utf8_in_the_files() {
    web("h-utf8-rc", "")
        .write_bytes(
            "run.conf",
            b"[{\"service\": \"web\",\n  \"env_vars\": {\"A\": \"caf\xe9\"}}]\n",
        )
        .args(&["plan:all"])
        .stderr(&format!("dops: error: run.conf: line 2, col 25: invalid UTF-8 at byte 44 (\"\\xe9\")\n{UTF8_HINT}\n"))
        .status(2)
        .run();
    web("h-utf8-hc", PUBLISHED)
        .write_bytes("host.conf", b"{\"DNS\": false, \"A\": \"\xff\"}\n")
        .args(&["plan:all"])
        .stderr(&format!("dops: error: host.conf: line 1, col 22: invalid UTF-8 at byte 21 (\"\\xff\")\n{UTF8_HINT}\n"))
        .status(2)
        .run();
    web("h-utf8-df", PUBLISHED)
        .write_bytes("services/web/Dockerfile", b"FROM x\nLABEL a=\xc3\n")
        .args(&["plan:all"])
        .stderr(&format!("dops: error: services/web/Dockerfile: line 2, col 9: invalid UTF-8 at byte 15 (\"\\xc3\")\n{UTF8_HINT}\n"))
        .status(2)
        .run();
    web("h-utf8-req", PUBLISHED)
        .write_bytes("services/web/required_env_vars.json", b"[\"\xfe\"]")
        .args(&["plan:all"])
        .stderr(&format!("dops: error: services/web/required_env_vars.json: line 1, col 3: invalid UTF-8 at byte 2 (\"\\xfe\")\n{UTF8_HINT}\n"))
        .status(2)
        .run();
}

// --- DNS_ZONE ---------------------------------------------------------------------------------

#[test]
fn a_dns_zone_that_is_not_a_dns_name() {
    Test::new("h-zone-hc")
        .write("services/web/Dockerfile", DOCKERFILE)
        .write("host.conf", "{\"DNS_ZONE\": \"bad zone!!\"}\n")
        .write("run.conf", PUBLISHED)
        .args(&["plan:all"])
        .stderr("dops: error: host.conf: line 1, col 14: DNS_ZONE: \"bad zone!!\" is not a valid DNS zone: ' ' is not allowed (letters, digits, '-' and dots between labels)\n")
        .status(2)
        .run();
    web(
        "h-zone-rc",
        "[{\"service\": \"web\", \"env_vars\": {\"DNS_ZONE\": \"a..b\"}}]\n",
    )
    .args(&["plan:all"])
    .stderr("dops: error: run.conf: line 1, col 46: [0].env_vars.DNS_ZONE: \"a..b\" is not a valid DNS zone: it has an empty label (two dots in a row, or a leading dot)\n")
    .status(2)
    .run();
}

// --- clean --purge (real engine: labelled containers) -----------------------------------------

/// A container of the project, created (never started) with these service and instance labels.
fn labelled_container(project: &str, name: &str, service: &str, instance: &str) {
    let out = docker(&[
        "create",
        "--name",
        name,
        "--label",
        &format!("io.dops.project={project}"),
        "--label",
        &format!("io.dops.service={service}"),
        "--label",
        &format!("io.dops.instance={instance}"),
        "--label",
        "io.dops.instance_type=standard",
        "dops-test/busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
}

#[test]
fn purge_refuses_a_folder_named_by_labels_outside_the_data_folder() {
    let t = web("h-purge-label", "[]\n");
    let name = t.project.name.clone();
    labelled_container(&name, &format!("{name}-evil"), "web", "../../../../etc");
    let t = t
        .args(&["clean:all", "--purge", "--yes", "--orphans"])
        .stderr(&format!("dops: error: refusing to purge the data of {name}-evil: its instance label must start with a letter or digit, found \"../../../../etc\"; nothing was deleted\n"))
        .status(2);
    let p = t.run();
    // refused at plan time: nothing was done, the container is still there
    assert!(docker(&["inspect", &format!("{name}-evil")])
        .status
        .success());
    drop(p);
}

#[test]
fn purge_refuses_a_symbolic_link_out_of_the_data_folder() {
    let t = web("h-purge-link", "[]\n");
    let name = t.project.name.clone();
    labelled_container(&name, &format!("{name}-web-one"), "web", "one");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious"), "keep me").unwrap();
    std::fs::create_dir_all(t.project.path("data")).unwrap();
    std::os::unix::fs::symlink(outside.path(), t.project.path("data/web-one")).unwrap();
    let data = t.project.path("data");
    let t = t
        .args(&["clean:all", "--purge", "--yes"])
        .stdout("")
        .stderr(&format!(
            "dops: error: refusing to delete {}/web-one: it is a symbolic link (only folders of the data folder {} are purged); nothing was deleted\n",
            data.display(),
            data.display()
        ))
        .status(1);
    let _p = t.run();
    // checked before anything was done: the container is still there
    assert!(docker(&["inspect", &format!("{name}-web-one")])
        .status
        .success());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("precious")).unwrap(),
        "keep me"
    );
}

// --- dops-init's own environment --------------------------------------------------------------

#[test]
fn dops_init_refuses_its_variables_when_not_utf8() {
    let root = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::test_init())
        .args(["--", "true"])
        .env("DOPS_INIT_ROOT", root.path())
        .env("CFG", os(b"{\"a\": \"\xff\"}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        support::stderr(&out),
        "dops-init: environment variable CFG is not valid UTF-8: \"{\\\"a\\\": \\\"\\xff\\\"}\"\nhint: set it to UTF-8 text, or unset it\n"
    );
    // a variable that is not its own is none of its business
    let out = std::process::Command::new(support::test_init())
        .args(["--", "true"])
        .env("DOPS_INIT_ROOT", root.path())
        .env("WEIRD", os(b"\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
}
