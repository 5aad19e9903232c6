//! Issue 11 item 3: every number of the access insights agrees between the terminal UI,
//! `Insights.xlsx` and the JSON document, ON THE SAME STORE. One configuration points the
//! demo connector at one store file; `tally --insights x.xlsx` collects into it and writes
//! the workbook, `tally --insights x.json` collects again (idempotent: the same store) and
//! writes the document, and the terminal UI, started on that configuration in a real
//! terminal (tmux), shows the Access and Dormant Seats views, read back from the screen.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use calamine::Data;
use common::tmux::{have_tmux, numbers, quote, Tmux};
use common::{stderr, tally, BIN, PEOPLE_METRICS};
use serde_json::Value as Json;

const AS_OF: &str = "2026-11-01T00:00:00Z";

const CONFIG: &str = r#"
[store]
path = "tally.db"

[identity]
managed_domains = ["northwind.example"]

[[connector]]
name = "demo"
kind = "demo"
"#;

/// The screen's page text: each line without the border.
fn page(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .trim_start_matches("■ ")
                .to_owned()
        })
        .collect()
}

/// The lines of the section under `heading`, up to the next of `headings`.
fn section<'a>(lines: &'a [String], heading: &str, headings: &[&str]) -> &'a [String] {
    let start = lines
        .iter()
        .position(|l| l.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading}:\n{}", lines.join("\n")));
    let end = lines[start + 1..]
        .iter()
        .position(|l| headings.iter().any(|h| l.starts_with(h)))
        .map_or(lines.len(), |e| start + 1 + e);
    &lines[start + 1..end]
}

fn n(v: &Json) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// One sheet as rows of cells.
fn sheets(path: &Path) -> BTreeMap<String, Vec<Vec<Data>>> {
    common::read_xlsx(path).sheets
}

