//! Making URLs and messages safe to show: an error message is printed on screen, logged and
//! sometimes pasted into a ticket, so it must never carry a secret.

use reqwest::Url;

/// Query parameter names whose values are treated as secrets. Matched as a case-insensitive
/// substring, so `api_key`, `accessToken` and `sig` variants are all caught.
const SECRET_PARAM_MARKERS: [&str; 7] = [
    "key", "token", "secret", "password", "passwd", "auth", "sig",
];

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAM_MARKERS.iter().any(|m| lower.contains(m))
}

/// The URL as it may be shown: without user info, and with the values of query parameters
/// named like keys or tokens replaced by `***` (the name stays: it tells what was sent).
pub fn redact_url(url: &Url) -> String {
    let mut clean = url.clone();
    // Only fails for URLs that cannot have credentials (e.g. `data:`); nothing to strip then.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    if clean.query().is_some() {
        let pairs: Vec<(String, String)> = clean
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.to_string()
}

/// Redacts a URL given as text. Text that does not parse as a URL cannot be cleaned
/// reliably, so it is not shown at all.
pub fn redact_url_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparseable URL>".to_string(),
    }
}

/// Replaces every occurrence of `secret` in `text` with `***`. A last line of defence for
/// text that came from elsewhere (a server's error body, a transport error) and could echo
/// what we sent.
pub fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        // Very short secrets would blank out ordinary words; real tokens are long.
        Some(s) if s.len() >= 4 => text.replace(s, "***"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo_and_secret_params() {
        let u = Url::parse(
            "https://bob:hunter2@redmine.example.org/issues.json?key=abc123&offset=25&access_token=t0k&project_id=ops",
        )
        .unwrap();
        let shown = redact_url(&u);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("bob"), "{shown}");
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(!shown.contains("t0k"), "{shown}");
        assert!(shown.contains("offset=25"), "{shown}");
        assert!(shown.contains("project_id=ops"), "{shown}");
        assert!(shown.contains("key=***"), "{shown}");
    }

    #[test]
    fn scrub_replaces_the_secret_everywhere() {
        assert_eq!(
            scrub("bad key s3cr3t, s3cr3t again", Some("s3cr3t")),
            "bad key ***, *** again"
        );
        assert_eq!(scrub("nothing", None), "nothing");
    }
}
