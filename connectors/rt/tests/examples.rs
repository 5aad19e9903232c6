//! The example configuration in `config/examples/rt.toml` holds settings this connector
//! accepts.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn the_example_configuration_builds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/rt.toml");
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut built = 0;
    for entry in doc["connector"].as_array().unwrap() {
        let mut table = entry.as_table().unwrap().clone();
        let name = table.remove("name").unwrap();
        assert_eq!(table.remove("kind").unwrap().as_str(), Some(tally_rt::KIND));
        let settings: tally_rt::Settings = toml::Value::Table(table)
            .try_into()
            .unwrap_or_else(|e| panic!("rt.toml: {e}"));
        assert_eq!(settings.queues, ["Support", "Billing"]);
        tally_rt::build(name.as_str().unwrap(), settings).unwrap_or_else(|e| panic!("{e}"));
        built += 1;
    }
    assert_eq!(built, 1);
}
