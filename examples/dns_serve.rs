//! `dops dns serve` before the CLI wires it: the same `dops::commands::dns::serve` with the
//! configuration from the environment (DNS_LISTEN, DNS_ZONE, DNS_KEY, DNS_TTL, DNS_LEASE,
//! DNS_UPSTREAM, DNS_RECORDS_FILE, SERVICE_IP). Used by bench/dns.sh.
fn main() {
    let threads = std::env::var("DNS_THREADS")
        .ok()
        .and_then(|t| t.parse().ok());
    let args = dops::commands::dns::ServeArgs {
        threads,
        ..Default::default()
    };
    if let Err(e) = dops::commands::dns::serve(args) {
        eprintln!("dops: {e:#}");
        std::process::exit(2);
    }
}
