//! Issue 14: `dops completions bash|zsh|fish` completes verbs, options, and the project's own
//! services, instances and groups (through the hidden `dops __complete`). The bash script is run
//! by a real bash, as the shell calls it; zsh and fish scripts are checked by their shells when
//! they are installed.

mod support;

use std::process::Command;

use support::Test;

const RUN_CONF: &str = r#"[
  {"service": "web", "instance": "one", "group": "front"},
  {"service": "web", "instance": "two"},
  {"service": "db", "instance": "master"}
]
"#;

fn project(tag: &str) -> Test {
    Test::new(tag)
        .write("services/web/Dockerfile", "FROM dops-test/busybox\n")
        .write("services/db/Dockerfile", "FROM dops-test/busybox\n")
        .write("host.conf", "{\"DNS\": false}\n")
        .write("run.conf", RUN_CONF)
}

#[test]
fn the_helper_answers_names_or_nothing() {
    project("cmp-names")
        .args(&["__complete", "--", "dops", "run", ""])
        .stdout("db\nweb\nall\ngroup=front\n")
        .run();
    project("cmp-inst")
        .args(&["__complete", "--", "dops", "logs", "web", "--instance", ""])
        .stdout("one\ntwo\n")
        .run();
    project("cmp-dockerops")
        .args(&["__complete", "--", "dops", "clean:web,instance="])
        .stdout("clean:web,instance=one\nclean:web,instance=two\n")
        .run();
    // Not a name: nothing, exit 1 (the generated completion takes over).
    project("cmp-verb")
        .args(&["__complete", "--", "dops", "ru"])
        .status(1)
        .run();
    // The project the command line names, from anywhere.
    let p = project("cmp-proj")
        .args(&["plan:all"])
        .stdout_contains("plan")
        .run();
    let dir = p.dir.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_dops"))
        .args(["__complete", "--", "dops", "--project", &dir, "shell", ""])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "db\nweb\n");
    // A project that does not load still offers its service folders.
    Test::new("cmp-broken")
        .write("services/api/Dockerfile", "FROM x\n")
        .write("run.conf", "[ not json")
        .args(&["__complete", "--", "dops", "build", ""])
        .stdout("api\nall\n")
        .run();
}

#[test]
fn scripts_for_three_shells_and_no_other() {
    for shell in ["bash", "zsh", "fish"] {
        let p = project("cmp-script")
            .args(&["completions", shell])
            .stdout_contains("__complete")
            .run();
        let out = p.dops(&["completions", shell]);
        let script = String::from_utf8_lossy(&out.stdout).into_owned();
        // The generated part knows every verb.
        for verb in [
            "build",
            "install_demo",
            "import",
            "completions",
            "events",
            "ui",
        ] {
            assert!(script.contains(verb), "{shell}: {verb}");
        }
        // The shell itself reads it, where it is installed.
        let file = p.dir.join(format!("dops.{shell}"));
        std::fs::write(&file, &script).unwrap();
        if let Ok(check) = Command::new(shell).arg("-n").arg(&file).output() {
            assert!(check.status.success(), "{shell} -n: {check:?}");
        }
    }
    project("cmp-bad")
        .args(&["completions", "powershell"])
        .stderr("dops: error: invalid value 'powershell' for 'shell': expected one of bash, zsh, fish\n")
        .status(2)
        .run();
}

/// The bash script as bash runs it: COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD set, the
/// function `complete -F` names called, COMPREPLY printed.
#[test]
fn bash_completes_verbs_options_and_names() {
    let p = project("cmp-bash")
        .args(&["completions", "bash"])
        .stdout_contains("complete -F _dops_complete_names")
        .run();
    let script = p.dir.join("dops.bash");
    std::fs::write(&script, &p.dops(&["completions", "bash"]).stdout).unwrap();
    let driver = format!(
        r#"source {script}
fn=$(complete -p dops | sed -n 's/.*-F \([^ ]*\).*/\1/p')
t() {{
    COMP_LINE="$1"; COMP_POINT=${{#1}}
    # bash splits the words at COMP_WORDBREAKS too (run:web → run : web)
    local split="${{1//:/ : }}"; split="${{split//=/ = }}"
    read -r -a COMP_WORDS <<< "$split"
    [[ "$1" =~ [[:space:]]$ ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMPREPLY=()
    $fn dops "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    echo "$1|${{COMPREPLY[*]}}"
}}
t "dops r"
t "dops run --wa"
t "dops run "
t "dops run w"
t "dops clean web --instance "
t "dops run:w"
t "dops run:web,instance=t"
"#,
        script = script.display()
    );
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_dops"))
        .parent()
        .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&driver)
        .current_dir(&p.dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "dops r|run rerun
dops run --wa|--wait
dops run |db web all group=front
dops run w|web
dops clean web --instance |one two
dops run:w|web
dops run:web,instance=t|two
"
    );
}
