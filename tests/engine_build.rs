//! Real-engine tests of `dops build`: parent-first order with one init along a FROM chain,
//! failure reporting that keeps the previous image, `.dockerignore`, `--no-cache`, labels.

mod engine_support;
mod support;

use engine_support::{engine_project, inspect};
use support::{docker, stderr, stdout};

const INIT: &str = "[\"/dops/bin/dops-init\"]";

#[test]
fn a_child_builds_after_its_parent_with_one_init_and_the_right_main_program() {
    let p = engine_project("build-chain");
    p.write(
        "services/base/Dockerfile",
        "FROM dops-test/busybox\nRUN echo base > /base.txt\nCMD [\"sleep\",\"3600\"]\n",
    );
    p.write(
        "services/app/Dockerfile",
        &format!(
            "FROM {}/base\nCMD [\"sh\",\"-c\",\"cat /base.txt; sleep 3600\"]\n",
            p.name
        ),
    );
    p.write(
        "services/plain/Dockerfile",
        &format!("FROM {}/base\nRUN echo plain > /plain.txt\n", p.name),
    );
    let out = p.dops_ok(&["build:app"]);
    let err = stderr(&out);
    let base_at = err.find("built base").expect("base built");
    let app_at = err.find("built app").expect("app built");
    assert!(base_at < app_at, "parents first:\n{err}");

    let base = format!("{}/base", p.name);
    let app = format!("{}/app", p.name);
    assert_eq!(inspect("{{json .Config.Entrypoint}}", &base), INIT);
    assert_eq!(
        inspect("{{json .Config.Cmd}}", &base),
        "[\"sleep\",\"3600\"]"
    );
    // The child's own CMD is its main program: no second init in front of it.
    assert_eq!(inspect("{{json .Config.Entrypoint}}", &app), INIT);
    assert_eq!(
        inspect("{{json .Config.Cmd}}", &app),
        "[\"sh\",\"-c\",\"cat /base.txt; sleep 3600\"]"
    );
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.project\"}}", &app),
        p.name
    );
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.service\"}}", &app),
        "app"
    );
    assert!(inspect("{{json .Config.Healthcheck}}", &app).contains("health"));

    // A child without its own CMD keeps the parent's main program.
    p.dops_ok(&["build:plain"]);
    let plain = format!("{}/plain", p.name);
    assert_eq!(inspect("{{json .Config.Entrypoint}}", &plain), INIT);
    assert_eq!(
        inspect("{{json .Config.Cmd}}", &plain),
        "[\"sleep\",\"3600\"]"
    );

    // And it runs: the init runs the main program.
    p.write(
        "run.conf",
        "[{\"service\": \"app\", \"instance\": \"one\"}]\n",
    );
    p.dops_ok(&["run:app"]);
    let ps1 = stdout(&docker(&["exec", &p.container("app", "one"), "ps"]));
    assert!(ps1.contains("sleep 3600"), "{ps1}");
}

#[test]
fn a_failed_build_names_the_dockerfile_line_and_keeps_the_previous_image() {
    let p = engine_project("build-fail");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"3600\"]\n",
    );
    p.dops_ok(&["build:web"]);
    let image = format!("{}/web", p.name);
    let before = inspect("{{.Id}}", &image);
    assert!(before.starts_with("sha256:"));

    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\n# a comment\nRUN echo fine\nRUN echo about to fail \\\n && echo step-output-here && exit 3\nCMD [\"sleep\",\"3600\"]\n",
    );
    let out = p.dops(&["build:web"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("build of web failed"), "{err}");
    assert!(
        err.contains("Dockerfile:4: RUN echo about to fail"),
        "{err}"
    );
    assert!(
        err.contains("step-output-here"),
        "the step's output is shown:\n{err}"
    );
    assert_eq!(inspect("{{.Id}}", &image), before, "previous image intact");
}

#[test]
fn dockerignore_exceptions_and_no_cache() {
    let p = engine_project("build-ignore");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCOPY . /ctx\nRUN date +%s%N > /stamp\nCMD [\"sleep\",\"3600\"]\n",
    );
    p.write(
        "services/web/.dockerignore",
        "# comment\nsecret.txt\n*.log\n!keep.log\ncache\n!cache/wanted\n",
    );
    p.write("services/web/app.txt", "app");
    p.write("services/web/secret.txt", "secret");
    p.write("services/web/debug.log", "x");
    p.write("services/web/keep.log", "kept");
    p.write("services/web/cache/junk", "x");
    p.write("services/web/cache/wanted", "y");
    p.write(
        "services/web/sub/deep.log",
        "deep logs are not matched by *.log",
    );
    p.dops_ok(&["build:web"]);
    let image = format!("{}/web", p.name);
    let ls = stdout(&docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "find",
        &image,
        "/ctx",
    ]));
    let mut files: Vec<&str> = ls.lines().collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "/ctx",
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/app.txt",
            "/ctx/cache",
            "/ctx/cache/wanted",
            "/ctx/keep.log",
            "/ctx/sub",
            "/ctx/sub/deep.log",
        ]
    );

    // Unchanged: Docker's cache gives the same image; --no-cache builds a new one.
    let first = inspect("{{.Id}}", &image);
    p.dops_ok(&["build:web"]);
    assert_eq!(inspect("{{.Id}}", &image), first);
    p.dops_ok(&["build:web", "--no-cache"]);
    assert_ne!(inspect("{{.Id}}", &image), first);
}

