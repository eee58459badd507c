//! A CLI test in the style of casey/just's: write the project's files, give the arguments, state
//! what stdout, stderr and the exit status must be. Everything not stated must be empty (or 0):
//! a test sees every line dops prints.
//!
//! ```ignore
//! Test::new("plan")
//!     .write("run.conf", "[]")
//!     .args(&["plan:all"])
//!     .stdout("plan for project …: nothing to do\n")
//!     .run();
//! ```

use std::ffi::OsString;
use std::process::Output;

use super::TestProject;

pub struct Test {
    pub project: TestProject,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdout: Expect,
    stderr: Expect,
    status: i32,
}

enum Expect {
    Exactly(String),
    Contains(String),
}

impl Expect {
    #[track_caller]
    fn check(&self, what: &str, got: &str, args: &[OsString], out: &Output) {
        let ok = match self {
            Expect::Exactly(e) => got == e,
            Expect::Contains(e) => got.contains(e.as_str()),
        };
        if !ok {
            let (how, e) = match self {
                Expect::Exactly(e) => ("exactly", e),
                Expect::Contains(e) => ("containing", e),
            };
            panic!(
                "dops {args:?}: {what} is not {how}:\n--- expected ---\n{e}\n--- got ---\n{got}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- status: {:?}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                out.status.code()
            );
        }
    }
}

impl Test {
    /// A fresh project folder (its name is unique to the test; see [`TestProject`]).
    pub fn new(tag: &str) -> Test {
        Test {
            project: TestProject::new(tag),
            args: Vec::new(),
            env: Vec::new(),
            stdout: Expect::Exactly(String::new()),
            stderr: Expect::Exactly(String::new()),
            status: 0,
        }
    }

    /// A file of the project (parents created). `{project}` in the content is the project name.
    pub fn write(self, rel: &str, content: &str) -> Test {
        self.project
            .write(rel, &content.replace("{project}", &self.project.name));
        self
    }

    /// The same, raw bytes (content that is not UTF-8 on purpose).
    pub fn write_bytes(self, rel: &str, content: &[u8]) -> Test {
        let path = self.project.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    /// Arguments that need not be UTF-8.
    pub fn args_os(mut self, args: &[OsString]) -> Test {
        self.args.extend(args.iter().cloned());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// stdout must be exactly this (`{project}` is the project name).
    pub fn stdout(mut self, s: &str) -> Test {
        self.stdout = Expect::Exactly(s.replace("{project}", &self.project.name));
        self
    }

    /// stdout must contain this.
    pub fn stdout_contains(mut self, s: &str) -> Test {
        self.stdout = Expect::Contains(s.replace("{project}", &self.project.name));
        self
    }

    /// stderr must be exactly this (`{project}` is the project name).
    pub fn stderr(mut self, s: &str) -> Test {
        self.stderr = Expect::Exactly(s.replace("{project}", &self.project.name));
        self
    }

    /// stderr must contain this.
    pub fn stderr_contains(mut self, s: &str) -> Test {
        self.stderr = Expect::Contains(s.replace("{project}", &self.project.name));
        self
    }

    pub fn status(mut self, code: i32) -> Test {
        self.status = code;
        self
    }

    /// Run dops and check stdout, stderr and the status; the project stays for more checks.
    #[track_caller]
    pub fn run(self) -> TestProject {
        let mut cmd = super::dops_command(&self.project.dir);
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run dops");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        self.stdout.check("stdout", &stdout, &self.args, &out);
        self.stderr.check("stderr", &stderr, &self.args, &out);
        assert_eq!(
            out.status.code(),
            Some(self.status),
            "dops {:?}: exit status\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            self.args
        );
        self.project
    }
}
