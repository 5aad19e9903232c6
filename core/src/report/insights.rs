//! The terminal UI's insights page as plain data, derived from one [`WindowReport`].
//!
//! Nothing here re-resolves identities or re-reads the store: every number is a regrouping
//! of rows the report already holds, so the insights can never disagree with the sheets.
//! Service accounts are left out of every user figure, as in the report (SPEC §4), and
//! counted on their own in [`Insights::service_accounts_by_system`].

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use crate::identity::Rule;
use crate::report::{MonthlyActive, SyncOutcome, UserRow, WindowKind, WindowReport};

/// "Active" in [`SystemActivity`]: seen in the system within this many days before `as_of`.
pub const ACTIVE_DAYS: i64 = 30;

/// How many merged users [`Insights::largest_merged`] keeps.
pub const LARGEST_MERGED: usize = 10;

/// Users whose primary email is in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainCount {
    pub domain: String,
    pub users: u64,
    /// The domain is one of the configured managed domains (exactly: a subdomain is not).
    pub managed: bool,
}

/// Users of one system by whether they were seen there recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemActivity {
    pub system: String,
    /// Last seen in this system within [`ACTIVE_DAYS`] before `as_of`.
    pub active: u64,
    pub inactive: u64,
}

/// Users identified by one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleShare {
    pub rule: Rule,
    pub users: u64,
    /// 0–100; 0 when there are no users.
    pub percent: f64,
}

/// One user with several identifiers folded into it: where over-merging would show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedUser {
    /// The user's first email, else username, else display name.
    pub label: String,
    pub emails: usize,
    /// Distinct display names (compared as identity resolution compares them).
    pub display_names: usize,
    pub usernames: usize,
    pub systems: usize,
    pub identified_by: Rule,
    pub shared_handles: Vec<String>,
    pub forced_merge: bool,
    pub service_account: bool,
}

impl MergedUser {
    /// Distinct emails plus distinct usernames.
    pub fn identifiers(&self) -> usize {
        self.emails + self.usernames
    }

    /// How strongly the user looks like several people merged into one, strongest first
    /// when sorted ascending: two emails or two names are two people far more often than
    /// a person with several logins is, so emails count first, then display names, then
    /// usernames and systems.
    fn rank(&self) -> impl Ord + '_ {
        use std::cmp::Reverse;
        (
            Reverse(self.emails),
            Reverse(self.display_names),
            Reverse(self.usernames),
            Reverse(self.systems),
            &self.label,
        )
    }
}

/// Everything the insights page shows for one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    pub window: WindowKind,
    /// Every domain by users, most first (ties by name). A user counts once, under the
    /// domain of their primary email: the first managed one if any, else their first.
    pub domains: Vec<DomainCount>,
    pub managed_users: u64,
    pub external_users: u64,
    /// Users with no valid email at all (identified by username or display name).
    pub users_without_email: u64,
    /// Whether any managed domain was configured; without one, every domain is external.
    pub managed_domains_configured: bool,
    /// One row per system that has users, sorted by system.
    pub active_by_system: Vec<SystemActivity>,
    pub monthly_active: Vec<MonthlyActive>,
    /// All four rules, in priority order.
    pub by_rule: Vec<RuleShare>,
    /// Service accounts seen in each system, sorted by system; systems without any are left out.
    pub service_accounts_by_system: Vec<(String, u64)>,
    pub sync_outcomes: Vec<SyncOutcome>,
    /// Users with two or more distinct emails, display names or usernames, those with the
    /// signs of different people merged into one first (see [`MergedUser`]'s ranking).
    pub largest_merged: Vec<MergedUser>,
}

fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

/// `[identity] managed_domains` as compared, the one rule of SPEC §9 ("its domain is one
/// of managed_domains") for this view and the access insights alike: trimmed, without a
/// leading `@`, lowercased, and matched exactly — a subdomain such as `eu.corp.example`
/// must be listed itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManagedDomains(rustc_hash::FxHashSet<String>);

impl ManagedDomains {
    pub(crate) fn new(configured: &[String]) -> Self {
        ManagedDomains(
            configured
                .iter()
                .map(|m| m.trim().trim_start_matches('@').to_lowercase())
                .filter(|m| !m.is_empty())
                .collect(),
        )
    }

