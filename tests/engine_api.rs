//! Real-engine tests of the engine layer itself (no CLI): build with the init injected, run,
//! exec, seed persistent folders, remove. Every test has its own project; the support guard
//! removes everything labelled with it.

mod engine_support;
mod support;

use std::path::PathBuf;

use dops::engine;
use dops::plan::{ContainerSpec, Mount, Plan, Step};
use dops::project::env::{EnvOrigin, EnvValue, EnvVar};
use support::{docker, stdout, TestProject};

use engine_support::{
    build_step, fixed_env, inspect, project_labels, quiet_apply_context, standard_instance_spec,
};

fn spec(p: &TestProject, service: &str, instance: &str) -> ContainerSpec {
    standard_instance_spec(p, service, instance, vec![fixed_env("SERVICE", service)])
}

#[tokio::test(flavor = "multi_thread")]
async fn create_start_exec_and_remove_a_container() {
    let p = TestProject::new("eapi-basic");
    p.write(
        "services/app/Dockerfile",
        "FROM dops-test/busybox\nRUN mkdir -p /data && echo seeded > /data/seed.txt\nCMD [\"sleep\",\"3600\"]\n",
    );
    let eng = engine::connect().await.expect("engine");
    let net_labels = project_labels(&p);
    let run = spec(&p, "app", "one");
    let plan = Plan {
        project: p.name.clone(),
        steps: vec![
            Step::EnsureNetwork {
                name: p.name.clone(),
                labels: net_labels,
            },
            Step::Build(build_step(&p, "app", &[])),
            Step::Run(Box::new(run.clone())),
        ],
    };
    let applied = engine::apply(&eng, &plan, &quiet_apply_context(&p.dir))
        .await
        .expect("apply");
    assert_eq!(applied.started, vec![run.name.clone()]);

    // The injected init is the entrypoint and the Dockerfile's CMD is its main program.
    let image = format!("{}/app", p.name);
    assert_eq!(
        inspect("{{json .Config.Entrypoint}}", &image),
        "[\"/dops/bin/dops-init\"]"
    );
    assert_eq!(
        inspect("{{json .Config.Cmd}}", &image),
        "[\"sleep\",\"3600\"]"
    );
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.service\"}}", &image),
        "app"
    );

    // Running, on the project network, with the hostname and labels.
    assert_eq!(inspect("{{.State.Status}}", &run.name), "running");
    assert_eq!(inspect("{{.Config.Hostname}}", &run.name), "app-one");
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.instance\"}}", &run.name),
        "one"
    );
    let observed = engine::observe(&eng, &p.name).await.unwrap();
    let c = observed.container(&run.name).expect("observed");
    assert!(c.is_running());
    assert_eq!(c.service, "app");
    assert!(c.ip.is_some(), "an address on the project network");
    assert_eq!(observed.networks, vec![p.name.clone()]);

    // Exec: output and exit code.
    let code = engine::exec::exec(
        &eng,
        &run.name,
        vec![
            "sh".into(),
            "-c".into(),
            "test \"$SERVICE\" = app && exit 7".into(),
        ],
        false,
        &dops::output::Stdio,
    )
    .await
    .unwrap();
    assert_eq!(code, 7);

    // Remove, then the network goes when empty.
    let plan = Plan {
        project: p.name.clone(),
        steps: vec![
            Step::Remove {
                container: run.name.clone(),
                stop_timeout_s: 1,
            },
            Step::RemoveNetwork {
                name: p.name.clone(),
            },
        ],
    };
    engine::apply(&eng, &plan, &quiet_apply_context(&p.dir))
        .await
        .unwrap();
    let observed = engine::observe(&eng, &p.name).await.unwrap();
    assert!(observed.containers.is_empty());
    assert!(observed.networks.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_folders_are_seeded_once_and_links_resolve_to_addresses() {
    let p = TestProject::new("eapi-seed");
    p.write(
        "services/db/Dockerfile",
        "FROM dops-test/busybox\nRUN mkdir -p /data/sub && echo from-image > /data/sub/seed.txt\nCMD [\"sleep\",\"3600\"]\n",
    );
    let eng = engine::connect().await.unwrap();
    let host: PathBuf = p.path("data/db-one/data");
    let mut db = spec(&p, "db", "one");
    db.mounts = vec![Mount {
        host: host.clone(),
        container: "/data".into(),
        seed: true,
        read_only: false,
        volume: None,
    }];
    let mut client = spec(&p, "db", "two");
    client.env.push(EnvVar {
        name: "DB_SERVICE_IP".into(),
        value: EnvValue::IpOf(db.name.clone()),
        origin: EnvOrigin::Link,
    });
    let plan = Plan {
        project: p.name.clone(),
        steps: vec![
            Step::EnsureNetwork {
                name: p.name.clone(),
                labels: project_labels(&p),
            },
            Step::Build(build_step(&p, "db", &[])),
            Step::Run(Box::new(db.clone())),
            Step::Run(Box::new(client.clone())),
        ],
    };
    engine::apply(&eng, &plan, &quiet_apply_context(&p.dir))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(host.join("sub/seed.txt")).unwrap(),
        "from-image\n"
    );
    // The link variable holds the first container's address.
    let db_ip = inspect(
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &db.name,
    );
    let env = stdout(&docker(&[
        "exec",
        &client.name,
        "sh",
        "-c",
        "echo $DB_SERVICE_IP",
    ]));
    assert_eq!(env.trim(), db_ip);

    // Data written by the instance survives a remove and a new run; the image is not re-seeded.
    std::fs::write(host.join("sub/seed.txt"), "changed\n").unwrap();
    docker(&["exec", &db.name, "sh", "-c", "echo mine > /data/mine.txt"]);
    let again = Plan {
        project: p.name.clone(),
        steps: vec![
            Step::Remove {
                container: db.name.clone(),
                stop_timeout_s: 1,
            },
            Step::Run(Box::new(db.clone())),
        ],
    };
    engine::apply(&eng, &again, &quiet_apply_context(&p.dir))
        .await
        .unwrap();
    let seen = stdout(&docker(&[
        "exec",
        &db.name,
        "cat",
        "/data/sub/seed.txt",
        "/data/mine.txt",
    ]));
    assert_eq!(seen, "changed\nmine\n");
}

/// Several projects created at once choose their subnets from the same listing; the ones that
/// lose the race go on to the next free subnet instead of failing ("Pool overlaps").
#[tokio::test(flavor = "multi_thread")]
async fn networks_created_at_once_each_get_their_own_subnet() {
    let p = TestProject::new("eapi-nets");
    let eng = engine::connect().await.expect("engine");
    let labels = project_labels(&p);
    let names: Vec<String> = (0..6).map(|i| format!("{}-{i}", p.name)).collect();
    let created = futures_util::future::join_all(
        names
            .iter()
            .map(|n| engine::network::ensure_network(&eng, n, &labels)),
    )
    .await;
    for (n, r) in names.iter().zip(&created) {
        assert!(matches!(r, Ok(true)), "{n}: {r:?}");
    }
    let mut subnets: Vec<String> = names
        .iter()
        .map(|n| {
            stdout(&docker(&[
                "network",
                "inspect",
                "-f",
                "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
                n,
            ]))
        })
        .collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), names.len(), "{subnets:?}");
}
