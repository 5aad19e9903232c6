//! The user directories of Northwind's five systems, as their connectors would yield them:
//! `account` records (SPEC §2) read every 7 days over the last four weeks, so `--as-of` in
//! the past shows another state (people who had not joined yet, leavers not yet
//! deprovisioned, seats that were still in use); before the first read there are none.
//!
//! Each system's accounts look the way its user API shows them:
//!
//! - **Jira** (Cloud, with the organization API): opaque account ids, the email hidden
//!   where the person's observations hide it, products `Jira Software` / `Jira Service
//!   Management`, portal customers not billable, app accounts (Automation for Jira,
//!   Exalate, the Service Management widget) as service accounts, single sign-on for
//!   northwind.example, no two-step information.
//! - **Azure DevOps** (User Entitlements): GUIDs, `Basic` seats and free `Stakeholder`
//!   access, Entra ID sign-in (a few contractors with personal Microsoft accounts), the
//!   Exalate sync user as a plain licensed user.
//! - **ServiceNow**: sys_ids, `itil` fulfillers and free requesters, the integration users
//!   (web-service access only) as service accounts, MFA for some.
//! - **GitHub** (organization members): numeric ids, logins, no sign-in times, two-factor
//!   authentication for most; contractors who work as outside collaborators are not
//!   members, so they act without an account.
//! - **GitLab**: numeric ids, usernames, project bots as service accounts that use no
//!   seat, two-factor for most, SAML for employees.
//!
//! Activity comes from what the data set's observations say (a sign-in soon after acting),
//! plus people who sign in to read without acting, people who signed in once long ago,
//! and people who never did; leavers are mostly deprovisioned within weeks, some never,
//! which leaves dormant seats. Every read lists every account, as a connector sends it
//! (about 6,200 accounts a read); the store keeps only what changed.

use chrono::{DateTime, Utc};
use tally_model::{Account, AccountStatus, Record, TwoStep};

use crate::clock::{DAY, SPAN};
use crate::generate::{Generator, Tagged, SEED};
use crate::org::{Ident, Part, Person, Project, System};
use crate::rng::{mix, Rng};

/// When the directories are read, in days before the end (the last read is at the end).
pub(crate) const READ_DAYS: [i64; 5] = [28, 21, 14, 7, 0];
const READS: usize = READ_DAYS.len();

/// The last observation of each person in each system up to each read.
pub(crate) struct Seen {
    reads: [DateTime<Utc>; READS],
    last: Vec<[Option<DateTime<Utc>>; READS]>,
}

impl Seen {
    pub(crate) fn new(gen: &Generator) -> Seen {
        Seen {
            reads: read_times(gen),
            last: vec![[None; READS]; gen.org.people.len() * 5],
        }
    }

    pub(crate) fn observe(&mut self, person: u32, system: &str, at: DateTime<Utc>) {
        let Some(sys) = crate::SYSTEMS.iter().position(|s| *s == system) else {
            return;
        };
        let Some(slot) = self.last.get_mut(person as usize * 5 + sys) else {
            return;
        };
        for (k, read) in self.reads.iter().enumerate() {
            if at <= *read && slot[k].is_none_or(|l| l < at) {
                slot[k] = Some(at);
            }
        }
    }

    fn at(&self, person: usize, system: System, read: usize) -> Option<DateTime<Utc>> {
        self.last[person * 5 + system as usize][read]
    }
}

fn read_times(gen: &Generator) -> [DateTime<Utc>; READS] {
    READ_DAYS.map(|d| gen.clock.at(SPAN - d * DAY))
}

/// How one account behaves over the reads; fixed per (person, system) so that states
/// change only where something happened.
#[derive(Clone, Copy)]
enum Habit {
    /// Signs in soon after acting, and at times in between.
    Regular,
    /// Signs in to read, never acts: active by the directory alone.
    Viewer,
    /// Signed in once, soon after the account was made.
    Once,
    /// Never signed in.
    Never,
}

struct Plan {
    habit: Habit,
    /// Days after leaving until the account is disabled; `None`: forgotten.
    deprovision: Option<i64>,
    two_step: Option<TwoStep>,
    sso: Option<bool>,
    billable: bool,
    product: Option<&'static str>,
    id: String,
}

fn worker_in(p: &Person, system: System) -> bool {
    p.memberships
        .iter()
        .any(|(proj, part)| proj.system() == system && *part == Part::Worker)
}

fn hex(mut x: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&format!("{:016x}", x));
        x = mix(x);
    }
    s.truncate(len);
    s
}

