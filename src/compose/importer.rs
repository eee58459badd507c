//! The import itself (pure: files are read through [`Source`], nothing is written): the Compose
//! model → the dops project's files, the build contexts to copy, and the findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use super::dockerfile_gen::{
    buildkit_only, cut_at_stage, exec_form, qualify_hub_images, quoted, rewrite_froms,
    set_arg_defaults,
};
use super::dotenv;
use super::health;
use super::model::{self, Compose, Condition, FileSource, MountSource, Service};
use super::reader::Reader;
use super::report::{ComposeError, Finding};
use super::yaml::{self, Pos};
use crate::dockerfile::Protocol;
use crate::dockerignore::Ignore;
use crate::project::env::FIXED;
use crate::project::policies::RestartPolicy;
use crate::project::runconf::{check_env_name, check_name};
use crate::project::DNS_SERVICE;

/// The files the importer may read (the Compose file's folder, build contexts, env files).
pub trait Source {
    fn read(&self, path: &Path) -> std::io::Result<String>;
    fn is_file(&self, path: &Path) -> bool;
    fn is_dir(&self, path: &Path) -> bool;
}

/// What to import.
pub struct Input<'a> {
    /// The Compose file (absolute).
    pub file: &'a Path,
    pub text: &'a str,
    /// The environment (it wins over `.env`, as in Compose).
    pub env: &'a BTreeMap<String, String>,
    /// The project folder to make (absolute); None: beside the Compose file, named after the
    /// Compose project.
    pub into: Option<&'a Path>,
    pub source: &'a dyn Source,
}

/// A file of the new project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutFile {
    /// Relative to the project folder.
    pub path: String,
    pub content: String,
    pub mode: u32,
}

/// A build context to copy into `services/<name>/`, honouring its `.dockerignore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextCopy {
    pub from: PathBuf,
    /// Relative to the project folder.
    pub to: String,
    /// The `.dockerignore` text in force (`<Dockerfile>.dockerignore` or `.dockerignore`).
    pub ignore: String,
    /// Never copied: the new project folder, when it lies inside the context.
    pub skip: Vec<PathBuf>,
}

impl ContextCopy {
    /// The matcher to copy with (the Dockerfile and `.dockerignore` are not copied: the
    /// importer writes both).
    pub fn matcher(&self) -> Ignore {
        let mut ig = Ignore::parse(&self.ignore);
        ig.patterns
            .extend(crate::dockerignore::Pattern::new(".dockerignore"));
        ig
    }
}

/// The result of an import.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// The Compose project name.
    pub compose_project: String,
    /// The new project folder.
    pub dir: PathBuf,
    pub services: Vec<String>,
    pub instances: usize,
    pub files: Vec<OutFile>,
    pub copies: Vec<ContextCopy>,
    pub findings: Vec<Finding>,
}

/// Compose's project name rules: lowercase letters, digits, `-` and `_`, a letter or digit first.
pub fn normalize_project_name(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let s: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    s.trim_start_matches(['-', '_']).to_string()
}

