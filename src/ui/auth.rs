//! Who may use the dashboard (pure, tested here): the random token of the URL dops printed (a
//! cookie after the first visit, or a header for scripts), a Host header naming the server
//! itself on a loopback address (a web page of another site can't reach it through DNS
//! rebinding), and for actions an Origin that is the dashboard's own.

use std::net::SocketAddr;

use base64::Engine as _;

/// The cookie that carries the token after the first visit, named after the port: a browser
/// sends a host's cookies to every port, and two dashboards must not overwrite each other's.
pub fn cookie_name(port: u16) -> String {
    format!("dops_ui_{port}")
}
/// The header a script may send the token in instead.
pub const HEADER: &str = "x-dops-token";

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compare in constant time (no early exit on the first differing byte).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request carries: the cookie, the header, or `Authorization: Bearer`.
pub fn token_of<'a>(
    cookie_name: &str,
    cookie: Option<&'a str>,
    header: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(h) = header {
        return Some(h.trim());
    }
    if let Some(a) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
        return Some(a.trim());
    }
    cookie?.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == cookie_name).then_some(v)
    })
}

/// The `token` parameter of a query string.
pub fn token_in_query(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

/// The Host headers a server on `addr` accepts: on a loopback address, only its own names
/// (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`); elsewhere any (the token guards).
pub fn allowed_hosts(addr: SocketAddr) -> Option<Vec<String>> {
    if !addr.ip().is_loopback() {
        return None;
    }
    let port = addr.port();
    let mut hosts = vec![format!("localhost:{port}"), format!("{addr}")];
    if addr.is_ipv4() {
        hosts.push(format!("127.0.0.1:{port}"));
    } else {
        hosts.push(format!("[::1]:{port}"));
    }
    hosts.dedup();
    Some(hosts)
}

/// Is this Host header one the server answers to?
pub fn host_ok(allowed: &Option<Vec<String>>, host: Option<&str>) -> bool {
    match allowed {
        None => true,
        Some(list) => host.is_some_and(|h| list.iter().any(|a| a.eq_ignore_ascii_case(h))),
    }
}

/// May a request that changes something go on? A browser always sends `Origin` with a POST: it
/// must be this server (`http://<Host>`), and `Sec-Fetch-Site`, when sent, must not say
/// another site. A client without them (a script with the token) may.
pub fn same_origin(host: Option<&str>, origin: Option<&str>, fetch_site: Option<&str>) -> bool {
    if fetch_site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    match (origin, host) {
        (None, _) => true,
        (Some(o), Some(h)) => o.eq_ignore_ascii_case(&format!("http://{h}")),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cookies_and_headers() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert!(same(&t, &t.clone()));
        assert!(!same(&t, "x"));
        let c = cookie_name(8080);
        assert_eq!(
            token_of(&c, Some("a=b; dops_ui_8080=tok; c=d"), None, None),
            Some("tok")
        );
        assert_eq!(token_of(&c, Some("dops_ui_9090=tok"), None, None), None);
        assert_eq!(token_of(&c, None, Some("h"), None), Some("h"));
        assert_eq!(token_of(&c, None, None, Some("Bearer zz")), Some("zz"));
        assert_eq!(token_in_query(Some("x=1&token=abc")), Some("abc"));
        assert_eq!(token_in_query(Some("token=")), None);
    }

    #[test]
    fn hosts_and_origins() {
        let local = allowed_hosts("127.0.0.1:8080".parse().unwrap());
        assert!(host_ok(&local, Some("127.0.0.1:8080")));
        assert!(host_ok(&local, Some("LOCALHOST:8080")));
        assert!(!host_ok(&local, Some("evil.example:8080")));
        assert!(!host_ok(&local, None));
        let v6 = allowed_hosts("[::1]:9".parse().unwrap());
        assert!(host_ok(&v6, Some("[::1]:9")));
        let any = allowed_hosts("0.0.0.0:8080".parse().unwrap());
        assert!(host_ok(&any, Some("whatever:1")));
        let h = Some("127.0.0.1:8080");
        assert!(same_origin(
            h,
            Some("http://127.0.0.1:8080"),
            Some("same-origin")
        ));
        assert!(!same_origin(h, Some("http://evil.example"), None));
        assert!(!same_origin(h, Some("null"), None));
        assert!(!same_origin(h, None, Some("cross-site")));
        assert!(same_origin(h, None, None));
    }
}
