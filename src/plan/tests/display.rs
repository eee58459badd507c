//! The plan's text (the snapshot) and its JSON form.

use super::*;

#[test]
fn snapshot_run_all_from_nothing() {
    let text = plan_text(&project(), &Observed::default(), &run(Target::All));
    let expected = r#"plan for project demo: 10 steps
 1. create network demo
 2. build demo/base from /p/demo/services/base
 3. build demo/db from /p/demo/services/db
 4. build demo/dops-dns (built-in)
 5. build demo/web from /p/demo/services/web after base
 6. run demo-dops-dns-master (demo/dops-dns, type master)
     hostname   dops-dns-master
     network    demo
     env        DNS_KEY_FILE=/run/dops/dns.key  (dns)
                DNS_UPDATE_POLICY=HIDE          (dns)
                DNS_ZONE=local.zone             (dns)
                HOST_HOSTNAME=host1             (fixed)
                INSTANCE=master                 (fixed)
                INSTANCE_TYPE=master            (fixed)
                INTERACTIVE=False               (fixed)
                PERSISTENT_DATA=False           (fixed)
                PERSISTENT_HOME=False           (fixed)
                PERSISTENT_LOG=False            (fixed)
                PERSISTENT_OPT=False            (fixed)
                SAFEMODE=False                  (fixed)
                SERVICE=dops-dns                (fixed)
     mounts     /p/demo/.dops/run/dops-dns-master -> /run/dops
     dns key    /p/demo/.dops/run/dops-dns-master/dns.key -> /run/dops/dns.key (key demo: the project key, mode 0400)
     restart    unless-stopped (logs max-file=3 max-size=10m)
     labels     io.dops.conf=run.conf io.dops.instance=master io.dops.instance_type=master io.dops.project=demo io.dops.service=dops-dns
 7. run demo-db-master (demo/db, type master)
     hostname   db-master
     network    demo
     env        DB_PASSWORD=secret                           (run.conf)
                DNS_KEY_FILE=/run/dops/dns.key               (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=APPEND                     (dns)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=master                              (fixed)
                INSTANCE_TYPE=master                         (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=True                         (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=True                          (fixed)
                PERSISTENT_OPT=False                         (fixed)
                SAFEMODE=False                               (fixed)
                SERVICE=db                                   (fixed)
     mounts     /p/demo/.dops/run/db-master -> /run/dops
                /p/demo/data/db-master/data -> /data (seed)
                /p/demo/data/db-master/log -> /var/log (seed)
     dns key    /p/demo/.dops/run/db-master/dns.key -> /run/dops/dns.key (key db.master.append.demo: its own names only, mode 0400)
     ports      127.0.0.1:5432 -> 5432/tcp
     restart    unless-stopped (logs max-file=3 max-size=10m)
     labels     io.dops.conf=run.conf io.dops.instance=master io.dops.instance_type=master io.dops.project=demo io.dops.service=db
     dns        server <ip of demo-dops-dns-master> zone local.zone
 8. sleep 2s
 9. run demo-web-one (demo/web, type standard)
     hostname   web-one
     network    demo
     env        CFG={"greeting":"hi"}                        (fixed)
                DB_SERVICE_IP=<ip of demo-db-master>         (link)
                DNS_KEY_FILE=/run/dops/dns.key               (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=APPEND                     (dns)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=one                                 (fixed)
                INSTANCE_TYPE=standard                       (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=False                        (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=False                         (fixed)
                PERSISTENT_OPT=False                         (fixed)
                SAFEMODE=False                               (fixed)
                SERVICE=web                                  (fixed)
     mounts     /p/demo/.dops/run/web-one -> /run/dops
                /p/demo/shared -> /shared (ro)
     dns key    /p/demo/.dops/run/web-one/dns.key -> /run/dops/dns.key (key web.one.append.demo: its own names only, mode 0400)
     restart    unless-stopped (logs max-file=3 max-size=10m)
     labels     io.dops.conf=run.conf io.dops.instance=one io.dops.instance_type=standard io.dops.project=demo io.dops.service=web
     dns        server <ip of demo-dops-dns-master> zone local.zone
10. run demo-web-published (demo/web, type published)
     hostname   web-published
     network    demo
     env        DB_SERVICE_IP=<ip of demo-db-master>         (link)
                DNS_KEY_FILE=/run/dops/dns.key               (dns)
                DNS_SERVICE_IP=<ip of demo-dops-dns-master>  (dns)
                DNS_UPDATE_POLICY=REPLACE                    (run.conf)
                DNS_ZONE=local.zone                          (dns)
                HOST_HOSTNAME=host1                          (fixed)
                INSTANCE=published                           (fixed)
                INSTANCE_TYPE=published                      (fixed)
                INTERACTIVE=False                            (fixed)
                PERSISTENT_DATA=False                        (fixed)
                PERSISTENT_HOME=False                        (fixed)
                PERSISTENT_LOG=False                         (fixed)
                PERSISTENT_OPT=False                         (fixed)
                PUBLISH_ON_IP=192.168.1.10                   (run.conf)
                SAFEMODE=False                               (fixed)
                SERVICE=web                                  (fixed)
     mounts     /p/demo/.dops/run/web-published -> /run/dops
     dns key    /p/demo/.dops/run/web-published/dns.key -> /run/dops/dns.key (key web.published.replace.demo: its own names only, mode 0400)
     ports      192.168.1.10:80 -> 80/tcp
                192.168.1.10:8443 -> 443/tcp
     restart    unless-stopped (logs max-file=3 max-size=10m)
     labels     io.dops.conf=run.conf io.dops.instance=published io.dops.instance_type=published io.dops.project=demo io.dops.service=web
     dns        server <ip of demo-dops-dns-master> zone local.zone
"#;
    assert_eq!(text, expected, "\n--- actual ---\n{text}");
}

#[test]
fn json_form_masks_the_key() {
    let planned = plan(&project(), &Observed::default(), &run(Target::All), &ctx()).unwrap();
    let j = crate::output::plan_json(&planned).to_string();
    assert!(!j.contains("c2VjcmV0c2VjcmV0"));
    assert!(j.contains("\"key_name\":\"web.one.append.demo\""), "{j}");
    assert!(j.contains("\"DNS_KEY_FILE\""));
    assert!(!j.contains("\"DNS_KEY\""), "no key in the environment");
    assert!(j.contains("\"step\":\"run\""));
    assert!(!planned.plan.to_string().contains("c2VjcmV0c2VjcmV0"));
    assert!(!format!("{:?}", planned.plan).contains("c2VjcmV0c2VjcmV0"));
    // the plan itself keeps each instance's key for the engine: derived, never the project's
    let project = crate::tsig_key::TsigKey::parse(ctx().dns_key.as_deref().unwrap()).unwrap();
    let keys: Vec<_> = planned
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Run(spec) => spec.dns_key.clone().map(|k| (spec.hostname.clone(), k)),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 4);
    for (host, k) in keys {
        if host == "dops-dns-master" {
            assert_eq!(k.key, project, "the server holds the project key");
            assert_eq!(k.scope, "project");
        } else {
            assert_ne!(k.key.secret, project.secret);
            assert_eq!(
                crate::tsig_key::credential(&project, &k.key_name)
                    .unwrap()
                    .0,
                k.key.secret
            );
            assert_eq!(k.scope, "instance");
        }
    }
}