/// Clean `.` and `..` out of an absolute path (no file system access).
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// `to` relative to the folder `from` (both absolute and clean).
fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Where the importer is: the Compose file's folder and how files are named in messages.
struct Ctx<'a> {
    dir: PathBuf,
    into: PathBuf,
    source: &'a dyn Source,
    env: &'a BTreeMap<String, String>,
    dotenv: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned().or_else(|| {
            self.dotenv
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// A path of the Compose file (relative to its folder, `~` = HOME) made absolute.
    fn resolve(&self, p: &str) -> PathBuf {
        if let Some(rest) = p.strip_prefix("~/").or((p == "~").then_some("")) {
            if let Some(home) = self.env.get("HOME") {
                return clean(&Path::new(home).join(rest));
            }
        }
        clean(&self.dir.join(p))
    }

    /// How a file is named in messages: relative to the Compose file's folder.
    fn shown(&self, p: &Path) -> String {
        let r = relative(&self.dir, p);
        if r.starts_with('/') {
            p.display().to_string()
        } else {
            r
        }
    }
}

/// Import a Compose file.
pub fn import(input: &Input) -> Result<Imported, ComposeError> {
    let dir = input
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let file_name = input
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compose.yaml".into());

    // .env beside the file: the environment wins over it.
    let env_path = dir.join(".env");
    let dotenv_vars = if input.source.is_file(&env_path) {
        let text = input
            .source
            .read(&env_path)
            .map_err(|e| ComposeError::Read {
                path: env_path.display().to_string(),
                msg: e.to_string(),
            })?;
        let env = input.env;
        dotenv::parse(&text, &|k: &str| env.get(k).cloned()).map_err(|e| {
            ComposeError::at(
                ".env",
                Pos {
                    line: e.line,
                    col: 1,
                },
                "",
                e.msg,
            )
        })?
    } else {
        Vec::new()
    };
    let mut cx = Ctx {
        dir: dir.clone(),
        into: PathBuf::new(),
        source: input.source,
        env: input.env,
        dotenv: dotenv_vars,
    };

    let root =
        yaml::parse(input.text).map_err(|e| ComposeError::at(&file_name, e.pos, "", e.msg))?;
    let lookup = |k: &str| cx.lookup(k);
    let mut r = Reader::new(&file_name, &lookup);
    let compose = model::read(&mut r, &root)?;
    let mut findings = std::mem::take(&mut r.findings);

    let raw_name = input
        .env
        .get("COMPOSE_PROJECT_NAME")
        .cloned()
        .or_else(|| compose.name.clone())
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let compose_project = normalize_project_name(&raw_name);
    if compose_project.is_empty() {
        return Err(ComposeError::Other(format!(
            "cannot derive a project name from {raw_name:?}: set 'name' in {file_name} or use --into DIR"
        )));
    }
    let into = match input.into {
        Some(p) => clean(p),
        None => dir.join(&compose_project),
    };
    cx.into = into.clone();
    let project = crate::project::name_from_dir(&into).unwrap_or_else(|| compose_project.clone());

    let mut g = Gen {
        cx: &cx,
        file: file_name.clone(),
        compose: &compose,
        project,
        files: Vec::new(),
        copies: Vec::new(),
        findings: Vec::new(),
        entries: Vec::new(),
        healthy: BTreeSet::new(),
        wants_health: Vec::new(),
        dockerfile_health: None,
    };
    g.check_names()?;
    for s in &compose.services {
        g.service(s)?;
    }
    g.networks();
    for (dep, pos, key) in std::mem::take(&mut g.wants_health) {
        if !g.healthy.contains(&dep) {
            g.finding(pos, &key, format!("{dep} has no healthcheck here: \"up\" waits for its lifecycle UP (an image's own HEALTHCHECK is replaced by dops-init's)"));
        }
    }
    let order = g.order()?;
    let run_conf = g.run_conf(&order);
    g.files.push(OutFile {
        path: "run.conf".into(),
        content: run_conf,
        mode: 0o644,
    });
    findings.append(&mut g.findings);
    // in file order: the Compose file first, then the other files
    findings.sort_by(|a, b| {
        (a.file != file_name, &a.file, a.line, a.col).cmp(&(
            b.file != file_name,
            &b.file,
            b.line,
            b.col,
        ))
    });
    let instances = g.entries.len();
    let services = compose
        .services
        .iter()
        .map(|s| dops_name(&s.name))
        .collect();
    Ok(Imported {
        compose_project,
        dir: into,
        services,
        instances,
        files: g.files,
        copies: g.copies,
        findings,
    })
}

/// The dops service name of a Compose service (dops names images: lowercase).
fn dops_name(name: &str) -> String {
    name.to_lowercase()
}

/// One run.conf entry in the making, with where it came from.
struct Entry {
    service: String,
    comment: String,
    deps: Vec<String>,
    json: Map<String, Json>,
}

struct Gen<'a> {
    cx: &'a Ctx<'a>,
    file: String,
    compose: &'a Compose,
    /// The dops project name (the new folder's).
    project: String,
    files: Vec<OutFile>,
    copies: Vec<ContextCopy>,
    findings: Vec<Finding>,
    entries: Vec<Entry>,
    /// Services with a healthcheck (Compose's, or their Dockerfile's).
    healthy: BTreeSet<String>,
    /// `service_healthy` on these: (dependency, position, key), checked once all are read.
    wants_health: Vec<(String, Pos, String)>,
    /// A Dockerfile HEALTHCHECK read by `base_dockerfile`.
    dockerfile_health: Option<model::Health>,
}

impl<'a> Gen<'a> {
    fn finding(&mut self, pos: Pos, key: &str, msg: impl Into<String>) {
        self.findings.push(Finding::new(&self.file, pos, key, msg));
    }

    fn err(&self, pos: Pos, key: &str, msg: impl Into<String>) -> ComposeError {
        ComposeError::at(&self.file, pos, key, msg)
    }

