//! `build`: parents first, the built-in DNS.

use super::*;

#[test]
fn build_all_in_order_with_the_builtin_dns() {
    let p = project();
    let b = Action::Build(crate::action::BuildAction {
        target: Target::All,
        no_cache: true,
        cause: None,
        dry_run: true,
    });
    let planned = plan(&p, &Observed::default(), &b, &ctx()).unwrap();
    assert_eq!(
        planned.plan.to_string(),
        "plan for project demo: 5 steps\n\
             1. build demo/base from /p/demo/services/base [no cache]\n\
             2. build demo/db from /p/demo/services/db [no cache]\n\
             3. build demo/dops-dns (built-in) [no cache]\n\
             4. build demo/tool from /p/demo/services/tool after base [no cache]\n\
             5. build demo/web from /p/demo/services/web after base [no cache]\n"
    );
    let Step::Build(dns) = &planned.plan.steps[2] else {
        panic!()
    };
    assert!(dns.builtin);
    // build:web builds web, and its parent only when that image is missing
    let bw = Action::Build(crate::action::BuildAction {
        target: sel("web", None),
        no_cache: false,
        cause: None,
        dry_run: true,
    });
    let mut o = Observed::default();
    assert_eq!(summary(&p, &o, &bw).len(), 2);
    o.images.insert("demo/base:latest".into(), "x".into());
    assert_eq!(
        summary(&p, &o, &bw),
        vec!["build demo/web from /p/demo/services/web after base"]
    );
}
