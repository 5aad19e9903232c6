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

tally_http::http_settings! {
    url_default = "public_api";
    /// A connector whose system has a well-known address.
    pub struct Hosted {
        /// Its own link key.
        #[serde(default)]
        pub link_prefix: Option<String>,
    }
}

fn public_api() -> String {
    "https://api.example.com".to_string()
}

#[test]
fn a_url_default_applies_only_where_declared() {
    let h: Hosted = serde_json::from_value(serde_json::json!({"token_env": "T"})).expect("valid");
    assert_eq!(h.common().url, "https://api.example.com");
    let e = parse(serde_json::json!({"token_env": "T"})).expect_err("url required");
    assert!(e.contains("missing field `url`"), "{e}");
}

#[test]
fn a_link_key_and_its_system_come_together() {
    let h: Hosted = serde_json::from_value(serde_json::json!({
        "token_env": "T", "link_prefix": "Jira:"
    }))
    .expect("parses");
    let e = tally_http::settings::link_pair(
        "t",
        "link_prefix",
        h.link_prefix.is_some(),
        h.common().link_system,
        "name the prefix",
    )
    .expect_err("link_system missing")
    .to_string();
    assert_eq!(
        e,
        "configuration: connector 't': link_prefix needs link_system: the name of the other \
         system as shown in reports (e.g. \"Jira\")"
    );
    let e =
        tally_http::settings::link_pair("t", "link_prefix", false, Some("Jira"), "name the prefix")
            .expect_err("link key missing")
            .to_string();
    assert!(
        e.ends_with("link_system is set without link_prefix: name the prefix"),
        "{e}"
    );
    assert!(tally_http::settings::link_pair("t", "link_prefix", true, Some("Jira"), "").is_ok());
}

tally_http::http_settings! {
    page_size = "Items per page.";
    mapped_fields = "default_mapped", "Fields whose people are mapped.";
    link_field = "Where an item holds the other side's key.";
    directory = "Read the directory.";
    /// A connector that asks for the shared optional keys.
    pub struct Full {
        /// Its own key.
        #[serde(default)]
        pub queues: Vec<String>,
    }
}

fn default_mapped() -> Vec<String> {
    vec!["assignee".to_string()]
}

#[test]
fn the_optional_shared_keys_come_with_their_defaults_and_only_where_asked() {
    let f: Full = serde_json::from_value(serde_json::json!({
        "url": "https://tracker.example", "token_env": "T"
    }))
    .expect("valid");
    assert_eq!(f.page_size, 100);
    assert_eq!(f.mapped_fields, ["assignee"]);
    assert_eq!(f.link_field, None);
    assert!(f.directory);
    assert!(f.queues.is_empty());
    let e = f
        .checked("t", "API token", Some(0))
        .expect_err("page_size 0")
        .to_string();
    assert!(e.contains("connector 't': page_size"), "{e}");
    // Where not asked for, the key is unknown.
    let e = parse(serde_json::json!({
        "url": "https://tracker.example", "token_env": "T", "directory": false
    }))
    .expect_err("no directory key");
    assert!(e.contains("unknown field `directory`"), "{e}");
}
