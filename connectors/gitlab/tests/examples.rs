//! The example configuration in `config/examples/` holds settings this connector accepts.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn the_example_configuration_builds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples");
    let text = std::fs::read_to_string(dir.join("gitlab.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let mut built = 0;
    for entry in doc["connector"].as_array().unwrap() {
        let mut table = entry.as_table().unwrap().clone();
        let name = table.remove("name").unwrap();
        if table.remove("kind").unwrap().as_str() != Some(tally_gitlab::KIND) {
            continue;
        }
        let settings: tally_gitlab::Settings = toml::Value::Table(table).try_into().unwrap();
        tally_gitlab::build(name.as_str().unwrap(), settings).unwrap();
        built += 1;
    }
    assert_eq!(built, 1);
}