#[test]
fn build_all_builds_every_service_and_independent_ones_in_parallel() {
    let p = engine_project("build-all");
    for s in ["a", "b", "c"] {
        p.write(
            &format!("services/{s}/Dockerfile"),
            &format!(
                "FROM dops-test/busybox\nRUN echo {s} > /id && sleep 2\nCMD [\"sleep\",\"3600\"]\n"
            ),
        );
    }
    let out = p.dops_ok(&["build:all"]);
    for s in ["a", "b", "c"] {
        assert!(inspect("{{.Id}}", &format!("{}/{s}", p.name)).starts_with("sha256:"));
    }
    // Independent builds overlap: a second one starts before the first one ends.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let first_done = lines.iter().position(|l| l.contains("built ")).unwrap();
    let started_before = lines[..first_done]
        .iter()
        .filter(|l| l.starts_with("building "))
        .count();
    assert!(started_before >= 2, "no parallel builds:\n{err}");
}

#[test]
fn children_of_a_failed_parent_are_skipped_and_v_streams_the_output() {
    let p = engine_project("build-skip");
    p.write(
        "services/base/Dockerfile",
        "FROM dops-test/busybox\nRUN echo streamed-line && exit 1\n",
    );
    p.write(
        "services/kid/Dockerfile",
        &format!("FROM {}/base\nCMD [\"sleep\",\"3600\"]\n", p.name),
    );
    p.write(
        "services/solo/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"3600\"]\n",
    );
    let out = p.dops(&["-v", "build:all"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("[base] Step 2/"), "{err}");
    assert!(err.contains(" : RUN echo streamed-line && exit 1"), "{err}");
    assert!(err.contains("[base] streamed-line"), "{err}");
    assert!(
        err.contains("build of kid skipped: its parent base failed"),
        "{err}"
    );
    assert!(
        err.contains("Dockerfile:2: RUN echo streamed-line"),
        "{err}"
    );
    // The independent service is still built.
    assert!(inspect("{{.Id}}", &format!("{}/solo", p.name)).starts_with("sha256:"));
    assert_eq!(inspect("{{.Id}}", &format!("{}/kid", p.name)), "");
}

/// CI once failed a build with "bytes remaining on stream": the engine's answer had been read in
/// two parts, one ending at a message's `}` and the next starting with its "\r\n". Here every
/// message of every answer is cut that way (`SplitAnswers`, between dops and the real engine):
/// the build must still succeed and tag the image it reports.
#[test]
fn a_build_whose_answers_arrive_cut_before_each_line_end_still_succeeds() {
    let p = engine_project("build-cut");
    p.write(
        "services/cut/Dockerfile",
        "FROM dops-test/busybox\nRUN echo cut > /cut.txt\nCMD [\"sleep\",\"3600\"]\n",
    );
    // A dops-init of its own (the test's, with bytes after its end that nothing reads), so that
    // its carrier image is built through the forwarder too; removed at the end.
    let mut init = std::fs::read(support::test_init()).unwrap();
    init.extend_from_slice(format!("\n{}\n", p.name).as_bytes());
    let init_path = p.path("dops-init");
    std::fs::write(&init_path, &init).unwrap();
    std::fs::set_permissions(
        &init_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let init_image = RemoveImage(dops::engine::inject::init_image_tag(&init));
    let split = support::SplitAnswers::start();
    let out = support::dops_command(&p.dir)
        .env("DOCKER_HOST", split.host())
        .env("DOPS_INIT_BIN", &init_path)
        .args(["build:cut"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(split.cuts() > 0, "the forwarder cut no line end");
    let image = format!("{}/cut", p.name);
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.init_image\"}}", &image),
        init_image.0
    );
    assert_eq!(inspect("{{json .Config.Entrypoint}}", &image), INIT);
    let shown = docker(&["run", "--rm", "--entrypoint", "cat", &image, "/cut.txt"]);
    assert_eq!(stdout(&shown).trim(), "cut", "{shown:?}");
}

/// Removes an image (by reference) when dropped, even when the test failed.
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", "--no-prune", &self.0]);
    }
}
