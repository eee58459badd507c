//! The importer on small hand-written Compose files, one mapped key at a time, with the
//! positions of what it reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

/// Files in memory; a folder exists when a file is under it.
#[derive(Default)]
struct Mem(BTreeMap<PathBuf, String>);

impl Source for Mem {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
    }
    fn is_file(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.0.keys().any(|k| k.starts_with(path) && k != path)
    }
}

struct Case {
    files: Vec<(&'static str, String)>,
    env: BTreeMap<String, String>,
}

fn case(compose: &str) -> Case {
    Case {
        files: vec![("compose.yaml", compose.to_string())],
        env: BTreeMap::new(),
    }
}

impl Case {
    fn file(mut self, path: &'static str, text: &str) -> Case {
        self.files.push((path, text.to_string()));
        self
    }
    fn env(mut self, k: &str, v: &str) -> Case {
        self.env.insert(k.into(), v.into());
        self
    }
    fn try_import(&self) -> Result<Imported, ComposeError> {
        let mem = Mem(self
            .files
            .iter()
            .map(|(p, t)| (Path::new("/src/app").join(p), t.clone()))
            .collect());
        let text = mem.0[Path::new("/src/app/compose.yaml")].clone();
        import(&Input {
            file: Path::new("/src/app/compose.yaml"),
            text: &text,
            env: &self.env,
            into: Some(Path::new("/src/app/shop")),
            source: &mem,
        })
    }
    fn import(&self) -> Imported {
        self.try_import().unwrap()
    }
    fn err(&self) -> String {
        self.try_import().unwrap_err().to_string()
    }
}

impl Imported {
    fn file(&self, path: &str) -> &str {
        &self
            .files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| {
                panic!(
                    "no {path} in {:?}",
                    self.files.iter().map(|f| &f.path).collect::<Vec<_>>()
                )
            })
            .content
    }
    /// run.conf as JSON (its `#` comments dropped).
    fn entries(&self) -> Vec<Value> {
        let text: String = self
            .file("run.conf")
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        serde_json::from_str(&text).unwrap()
    }
    fn entry(&self, service: &str) -> Value {
        self.entries()
            .into_iter()
            .find(|e| e["service"] == service)
            .unwrap_or_else(|| panic!("no entry for {service}"))
    }
    fn findings(&self) -> Vec<String> {
        self.findings.iter().map(|f| f.to_string()).collect()
    }
    /// run.conf parses as dops reads it, and the project model loads.
    fn loads(&self) {
        let files = crate::project::ProjectFiles {
            run_conf: Some(("run.conf".into(), self.file("run.conf").to_string())),
            host_conf: None,
            services: self
                .services
                .iter()
                .map(|s| crate::project::ServiceFiles {
                    name: s.clone(),
                    dockerfile: self.file(&format!("services/{s}/Dockerfile")).to_string(),
                    required_env_vars: None,
                })
                .collect(),
        };
        crate::project::Project::from_files(&self.dir, files).unwrap();
    }
}

#[test]
fn image_alone_is_a_from_and_one_instance() {
    let i = case("services:\n  cache:\n    image: redis:7-alpine\n").import();
    assert_eq!(i.file("services/cache/Dockerfile"), "FROM redis:7-alpine\n");
    assert_eq!(
        i.entries(),
        vec![json!({"service": "cache", "instance": "1"})]
    );
    assert!(i.findings.is_empty());
    assert!(i.copies.is_empty());
    i.loads();
}