fn plan(p: &Person, index: usize, system: System) -> Plan {
    let key = (index as u64) << 3 | system as u64;
    let mut rng = Rng::stream(SEED, 7, key);
    let managed = !p.external;
    // Developers look at code and boards far more often than they change them.
    let viewers = match system {
        System::GitLab | System::AzureDevOps => 30,
        _ => 12,
    };
    let habit = match rng.below(100) {
        n if n < 84 - viewers => Habit::Regular,
        n if n < 84 => Habit::Viewer,
        84..=91 => Habit::Once,
        _ => Habit::Never,
    };
    let deprovision = (!rng.chance(0.22)).then(|| rng.range(1, 21));
    let worker = worker_in(p, system);
    let h = mix(SEED ^ key);
    let (two_step, sso, billable, product, id) = match system {
        System::Jira => {
            let sd_agent = p
                .memberships
                .iter()
                .any(|(proj, part)| *proj == Project::JiraSd && *part == Part::Worker);
            let product = if sd_agent {
                Some("Jira Service Management")
            } else if worker {
                Some("Jira Software")
            } else {
                None
            };
            (
                None,
                Some(managed),
                worker,
                product,
                format!("5b10{}", hex(h, 20)),
            )
        }
        System::AzureDevOps => {
            let stakeholder = !worker || rng.chance(0.12);
            let guid = hex(h, 32);
            (
                None,
                Some(managed || rng.chance(0.7)),
                !stakeholder,
                Some(if stakeholder { "Stakeholder" } else { "Basic" }),
                format!(
                    "{}-{}-4{}-a{}-{}",
                    &guid[..8],
                    &guid[8..12],
                    &guid[13..16],
                    &guid[17..20],
                    &guid[20..32]
                ),
            )
        }
        System::ServiceNow => (
            Some(if rng.chance(0.45) {
                TwoStep::Enabled
            } else {
                TwoStep::Disabled
            }),
            Some(managed),
            worker,
            Some(if worker { "ITIL" } else { "Requester" }),
            hex(h, 32),
        ),
        System::GitHub => (
            Some(if rng.chance(0.86) {
                TwoStep::Enabled
            } else {
                TwoStep::Disabled
            }),
            None,
            true,
            Some("GitHub Enterprise"),
            (1_000_000 + h % 140_000_000).to_string(),
        ),
        System::GitLab => (
            Some(if rng.chance(0.72) {
                TwoStep::Enabled
            } else {
                TwoStep::Disabled
            }),
            Some(managed),
            true,
            Some("Premium"),
            (40 + index).to_string(),
        ),
    };
    Plan {
        habit,
        deprovision,
        two_step,
        sso,
        billable,
        product,
        id,
    }
}

/// GitHub outside collaborators: contractors who work in the repositories without being
/// organization members (about one in five).
fn outside_collaborator(p: &Person, index: usize) -> bool {
    p.external && mix(SEED ^ 0x6174_6875_6200 ^ index as u64).is_multiple_of(5)
}

/// The accounts of one person in one system at every read, each sent when it changed.
fn person_accounts(
    gen: &Generator,
    seen: &Seen,
    index: usize,
    system: System,
    out: &mut Vec<Tagged>,
) {
    let p = &gen.org.people[index];
    let Some(ident) = p.ident(system) else {
        return;
    };
    if system == System::GitHub && outside_collaborator(p, index) {
        return;
    }
    let plan = plan(p, index, system);
    for (k, days) in READ_DAYS.iter().enumerate() {
        let s = SPAN - days * DAY;
        let read = seen.reads[k];
        if p.join > s {
            continue;
        }
        let disabled_at = plan.deprovision.map(|d| p.leave + d * DAY);
        let disabled = disabled_at.is_some_and(|t| t < s);
        let gone = p.leave < s;
        // Per read for browsing, per observation for acting: a sign-in after acting stays
        // the same until the person acts again.
        let mut jitter = Rng::stream(
            SEED,
            8,
            ((index as u64) << 3 | system as u64) << 4 | k as u64,
        );
        let after_acting = |t: DateTime<Utc>| {
            let mut r = Rng::stream(
                SEED,
                9,
                (index as u64) << 3
                    | system as u64 ^ (seen.reads[READS - 1] - t).num_seconds() as u64,
            );
            t + chrono::Duration::seconds(r.range(60, 4 * DAY))
        };
        let signs_in = system != System::GitHub;
        let last_active = if !signs_in {
            None
        } else {
            let acted = seen.at(index, system, k);
            let cap = if gone {
                gen.clock.at(p.leave.max(DAY))
            } else {
                read
            };
            match (plan.habit, acted) {
                (Habit::Never, _) => None,
                // Reads boards and reviews every week or two, acting or not.
                (Habit::Viewer, _) if !gone => {
                    Some(gen.clock.at(s - jitter.range(DAY, 12 * DAY)).min(cap))
                }
                (_, Some(t)) => Some(after_acting(t).min(cap)),
                (Habit::Regular | Habit::Viewer | Habit::Once, None) => {
                    let first = p.join.max(-200 * DAY).max(s - 300 * DAY);
                    Some(gen.clock.at((first + 2 * DAY).clamp(DAY, s)).min(cap))
                }
            }
        };
        let account = Account {
            system: system.name().to_string(),
            at: read,
            id: plan.id.clone(),
            email: ident.email.clone(),
            username: ident.username.clone(),
            display_name: ident.display_name.clone(),
            status: if disabled {
                AccountStatus::Disabled
            } else {
                AccountStatus::Active
            },
            billable: plan.billable,
            product: plan.product.map(str::to_string),
            last_active,
            two_step: plan.two_step,
            sso: plan.sso,
            service_account: false,
        };
        out.push((Some(index as u32), Record::Account(account)));
    }
}

