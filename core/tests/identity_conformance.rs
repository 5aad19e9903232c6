//! Identity resolution against the contract: the shared conformance cases of SPEC §3,
//! order and duplicate independence, and a literal, slow reading of §3 as a reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::{subsequence, Index};
use serde_json::Value;
use tally_core::identity::{resolve, IdentityInput, IdentityRules, Resolution, Rule};

const FIXTURE: &str = include_str!("fixtures/identity-cases.json");

fn field<'a>(observation: &'a Value, name: &str) -> Option<&'a str> {
    observation.get(name).and_then(Value::as_str)
}

/// Users as a set of (members, rule label), members mapped through `original`.
fn labelled_users(
    r: &Resolution,
    original: impl Fn(usize) -> usize,
) -> BTreeSet<(Vec<usize>, String)> {
    r.users
        .iter()
        .map(|u| {
            let mut members: Vec<usize> = u.members.iter().map(|&m| original(m)).collect();
            members.sort_unstable();
            (members, u.rule.label().to_string())
        })
        .collect()
}

#[test]
fn every_spec_case_resolves_as_specified_in_either_order() {
    let cases: Vec<Value> = serde_json::from_str(FIXTURE).expect("fixture is a JSON array");
    assert!(!cases.is_empty(), "the fixture has no cases");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("case name");
        let observations = case["observations"].as_array().expect("observations");
        let inputs: Vec<IdentityInput<'_>> = observations
            .iter()
            .map(|o| IdentityInput {
                email: field(o, "email"),
                username: field(o, "username"),
                display_name: field(o, "display_name"),
            })
            .collect();
        let want: BTreeSet<(Vec<usize>, String)> = case["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| {
                let mut members: Vec<usize> = u["observations"]
                    .as_array()
                    .expect("user observations")
                    .iter()
                    .map(|m| usize::try_from(m.as_u64().expect("index")).expect("fits"))
                    .collect();
                members.sort_unstable();
                let label = u["identified_by"].as_str().expect("identified_by");
                (members, label.to_string())
            })
            .collect();
        let want_unidentified = case["unidentified"].as_u64().expect("unidentified");

        let forward = resolve(&inputs, &IdentityRules::default());
        let n = inputs.len();
        let reversed_inputs: Vec<IdentityInput<'_>> = inputs.iter().rev().copied().collect();
        let reversed = resolve(&reversed_inputs, &IdentityRules::default());
        for (order, r, original) in [
            (
                "given",
                &forward,
                &(|m: usize| m) as &dyn Fn(usize) -> usize,
            ),
            ("reversed", &reversed, &|m: usize| n - 1 - m),
        ] {
            let got = labelled_users(r, original);
            let got_unidentified = r.unidentified.len() as u64;
            if got != want || got_unidentified != want_unidentified {
                failures.push(format!(
                    "{name} ({order} order): users {got:?}, unidentified {got_unidentified}; \
                     expected {want:?}, unidentified {want_unidentified}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_is_a_byte_copy_of_the_shared_spec_cases() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = manifest.join("../../shared/spec/identity-cases.json");
    let Ok(spec_bytes) = std::fs::read(&spec) else {
        println!(
            "skipped: {} not found; the fixture cannot be compared",
            spec.display()
        );
        return;
    };
    let copy = std::fs::read(manifest.join("tests/fixtures/identity-cases.json"))
        .expect("the fixture exists");
    assert!(
        copy == spec_bytes,
        "core/tests/fixtures/identity-cases.json differs from {}; copy it again",
        spec.display()
    );
}

// Small pools so that handles, emails and names collide often, including the edge
// spellings normalisation must absorb.
const EMAILS: &[Option<&str>] = &[
    None,
    Some(""),
    Some("  "),
    Some("ann@corp.example"),
    Some(" ANN@Corp.Example"),
    Some("ann@other.example"),
    Some("bob@corp.example"),
    Some("admin@corp.example"),
    Some("sam@a.example"),
    Some("Sam@B.example"),
    Some("octo@corp.example"),
    Some("not-an-email"),
    Some("a@b@c"),
    Some("@corp.example"),
    Some("bob@"),
];
const USERNAMES: &[Option<&str>] = &[
    None,
    Some(""),
    Some(" "),
    Some("ann"),
    Some("ANN "),
    Some("bob"),
    Some("admin"),
    Some("Admin"),
    Some("sam"),
    Some("sroe"),
    Some("octo"),
];
const DISPLAY_NAMES: &[Option<&str>] = &[
    None,
    Some(""),
    Some("  "),
    Some("Ann Lee"),
    Some("ann  lee"),
    Some("ANN\tLEE"),
    Some("Sam Roe"),
    Some("Bob"),
    Some("Kim Diaz"),
    Some("octo"),
];
const GENERIC_POOL: &[&str] = &["admin", "ann", "sam", "support"];
const FORCED_POOL: &[&str] = &[
    "ann@corp.example",
    "BOB",
    "sam  roe",
    "octo",
    "Kim Diaz",
    "sroe",
    "nobody",
];

type Tuple = (usize, usize, usize);

fn input(t: Tuple) -> IdentityInput<'static> {
    IdentityInput {
        email: EMAILS[t.0],
        username: USERNAMES[t.1],
        display_name: DISPLAY_NAMES[t.2],
    }
}

fn tuples() -> impl Strategy<Value = Vec<Tuple>> {
    prop::collection::vec(
        (0..EMAILS.len(), 0..USERNAMES.len(), 0..DISPLAY_NAMES.len()),
        0..24,
    )
}

fn rules() -> impl Strategy<Value = IdentityRules> {
    let generic = prop_oneof![
        Just(Vec::new()),
        subsequence(GENERIC_POOL.to_vec(), 1..=GENERIC_POOL.len()),
    ];
    let forced = prop::collection::vec(subsequence(FORCED_POOL.to_vec(), 1..=3), 0..3);
    (generic, forced).prop_map(|(generic, forced)| IdentityRules {
        generic_handles: generic.into_iter().map(str::to_string).collect(),
        forced_merges: forced
            .into_iter()
            .map(|l| l.into_iter().map(str::to_string).collect())
            .collect(),
    })
}

/// Everything a report shows about a resolution, with indices mapped to the original
/// inputs and order removed, so resolutions of reordered inputs can be compared.
type Canonical = (
    BTreeSet<(Vec<usize>, Rule, Vec<String>, bool)>,
    Vec<usize>,
    Vec<usize>,
);

fn canonical(r: &Resolution, original: impl Fn(usize) -> usize) -> Canonical {
    let sorted = |v: &[usize]| {
        let mut v: Vec<usize> = v.iter().map(|&i| original(i)).collect();
        v.sort_unstable();
        v
    };
    let users = r
        .users
        .iter()
        .map(|u| {
            (
                sorted(&u.members),
                u.rule,
                u.shared_handles.clone(),
                u.forced_merge,
            )
        })
        .collect();
    (users, sorted(&r.unidentified), sorted(&r.invalid_emails))
}

fn assert_output_order(r: &Resolution) -> Result<(), TestCaseError> {
    for u in &r.users {
        prop_assert!(
            u.members.windows(2).all(|w| w[0] < w[1]),
            "members ascending"
        );
    }
    let firsts: Vec<usize> = r.users.iter().map(|u| u.members[0]).collect();
    prop_assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "users by first member"
    );
    Ok(())
}

fn shuffled_case() -> impl Strategy<Value = (Vec<Tuple>, IdentityRules, Vec<usize>)> {
    (tuples(), rules()).prop_flat_map(|(t, rules)| {
        let n = t.len();
        (
            Just(t),
            Just(rules),
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn shuffling_inputs_does_not_change_users((tuples, rules, perm) in shuffled_case()) {
        let inputs: Vec<IdentityInput<'_>> = tuples.iter().map(|&t| input(t)).collect();
        let permuted: Vec<IdentityInput<'_>> = perm.iter().map(|&k| inputs[k]).collect();
        let original = resolve(&inputs, &rules);
        let reordered = resolve(&permuted, &rules);
        assert_output_order(&original)?;
        assert_output_order(&reordered)?;
        prop_assert_eq!(canonical(&reordered, |k| perm[k]), canonical(&original, |i| i));
    }

    #[test]
    fn duplicating_inputs_changes_nothing(
        tuples in tuples(),
        rules in rules(),
        picks in prop::collection::vec(any::<Index>(), 1..12),
    ) {
        prop_assume!(!tuples.is_empty());
        let n = tuples.len();
        let dups: Vec<usize> = picks.iter().map(|p| p.index(n)).collect();
        let mut inputs: Vec<IdentityInput<'_>> = tuples.iter().map(|&t| input(t)).collect();
        let original = resolve(&inputs, &rules);
        let copies: Vec<IdentityInput<'_>> = dups.iter().map(|&d| inputs[d]).collect();
        inputs.extend(copies);
        let doubled = resolve(&inputs, &rules);

        let user_of = |r: &Resolution| {
            let mut of = BTreeMap::new();
            for (u, user) in r.users.iter().enumerate() {
                for &m in &user.members {
                    of.insert(m, u);
                }
            }
            of
        };
        let of = user_of(&doubled);
        for (j, &d) in dups.iter().enumerate() {
            prop_assert_eq!(of.get(&(n + j)), of.get(&d), "duplicate of input {} strayed", d);
        }
        prop_assert_eq!(doubled.users.len(), original.users.len());

        let mut without: Canonical = canonical(&doubled, |i| i);
        without.0 = without
            .0
            .into_iter()
            .map(|(m, rule, handles, forced)| {
                (m.into_iter().filter(|&i| i < n).collect(), rule, handles, forced)
            })
            .collect();
        without.1.retain(|&i| i < n);
        without.2.retain(|&i| i < n);
        prop_assert_eq!(without, canonical(&original, |i| i));
    }

    #[test]
    fn resolve_agrees_with_a_literal_reading_of_the_spec(tuples in tuples(), rules in rules()) {
        let inputs: Vec<IdentityInput<'_>> = tuples.iter().map(|&t| input(t)).collect();
        let got = resolve(&inputs, &rules);
        let users: BTreeSet<(Vec<usize>, Rule)> =
            got.users.iter().map(|u| (u.members.clone(), u.rule)).collect();
        let (want_users, want_unidentified) = reference(&inputs, &rules);
        prop_assert_eq!(users, want_users);
        prop_assert_eq!(got.unidentified, want_unidentified);
        // Present (non-blank) but not exactly one `@` with text on both sides.
        let want_invalid: Vec<usize> = inputs
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.email.map(str::trim).is_some_and(|e| {
                    !e.is_empty()
                        && (e.matches('@').count() != 1 || e.starts_with('@') || e.ends_with('@'))
                })
            })
            .map(|(k, _)| k)
            .collect();
        prop_assert_eq!(got.invalid_emails, want_invalid);
    }
}

/// SPEC §3 read literally, quadratic and without union-find: a second, independent
/// implementation to catch bookkeeping mistakes in the fast one.
fn reference(
    inputs: &[IdentityInput<'_>],
    rules: &IdentityRules,
) -> (BTreeSet<(Vec<usize>, Rule)>, Vec<usize>) {
    fn present(raw: Option<&str>) -> Option<String> {
        raw.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }
    fn name_key(raw: &str) -> Option<String> {
        let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        (!collapsed.is_empty()).then(|| collapsed.to_lowercase())
    }
    let generic: Vec<String> = rules
        .generic_handles
        .iter()
        .filter_map(|h| present(Some(h)))
        .collect();
    let n = inputs.len();
    let email: Vec<Option<String>> = inputs
        .iter()
        .map(|i| {
            present(i.email)
                .filter(|e| e.matches('@').count() == 1 && !e.starts_with('@') && !e.ends_with('@'))
        })
        .collect();
    let username: Vec<Option<String>> = inputs.iter().map(|i| present(i.username)).collect();
    let name: Vec<Option<String>> = inputs
        .iter()
        .map(|i| i.display_name.and_then(name_key))
        .collect();
    let local = |i: usize| {
        email[i]
            .as_ref()
            .map(|e| e.split('@').next().unwrap_or("").to_string())
    };
    let handles: Vec<Vec<String>> = (0..n)
        .map(|i| match (&username[i], local(i)) {
            (Some(u), Some(l)) => [u.clone(), l]
                .into_iter()
                .filter(|h| !generic.contains(h))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let rule1 = |i: usize| !handles[i].is_empty();

    // Rule 1 components by relabelling until nothing changes.
    let mut component: Vec<usize> = (0..n).collect();
    loop {
        let mut changed = false;
        for i in 0..n {
            for j in 0..n {
                if rule1(i)
                    && rule1(j)
                    && component[i] != component[j]
                    && handles[i].iter().any(|h| handles[j].contains(h))
                {
                    let (keep, drop) = (
                        component[i].min(component[j]),
                        component[i].max(component[j]),
                    );
                    for c in component.iter_mut() {
                        if *c == drop {
                            *c = keep;
                        }
                    }
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let owner = |h: &str| {
        (0..n)
            .find(|&i| rule1(i) && handles[i].iter().any(|x| x == h))
            .map(|i| component[i])
    };

    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        R1(usize),
        Email(String),
        Name(String),
        User(String),
    }
    let mut key: Vec<Option<Key>> = vec![None; n];
    for i in 0..n {
        if rule1(i) {
            key[i] = Some(Key::R1(component[i]));
        } else if let Some(e) = &email[i] {
            key[i] = Some(match local(i).as_deref().and_then(owner) {
                Some(c) => Key::R1(c),
                None => Key::Email(e.clone()),
            });
        }
    }
    let carriers = |d: &str| -> BTreeSet<Key> {
        (0..n)
            .filter(|&i| email[i].is_some() && name[i].as_deref() == Some(d))
            .filter_map(|i| key[i].clone())
            .collect()
    };
    let mut unidentified = Vec::new();
    let mut rest: Vec<(usize, Option<Key>)> = Vec::new();
    for i in 0..n {
        if email[i].is_some() {
            continue;
        }
        let by_handle = username[i].as_deref().and_then(owner).map(Key::R1);
        let k = if by_handle.is_some() {
            by_handle
        } else if let Some(d) = &name[i] {
            let c = carriers(d);
            Some(if c.len() == 1 {
                c.into_iter().next().expect("one carrier")
            } else {
                Key::Name(d.clone())
            })
        } else {
            username[i].clone().map(Key::User)
        };
        if k.is_none() {
            unidentified.push(i);
        }
        rest.push((i, k));
    }
    for (i, k) in rest {
        key[i] = k;
    }

    let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, k) in key.iter().enumerate() {
        if let Some(k) = k {
            groups.entry(k.clone()).or_default().push(i);
        }
    }
    let mut users: Vec<(BTreeSet<usize>, Rule)> = groups
        .into_iter()
        .map(|(k, members)| {
            let rule = match k {
                Key::R1(_) => Rule::UsernamesOrEmails,
                Key::Email(_) => Rule::Emails,
                Key::Name(_) => Rule::DisplayNames,
                Key::User(_) => Rule::Usernames,
            };
            (members.into_iter().collect(), rule)
        })
        .collect();

    // Forced merges: join users that carry an identifier of one list, until stable.
    let carries = |members: &BTreeSet<usize>, id: &str| {
        let forms = [present(Some(id)), name_key(id)];
        members.iter().any(|&m| {
            [&email[m], &username[m], &name[m]]
                .into_iter()
                .flatten()
                .any(|f| forms.iter().flatten().any(|x| x == f))
        })
    };
    loop {
        let mut merged = false;
        for list in &rules.forced_merges {
            let hits: Vec<usize> = (0..users.len())
                .filter(|&u| list.iter().any(|id| carries(&users[u].0, id)))
                .collect();
            if hits.len() > 1 {
                let mut joined = (BTreeSet::new(), Rule::Usernames);
                for &u in hits.iter().rev() {
                    let (members, rule) = users.remove(u);
                    joined.0.extend(members);
                    joined.1 = joined.1.min(rule);
                }
                users.push(joined);
                merged = true;
            }
        }
        if !merged {
            break;
        }
    }
    let users = users
        .into_iter()
        .map(|(m, rule)| (m.into_iter().collect(), rule))
        .collect();
    (users, unidentified)
}

/// A million tuples shaped like a real window: people seen in four ways each (rule-1
/// tuple, email-only elsewhere, display name only, username only) plus people seen once.
/// Run in release with `--ignored --nocapture` to see the timing.
#[test]
#[ignore = "scale test; run in release with --ignored"]
fn a_million_inputs_resolve_into_the_expected_users() {
    const PEOPLE: usize = 200_000;
    const SOLO_EMAILS: usize = 100_000;
    const SOLO_NAMES: usize = 50_000;
    const SOLO_USERNAMES: usize = 50_000;
    // Which tuple goes where is shuffled (xorshift Fisher-Yates), so that the observations
    // of one person are far apart; the strings are then allocated in input order, as a
    // caller reading rows would.
    #[derive(Clone, Copy)]
    enum Seen {
        Tuple(usize),
        OtherEmail(usize),
        NameOnly(usize),
        UsernameOnly(usize),
        SoloEmail(usize),
        SoloName(usize),
        SoloUsername(usize),
    }
    let mut order: Vec<Seen> = (0..PEOPLE)
        .flat_map(|p| {
            [
                Seen::Tuple(p),
                Seen::OtherEmail(p),
                Seen::NameOnly(p),
                Seen::UsernameOnly(p),
            ]
        })
        .chain((0..SOLO_EMAILS).map(Seen::SoloEmail))
        .chain((0..SOLO_NAMES).map(Seen::SoloName))
        .chain((0..SOLO_USERNAMES).map(Seen::SoloUsername))
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).expect("fits");
        order.swap(i, j);
    }
    let owned: Vec<(Option<String>, Option<String>, Option<String>)> = order
        .into_iter()
        .map(|seen| match seen {
            Seen::Tuple(p) => (
                Some(format!("Person.{p}@Corp.Example")),
                Some(format!("p{p}")),
                Some(format!("Person {p}")),
            ),
            Seen::OtherEmail(p) => (Some(format!("person.{p}@other.example")), None, None),
            Seen::NameOnly(p) => (None, None, Some(format!("PERSON  {p}"))),
            Seen::UsernameOnly(p) => (None, Some(format!("P{p}")), None),
            Seen::SoloEmail(i) => (Some(format!("solo{i}@x.example")), None, None),
            Seen::SoloName(i) => (None, None, Some(format!("Guest {i}"))),
            Seen::SoloUsername(i) => (None, Some(format!("anon{i}")), None),
        })
        .collect();
    let inputs: Vec<IdentityInput<'_>> = owned
        .iter()
        .map(|(e, u, d)| IdentityInput {
            email: e.as_deref(),
            username: u.as_deref(),
            display_name: d.as_deref(),
        })
        .collect();
    assert_eq!(inputs.len(), 1_000_000);

    let started = std::time::Instant::now();
    let r = resolve(&inputs, &IdentityRules::default());
    let elapsed = started.elapsed();
    println!("resolve: {} inputs in {elapsed:?}", inputs.len());

    let mut by_rule = [0usize; 4];
    for u in &r.users {
        by_rule[u.rule.index()] += 1;
        if u.rule == Rule::UsernamesOrEmails {
            assert_eq!(u.members.len(), 4, "a person seen four ways is one user");
        }
    }
    assert_eq!(by_rule, [PEOPLE, SOLO_EMAILS, SOLO_NAMES, SOLO_USERNAMES]);
    assert!(r.unidentified.is_empty() && r.invalid_emails.is_empty());
}