#[test]
fn build_context_dockerfile_target_and_args() {
    let i = case(
        "services:\n  api:\n    build:\n      context: ./api\n      dockerfile: docker/Dockerfile.prod\n      target: runtime\n      args:\n        PY: '3.12'\n        - ignored\n",
    );
    // (an invalid YAML list inside a mapping is a located error)
    assert!(i.err().starts_with("compose.yaml:9:11: "), "{}", i.err());
    let i = case(
        "services:\n  api:\n    build:\n      context: ./api\n      dockerfile: docker/Dockerfile.prod\n      target: runtime\n      args:\n        PY: '3.12'\n        GIT_SHA:\n",
    )
    .file(
        "api/docker/Dockerfile.prod",
        "ARG PY=3.11\nFROM python:${PY} AS base\nRUN pip install x\nFROM base AS runtime\nARG GIT_SHA\nCMD [\"app\"]\nFROM base AS test\nRUN pytest\n",
    )
    .file("api/app.py", "print(1)\n")
    .file("api/.dockerignore", "*.pyc\n")
    .env("GIT_SHA", "abc123")
    .import();
    assert_eq!(
        i.file("services/api/Dockerfile"),
        "ARG PY=\"3.12\"\nFROM python:${PY} AS base\nRUN pip install x\nFROM base AS runtime\nARG GIT_SHA=\"abc123\"\nCMD [\"app\"]\n"
    );
    assert_eq!(i.copies.len(), 1);
    assert_eq!(i.copies[0].from, Path::new("/src/app/api"));
    assert_eq!(i.copies[0].to, "services/api");
    assert_eq!(i.copies[0].ignore, "*.pyc\n");
    assert_eq!(i.file("services/api/.dockerignore"), "*.pyc\n");
    i.loads();
    // a target that is not there
    let e = case("services:\n  api:\n    build:\n      context: api\n      target: prod\n")
        .file("api/Dockerfile", "FROM a AS dev\nFROM b AS test\n")
        .err();
    assert_eq!(
        e,
        "compose.yaml:5:15: services.api.build.target: no stage \"prod\" in api/Dockerfile (stages: dev, test)"
    );
    // a build context that is not a folder
    assert_eq!(
        case("services:\n  api:\n    build: ./nope\n").err(),
        "compose.yaml:3:12: services.api.build: the build context nope is not a folder"
    );
}

#[test]
fn a_dockerfile_specific_ignore_file_and_the_generated_files_stay_in_the_context() {
    let i = case("services:\n  w:\n    build: {context: ., dockerfile: web.Dockerfile}\n    healthcheck:\n      test: true\n")
        .file("web.Dockerfile", "FROM x\n")
        .file("web.Dockerfile.dockerignore", "*\n!src\n")
        .file(".dockerignore", "ignored-because-the-specific-one-wins\n")
        .import();
    assert_eq!(i.copies[0].ignore, "*\n!src\n");
    assert_eq!(
        i.file("services/w/.dockerignore"),
        "*\n!src\n# added by dops import compose: the generated files\n!dops-compose\n"
    );
    // the new project inside the context is never copied into itself
    assert_eq!(i.copies[0].skip, vec![PathBuf::from("/src/app/shop")]);
}

#[test]
fn command_and_entrypoint_become_exec_form() {
    let i = case(
        "services:\n  w:\n    image: busybox\n    entrypoint: /bin/sh -c\n    command: [\"echo hi; sleep 1\"]\n  x:\n    image: busybox\n    command: httpd -f -p \"8080\"\n  y:\n    image: busybox\n    entrypoint: []\n",
    )
    .import();
    assert!(i
        .file("services/w/Dockerfile")
        .ends_with("ENTRYPOINT [\"/bin/sh\",\"-c\"]\nCMD [\"echo hi; sleep 1\"]\n"));
    assert!(i
        .file("services/x/Dockerfile")
        .ends_with("CMD [\"httpd\",\"-f\",\"-p\",\"8080\"]\n"));
    assert!(i.file("services/y/Dockerfile").ends_with("ENTRYPOINT []\n"));
    i.loads();
}

