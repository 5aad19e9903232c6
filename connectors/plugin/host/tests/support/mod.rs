//! Builds the plugin libraries the tests load, with the cargo that runs the tests and the
//! same target directory (so a `cargo test` that already built them builds nothing), and
//! says where each one is. Shared by this crate's tests and `tui/tests/plugins.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const EXAMPLE: &str = "tally-plugin-example";
pub const ABI2: &str = "tally-plugin-broken-abi2";
pub const NOSYMBOL: &str = "tally-plugin-broken-nosymbol";
pub const PANICKY: &str = "tally-plugin-broken-panicky";

/// Every test plugin, built once per test process: package name → library path.
pub fn plugins() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| build(&[EXAMPLE, ABI2, NOSYMBOL, PANICKY]))
}

pub fn plugin(package: &str) -> &'static Path {
    plugins()
        .get(package)
        .unwrap_or_else(|| panic!("{package} was not built"))
}

/// Copies the library of `package` into `dir` (created if needed), as an administrator
/// drops a plugin into a plugin directory; returns the copy's path.
pub fn install(package: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("plugin dir");
    let from = plugin(package);
    let to = dir.join(from.file_name().expect("file name"));
    std::fs::copy(from, &to).expect("copy plugin");
    to
}

/// A file with a library's name that is not a library.
pub fn install_junk(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("plugin dir");
    let to = dir.join(format!("libjunk.{}", std::env::consts::DLL_EXTENSION));
    std::fs::write(&to, "this is a text file, not a shared library\n").expect("write junk");
    to
}

fn build(packages: &[&str]) -> BTreeMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "building the test plugins failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut built = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        let name = msg["package_id"].as_str().unwrap_or_default();
        let Some(package) = packages
            .iter()
            .find(|p| name.contains(&format!("#{p}@")) || name.starts_with(&format!("{p} ")))
        else {
            continue;
        };
        if !is_cdylib {
            continue;
        }
        let library = msg["filenames"].as_array().and_then(|files| {
            files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX))
                .map(PathBuf::from)
        });
        if let Some(library) = library {
            built.insert((*package).to_owned(), library);
        }
    }
    for p in packages {
        assert!(built.contains_key(*p), "cargo built no library for {p}");
    }
    built
}
