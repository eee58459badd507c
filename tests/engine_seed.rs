//! Real-engine tests of seeding persistent folders (issue 13): the image's `/data` arrives on the
//! host with its hard links, symbolic links, modes and owners; a seeding that fails leaves no
//! marker and no partial content, says what failed, and the next run tries again.

mod engine_support;
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use engine_support::engine_project;
use support::{stderr, TestProject};

const RUN_CONF: &str =
    "[{\"service\": \"db\", \"instance\": \"one\", \"instance_type\": \"persistent\"}]\n";

fn db_service(p: &TestProject, run: &str) {
    p.write(
        "services/db/Dockerfile",
        &format!("FROM dops-test/busybox\nRUN {run}\nCMD [\"sleep\",\"3600\"]\n"),
    );
}

/// What sits beside the instance's persistent folders: markers and folders, no leftovers.
fn beside(p: &TestProject) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("data/db-one"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn is_empty_or_missing(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut rd| rd.next().is_none())
}

#[test]
fn seeding_keeps_hard_links_symlinks_modes_and_owners() {
    let p = engine_project("seed-keep");
    db_service(
        &p,
        "mkdir -p /data/sub && echo hello > /data/a && ln /data/a /data/b && ln -s a /data/sym \
         && echo secret > /data/secret && chown 1234:1234 /data/secret && chmod 0640 /data/secret \
         && chown 1234:1234 /data/sub && chmod 0750 /data/sub && echo deep > /data/sub/f",
    );
    p.write("run.conf", RUN_CONF);
    p.dops_ok(&["run:all"]);
    let data = p.path("data/db-one/data");
    let a = std::fs::metadata(data.join("a")).unwrap();
    let b = std::fs::metadata(data.join("b")).unwrap();
    assert_eq!(a.ino(), b.ino(), "b is still a hard link to a");
    assert_eq!(a.nlink(), 2);
    assert_eq!(std::fs::read_to_string(data.join("b")).unwrap(), "hello\n");
    assert_eq!(
        std::fs::read_link(data.join("sym")).unwrap(),
        Path::new("a"),
        "the symbolic link is kept as a link"
    );
    let secret = std::fs::metadata(data.join("secret")).unwrap();
    assert_eq!(secret.mode() & 0o7777, 0o640);
    assert_eq!((secret.uid(), secret.gid()), (1234, 1234));
    let sub = std::fs::metadata(data.join("sub")).unwrap();
    assert_eq!(sub.mode() & 0o7777, 0o750);
    assert_eq!((sub.uid(), sub.gid()), (1234, 1234));
    assert_eq!(
        std::fs::read_to_string(data.join("sub/f")).unwrap(),
        "deep\n"
    );
    // the markers, the folders, and nothing else (no temporary folder left)
    assert_eq!(
        beside(&p),
        vec![".data.dops-seeded", ".log.dops-seeded", "data", "log"]
    );
}

#[test]
fn a_seeding_failure_leaves_no_marker_and_the_next_run_retries() {
    let p = engine_project("seed-fail");
    // An entry that cannot be created: a path that Docker stores in the image (3805 bytes, under
    // its ~95-byte layer folder) but that is over PATH_MAX (4096) on the host once under a data
    // folder ~400 bytes deep and the temporary folder.
    let deep = format!("deep/{}/{}", "y".repeat(200), "z".repeat(200));
    p.write(
        "host.conf",
        &format!("{{\"DNS\": false, \"DATA_DIR\": \"{deep}\"}}\n"),
    );
    db_service(
        &p,
        "d=/data; x=$(printf '%0252d' 0); for i in $(seq 15); do d=$d/$x; done; \
         mkdir -p $d && echo far > $d/f && echo near > /data/near && test -f $d/f",
    );
    p.write("run.conf", RUN_CONF);
    let instance = p.path(&format!("{deep}/db-one"));
    let data = instance.join("data");
    let beside = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&instance)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    for attempt in 1..=2 {
        let out = p.dops(&["run:all"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "attempt {attempt}: {err}");
        assert!(
            err.contains(&format!(
                "seeding {} from {}/db:/data failed: cannot create data/0",
                data.display(),
                p.name
            )),
            "attempt {attempt}: {err}"
        );
        assert!(err.contains("File name too long"), "{err}");
        assert!(
            err.contains("hint: nothing was marked as seeded: the next run tries again"),
            "{err}"
        );
        // no marker, no partial content, no temporary folder
        assert!(is_empty_or_missing(&data), "attempt {attempt}");
        assert!(
            !beside().iter().any(|n| n.contains("dops-seed")),
            "attempt {attempt}: {:?}",
            beside()
        );
    }
    // The image fixed: the next run seeds.
    db_service(&p, "mkdir -p /data && echo near > /data/near");
    p.dops_ok(&["build:db"]);
    p.dops_ok(&["run:all"]);
    assert_eq!(
        std::fs::read_to_string(data.join("near")).unwrap(),
        "near\n"
    );
    assert!(instance.join(".data.dops-seeded").exists());
}
