//! `http_settings!`: the common keys declared once, still strictly checked.

use tally_http::settings::HttpSettings;

tally_http::http_settings! {
    /// A connector's own keys.
    pub struct Settings {
        #[serde(default)]
        pub projects: Vec<String>,
    }
}

fn parse(json: serde_json::Value) -> Result<Settings, String> {
    serde_json::from_value(json).map_err(|e| e.to_string())
}

#[test]
fn common_keys_get_their_defaults_and_own_keys_sit_beside_them() {
    let s = parse(serde_json::json!({
        "url": "https://tracker.example", "token_env": "T", "projects": ["OPS"]
    }))
    .expect("valid");
    let c = s.common();
    assert_eq!(
        (c.url, c.token_env, c.user),
        ("https://tracker.example", "T", None)
    );
    assert_eq!(
        (c.lookback_days, c.max_concurrency, c.timeout_secs),
        (365, 4, 60)
    );
    assert_eq!(s.projects, ["OPS"]);
    assert_eq!(s.system_name("tracker-main"), "tracker-main");
    assert!(s.checked("tracker-main", "API token", None).is_ok());
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let e = parse(serde_json::json!({
        "url": "https://tracker.example", "token_env": "T", "lookback": 9
    }))
    .expect_err("unknown key");
    assert!(e.contains("unknown field `lookback`"), "{e}");
}

#[test]
fn a_link_field_needs_its_system() {
    let s = parse(serde_json::json!({
        "url": "https://tracker.example", "token_env": "T", "link_field": "Jira key"
    }))
    .expect("parses");
    let e = s
        .checked("t", "API token", None)
        .expect_err("link_system missing")
        .to_string();
    assert!(e.contains("link_system"), "{e}");
}