    fn check_names(&self) -> Result<(), ComposeError> {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for s in &self.compose.services {
            let n = dops_name(&s.name);
            let key = format!("services.{}", s.name);
            check_name(&n, true)
                .map_err(|m| self.err(s.pos, &key, format!("not a dops service name: {m}")))?;
            if n == DNS_SERVICE {
                return Err(self.err(
                    s.pos,
                    &key,
                    "dops-dns is the name of dops' own DNS service: rename the service",
                ));
            }
            if let Some(other) = seen.insert(n.clone(), &s.name) {
                return Err(self.err(
                    s.pos,
                    &key,
                    format!(
                        "{} and {other} are both {n} in dops (service names are lowercase)",
                        s.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn service_of(&self, name: &str) -> Option<&'a Service> {
        self.compose.services.iter().find(|s| s.name == name)
    }

    /// The service that builds `image`, when one does.
    fn builder_of(&self, image: &str) -> Option<&'a Service> {
        self.compose
            .services
            .iter()
            .find(|s| s.build.is_some() && s.image.as_ref().is_some_and(|(i, _)| i == image))
    }

    fn service(&mut self, s: &Service) -> Result<(), ComposeError> {
        let name = dops_name(&s.name);
        let base = format!("services.{}", s.name);
        let folder = format!("services/{name}");
        let mut dockerfile = self.base_dockerfile(s, &base, &folder)?;
        let project_images: Vec<String> = self
            .compose
            .services
            .iter()
            .map(|o| format!("{}/{}", self.project, dops_name(&o.name)))
            .collect();
        dockerfile = qualify_hub_images(&dockerfile, &self.project, &project_images);
        let mut extra = String::new();
        let mut gen_files: Vec<(String, String, u32)> = Vec::new();

        // ports → `# dops: expose C as H`; one host IP per instance (PUBLISH_ON_IP)
        let published = !s.ports.is_empty() && !s.nethost;
        let mut publish_ip: Option<String> = None;
        let mut port_lines: Vec<(u16, Protocol, u16)> = Vec::new();
        for p in &s.ports {
            if s.nethost {
                break;
            }
            let host = match p.host {
                Some(h) => h,
                None => {
                    self.finding(p.pos, &p.key, format!("no host port: dops publishes container port {} on the same host port (Compose picks a free one)", p.container));
                    p.container
                }
            };
            if let Some((_, _, h)) = port_lines
                .iter()
                .find(|(c, pr, _)| *c == p.container && *pr == p.protocol)
            {
                self.finding(p.pos, &p.key, format!("not carried over: container port {} is already published on host port {h} (dops publishes a port once)", p.container));
                continue;
            }
            port_lines.push((p.container, p.protocol, host));
            if let Some(ip) = &p.ip {
                match &publish_ip {
                    None => publish_ip = Some(ip.clone()),
                    Some(first) if first != ip => self.finding(p.pos, &p.key, format!("host IP {ip}: dops publishes all ports of an instance on one IP (PUBLISH_ON_IP={first})")),
                    _ => {}
                }
            }
        }
        if s.nethost && !s.ports.is_empty() {
            self.finding(
                s.ports[0].pos,
                &s.ports[0].key,
                "not carried over: with the host's network, ports are not published",
            );
        }
        let mixed = publish_ip.as_deref().is_some_and(|ip| ip != "127.0.0.1");
        if let (Some(ip), true) = (&publish_ip, mixed && s.ports.iter().any(|p| p.ip.is_none())) {
            let p = s
                .ports
                .iter()
                .find(|p| p.ip.is_none())
                .unwrap_or(&s.ports[0]);
            self.finding(p.pos, &p.key, format!("published on {ip} too: dops publishes all ports of an instance on one IP (PUBLISH_ON_IP)"));
        }

        // labels
        let labels: Vec<&(String, String)> = s
            .labels
            .iter()
            .chain(s.build.iter().flat_map(|b| b.labels.iter()))
            .collect();
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{}={}", quoted(k), quoted(v)))
                .collect();
            extra.push_str(&format!("LABEL {}\n", pairs.join(" \\\n      ")));
        }
        if let Some(w) = &s.working_dir {
            extra.push_str(&format!("WORKDIR {w}\n"));
        }
        // expose: metadata only; a published instance would publish them too
        for (p, proto, pos) in &s.expose {
            if published {
                if !port_lines.iter().any(|(c, pr, _)| c == p && pr == proto) {
                    self.finding(*pos, &format!("{base}.expose"), format!("not carried over: port {p}/{} (dops publishes every exposed port of a published instance; it is reachable on the project network all the same)", proto.as_str()));
                }
            } else {
                extra.push_str(&format!("EXPOSE {p}/{}\n", proto.as_str()));
            }
        }
        for (c, proto, h) in &port_lines {
            let spec = match proto {
                Protocol::Tcp => c.to_string(),
                Protocol::Udp => format!("{c}/udp"),
            };
            if c == h {
                extra.push_str(&format!("# dops: expose {spec}\n"));
            } else {
                extra.push_str(&format!("# dops: expose {spec} as {h}\n"));
            }
        }
        if published {
            // Ports the Dockerfile itself exposes are published as well.
            let info = crate::dockerfile::parse(&dockerfile);
            for p in info.ports {
                if !port_lines
                    .iter()
                    .any(|(c, pr, _)| *c == p.container && *pr == p.protocol)
                {
                    self.finding(s.pos, &base, format!("its Dockerfile exposes {}/{} too: dops publishes it on host port {} (Compose publishes only the ports listed)", p.container, p.protocol.as_str(), p.host));
                }
            }
        }
        if let Some(e) = &s.entrypoint {
            extra.push_str(&format!("ENTRYPOINT {}\n", exec_form(e)));
        }
        if let Some(c) = &s.command {
            extra.push_str(&format!("CMD {}\n", exec_form(c)));
        }
        let dockerfile_health = self.dockerfile_health.take();
        let health = match (&s.healthcheck, &dockerfile_health) {
            (Some(h), _) => Some((
                h,
                format!(
                    "{}:{}:{} ({base}.healthcheck)",
                    self.file, h.pos.line, h.pos.col
                ),
            )),
            (None, Some(h)) => Some((
                h,
                format!("the Dockerfile's HEALTHCHECK (line {})", h.pos.line),
            )),
            (None, None) => None,
        };
        if let Some((h, origin)) = health {
            self.healthy.insert(s.name.clone());
            gen_files.push((
                "dops-compose/healthcheck".into(),
                health::script(h, &origin),
                0o755,
            ));
            gen_files.push(("dops-compose/warmup".into(), health::warmup_hook(), 0o755));
            gen_files.push((
                "dops-compose/50-compose-health.json".into(),
                health::initd(h),
                0o644,
            ));
            extra.push_str(&format!(
                "COPY dops-compose/healthcheck {}\nCOPY dops-compose/warmup {}\nCOPY dops-compose/50-compose-health.json {}\n",
                health::SCRIPT,
                health::WARMUP,
                health::INITD
            ));
        }
        if !extra.is_empty() {
            if !dockerfile.ends_with('\n') {
                dockerfile.push('\n');
            }
            dockerfile.push_str(&format!(
                "\n# --- added by dops import compose from {}, service {} ---\n{extra}",
                self.file, s.name
            ));
        }
        self.files.push(OutFile {
            path: format!("{folder}/Dockerfile"),
            content: dockerfile,
            mode: 0o644,
        });
        // a .dockerignore must not leave the generated files out of the context
        if let Some(copy) = self.copies.iter().find(|c| c.to == folder) {
            if !copy.ignore.is_empty() {
                let mut ignore = copy.ignore.clone();
                let ig = Ignore::parse(&ignore);
                if gen_files.iter().any(|(p, _, _)| ig.excludes(p)) {
                    if !ignore.ends_with('\n') {
                        ignore.push('\n');
                    }
                    ignore.push_str(
                        "# added by dops import compose: the generated files\n!dops-compose\n",
                    );
                }
                self.files.push(OutFile {
                    path: format!("{folder}/.dockerignore"),
                    content: ignore,
                    mode: 0o644,
                });
            }
        }
        for (p, content, mode) in gen_files {
            self.files.push(OutFile {
                path: format!("{folder}/{p}"),
                content,
                mode,
            });
        }

        // run.conf
        let mut entry = Map::new();
        entry.insert("service".into(), json!(name));
        let (group, autorun) = self.profiles(s, &base);
        let replicas = match s.replicas {
            Some((0, pos)) => {
                self.finding(
                    pos,
                    &format!("{base}.deploy.replicas"),
                    "0 replicas: one entry with autorun false (dops run names it to start it)",
                );
                0
            }
            Some((n, pos)) if n > 100 => {
                return Err(self.err(
                    pos,
                    &format!("{base}.deploy.replicas"),
                    format!("{n} replicas: at most 100"),
                ))
            }
            Some((n, _)) => n as usize,
            None => 1,
        };
        if let Some(g) = group {
            entry.insert("group".into(), json!(g));
        }
        if !autorun || replicas == 0 {
            entry.insert("autorun".into(), json!(false));
        }
        if published {
            entry.insert("publish_ports".into(), json!(true));
        }
        if s.nethost {
            entry.insert("nethost".into(), json!(true));
        }
        let mut env = self.environment(s, &base)?;
        if let Some(ip) = publish_ip {
            env.insert("PUBLISH_ON_IP".into(), json!(ip));
        }
        if !env.is_empty() {
            entry.insert("env_vars".into(), Json::Object(env));
        }
        let volumes = self.volumes(s, &base)?;
        if !volumes.is_empty() {
            entry.insert("volumes".into(), Json::Array(volumes));
        }
        let mut deps = Vec::new();
        let mut depends = Vec::new();
        for d in &s.depends_on {
            let Some(target) = self.service_of(&d.service) else {
                return Err(self.err(
                    d.pos,
                    &d.key,
                    format!("depends on undefined service {:?}", d.service),
                ));
            };
            let condition = match d.condition {
                Condition::Started => "started",
                Condition::Healthy => {
                    self.wants_health
                        .push((target.name.clone(), d.pos, d.key.clone()));
                    "up"
                }
                Condition::Completed => "completed",
            };
            deps.push(dops_name(&d.service));
            depends.push(json!({"service": dops_name(&d.service), "condition": condition}));
        }
        if !depends.is_empty() {
            entry.insert("depends_on".into(), Json::Array(depends));
        }
        if let Some((policy, pos)) = &s.restart {
            if RestartPolicy::parse(policy).is_err() {
                return Err(self.err(*pos, &format!("{base}.restart"), format!("expected no, always, unless-stopped, on-failure or on-failure:N, found {policy:?}")));
            }
            entry.insert("restart".into(), json!(policy));
        }
        if !s.log_opts.is_empty() {
            let opts: Map<String, Json> = s
                .log_opts
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            entry.insert("log_opts".into(), Json::Object(opts));
        }
        if !s.extra_args.is_empty() {
            entry.insert("extra_args".into(), json!(s.extra_args));
        }
        let comment = format!("{} ({}:{}:{})", s.name, self.file, s.pos.line, s.pos.col);
        for i in 1..=replicas.max(1) {
            let mut e = Map::new();
            e.insert("service".into(), json!(name));
            e.insert("instance".into(), json!(i.to_string()));
            for (k, v) in entry.iter().skip(1) {
                e.insert(k.clone(), v.clone());
            }
            self.entries.push(Entry {
                service: name.clone(),
                comment: comment.clone(),
                deps: deps.clone(),
                json: e,
            });
        }
        if replicas > 1 && published {
            if let Some(p) = s.ports.iter().find(|p| p.host.is_some()) {
                self.finding(p.pos, &p.key, format!("{replicas} replicas publish the same host port: only one can bind it (as in Compose)"));
            }
        }
        Ok(())
    }

    /// The Dockerfile before the Compose additions, and the context copy.
    fn base_dockerfile(
        &mut self,
        s: &Service,
        base: &str,
        folder: &str,
    ) -> Result<String, ComposeError> {
        // An image another service builds: build it here too (Docker's cache makes it cheap),
        // so this service gets the image without the other service's command or healthcheck.
        let build_of = match (&s.build, &s.image) {
            (Some(b), _) => Some((s, b)),
            (None, Some((image, _))) => self
                .builder_of(image)
                .and_then(|o| o.build.as_ref().map(|b| (o, b))),
            (None, None) => None,
        };
        let Some((owner, b)) = build_of else {
            return match &s.image {
                Some((image, _)) => Ok(format!("FROM {image}\n")),
                None => Err(self.err(s.pos, base, "neither image nor build: nothing to run")),
            };
        };
        if s.build.is_some() {
            if let Some((image, pos)) = &s.image {
                self.finding(
                    *pos,
                    &format!("{base}.image"),
                    format!(
                        "dops tags the build {}/{} (not {image})",
                        self.project,
                        dops_name(&s.name)
                    ),
                );
            }
        }
        let bkey = format!("services.{}.build", owner.name);
        if b.context.contains("://") || b.context.starts_with("git@") {
            return match (&s.image, s.build.is_some()) {
                (Some((image, pos)), true) => {
                    self.finding(*pos, &bkey, format!("not carried over: a remote build context ({}): dops builds from a folder; FROM {image} used instead", b.context));
                    Ok(format!("FROM {image}\n"))
                }
                _ => Err(self.err(b.pos, &bkey, format!("a remote build context ({}): dops builds from a folder; clone it and point build.context at it", b.context))),
            };
        }
        let ctx_dir = self.cx.resolve(&b.context);
        if !self.cx.source.is_dir(&ctx_dir) {
            return Err(self.err(
                b.pos,
                &bkey,
                format!(
                    "the build context {} is not a folder",
                    self.cx.shown(&ctx_dir)
                ),
            ));
        }
        let (text, df_path) = match (&b.inline, &b.dockerfile) {
            (Some(inline), _) => (inline.clone(), None),
            (None, d) => {
                let path = clean(&ctx_dir.join(d.as_deref().unwrap_or("Dockerfile")));
                let text = self.cx.source.read(&path).map_err(|e| {
                    self.err(
                        b.pos,
                        &bkey,
                        format!("cannot read the Dockerfile {}: {e}", self.cx.shown(&path)),
                    )
                })?;
                (text, Some(path))
            }
        };
        let df_shown = df_path
            .as_ref()
            .map(|p| self.cx.shown(p))
            .unwrap_or_else(|| format!("{bkey}.dockerfile_inline"));
        let mut text = text;
        if let Some((target, pos)) = &b.target {
            text = cut_at_stage(&text, target).map_err(|stages| {
                self.err(
                    *pos,
                    &format!("{bkey}.target"),
                    format!(
                        "no stage {target:?} in {df_shown} (stages: {})",
                        stages.join(", ")
                    ),
                )
            })?;
        }
        let mut args = Vec::new();
        for (k, v, pos) in &b.args {
            match v.clone().or_else(|| self.cx.lookup(k)) {
                Some(v) => args.push((k.clone(), v)),
                None => self.finding(
                    *pos,
                    &format!("{bkey}.args.{k}"),
                    format!("{k} is not set: the Dockerfile's default is used"),
                ),
            }
        }
        let (t, _unused) = set_arg_defaults(&text, &args);
        text = t;
        // the image's HEALTHCHECK: dops-init's replaces it, so it becomes the lifecycle's too
        if s.healthcheck.is_none() {
            self.dockerfile_health = self.dockerfile_healthcheck(&text, &df_shown);
        }
        // FROM an image another service builds → that service's dops image (built first).
        let images: BTreeMap<String, String> = self
            .compose
            .services
            .iter()
            .filter(|o| o.build.is_some() && o.name != owner.name)
            .filter_map(|o| {
                o.image.as_ref().map(|(i, _)| {
                    (
                        i.clone(),
                        format!("{}/{}", self.project, dops_name(&o.name)),
                    )
                })
            })
            .collect();
        text = rewrite_froms(&text, &images);
        for (line, what) in buildkit_only(&text) {
            self.findings.push(Finding::new(&df_shown, Pos { line, col: 1 }, "", format!("{what} needs BuildKit: dops builds with the engine's classic builder, this step will fail")));
        }
        // the context: copied, honouring <Dockerfile>.dockerignore or .dockerignore
        let specific = df_path
            .as_ref()
            .map(|p| PathBuf::from(format!("{}.dockerignore", p.display())));
        let ignore_path = specific
            .filter(|p| self.cx.source.is_file(p))
            .unwrap_or_else(|| ctx_dir.join(".dockerignore"));
        let ignore = if self.cx.source.is_file(&ignore_path) {
            self.cx
                .source
                .read(&ignore_path)
                .map_err(|e| ComposeError::Read {
                    path: ignore_path.display().to_string(),
                    msg: e.to_string(),
                })?
        } else {
            String::new()
        };
        let skip = if self.cx.into.starts_with(&ctx_dir) {
            vec![self.cx.into.clone()]
        } else {
            Vec::new()
        };
        self.copies.push(ContextCopy {
            from: ctx_dir,
            to: folder.to_string(),
            ignore,
            skip,
        });
        Ok(text)
    }

    fn dockerfile_healthcheck(&mut self, text: &str, shown: &str) -> Option<model::Health> {
        let (test, flags, line) = match super::dockerfile_gen::healthcheck(text)? {
            Ok(h) => h,
            Err(_) => return None,
        };
        let pos = Pos { line, col: 1 };
        let mut h = model::Health {
            test: match test {
                Ok(words) => model::HealthTest::Cmd(words),
                Err(line) => model::HealthTest::Shell(line),
            },
            interval: 30.0,
            timeout: 30.0,
            retries: 3,
            start_period: 0.0,
            start_interval: 5.0,
            pos,
        };
        for (name, value) in flags {
            let secs = super::reader::parse_duration(&value);
            match (name.as_str(), secs) {
                ("interval", Some(v)) => h.interval = v,
                ("timeout", Some(v)) => h.timeout = v,
                ("start-period", Some(v)) => h.start_period = v,
                ("start-interval", Some(v)) => h.start_interval = v,
                ("retries", _) if value.parse::<u64>().is_ok() => {
                    h.retries = value.parse().unwrap_or(3)
                }
                _ => self.findings.push(Finding::new(
                    shown,
                    pos,
                    "HEALTHCHECK",
                    format!("not carried over: --{name}={value}"),
                )),
            }
        }
        Some(h)
    }

    fn profiles(&mut self, s: &Service, base: &str) -> (Option<String>, bool) {
        let Some((first, pos)) = s.profiles.first() else {
            return (None, true);
        };
        let key = format!("{base}.profiles");
        if s.profiles.len() > 1 {
            let others: Vec<&str> = s.profiles[1..].iter().map(|(p, _)| p.as_str()).collect();
            self.finding(
                *pos,
                &key,
                format!(
                    "a dops entry has one group: {first} (not {})",
                    others.join(", ")
                ),
            );
        }
        match check_name(first, false) {
            Ok(()) => (Some(first.clone()), false),
            Err(m) => {
                self.finding(
                    *pos,
                    &key,
                    format!("not carried over: profile {first:?} is not a dops group name: {m}"),
                );
                (None, false)
            }
        }
    }

    fn environment(&mut self, s: &Service, base: &str) -> Result<Map<String, Json>, ComposeError> {
        let mut vars: Vec<(String, String, Pos, String)> = Vec::new();
        let set = |vars: &mut Vec<(String, String, Pos, String)>,
                   k: String,
                   v: String,
                   pos: Pos,
                   key: String| {
            match vars.iter_mut().find(|(n, ..)| *n == k) {
                Some(slot) => {
                    slot.1 = v;
                    slot.2 = pos;
                    slot.3 = key;
                }
                None => vars.push((k, v, pos, key)),
            }
        };
        for (i, f) in s.env_files.iter().enumerate() {
            let key = format!("{base}.env_file[{i}]");
            let path = self.cx.resolve(&f.path);
            if !self.cx.source.is_file(&path) {
                if f.required {
                    return Err(self.err(
                        f.pos,
                        &key,
                        format!("env file {} not found", self.cx.shown(&path)),
                    ));
                }
                continue;
            }
            let text = self.cx.source.read(&path).map_err(|e| ComposeError::Read {
                path: path.display().to_string(),
                msg: e.to_string(),
            })?;
            let shown = self.cx.shown(&path);
            let cx = self.cx;
            let parsed = dotenv::parse(&text, &|k: &str| cx.lookup(k)).map_err(|e| {
                ComposeError::at(
                    &shown,
                    Pos {
                        line: e.line,
                        col: 1,
                    },
                    "",
                    e.msg,
                )
            })?;
            for (k, v) in parsed {
                set(&mut vars, k, v, f.pos, key.clone());
            }
        }
        for (k, v, pos) in &s.environment {
            let key = format!("{base}.environment.{k}");
            let value = match v {
                Some(v) => v.clone(),
                // From the environment when the service starts: dops' host environment overrides
                // run.conf values; a value from .env is written down (dops does not read .env).
                None => self
                    .cx
                    .dotenv
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            };
            set(&mut vars, k.clone(), value, *pos, key);
        }
        let mut out = Map::new();
        for (k, v, pos, key) in vars {
            if let Err(m) = check_env_name(&k) {
                self.finding(pos, &key, format!("not carried over: {m}"));
                continue;
            }
            if FIXED.contains(&k.as_str()) {
                self.finding(pos, &key, format!("not carried over: dops sets {k} itself"));
                continue;
            }
            out.insert(k, json!(v));
        }
        Ok(out)
    }

    fn host_path(&self, p: &Path) -> String {
        let r = relative(&self.cx.into, p);
        if r.contains(':') {
            p.display().to_string()
        } else {
            r
        }
    }

    fn volume_json(host: &str, target: &str, read_only: bool) -> Json {
        if host.contains(':') || target.contains(':') {
            json!({"host": host, "container": target, "read_only": read_only})
        } else if read_only {
            json!(format!("{host}:{target}:ro"))
        } else {
            json!(format!("{host}:{target}"))
        }
    }

    fn volumes(&mut self, s: &Service, base: &str) -> Result<Vec<Json>, ComposeError> {
        let mut out = Vec::new();
        for m in &s.mounts {
            if !m.target.starts_with('/') {
                return Err(self.err(
                    m.pos,
                    &m.key,
                    format!("the mount point {:?} must be an absolute path", m.target),
                ));
            }
            let host = match &m.source {
                MountSource::Named(v) => {
                    if !self.compose.volumes.contains(v) {
                        return Err(self.err(
                            m.pos,
                            &m.key,
                            format!(
                                "undefined volume {v:?} (declare it under the top-level volumes)"
                            ),
                        ));
                    }
                    format!("data/volumes/{v}")
                }
                MountSource::Bind(p) => self.host_path(&self.cx.resolve(p)),
            };
            out.push(Self::volume_json(&host, &m.target, m.read_only));
        }
        for (uses, what) in [(&s.secrets, "secrets"), (&s.configs, "configs")] {
            for u in uses {
                let objects = if what == "secrets" {
                    &self.compose.secrets
                } else {
                    &self.compose.configs
                };
                let Some(obj) = objects.iter().find(|o| o.name == u.source) else {
                    return Err(self.err(
                        u.pos,
                        &u.key,
                        format!(
                            "undefined {} {:?} (declare it under the top-level {what})",
                            &what[..what.len() - 1],
                            u.source
                        ),
                    ));
                };
                let host = match &obj.source {
                    FileSource::File(p) => self.host_path(&self.cx.resolve(p)),
                    FileSource::Content(text) => {
                        let path = format!("{what}/{}", obj.name);
                        self.files.push(OutFile {
                            path: path.clone(),
                            content: text.clone(),
                            mode: 0o644,
                        });
                        path
                    }
                    FileSource::Environment(var) if what == "configs" => {
                        let path = format!("{what}/{}", obj.name);
                        let content = self.cx.lookup(var).unwrap_or_default();
                        self.files.push(OutFile {
                            path: path.clone(),
                            content,
                            mode: 0o644,
                        });
                        path
                    }
                    FileSource::Environment(var) => {
                        self.finding(u.pos, &u.key, format!("not carried over: a secret from the variable {var} (dops mounts files; put it in a file and name it in secrets.{}.file)", obj.name));
                        continue;
                    }
                    FileSource::External => {
                        self.finding(
                            u.pos,
                            &u.key,
                            format!("not carried over: an external {what} ({})", obj.name),
                        );
                        continue;
                    }
                };
                out.push(Self::volume_json(&host, &u.target, true));
            }
        }
        let _ = base;
        Ok(out)
    }

    /// Several networks: one finding naming them (dops has one project network).
    fn networks(&mut self) {
        let mut names: BTreeSet<String> = self
            .compose
            .networks
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        for s in &self.compose.services {
            names.extend(s.networks.iter().map(|(n, _)| n.clone()));
        }
        names.remove("default");
        if names.len() > 1 {
            let pos = self.compose.networks_pos.unwrap_or(Pos { line: 1, col: 1 });
            let list: Vec<String> = names.into_iter().collect();
            self.finding(pos, "networks", format!("several networks ({}): dops puts every instance on one project network, so services Compose kept apart can reach each other", list.join(", ")));
        }
    }

    /// Entries in start order: a service after what it depends on (file order otherwise).
    fn order(&self) -> Result<Vec<usize>, ComposeError> {
        let services: Vec<String> = self
            .compose
            .services
            .iter()
            .map(|s| dops_name(&s.name))
            .collect();
        let deps_of = |svc: &str| -> Vec<String> {
            self.entries
                .iter()
                .find(|e| e.service == svc)
                .map(|e| e.deps.clone())
                .unwrap_or_default()
        };
        let mut done: Vec<String> = Vec::new();
        let mut visiting: Vec<String> = Vec::new();
        fn visit(
            s: &str,
            deps_of: &dyn Fn(&str) -> Vec<String>,
            done: &mut Vec<String>,
            visiting: &mut Vec<String>,
        ) -> Result<(), Vec<String>> {
            if done.iter().any(|d| d == s) {
                return Ok(());
            }
            if let Some(i) = visiting.iter().position(|v| v == s) {
                let mut cycle = visiting[i..].to_vec();
                cycle.push(s.to_string());
                return Err(cycle);
            }
            visiting.push(s.to_string());
            for d in deps_of(s) {
                visit(&d, deps_of, done, visiting)?;
            }
            visiting.pop();
            done.push(s.to_string());
            Ok(())
        }
        for s in &services {
            visit(s, &deps_of, &mut done, &mut visiting).map_err(|cycle| {
                ComposeError::Other(format!(
                    "{}: depends_on cycle: {}",
                    self.file,
                    cycle.join(" -> ")
                ))
            })?;
        }
        let mut order = Vec::new();
        for s in &done {
            for (i, e) in self.entries.iter().enumerate() {
                if &e.service == s {
                    order.push(i);
                }
            }
        }
        Ok(order)
    }

    fn run_conf(&self, order: &[usize]) -> String {
        let mut out = format!(
            "# Imported from {} by `dops import compose` (README: \"Coming from Compose\").\n\
             # One entry per instance, in start order (depends_on first). Named volumes are folders\n\
             # under data/volumes/ (they start empty: Docker would copy the image's files into a new\n\
             # volume); bind mounts and secrets point at the files beside the Compose file.\n[\n",
            self.file
        );
        let mut last_comment = String::new();
        for (n, i) in order.iter().enumerate() {
            let e = &self.entries[*i];
            if e.comment != last_comment {
                out.push_str(&format!("  # {}\n", e.comment));
                last_comment = e.comment.clone();
            }
            let text =
                serde_json::to_string_pretty(&Json::Object(e.json.clone())).unwrap_or_default();
            let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
            out.push_str(&indented.join("\n"));
            out.push_str(if n + 1 < order.len() { ",\n" } else { "\n" });
        }
        out.push_str("]\n");
        out
    }
}