#[test]
fn environment_env_files_and_interpolation() {
    let i = case(
        "services:\n  app:\n    image: app:${TAG:-latest}\n    env_file: [common.env, {path: missing.env, required: false}]\n    environment:\n      - LEVEL=${LEVEL}\n      - FROM_DOTENV\n      - FROM_HOST\n      - SHARED=from-compose\n      - 'bad-name=1'\n      - SERVICE=x\n",
    )
    .file("common.env", "SHARED=from-file\nONLY_FILE=${TAG}\n")
    .file(".env", "TAG=1.2\nLEVEL=info\nFROM_DOTENV=dot\n")
    .env("LEVEL", "debug")
    .env("FROM_HOST", "host")
    .import();
    assert_eq!(i.file("services/app/Dockerfile"), "FROM app:1.2\n");
    assert_eq!(
        i.entry("app")["env_vars"],
        json!({"SHARED": "from-compose", "ONLY_FILE": "1.2", "LEVEL": "debug", "FROM_DOTENV": "dot", "FROM_HOST": ""})
    );
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:10:9: services.app.environment.bad-name: not carried over: invalid variable name \"bad-name\" (letters, digits and '_', not starting with a digit)",
            "compose.yaml:11:9: services.app.environment.SERVICE: not carried over: dops sets SERVICE itself",
        ]
    );
    // unset variables: a finding where they are used; required ones: an error
    let i = case("services:\n  app:\n    image: app:$TAG\n").import();
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:3:12: services.app.image: variable TAG is not set: an empty string is used (as Compose does)"]
    );
    assert_eq!(
        case("services:\n  app:\n    image: app\n    environment:\n      PW: ${PW:?set PW in .env}\n").err(),
        "compose.yaml:5:11: services.app.environment.PW: required variable PW is missing a value: set PW in .env"
    );
    assert_eq!(
        case("services:\n  app:\n    image: a\n    env_file: nope.env\n").err(),
        "compose.yaml:4:15: services.app.env_file[0]: env file nope.env not found"
    );
    assert_eq!(
        case("services:\n  app:\n    image: a\n    env_file: e.env\n")
            .file("e.env", "A=1\nB='open\n")
            .err(),
        "e.env:2:1: unclosed single quote in the value of B"
    );
}

#[test]
fn ports_publish_with_host_ports_and_ip() {
    let i = case(
        "services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n      - 443:443\n      - \"53:53/udp\"\n      - \"3000\"\n      - \"9000-9001:7000-7001\"\n      - target: 81\n        published: \"8181\"\n",
    )
    .import();
    assert_eq!(
        i.file("services/web/Dockerfile"),
        "FROM nginx\n\n# --- added by dops import compose from compose.yaml, service web ---\n# dops: expose 80 as 8080\n# dops: expose 443\n# dops: expose 53/udp\n# dops: expose 3000\n# dops: expose 7000 as 9000\n# dops: expose 7001 as 9001\n# dops: expose 81 as 8181\n"
    );
    assert_eq!(i.entry("web")["publish_ports"], json!(true));
    assert!(i.entry("web").get("env_vars").is_none());
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:8:9: services.web.ports[3]: no host port: dops publishes container port 3000 on the same host port (Compose picks a free one)"]
    );
    i.loads();
    // a host IP: PUBLISH_ON_IP, one per instance
    let i = case(
        "services:\n  web:\n    image: nginx\n    ports: [\"0.0.0.0:80:80\", \"[::1]:81:81\"]\n",
    )
    .import();
    assert_eq!(
        i.entry("web")["env_vars"],
        json!({"PUBLISH_ON_IP": "0.0.0.0"})
    );
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:4:30: services.web.ports[1]: host IP ::1: dops publishes all ports of an instance on one IP (PUBLISH_ON_IP=0.0.0.0)"]
    );
    assert_eq!(
        case("services:\n  web:\n    image: nginx\n    ports: [\"80:80/sctp\"]\n").err(),
        "compose.yaml:4:13: services.web.ports[0]: protocol \"sctp\": dops publishes tcp and udp"
    );
}

#[test]
fn expose_and_ports_the_dockerfile_exposes_too() {
    let i = case("services:\n  a:\n    image: x\n    expose: [\"9000\", 53/udp]\n").import();
    assert!(i
        .file("services/a/Dockerfile")
        .ends_with("EXPOSE 9000/tcp\nEXPOSE 53/udp\n"));
    assert!(i.entry("a").get("publish_ports").is_none());
    let i =
        case("services:\n  a:\n    build: .\n    ports: [\"8080:80\"]\n    expose: [\"9000\"]\n")
            .file("Dockerfile", "FROM x\nEXPOSE 80 443\n")
            .import();
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:2:3: services.a: its Dockerfile exposes 443/tcp too: dops publishes it on host port 443 (Compose publishes only the ports listed)",
            "compose.yaml:5:14: services.a.expose: not carried over: port 9000/tcp (dops publishes every exposed port of a published instance; it is reachable on the project network all the same)",
        ]
    );
}

