//! Convergence of the dops DNS, measured with the real client dops-init uses
//! (`dops::init::register`): UP → resolvable, and kill -9 → gone (lease expiry).
//!
//! `dns_converge <server ip:port> <DNS_KEY>` prints two lines:
//! `up_to_resolvable_ms <n>` and `kill9_to_gone_ms <n>`.
//! (`dns_converge register ...` is the child it kills.)
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dops::init::register::{self, Policy, Registrar};
use dops::tsig_key::TsigKey;

fn registrar(server: SocketAddr, key: &str, instance: &str, ip: [u8; 4]) -> Registrar {
    Registrar {
        service: "conv".into(),
        instance: instance.into(),
        ip: std::net::Ipv4Addr::from(ip).into(),
        port: None,
        zone: "local.zone".into(),
        key: TsigKey::parse(key).expect("key"),
        policy: Policy::Append,
        server,
        server_name: None,
        ip_from_route: false,
        lease: Duration::from_secs(6),
        timeout: Duration::from_secs(1),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "register" {
        let server: SocketAddr = args[2].parse().expect("server");
        let h = register::spawn(registrar(server, &args[3], &args[4], [10, 99, 0, 2]));
        h.set_registered(true);
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let server: SocketAddr = args
        .get(1)
        .expect("server ip:port")
        .parse()
        .expect("server");
    let key = args.get(2).expect("DNS_KEY");
    let t = Duration::from_millis(500);

    // UP -> resolvable (in-process registration thread, as dops-init does when it reaches UP)
    let mut ups = Vec::new();
    for i in 0..20 {
        let inst = format!("u{i}");
        let name = format!("conv-{inst}.local.zone");
        let h = register::spawn(registrar(server, key, &inst, [10, 99, 1, i as u8 + 1]));
        let t0 = Instant::now();
        h.set_registered(true);
        while register::lookup_a(server, &name, t)
            .map(|v| v.is_empty())
            .unwrap_or(true)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        ups.push(t0.elapsed().as_secs_f64() * 1000.0);
        h.withdraw_and_stop(Duration::from_secs(1));
    }
    ups.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "up_to_resolvable_ms median {:.2} max {:.2} (n={})",
        ups[ups.len() / 2],
        ups[ups.len() - 1],
        ups.len()
    );

    // kill -9 -> gone: a child process registers, we SIGKILL it, then poll.
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["register", &server.to_string(), key, "k9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("child");
    let name = "conv-k9.local.zone";
    let t0 = Instant::now();
    while register::lookup_a(server, name, t)
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("child never registered");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // let it refresh a couple of times, then kill at a random point of its refresh cycle
    std::thread::sleep(Duration::from_millis(4500));
    child.kill().expect("kill -9");
    let _ = child.wait();
    let t0 = Instant::now();
    while !register::lookup_a(server, name, t)
        .map(|v| v.is_empty())
        .unwrap_or(false)
    {
        if t0.elapsed() > Duration::from_secs(20) {
            panic!("never expired");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "kill9_to_gone_ms {:.0} (lease 6000)",
        t0.elapsed().as_secs_f64() * 1000.0
    );
}
