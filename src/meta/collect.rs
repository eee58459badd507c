//! What a build knows about itself when it happens: the clock, the host, the git state of the
//! project folder and the cause. The only part of `meta` that reads the world.

use std::path::Path;
use std::process::Command;

use time::OffsetDateTime;

use super::methods::Methods;
use super::model::{default_tag, rfc3339, BuildMeta, GitInfo, SCHEMA};

impl GitInfo {
    /// Ask the host's `git` about `dir`. None when git is absent or `dir` is not in a checkout
    /// (or a checkout without commits).
    pub fn of_dir(dir: &Path) -> Option<GitInfo> {
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .env("GIT_OPTIONAL_LOCKS", "0")
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let commit = git(&["rev-parse", "--verify", "HEAD"])?;
        if commit.is_empty() {
            return None;
        }
        // `.dops/` is dops's own run-time folder (state, keys, locks), never part of a build.
        let dirty = git(&["status", "--porcelain", "--", ".", ":(exclude).dops"])
            .map(|s| !s.is_empty())
            .unwrap_or(true);
        let source = git(&["config", "--get", "remote.origin.url"]).filter(|s| !s.is_empty());
        let describe =
            git(&["describe", "--tags", "--always", "--dirty"]).filter(|s| !s.is_empty());
        Some(GitInfo {
            commit,
            dirty,
            source,
            describe,
        })
    }
}

/// Why an image was built: `manual`, `ci` (the `CI` environment variable is set), or what the
/// user passed with `--cause`.
pub fn resolve_cause(explicit: Option<&str>, ci_env: Option<&str>) -> (String, bool) {
    let ci = ci_env
        .map(|v| {
            let v = v.trim();
            !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
        })
        .unwrap_or(false);
    let cause = match explicit.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if ci => "ci".to_string(),
        None => "manual".to_string(),
    };
    (cause, ci)
}

impl BuildMeta {
    /// Gather the metadata of a build happening now: clock, host name, git state of
    /// `project_dir`, the cause (`explicit`, else `ci` when `CI` is set, else `manual`).
    /// Tags default to `<image>:latest`; set others with [`BuildMeta::with_tags`]. Call
    /// [`BuildMeta::with_base_labels`] with the base image's labels to record the ancestry.
    pub fn collect(
        project_dir: &Path,
        project: &str,
        service: &str,
        image: &str,
        base_image: Option<&str>,
        cause: Option<&str>,
        methods: Methods,
    ) -> BuildMeta {
        let now = OffsetDateTime::now_utc();
        let ci_env = std::env::var("CI").ok();
        let (cause, ci) = resolve_cause(cause, ci_env.as_deref());
        let host = nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        BuildMeta {
            schema: SCHEMA,
            level: 0,
            project: project.to_string(),
            service: service.to_string(),
            image: image.to_string(),
            tags: vec![default_tag(image)],
            build_time: rfc3339(now),
            build_time_epoch: now.unix_timestamp(),
            build_host: host,
            git: GitInfo::of_dir(project_dir),
            cause,
            ci,
            dops_version: env!("CARGO_PKG_VERSION").to_string(),
            base_image: base_image.map(str::to_string),
            methods,
            entrypoints: Vec::new(),
            ancestors: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    #[test]
    fn cause_from_flag_ci_env_or_manual() {
        assert_eq!(resolve_cause(None, None), ("manual".to_string(), false));
        assert_eq!(resolve_cause(None, Some("true")), ("ci".to_string(), true));
        assert_eq!(resolve_cause(None, Some("1")), ("ci".to_string(), true));
        assert_eq!(resolve_cause(None, Some("")), ("manual".to_string(), false));
        assert_eq!(
            resolve_cause(None, Some("false")),
            ("manual".to_string(), false)
        );
        assert_eq!(
            resolve_cause(Some("nightly"), Some("true")),
            ("nightly".to_string(), true)
        );
        assert_eq!(
            resolve_cause(Some("hotfix"), None),
            ("hotfix".to_string(), false)
        );
    }

    #[test]
    fn git_info_of_a_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(GitInfo::of_dir(dir), None, "not a checkout");
        git(dir, &["init", "-q"]);
        assert_eq!(GitInfo::of_dir(dir), None, "no commit yet");
        std::fs::write(dir.join("run.conf"), "{}").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-q", "-m", "one"]);
        git(
            dir,
            &["remote", "add", "origin", "https://git.example/p.git"],
        );
        let head = {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["rev-parse", "HEAD"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let info = GitInfo::of_dir(dir).unwrap();
        assert_eq!(info.commit, head);
        assert_eq!(info.commit.len(), 40);
        assert!(!info.dirty);
        assert_eq!(info.source.as_deref(), Some("https://git.example/p.git"));
        std::fs::create_dir_all(dir.join(".dops/run")).unwrap();
        std::fs::write(dir.join(".dops/run/state.json"), "{}").unwrap();
        assert!(
            !GitInfo::of_dir(dir).unwrap().dirty,
            ".dops/ does not count"
        );
        std::fs::write(dir.join("run.conf"), "{\"changed\": 1}").unwrap();
        let info = GitInfo::of_dir(dir).unwrap();
        assert!(info.dirty);
        assert!(info.describe.unwrap().ends_with("-dirty"));
        // collect() records it.
        let m = BuildMeta::collect(
            dir,
            "p",
            "web",
            "p/web",
            Some("debian:12"),
            None,
            Methods::default(),
        );
        assert_eq!(m.git.as_ref().unwrap().commit, head);
        assert_eq!(m.tags, ["p/web:latest"]);
        assert_eq!(m.level, 0);
        assert!(m.build_time.ends_with('Z'));
        let parsed = OffsetDateTime::parse(&m.build_time, &Rfc3339).unwrap();
        assert_eq!(parsed.unix_timestamp(), m.build_time_epoch);
        assert_eq!(m.dops_version, env!("CARGO_PKG_VERSION"));
    }
}