#[test]
fn volumes_named_bind_and_anonymous() {
    let i = case(
        "services:\n  db:\n    image: postgres\n    volumes:\n      - db-data:/var/lib/postgresql/data\n      - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro\n      - /var/run/docker.sock:/var/run/docker.sock\n      - /cache\n      - type: bind\n        source: ~/conf\n        target: /conf\n        read_only: true\n      - ./x:/x:z\nvolumes:\n  db-data:\n    driver: local\n",
    )
    .env("HOME", "/home/me")
    .import();
    assert_eq!(
        i.entry("db")["volumes"],
        json!([
            "data/volumes/db-data:/var/lib/postgresql/data",
            "../init.sql:/docker-entrypoint-initdb.d/init.sql:ro",
            "../../../var/run/docker.sock:/var/run/docker.sock",
            "../../../home/me/conf:/conf:ro",
            "../x:/x"
        ])
    );
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:8:9: services.db.volumes[3]: not carried over: an anonymous volume (the path stays in the container)",
            "compose.yaml:13:9: services.db.volumes[5]: not carried over: mount option \"z\"",
            "compose.yaml:16:5: volumes.db-data.driver: not carried over: dops mounts a folder of the project (data/volumes/<name>), not a Docker volume",
        ]
    );
    i.loads();
    assert_eq!(
        case("services:\n  db:\n    image: postgres\n    volumes: [\"data:/d\"]\n").err(),
        "compose.yaml:4:15: services.db.volumes[0]: undefined volume \"data\" (declare it under the top-level volumes)"
    );
}

#[test]
fn depends_on_orders_the_entries_and_maps_conditions() {
    let i = case(
        "services:\n  web:\n    image: w\n    depends_on:\n      api: {condition: service_started}\n  api:\n    image: a\n    depends_on:\n      db:\n        condition: service_healthy\n      migrate:\n        condition: service_completed_successfully\n        restart: true\n  migrate:\n    image: a\n    depends_on: [db]\n  db:\n    image: postgres\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\"]\n",
    )
    .import();
    let order: Vec<String> = i
        .entries()
        .iter()
        .map(|e| e["service"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, vec!["db", "migrate", "api", "web"]);
    assert_eq!(
        i.entry("api")["depends_on"],
        json!([{"service": "db", "condition": "up"}, {"service": "migrate", "condition": "completed"}])
    );
    assert_eq!(
        i.entry("migrate")["depends_on"],
        json!([{"service": "db", "condition": "started"}])
    );
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:13:9: services.api.depends_on.migrate.restart: not carried over: dops does not restart dependents when a dependency restarts"]
    );
    i.loads();
    let i = case("services:\n  a:\n    image: a\n    depends_on: {b: {condition: service_healthy}}\n  b:\n    image: b\n").import();
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:4:18: services.a.depends_on.b: b has no healthcheck here: \"up\" waits for its lifecycle UP (an image's own HEALTHCHECK is replaced by dops-init's)"]
    );
    assert_eq!(
        case("services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n").err(),
        "compose.yaml: depends_on cycle: a -> b -> a"
    );
    assert_eq!(
        case("services:\n  a:\n    image: a\n    depends_on: [nope]\n").err(),
        "compose.yaml:4:18: services.a.depends_on[0]: depends on undefined service \"nope\""
    );
}