/// A sheet's rows as header → cell maps.
fn objects(sheet: &[Vec<Data>]) -> Vec<BTreeMap<String, Data>> {
    let header: Vec<String> = sheet[0].iter().map(|c| c.to_string()).collect();
    sheet[1..]
        .iter()
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

fn count(d: &Data) -> u64 {
    match d {
        Data::Int(i) => u64::try_from(*i).expect("a count"),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Data::Float(f) if f.fract() == 0.0 && *f >= 0.0 => *f as u64,
        other => panic!("not a count: {other:?}"),
    }
}

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The workbook says what the JSON says: every count of every sheet, every domain and
/// dormant seat, and one Accounts row per account.
fn workbook_equals_json(book: &BTreeMap<String, Vec<Vec<Data>>>, doc: &Json) {
    let people: BTreeMap<String, Data> = book["People with Access"][1..]
        .iter()
        .map(|r| (r[0].to_string(), r[1].clone()))
        .collect();
    let p = &doc["people"];
    for (label, member) in PEOPLE_METRICS {
        assert_eq!(
            count(&people[label]),
            n(&p[member]),
            "People with Access/{label}"
        );
    }
    assert_eq!(count(&people["Active Days"]), n(&doc["active_days"]));
    assert_eq!(count(&people["Dormant Days"]), n(&doc["dormant_days"]));

    let systems = objects(&book["Systems"]);
    let json_systems = doc["systems"].as_array().expect("systems");
    assert_eq!(systems.len(), json_systems.len());
    for (row, s) in systems.iter().zip(json_systems) {
        assert_eq!(text(&row["System"]), s["system"].as_str().expect("name"));
        let mut pairs = vec![
            ("Accounts with Access".to_owned(), &s["accounts"]),
            ("Seats".into(), &s["seats"]),
            ("Active".into(), &s["active"]),
            ("Dormant Seats".into(), &s["dormant"]),
            ("Two-Step Enabled".into(), &s["two_step"]["enabled"]),
            ("Two-Step Disabled".into(), &s["two_step"]["disabled"]),
            ("Two-Step Unknown".into(), &s["two_step"]["unknown"]),
            ("SSO".into(), &s["sso"]),
            ("Managed".into(), &s["managed"]),
            ("External".into(), &s["external"]),
            ("Unknown".into(), &s["unknown"]),
            ("Service Accounts".into(), &s["service_accounts"]),
            ("Seen Without Account".into(), &s["seen_without_account"]),
        ];
        for (class, title) in [
            ("managed", "Managed"),
            ("external", "External"),
            ("unknown", "Unknown"),
        ] {
            let g = &s["sign_in"][class];
            pairs.push((
                format!("{title} Two-Step Enabled"),
                &g["two_step"]["enabled"],
            ));
            pairs.push((
                format!("{title} Two-Step Disabled"),
                &g["two_step"]["disabled"],
            ));
            pairs.push((
                format!("{title} Two-Step Unknown"),
                &g["two_step"]["unknown"],
            ));
            pairs.push((format!("{title} SSO"), &g["sso"]));
        }
        assert_eq!(
            row.len(),
            pairs.len() + 1,
            "every Systems column is compared"
        );
        for (header, value) in pairs {
            assert_eq!(
                count(&row[&header]),
                n(value),
                "Systems/{header} of {}",
                s["system"]
            );
        }
    }

    let domains = objects(&book["Domains"]);
    let json_domains = doc["domains"].as_array().expect("domains");
    assert_eq!(domains.len(), json_domains.len());
    for (row, d) in domains.iter().zip(json_domains) {
        assert_eq!(text(&row["Domain"]), d["domain"].as_str().expect("domain"));
        assert_eq!(count(&row["People"]), n(&d["people"]));
        let managed = if d["managed"].as_bool().expect("bool") {
            "Yes"
        } else {
            "No"
        };
        assert_eq!(text(&row["Managed"]), managed);
    }

    let seats = objects(&book["Dormant Seats"]);
    let json_seats = doc["dormant_seats"].as_array().expect("dormant seats");
    assert_eq!(seats.len(), json_seats.len());
    for (row, d) in seats.iter().zip(json_seats) {
        assert_eq!(text(&row["System"]), d["system"].as_str().expect("system"));
        assert_eq!(text(&row["Account ID"]), d["id"].as_str().expect("id"));
        assert_eq!(text(&row["Email"]), d["email"].as_str().unwrap_or(""));
        assert_eq!(
            matches!(row["Last Activity (UTC)"], Data::Empty),
            d["last_activity"].is_null()
        );
    }

    let accounts = objects(&book["Accounts"]);
    let json_accounts = doc["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), json_accounts.len());
    for (row, a) in accounts.iter().zip(json_accounts) {
        assert_eq!(text(&row["Account ID"]), a["id"].as_str().expect("id"));
        for (header, member) in [
            ("Active", "active"),
            ("Seat", "seat"),
            ("Dormant", "dormant"),
        ] {
            let yes = if a[member].as_bool().expect("bool") {
                "Yes"
            } else {
                "No"
            };
            assert_eq!(text(&row[header]), yes, "Accounts/{header} of {}", a["id"]);
        }
    }
}

/// The Access view says what the JSON says: people, every system's line of each table,
/// the sign-in split, and the domains it lists.
fn access_view_equals_json(screen: &str, doc: &Json) {
    let lines = page(screen);
    let headings = [
        "People with access",
        "Accounts per system",
        "Sign-in per system",
        "Domains with access",
    ];
    let number_of = |lines: &[String], label: &str| -> u64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no line {label} in {lines:#?}"));
        numbers(&line[label.len()..])[0]
    };
    let people = section(&lines, headings[0], &headings);
    let p = &doc["people"];
    for (label, member) in [
        ("with access", "with_access"),
        ("managed", "managed"),
        ("external", "external"),
        ("unknown (no email)", "unknown"),
        ("active (30 days)", "active"),
        ("seats in 2+ systems", "seats_in_several_systems"),
    ] {
        assert_eq!(number_of(people, label), n(&p[member]), "Access/{label}");
    }

    let accounts = section(&lines, headings[1], &headings);
    let sign_in = section(&lines, headings[2], &headings);
    let systems = doc["systems"].as_array().expect("systems");
    assert!(!systems.is_empty());
    for s in systems {
        let name = s["system"].as_str().expect("name");
        let rows: Vec<Vec<u64>> = accounts
            .iter()
            .filter_map(|l| l.strip_prefix(name))
            .filter(|rest| rest.starts_with(' '))
            .map(numbers)
            .collect();
        assert_eq!(
            rows.len(),
            2,
            "{name} in both tables of Accounts per system"
        );
        assert_eq!(
            rows[0][..4],
            [
                n(&s["accounts"]),
                n(&s["seats"]),
                n(&s["active"]),
                n(&s["dormant"])
            ],
            "{name}: accounts, seats, active, dormant"
        );
        assert_eq!(
            rows[1],
            [n(&s["service_accounts"]), n(&s["seen_without_account"])],
            "{name}: service accounts, seen without an account"
        );

        let at = sign_in
            .iter()
            .position(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(' ')))
            .unwrap_or_else(|| panic!("{name} in Sign-in per system"));
        let two = &s["two_step"];
        assert_eq!(
            numbers(&sign_in[at][name.len()..])[..4],
            [
                n(&two["enabled"]),
                n(&two["disabled"]),
                n(&two["unknown"]),
                n(&s["sso"])
            ],
            "{name}: two-step on, off, unknown, SSO"
        );
        // The split by email: the system alone on a line, its three groups below.
        let split = sign_in
            .iter()
            .position(|l| l == name)
            .unwrap_or_else(|| panic!("{name} in the split by email:\n{sign_in:#?}"));
        for (k, class) in ["managed", "external", "unknown"].into_iter().enumerate() {
            let line = sign_in[split + 1 + k].as_str();
            let rest = line
                .strip_prefix(class)
                .unwrap_or_else(|| panic!("{name}: {class} expected, got {line}"));
            let g = &s["sign_in"][class];
            assert_eq!(
                numbers(rest),
                [
                    n(&s[class]),
                    n(&g["two_step"]["enabled"]),
                    n(&g["two_step"]["disabled"]),
                    n(&g["two_step"]["unknown"]),
                    n(&g["sso"])
                ],
                "{name}, {class}: accounts, two-step on, off, unknown, SSO"
            );
        }
    }

    let domains = section(&lines, headings[3], &headings);
    let json_domains = doc["domains"].as_array().expect("domains");
    let shown: Vec<&String> = domains
        .iter()
        .filter(|l| l.ends_with(" managed") || l.ends_with(" external"))
        .collect();
    assert_eq!(shown.len(), json_domains.len().min(12), "{domains:#?}");
    for (line, d) in shown.iter().zip(json_domains) {
        let domain = d["domain"].as_str().expect("domain");
        let (name, rest) = line.split_once(' ').expect("domain and count");
        let name = name.trim_end_matches('…');
        assert!(domain.starts_with(name), "{line} is {domain}");
        assert_eq!(numbers(rest)[0], n(&d["people"]), "{line}");
        let managed = d["managed"].as_bool().expect("bool");
        assert_eq!(line.ends_with(" managed"), managed, "{line}");
    }
    if json_domains.len() > 12 {
        let more = domains
            .iter()
            .find(|l| l.starts_with("… and"))
            .expect("… and N more domains");
        assert_eq!(numbers(more)[0], json_domains.len() as u64 - 12);
    }
}

#[test]
fn the_terminal_ui_the_workbook_and_the_json_say_the_same_on_one_store() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path();
    std::fs::write(home.join("tally.toml"), CONFIG).expect("config");
    let run = |target: &str| {
        let out = tally(
            home,
            &[
                "--config",
                "tally.toml",
                "--as-of",
                AS_OF,
                "--insights",
                target,
            ],
        );
        assert!(
            out.status.success(),
            "--insights {target}: {}",
            stderr(&out)
        );
    };
    run("Insights.xlsx");
    run("insights.json");
    let doc: Json = serde_json::from_slice(
        &std::fs::read(home.join("insights.json")).expect("the JSON is written"),
    )
    .expect("the JSON parses");
    let book = sheets(&home.join("Insights.xlsx"));
    assert!(n(&doc["people"]["with_access"]) > 0, "the demo has people");
    assert!(!doc["dormant_seats"].as_array().expect("seats").is_empty());
    workbook_equals_json(&book, &doc);

    // The terminal UI on the same configuration, so on the same store.
    let tmux = Tmux {
        socket: home.join("tmux.sock"),
    };
    let command = format!(
        "cd {home} && env HOME={home} XDG_CONFIG_HOME={home}/.config XDG_STATE_HOME={home}/state TERM=xterm-256color NO_COLOR=1 {bin} --config tally.toml --as-of {AS_OF}; echo TALLY-EXITED-$?; sleep 60",
        home = quote(home),
        bin = quote(Path::new(BIN)),
    );
    // 98 columns keep the page in one column; 120 rows hold the whole Access page.
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tally",
        "-x",
        "98",
        "-y",
        "120",
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {}", stderr(&out));
    tmux.wait("collection to finish", 240, |s| {
        s.contains("✓ collection done") && !s.contains("rebuilding report")
    });
    tmux.keys(&["9"]);
    let screen = tmux.wait("the Access view", 30, |s| {
        s.contains("Access ·") && s.contains("Domains with access")
    });
    access_view_equals_json(&screen, &doc);

    tmux.keys(&["0"]);
    let screen = tmux.wait("the Dormant Seats view", 30, |s| {
        s.contains("Dormant Seats ·") && s.contains("dormant seats")
    });
    let seats = doc["dormant_seats"].as_array().expect("seats");
    let line = screen
        .lines()
        .find(|l| l.contains(" dormant seats"))
        .expect("the seat count");
    let counts = numbers(line.split(" dormant seats").next().unwrap_or(""));
    assert_eq!(
        counts.last().copied(),
        Some(seats.len() as u64),
        "the Dormant Seats view lists every dormant seat: {line}"
    );
    // The seats listed are the document's, in its order (system, then id).
    let rows: Vec<String> = screen
        .lines()
        .skip_while(|l| !(l.contains("System") && l.contains("ID")))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .trim_start_matches('▶')
                .trim()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect();
    assert!(rows.len() >= 10.min(seats.len()), "{screen}");
    for (row, seat) in rows.iter().zip(seats) {
        let system = seat["system"].as_str().expect("system");
        let id = seat["id"].as_str().expect("id");
        let rest = row
            .strip_prefix(system)
            .unwrap_or_else(|| panic!("{row} is a seat of {system}"));
        let shown = rest.split_whitespace().next().expect("an id");
        assert!(
            id.starts_with(shown.trim_end_matches('…')),
            "{row}: the seat {system}/{id}"
        );
    }

    tmux.keys(&["q"]);
    let screen = tmux.wait("tally to exit", 20, |s| s.contains("TALLY-EXITED-"));
    assert!(screen.contains("TALLY-EXITED-0"), "{screen}");
}
