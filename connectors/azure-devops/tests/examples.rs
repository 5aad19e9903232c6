//! The example configurations in `config/examples/` hold settings this connector accepts.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn example_configurations_build() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples");
    let mut built = 0;
    for file in ["azure-devops.toml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        for entry in doc["connector"].as_array().unwrap() {
            let mut table = entry.as_table().unwrap().clone();
            let name = table.remove("name").unwrap();
            if table.remove("kind").unwrap().as_str() != Some(tally_azure_devops::KIND) {
                continue;
            }
            let settings: tally_azure_devops::Settings = toml::Value::Table(table)
                .try_into()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            tally_azure_devops::build(name.as_str().unwrap(), settings)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            built += 1;
        }
    }
    assert_eq!(built, 2);
}