#[test]
fn replicas_restart_and_logging() {
    let i = case(
        "services:\n  worker:\n    image: w\n    deploy:\n      replicas: 3\n      resources: {limits: {cpus: '1'}}\n      restart_policy: {condition: on-failure, max_attempts: 5, delay: 5s}\n    logging:\n      driver: json-file\n      options: {max-size: 10m, max-file: 3}\n  cron:\n    image: c\n    scale: 0\n    restart: unless-stopped\n",
    )
    .import();
    let e = i.entries();
    assert_eq!(e.len(), 4);
    let names: Vec<&str> = e.iter().map(|e| e["instance"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["1", "2", "3", "1"]);
    assert_eq!(e[1]["restart"], json!("on-failure:5"));
    assert_eq!(
        e[2]["log_opts"],
        json!({"max-size": "10m", "max-file": "3"})
    );
    assert_eq!(e[3]["restart"], json!("unless-stopped"));
    assert_eq!(e[3]["autorun"], json!(false));
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:6:7: services.worker.deploy.resources: not carried over: dops sets no resource limits",
            "compose.yaml:7:64: services.worker.deploy.restart_policy.delay: not carried over: Docker's restart policy has no delay or window",
            "compose.yaml:13:12: services.cron.deploy.replicas: 0 replicas: one entry with autorun false (dops run names it to start it)",
        ]
    );
    i.loads();
    assert_eq!(
        case("services:\n  a:\n    image: a\n    restart: sometimes\n").err(),
        "compose.yaml:4:14: services.a.restart: expected no, always, unless-stopped, on-failure or on-failure:N, found \"sometimes\""
    );
}

#[test]
fn healthcheck_becomes_warmup_and_monitor() {
    let i = case(
        "services:\n  db:\n    image: postgres\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready -U $$POSTGRES_USER\"]\n      interval: 10s\n      timeout: 3s\n      retries: 5\n      start_period: 1m\n  off:\n    image: x\n    healthcheck:\n      disable: true\n",
    )
    .import();
    let df = i.file("services/db/Dockerfile");
    assert!(df.ends_with(
        "COPY dops-compose/healthcheck /dops/compose/healthcheck\nCOPY dops-compose/warmup /ww/usr/warmup\nCOPY dops-compose/50-compose-health.json /dops/init.d/50-compose-health.json\n"
    ));
    let script = i.file("services/db/dops-compose/healthcheck");
    assert!(
        script.contains("/bin/sh -c 'pg_isready -U $POSTGRES_USER'"),
        "{script}"
    );
    assert!(script.contains("INTERVAL=10000\nSTART_PERIOD=60000\n"));
    assert!(script.contains("RETRIES=5\nTIMEOUT=3\n"));
    assert!(script.contains("from compose.yaml:5:7 (services.db.healthcheck)"));
    let initd: Value =
        serde_json::from_str(i.file("services/db/dops-compose/50-compose-health.json")).unwrap();
    assert_eq!(initd["monitor_interval_s"], json!(10.0));
    assert_eq!(
        i.file("services/db/dops-compose/warmup"),
        "#!/bin/sh\nexec /dops/compose/healthcheck warmup\n"
    );
    assert!(i
        .files
        .iter()
        .any(|f| f.path == "services/db/dops-compose/healthcheck" && f.mode == 0o755));
    assert_eq!(i.file("services/off/Dockerfile"), "FROM x\n");
    assert!(i.findings.is_empty());
}

#[test]
fn profiles_become_groups_not_started_by_run_all() {
    let i = case("services:\n  app:\n    image: a\n  adminer:\n    image: adminer\n    profiles: [debug, tools]\n").import();
    assert_eq!(i.entry("adminer")["group"], json!("debug"));
    assert_eq!(i.entry("adminer")["autorun"], json!(false));
    assert!(i.entry("app").get("group").is_none());
    assert_eq!(
        i.findings(),
        vec!["compose.yaml:6:16: services.adminer.profiles: a dops entry has one group: debug (not tools)"]
    );
    i.loads();
}