    /// Whether `domain` (of an email as identity resolution normalised it) is managed.
    pub(crate) fn contains(&self, domain: &str) -> bool {
        self.0.contains(domain)
    }
}

/// The user's primary email domain and whether it is managed: the first managed one if
/// any, else the first.
fn primary_domain<'a>(user: &'a UserRow, managed: &ManagedDomains) -> Option<(&'a str, bool)> {
    let mut domains = user.emails().iter().filter_map(domain_of);
    let first = domains.clone().next()?;
    Some(match domains.find(|d| managed.contains(d)) {
        Some(d) => (d, true),
        None => (first, false),
    })
}

fn label(user: &UserRow) -> String {
    user.emails()
        .first()
        .or(user.usernames().first())
        .or(user.display_names().first())
        .unwrap_or_default()
        .to_owned()
}

/// Computes the insights of one window. `managed_domains` is `[identity] managed_domains`
/// (case-insensitive; exactly these domains, not their subdomains, as in SPEC §9).
pub fn insights(report: &WindowReport, managed_domains: &[String]) -> Insights {
    let managed = ManagedDomains::new(managed_domains);
    let mut domains: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
    let (mut managed_users, mut external_users, mut users_without_email) = (0, 0, 0);
    for user in report.users.iter().filter(|u| !u.service_account) {
        match primary_domain(user, &managed) {
            Some((d, is_managed)) => {
                domains.entry(d).or_insert((0, is_managed)).0 += 1;
                if is_managed {
                    managed_users += 1;
                } else {
                    external_users += 1;
                }
            }
            None => users_without_email += 1,
        }
    }
    let mut domains: Vec<DomainCount> = domains
        .into_iter()
        .map(|(domain, (users, managed))| DomainCount {
            domain: domain.to_owned(),
            users,
            managed,
        })
        .collect();
    domains.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.domain.cmp(&b.domain)));

    let since = report.window.end - Duration::days(ACTIVE_DAYS);
    let mut activity: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut service: BTreeMap<&str, u64> = BTreeMap::new();
    for user in &report.users {
        for (system, last) in user.observed_in() {
            if user.service_account {
                *service.entry(system).or_default() += 1;
            } else {
                let entry = activity.entry(system).or_default();
                if last >= since {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                }
            }
        }
    }

    let total = report.summary.total_unique_users;
    let by_rule = Rule::ALL
        .iter()
        .map(|&rule| {
            let users = report.summary.by_rule[rule.index()];
            RuleShare {
                rule,
                users,
                percent: if total == 0 {
                    0.0
                } else {
                    users as f64 * 100.0 / total as f64
                },
            }
        })
        .collect();

    let mut largest_merged: Vec<MergedUser> = report
        .users
        .iter()
        .filter(|u| {
            u.emails().len() >= 2 || u.display_names().len() >= 2 || u.usernames().len() >= 2
        })
        .map(|u| MergedUser {
            label: label(u),
            emails: u.emails().len(),
            display_names: u.display_names().len(),
            usernames: u.usernames().len(),
            systems: u.observed_in().len(),
            identified_by: u.identified_by,
            shared_handles: u.shared_handles().to_vec(),
            forced_merge: u.forced_merge,
            service_account: u.service_account,
        })
        .collect();
    // The label breaks ties so the list does not depend on input order.
    largest_merged.sort_by(|a, b| a.rank().cmp(&b.rank()));
    largest_merged.truncate(LARGEST_MERGED);

    Insights {
        window: report.window.kind,
        domains,
        managed_users,
        external_users,
        users_without_email,
        managed_domains_configured: managed_domains.iter().any(|m| !m.trim().is_empty()),
        active_by_system: activity
            .into_iter()
            .map(|(system, (active, inactive))| SystemActivity {
                system: system.to_owned(),
                active,
                inactive,
            })
            .collect(),
        monthly_active: report.monthly_active.clone(),
        by_rule,
        service_accounts_by_system: service
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect(),
        sync_outcomes: report.sync_outcomes.clone(),
        largest_merged,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::model::Interaction;
    use crate::report::{Summary, SystemUserCount, UserRowParts, Window};

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }

    fn user(emails: &[&str], usernames: &[&str], seen: &[(&str, DateTime<Utc>)]) -> UserRowParts {
        UserRowParts {
            emails: emails.iter().map(|s| s.to_string()).collect(),
            usernames: usernames.iter().map(|s| s.to_string()).collect(),
            display_names: vec![],
            identified_by: if emails.is_empty() {
                Rule::Usernames
            } else if usernames.is_empty() {
                Rule::Emails
            } else {
                Rule::UsernamesOrEmails
            },
            interactions: vec![Interaction::Updater],
            observed_in: seen.iter().map(|(s, t)| (s.to_string(), *t)).collect(),
            service_account: false,
            last_seen: seen.iter().map(|(_, t)| *t).max().expect("seen somewhere"),
            duplicates: vec![],
            shared_handles: vec![],
            forced_merge: false,
        }
    }

    fn report(users: Vec<UserRowParts>) -> WindowReport {
        let users: Vec<UserRow> = users.into_iter().map(UserRow::from).collect();
        let people = users.iter().filter(|u| !u.service_account);
        let mut by_rule = [0u64; 4];
        for u in people.clone() {
            by_rule[u.identified_by.index()] += 1;
        }
        let total = people.count() as u64;
        WindowReport {
            window: Window {
                kind: WindowKind::SixMonths,
                start: at(2026, 5, 1),
                end: at(2026, 11, 1),
            },
            summary: Summary {
                total_unique_users: total,
                by_rule,
                ..Summary::default()
            },
            user_counts: vec![],
            all_systems: SystemUserCount {
                system: "All Systems".into(),
                count: total,
                by_rule,
            },
            entity_types: vec![],
            projects: vec![],
            synced: vec![],
            users,
            monthly_active: vec![],
            sync_outcomes: vec![],
        }
    }

    #[test]
    fn domains_split_managed_from_external_and_count_each_user_once() {
        let recent = at(2026, 10, 20);
        let r = report(vec![
            user(&["ann@corp.example"], &["ann"], &[("Jira", recent)]),
            // Two emails: counted once, under the managed one.
            user(
                &["bob@partner.example", "bob@corp.example"],
                &[],
                &[("Jira", recent)],
            ),
            user(&["cy@partner.example"], &[], &[("Jira", recent)]),
            // A subdomain of a managed domain is not managed unless listed (SPEC §9).
            user(&["di@eu.corp.example"], &[], &[("Jira", recent)]),
            user(&[], &["ed"], &[("GitHub", recent)]),
        ]);
        let i = insights(&r, &["Corp.Example".into()]);
        assert!(i.managed_domains_configured);
        assert_eq!(i.managed_users, 2);
        assert_eq!(i.external_users, 2);
        assert_eq!(i.users_without_email, 1);
        assert_eq!(
            i.domains,
            vec![
                DomainCount {
                    domain: "corp.example".into(),
                    users: 2,
                    managed: true
                },
                DomainCount {
                    domain: "eu.corp.example".into(),
                    users: 1,
                    managed: false
                },
                DomainCount {
                    domain: "partner.example".into(),
                    users: 1,
                    managed: false
                },
            ]
        );
        // Listed itself, the subdomain is managed.
        let i = insights(&r, &["corp.example".into(), "@EU.corp.example ".into()]);
        assert_eq!((i.managed_users, i.external_users), (3, 1));
        // A look-alike domain is not managed either.
        let i = insights(&r, &["orp.example".into()]);
        assert_eq!(i.managed_users, 0);
        assert!(!insights(&r, &[]).managed_domains_configured);
    }

    #[test]
    fn activity_uses_the_last_30_days_before_as_of_per_system() {
        let r = report(vec![
            user(
                &["ann@corp.example"],
                &[],
                &[("Jira", at(2026, 10, 2)), ("GitHub", at(2026, 9, 1))],
            ),
            // Exactly 30 days before as_of still counts as active.
            user(&["bob@corp.example"], &[], &[("Jira", at(2026, 10, 2))]),
            user(&["cy@corp.example"], &[], &[("Jira", at(2026, 10, 1))]),
        ]);
        let i = insights(&r, &[]);
        assert_eq!(
            i.active_by_system,
            vec![
                SystemActivity {
                    system: "GitHub".into(),
                    active: 0,
                    inactive: 1
                },
                SystemActivity {
                    system: "Jira".into(),
                    active: 2,
                    inactive: 1
                },
            ]
        );
    }

    #[test]
    fn service_accounts_are_counted_per_system_and_left_out_of_user_figures() {
        let recent = at(2026, 10, 20);
        let mut bot = user(
            &[],
            &["deploy-bot"],
            &[("GitHub", recent), ("GitLab", recent)],
        );
        bot.service_account = true;
        let r = report(vec![
            bot,
            user(&["ann@corp.example"], &[], &[("GitHub", recent)]),
        ]);
        let i = insights(&r, &[]);
        assert_eq!(
            i.service_accounts_by_system,
            vec![("GitHub".to_string(), 1), ("GitLab".to_string(), 1)]
        );
        assert_eq!(i.active_by_system.len(), 1, "{:?}", i.active_by_system);
        assert_eq!(i.users_without_email, 0, "the bot is not a user");
    }

    #[test]
    fn rule_shares_add_up_to_the_total() {
        let recent = at(2026, 10, 20);
        let r = report(vec![
            user(&["ann@corp.example"], &["ann"], &[("Jira", recent)]),
            user(&["bob@corp.example"], &[], &[("Jira", recent)]),
            user(&["cy@corp.example"], &[], &[("Jira", recent)]),
            user(&[], &["ed"], &[("Jira", recent)]),
        ]);
        let i = insights(&r, &[]);
        let users: Vec<u64> = i.by_rule.iter().map(|s| s.users).collect();
        assert_eq!(users, vec![1, 2, 0, 1]);
        let percent: f64 = i.by_rule.iter().map(|s| s.percent).sum();
        assert!((percent - 100.0).abs() < 1e-9);
        assert_eq!(i.by_rule[1].percent, 50.0);
        assert!(insights(&report(vec![]), &[])
            .by_rule
            .iter()
            .all(|s| s.percent == 0.0));
    }

    #[test]
    fn largest_merged_ranks_by_distinct_identifiers_and_skips_single_ones() {
        let recent = at(2026, 10, 20);
        let mut big = user(
            &["admin@corp.example", "ann@corp.example", "bob@corp.example"],
            &["admin", "ann"],
            &[("Jira", recent), ("GitHub", recent)],
        );
        big.shared_handles = vec!["admin".into()];
        let r = report(vec![
            user(&["cy@corp.example"], &[], &[("Jira", recent)]),
            user(&["di@corp.example"], &["di"], &[("Jira", recent)]),
            big,
        ]);
        let i = insights(&r, &[]);
        let labels: Vec<(&str, usize)> = i
            .largest_merged
            .iter()
            .map(|m| (m.label.as_str(), m.identifiers()))
            .collect();
        // One email with one username is one person's ordinary pair, not a merge.
        assert_eq!(labels, vec![("admin@corp.example", 5)]);
        assert_eq!(
            i.largest_merged[0].shared_handles,
            vec!["admin".to_string()]
        );
        assert_eq!(i.largest_merged[0].systems, 2);
    }

    #[test]
    fn largest_merged_puts_the_signs_of_different_people_first() {
        let recent = at(2026, 10, 20);
        let systems = [
            ("Jira", recent),
            ("GitHub", recent),
            ("GitLab", recent),
            ("ServiceNow", recent),
        ];
        // One person with one email and a login per system: the most identifiers.
        let priya = user(
            &["priya.patel@corp.example"],
            &["ppatel", "priya.patel", "priyap"],
            &systems,
        );
        // Two emails and two names behind one shared handle: two people.
        let mut smiths = user(
            &["jane.smith@corp.example", "john.smith@corp.example"],
            &["jsmith"],
            &systems[..2],
        );
        smiths.display_names = vec!["Jane Smith".into(), "John Smith".into()];
        // One email, but two different names: likely two people too.
        let mut names = user(&["cy@corp.example"], &["cy"], &systems[..1]);
        names.display_names = vec!["Cy Young".into(), "Cyrus Vance".into()];
        let r = report(vec![priya, names, smiths]);
        let i = insights(&r, &[]);
        let order: Vec<(&str, usize, usize, usize)> = i
            .largest_merged
            .iter()
            .map(|m| (m.label.as_str(), m.emails, m.display_names, m.usernames))
            .collect();
        assert_eq!(
            order,
            vec![
                ("jane.smith@corp.example", 2, 2, 1),
                ("cy@corp.example", 1, 2, 1),
                ("priya.patel@corp.example", 1, 0, 3),
            ]
        );
    }
}