/// The service accounts and integration users each directory lists, always active.
fn service_accounts(gen: &Generator, out: &mut Vec<Tagged>) {
    let reads = read_times(gen);
    let svc = |system: System,
               id: &str,
               ident: Ident,
               product: Option<&str>,
               billable: bool,
               two_step| {
        (
            system,
            id.to_string(),
            ident,
            product.map(str::to_string),
            billable,
            two_step,
        )
    };
    let ident =
        |email: Option<&str>, username: Option<&str>, display: Option<&str>, service| Ident {
            email: email.map(str::to_string),
            username: username.map(str::to_string),
            display_name: display.map(str::to_string),
            service_account: service,
        };
    let list = [
        svc(
            System::Jira,
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            ident(None, None, Some("Automation for Jira"), true),
            None,
            false,
            None,
        ),
        svc(
            System::Jira,
            "5d9b2ae1c5b1e40c2e8f4a71",
            ident(None, None, Some("Exalate"), true),
            None,
            false,
            None,
        ),
        svc(
            System::Jira,
            "557058:ad6b7d6e-3a94-4c57-9b4c-2b1b0c1c3c9e",
            ident(None, None, Some("Jira Service Management Widget"), true),
            None,
            false,
            None,
        ),
        // A plain Basic user to Azure DevOps: nothing flags it (a pattern has to).
        svc(
            System::AzureDevOps,
            "6f0c1f3e-2a47-4d8b-9e1a-5b3c7d9e0f12",
            ident(
                Some("svc-exalate-ado@northwind.example"),
                None,
                Some("Exalate Sync"),
                false,
            ),
            Some("Basic"),
            true,
            None,
        ),
        svc(
            System::ServiceNow,
            "8f2d1c0b9a8e7d6c5b4a39281706f5e4",
            ident(
                Some("svc.integration@northwind.example"),
                Some("svc.integration"),
                Some("Integration User"),
                true,
            ),
            Some("Integration"),
            false,
            Some(TwoStep::Disabled),
        ),
        svc(
            System::ServiceNow,
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            ident(
                Some("svc.event.mgmt@northwind.example"),
                Some("svc.event.mgmt"),
                Some("Event Management"),
                true,
            ),
            Some("Integration"),
            false,
            Some(TwoStep::Disabled),
        ),
        svc(
            System::GitLab,
            "9118",
            ident(
                Some("project_118_bot@noreply.gitlab.northwind.example"),
                Some("project_118_bot"),
                Some("exalate-sync"),
                true,
            ),
            None,
            false,
            Some(TwoStep::Disabled),
        ),
        svc(
            System::GitLab,
            "9207",
            ident(
                Some("project_207_bot@noreply.gitlab.northwind.example"),
                Some("project_207_bot"),
                Some("exalate-sync"),
                true,
            ),
            None,
            false,
            Some(TwoStep::Disabled),
        ),
        svc(
            System::GitLab,
            "9119",
            ident(
                Some("project_118_bot_5e2a9c@noreply.gitlab.northwind.example"),
                Some("project_118_bot_5e2a9c"),
                Some("renovate"),
                true,
            ),
            None,
            false,
            Some(TwoStep::Disabled),
        ),
    ];
    for (system, id, ident, product, billable, two_step) in list {
        for read in reads {
            let account = Account {
                system: system.name().to_string(),
                at: read,
                id: id.clone(),
                email: ident.email.clone(),
                username: ident.username.clone(),
                display_name: ident.display_name.clone(),
                status: AccountStatus::Active,
                billable,
                product: product.clone(),
                // Integrations work around the clock.
                last_active: (system != System::GitHub)
                    .then(|| read - chrono::Duration::minutes(7)),
                two_step,
                sso: None,
                service_account: ident.service_account,
            };
            out.push((None, Record::Account(account)));
        }
    }
}

/// Every account record, given what the observations showed.
pub(crate) fn accounts(gen: &Generator, seen: &Seen) -> Vec<Tagged> {
    let mut out = Vec::new();
    service_accounts(gen, &mut out);
    for system in System::ALL {
        for index in 0..gen.org.people.len() {
            person_accounts(gen, seen, index, system, &mut out);
        }
    }
    out
}