#[test]
fn secrets_and_configs_are_read_only_files() {
    let i = case(
        "services:\n  app:\n    image: a\n    secrets: [db_password, {source: api_key, target: key.txt, mode: 0400}]\n    configs: [nginx_conf, {source: inline, target: /etc/app.ini}, from_env]\nsecrets:\n  db_password: {file: ./secrets/db_password.txt}\n  api_key: {environment: API_KEY}\nconfigs:\n  nginx_conf: {file: nginx.conf}\n  inline:\n    content: |\n      [app]\n      name=${NAME:-shop}\n  from_env: {environment: CONF}\n",
    )
    .env("CONF", "a=1")
    .import();
    assert_eq!(
        i.entry("app")["volumes"],
        json!([
            "../secrets/db_password.txt:/run/secrets/db_password:ro",
            "../nginx.conf:/nginx_conf:ro",
            "configs/inline:/etc/app.ini:ro",
            "configs/from_env:/from_env:ro"
        ])
    );
    assert_eq!(i.file("configs/inline"), "[app]\nname=shop\n");
    assert_eq!(i.file("configs/from_env"), "a=1");
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:4:28: services.app.secrets[1]: not carried over: a secret from the variable API_KEY (dops mounts files; put it in a file and name it in secrets.api_key.file)",
            "compose.yaml:4:63: services.app.secrets[1].mode: not carried over: the file is mounted read-only with its owner and mode on the host",
        ]
    );
    i.loads();
}

#[test]
fn networks_network_mode_and_extra_args() {
    let i = case(
        "services:\n  a:\n    image: a\n    networks: [front, back]\n    privileged: true\n    cap_add: [NET_ADMIN]\n    extra_hosts: [\"db.local:10.0.0.2\"]\n    shm_size: 256m\n  b:\n    image: b\n    network_mode: host\n    networks:\n      back:\n        aliases: [bee]\nnetworks:\n  front:\n  back:\n    driver: bridge\n",
    )
    .import();
    assert_eq!(
        i.entry("a")["extra_args"],
        json!([
            "--privileged",
            "--cap-add=NET_ADMIN",
            "--add-host=db.local:10.0.0.2",
            "--shm-size=256m"
        ])
    );
    assert_eq!(i.entry("b")["nethost"], json!(true));
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:14:9: services.b.networks.back.aliases: not carried over: instances are reached by their DNS names <service> and <service>-<instance>",
            "compose.yaml:15:1: networks: several networks (back, front): dops puts every instance on one project network, so services Compose kept apart can reach each other",
            "compose.yaml:18:5: networks.back.driver: not carried over: every instance is on the project network dops makes",
        ]
    );
    i.loads();
}

#[test]
fn unsupported_and_unknown_keys_are_reported_where_they_are_and_x_keys_ignored() {
    let i = case(
        "version: '3.8'\nx-defaults: &d\n  restart: always\nservices:\n  app:\n    <<: *d\n    image: a\n    container_name: my-app\n    mem_limit: 512m\n    x-note: fine\n    colour: blue\n    init: true\n    labels:\n      traefik.enable: \"true\"\n    working_dir: /srv\ninclude: [other.yaml]\n",
    )
    .import();
    assert_eq!(
        i.findings(),
        vec![
            "compose.yaml:8:5: services.app.container_name: not carried over: dops names containers <project>-<service>-<instance>",
            "compose.yaml:9:5: services.app.mem_limit: not carried over: dops sets no resource limits",
            "compose.yaml:11:5: services.app.colour: not carried over: not a Compose service key",
            "compose.yaml:16:1: include: not carried over: not followed: import each included file on its own, or merge them first (docker compose config)",
        ]
    );
    assert_eq!(i.entry("app")["restart"], json!("always"));
    assert!(i
        .file("services/app/Dockerfile")
        .ends_with("LABEL \"traefik.enable\"=\"true\"\nWORKDIR /srv\n"));
}

#[test]
fn errors_are_located_and_names_checked() {
    assert!(case("services:\n  web:\n    image: [\n")
        .err()
        .starts_with("compose.yaml:4:"));
    assert_eq!(
        case("name: x\n").err(),
        "compose.yaml:1:1: no services: a Compose file needs a 'services' mapping"
    );
    assert_eq!(
        case("services:\n  web:\n    ports: [80]\n").err(),
        "compose.yaml:2:3: services.web: neither image nor build: nothing to run"
    );
    assert_eq!(
        case("services:\n  Web:\n    image: a\n  web:\n    image: b\n").err(),
        "compose.yaml:4:3: services.web: web and Web are both web in dops (service names are lowercase)"
    );
    assert_eq!(
        case("services:\n  web:\n    image: a\n    ports: 80\n").err(),
        "compose.yaml:4:12: services.web.ports: expected a list, found a string"
    );
}

