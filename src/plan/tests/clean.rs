//! `clean`: what goes, in which order; orphans and data only when asked.

use super::*;

fn clean(target: Target, orphans: bool, purge: bool) -> Action {
    Action::Clean(CleanAction {
        target,
        orphans,
        purge,
        yes: true,
        dry_run: true,
    })
}

fn platform() -> Observed {
    let mut o = Observed::default();
    o.networks.push("demo".into());
    o.containers
        .push(running("dops-dns-master", "dops-dns", "master"));
    o.containers.push(running("db-master", "db", "master"));
    o.containers.push(running("web-one", "web", "one"));
    o.containers.push(running("gone-x", "gone", "x"));
    o
}

#[test]
fn clean_all_keeps_orphans_and_data_by_default() {
    let p = project();
    assert_eq!(
        plan_text(&p, &platform(), &clean(Target::All, false, false)),
        "plan for project demo: 3 steps\n\
             1. remove demo-web-one (stop timeout 10s)\n\
             2. remove demo-db-master (stop timeout 10s)\n\
             3. remove demo-dops-dns-master (stop timeout 10s)\n"
    );
}

#[test]
fn clean_all_with_orphans_and_purge() {
    let p = project();
    assert_eq!(
        plan_text(&p, &platform(), &clean(Target::All, true, true)),
        "plan for project demo: 9 steps\n\
             1. remove demo-gone-x (stop timeout 10s)\n\
             2. purge data of demo-gone-x: /p/demo/data/gone-x\n\
             3. remove demo-web-one (stop timeout 10s)\n\
             4. purge data of demo-web-one: /p/demo/data/web-one\n\
             5. remove demo-db-master (stop timeout 10s)\n\
             6. purge data of demo-db-master: /p/demo/data/db-master\n\
             7. remove demo-dops-dns-master (stop timeout 10s)\n\
             8. purge data of demo-dops-dns-master: /p/demo/data/dops-dns-master\n\
             9. remove network demo\n"
    );
}

#[test]
fn clean_one_and_nothing() {
    let p = project();
    assert_eq!(
        summary(&p, &platform(), &clean(sel("web", None), false, false)),
        vec!["remove demo-web-one (stop timeout 10s)"]
    );
    assert_eq!(
        plan_text(&p, &Observed::default(), &clean(Target::All, false, false)),
        "plan for project demo: nothing to do\n"
    );
}

#[test]
fn other_verbs_have_no_plan() {
    let a = Action::Ps(crate::action::PsAction {
        target: None,
        all: false,
    });
    assert_eq!(
        plan(&project(), &Observed::default(), &a, &ctx())
            .unwrap_err()
            .to_string(),
        "'ps' has no plan (plans exist for run, rerun, build and clean)"
    );
}

#[test]
fn purge_refuses_labels_that_would_leave_the_data_folder() {
    let p = project();
    let mut o = Observed::default();
    o.containers
        .push(running("web-evil", "web", "../../../etc"));
    let e = plan(&p, &o, &clean(Target::All, true, true), &ctx()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "refusing to purge the data of demo-web-evil: its instance label must start with a letter or digit, found \"../../../etc\"; nothing was deleted"
    );
    // without --purge, removing the container is fine
    assert!(plan(&p, &o, &clean(Target::All, true, false), &ctx()).is_ok());
}
