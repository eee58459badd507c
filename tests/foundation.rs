//! The foundation's promises: both binaries are static executables, and dops-init runs as PID 1
//! in an image that has nothing else (`FROM scratch`), injected by the real `dops build`.

mod support;

use std::time::{Duration, Instant};

use support::{docker, stdout, TestProject};

/// An ELF file with no program interpreter (PT_INTERP) and of type EXEC is a plain static
/// executable: what `file` calls "statically linked".
fn elf_is_static_exec(path: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return Err(format!("{path}: not a 64-bit ELF file"));
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let e_type = u16_at(16);
    if e_type != 2 {
        return Err(format!(
            "{path}: ELF type {e_type}, expected 2 (EXEC, not PIE)"
        ));
    }
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    for i in 0..phnum as usize {
        let p_type = u32::from_le_bytes(
            bytes[phoff + i * phentsize..phoff + i * phentsize + 4]
                .try_into()
                .unwrap(),
        );
        if p_type == 3 {
            return Err(format!(
                "{path}: has a program interpreter (dynamically linked)"
            ));
        }
    }
    Ok(())
}

#[test]
fn both_binaries_are_static_executables() {
    elf_is_static_exec(env!("CARGO_BIN_EXE_dops")).unwrap();
    elf_is_static_exec(env!("CARGO_BIN_EXE_dops-init")).unwrap();
}

#[test]
fn dops_init_runs_as_pid_1_in_a_from_scratch_image() {
    let p = TestProject::new("scratch");
    p.write("host.conf", "{\"DNS\": false}\n")
        // A one-shot program: declared so, or the engine would run it again and again.
        .write(
            "run.conf",
            r#"[{"service": "bare", "instance": "one", "restart": "no"}]"#,
        )
        // Nothing in the image but what dops injects: the main program is dops-init itself.
        .write(
            "services/bare/Dockerfile",
            "FROM scratch\nCMD [\"/dops/bin/dops-init\", \"--version\"]\n",
        );
    p.dops_ok(&["build:bare"]);
    p.dops_ok(&["run:bare,instance=one"]);
    let name = p.container("bare", "one");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = stdout(&docker(&[
            "inspect",
            "--format",
            "{{.State.Status}}",
            &name,
        ]));
        if state.trim() == "exited" {
            break;
        }
        assert!(Instant::now() < deadline, "{name} still {state} after 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let code = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &name,
    ]));
    let logs = docker(&["logs", &name]);
    let all = format!("{}{}", stdout(&logs), String::from_utf8_lossy(&logs.stderr));
    assert_eq!(code.trim(), "0", "exit code of {name}; logs:\n{all}");
    assert!(
        all.contains("dops-init 0.1.0"),
        "the main program ran; logs:\n{all}"
    );
    let entry = stdout(&docker(&[
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}}",
        &name,
    ]));
    assert_eq!(entry.trim(), r#"["/dops/bin/dops-init"]"#);
}