#[test]
fn an_image_another_service_builds_is_built_here_too() {
    let i = case(
        "services:\n  web:\n    build: .\n    image: acme/app\n    command: serve\n  worker:\n    image: acme/app\n    command: work\n  base:\n    build: {context: base}\n    image: acme/base\n",
    )
    .file("Dockerfile", "FROM acme/base\nCOPY . /app\n")
    .file("base/Dockerfile", "FROM debian\n")
    .import();
    // worker: the same build as web (not FROM web's image, which carries web's command); the
    // image another service builds is that service's dops image
    assert_eq!(
        i.file("services/worker/Dockerfile"),
        "FROM shop/base\nCOPY . /app\n\n# --- added by dops import compose from compose.yaml, service worker ---\nCMD [\"work\"]\n"
    );
    assert_eq!(i.copies.len(), 3);
    i.loads();
}

/// No input panics: prefixes of realistic files (cut every few characters) and a few mangled
/// ones import or fail with an error.
#[test]
fn no_input_panics() {
    let texts = [
        include_str!("../../tests/compose/voting-app/compose.yaml"),
        include_str!("../../tests/compose/minio-app/compose.yaml"),
        include_str!("../../tests/compose/env-files/compose.yaml"),
        include_str!("../../tests/compose/secrets/compose.yaml"),
    ];
    for text in texts {
        // every 7th character (each cut is a whole import; this keeps the test about a second)
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(7).collect();
        for i in cuts {
            let _ = case(&text[..i])
                .file("vote/Dockerfile", "FROM a AS dev\nARG ééé\nARGé\n")
                .file("result/Dockerfile", "FROM b\n")
                .try_import();
        }
        for mangled in [
            text.replace(':', ""),
            text.replace('-', ":"),
            text.replace('"', "'"),
            text.replace("  ", " "),
            text.replace('$', "${"),
        ] {
            let _ = case(&mangled).try_import();
        }
    }
    for odd in [
        "services: {a: {image: x, ports: ['1-65535:1-65535/udp']}}",
        "services: {a: {image: x, ports: ['0:0', '65536:1', '2-1:1']}}",
        "services: {a: {image: x, deploy: {replicas: 99999999999999999999}}}",
        "services: {a: {image: x, healthcheck: {test: [], interval: 99999999999h}}}",
        "services: {a: {build: {context: '/', dockerfile: '../../../../x'}}}",
        "services: {a: {image: x, volumes: [':', '::', 'a:b:c:d']}}",
        "services: {a: {image: x, environment: {'': x, '=': y}}}",
        "services: {? [a]: {image: x}}",
        "services: !!binary aGVsbG8=",
        "services: {a: {image: '${'}}",
    ] {
        let _ = case(odd).try_import();
    }
}

#[test]
fn a_dockerfile_healthcheck_becomes_the_lifecycle_too() {
    let i = case(
        "services:\n  api:\n    build: .\n  web:\n    image: w\n    depends_on: {api: {condition: service_healthy}}\n",
    )
    .file(
        "Dockerfile",
        "FROM python\nHEALTHCHECK --interval=7s --retries=4 --foo=1 CMD curl -f http://localhost/ || exit 1\n",
    )
    .import();
    let script = i.file("services/api/dops-compose/healthcheck");
    assert!(
        script.contains("the Dockerfile's HEALTHCHECK (line 2)"),
        "{script}"
    );
    assert!(script.contains("/bin/sh -c 'curl -f http://localhost/ || exit 1'"));
    assert!(script.contains("INTERVAL=7000\n") && script.contains("RETRIES=4\n"));
    assert_eq!(
        i.findings(),
        vec!["Dockerfile:2:1: HEALTHCHECK: not carried over: --foo=1"]
    );
}
