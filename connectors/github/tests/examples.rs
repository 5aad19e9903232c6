//! The example configuration in `config/examples/` holds settings this connector accepts.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn the_example_configuration_builds() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/github.toml");
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut built = 0;
    for entry in doc["connector"].as_array().unwrap() {
        let mut table = entry.as_table().unwrap().clone();
        let name = table.remove("name").unwrap();
        if table.remove("kind").unwrap().as_str() != Some(tally_github::KIND) {
            continue;
        }
        let settings: tally_github::Settings = toml::Value::Table(table)
            .try_into()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(settings.org.as_deref(), Some("octo-org"));
        tally_github::build(name.as_str().unwrap(), settings)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        built += 1;
    }
    assert_eq!(built, 1);
}
