//! Names with `*` wildcards, as targets (`run:web*`), links (`web-*`) and filters use them. A leaf.

/// `*` matches any run of characters (including none); everything else is literal.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) {
        return false;
    }
    let mut rest = &text[first.len()..];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "web"));
        assert!(wildcard_match("we*", "web"));
        assert!(wildcard_match("*b", "web"));
        assert!(wildcard_match("w*b", "web"));
        assert!(wildcard_match("w*b", "wb"));
        assert!(!wildcard_match("w*b", "w"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxcyyb"));
        assert!(!wildcard_match("web", "webs"));
        assert!(wildcard_match("dops-dns-*", "dops-dns-master"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }
}
