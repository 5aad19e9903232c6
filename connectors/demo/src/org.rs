//! The synthetic organisation: people, what they use, and how each end system shows them.
//!
//! Everyone gets one identity per system they use, fixed for the whole data set, shaped the
//! way that system's API really reports people (see the crate documentation). The identity
//! edge cases the report has to cope with are built in on purpose, in `edge_cases`.

use std::collections::HashSet;

use crate::clock::{DAY, SPAN};
use crate::names::{FIRST, LAST};
use crate::rng::Rng;

pub(crate) const COMPANY_DOMAIN: &str = "northwind.example";
pub(crate) const EMPLOYEES: usize = 3_000;
pub(crate) const EXTERNALS: usize = 320;

/// Partner companies and how they build email addresses.
const PARTNERS: &[(&str, LocalStyle, u32)] = &[
    ("contoso-consulting.example", LocalStyle::FirstDotLast, 40),
    ("fabrikam-partners.example", LocalStyle::InitialLast, 25),
    ("adatum.example", LocalStyle::FirstDotLast, 15),
    ("litwareinc.example", LocalStyle::First, 10),
    ("tailspin-support.example", LocalStyle::InitialLast, 10),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalStyle {
    FirstDotLast,
    InitialLast,
    First,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum System {
    Jira = 0,
    AzureDevOps = 1,
    ServiceNow = 2,
    GitHub = 3,
    GitLab = 4,
}

impl System {
    pub(crate) const ALL: [System; 5] = [
        System::Jira,
        System::AzureDevOps,
        System::ServiceNow,
        System::GitHub,
        System::GitLab,
    ];

    pub(crate) fn name(self) -> &'static str {
        crate::SYSTEMS[self as usize]
    }
}

/// The projects people work in; integrations pair them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Project {
    JiraOps,
    JiraWeb,
    JiraSd,
    JiraMob,
    JiraPay,
    AdoFabrikam,
    AdoDataPlatform,
    SnowServiceDesk,
    SnowInfraOps,
    GhWebPortal,
    GhMobileApp,
    GhPaymentsApi,
    GlBilling,
    GlDataPipeline,
}

impl Project {
    pub(crate) const COUNT: usize = 14;

    pub(crate) fn system(self) -> System {
        use Project::*;
        match self {
            JiraOps | JiraWeb | JiraSd | JiraMob | JiraPay => System::Jira,
            AdoFabrikam | AdoDataPlatform => System::AzureDevOps,
            SnowServiceDesk | SnowInfraOps => System::ServiceNow,
            GhWebPortal | GhMobileApp | GhPaymentsApi => System::GitHub,
            GlBilling | GlDataPipeline => System::GitLab,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        use Project::*;
        match self {
            JiraOps => "OPS",
            JiraWeb => "WEB",
            JiraSd => "SD",
            JiraMob => "MOB",
            JiraPay => "PAY",
            AdoFabrikam => "Fabrikam",
            AdoDataPlatform => "Data Platform",
            SnowServiceDesk => "IT Service Desk",
            SnowInfraOps => "Infrastructure Ops",
            GhWebPortal => "northwind/web-portal",
            GhMobileApp => "northwind/mobile-app",
            GhPaymentsApi => "northwind/payments-api",
            GlBilling => "platform/billing",
            GlDataPipeline => "platform/data-pipeline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Team {
    Web,
    Mobile,
    Payments,
    Platform,
    Data,
    Core,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Engineer(Team),
    Product,
    Qa,
    Support,
    Ops,
    Business,
}

/// How one system shows one person (or service account). Fields are exactly what its
/// connector would put into a `user` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ident {
    pub email: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub service_account: bool,
}

/// Whether a person works on a project's items or only raises them (a caller of an
/// incident, a customer of a service desk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Worker,
    Requester,
}

#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub external: bool,
    /// Canonical seconds; people who were there all along join before 0 and leave after
    /// `SPAN`.
    pub join: i64,
    pub leave: i64,
    /// How busy the person is relative to colleagues in the same projects.
    pub weight: u32,
    pub memberships: Vec<(Project, Part)>,
    pub ids: [Option<Ident>; 5],
    name: NameParts,
    /// The directory email; each system shows it its own way, or not at all.
    email: String,
    /// The directory account name (sAMAccountName) that ServiceNow and GitLab often use.
    account: String,
}

impl Person {
    pub(crate) fn active_at(&self, s: i64) -> bool {
        self.join <= s && s <= self.leave
    }

    pub(crate) fn ident(&self, system: System) -> Option<&Ident> {
        self.ids[system as usize].as_ref()
    }

    pub(crate) fn uses(&self, system: System) -> bool {
        self.ids[system as usize].is_some()
    }

    fn add_membership(&mut self, project: Project, part: Part) {
        if let Some(m) = self.memberships.iter_mut().find(|(p, _)| *p == project) {
            if part == Part::Worker {
                m.1 = Part::Worker;
            }
        } else {
            self.memberships.push((project, part));
        }
    }
}

/// Pools of people per project, with cumulative weights for weighted picks.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pool {
    people: Vec<u32>,
    cumulative: Vec<u64>,
}

impl Pool {
    fn push(&mut self, person: u32, weight: u32) {
        let last = self.cumulative.last().copied().unwrap_or(0);
        self.people.push(person);
        self.cumulative.push(last + u64::from(weight.max(1)));
    }

    /// A busy-weighted pick among those employed at `s`; `None` when nobody is around.
    pub(crate) fn pick(&self, rng: &mut Rng, org: &Org, s: i64) -> Option<u32> {
        let total = self.cumulative.last().copied()?;
        for _ in 0..40 {
            let x = rng.below(total);
            let i = self.cumulative.partition_point(|&c| c <= x);
            let p = *self.people.get(i)?;
            if org.people[p as usize].active_at(s) {
                return Some(p);
            }
        }
        None
    }
}

#[derive(Debug)]
pub(crate) struct Org {
    pub people: Vec<Person>,
    workers: Vec<Pool>,
    requesters: Vec<Pool>,
}

impl Org {
    pub(crate) fn workers(&self, project: Project) -> &Pool {
        &self.workers[project as usize]
    }

    /// Requesters include the workers: agents raise tickets too.
    pub(crate) fn requesters(&self, project: Project) -> &Pool {
        &self.requesters[project as usize]
    }

    pub(crate) fn build(seed: u64) -> Org {
        let mut b = Builder {
            rng: Rng::stream(seed, 1, 0),
            names: HashSet::new(),
            handles: HashSet::new(),
            people: Vec::with_capacity(EMPLOYEES + EXTERNALS),
        };
        let edge = b.edge_cases();
        let employees_left = EMPLOYEES - edge.iter().filter(|p| !p.external).count();
        let externals_left = EXTERNALS - edge.iter().filter(|p| p.external).count();
        b.people.extend(edge);
        for _ in 0..employees_left {
            let p = b.random_person(false);
            b.people.push(p);
        }
        for _ in 0..externals_left {
            let p = b.random_person(true);
            b.people.push(p);
        }
        b.spoil_some_emails();

        let mut workers = vec![Pool::default(); Project::COUNT];
        let mut requesters = vec![Pool::default(); Project::COUNT];
        for (i, p) in b.people.iter().enumerate() {
            for &(project, part) in &p.memberships {
                if part == Part::Worker {
                    workers[project as usize].push(i as u32, p.weight);
                }
                // Tickets are mostly raised by the many who only raise them; agents and
                // engineers raise a few.
                let w = match part {
                    Part::Worker => (p.weight / 3).max(1),
                    Part::Requester => 3 + p.weight,
                };
                requesters[project as usize].push(i as u32, w);
            }
        }
        Org {
            people: b.people,
            workers,
            requesters,
        }
    }
}

struct Builder {
    rng: Rng,
    names: HashSet<(&'static str, &'static str)>,
    /// Every lower-cased handle handed out (email local parts, account names, logins), so
    /// two people share a handle only where an edge case says so.
    handles: HashSet<String>,
    people: Vec<Person>,
}

/// Membership probabilities by role: (project, part, chance).
fn role_projects(role: Role) -> &'static [(Project, Part, f64)] {
    use Part::*;
    use Project::*;
    match role {
        Role::Engineer(Team::Web) => &[
            (JiraWeb, Worker, 0.92),
            (AdoFabrikam, Worker, 0.55),
            (GhWebPortal, Worker, 0.8),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Engineer(Team::Mobile) => &[
            (JiraMob, Worker, 0.92),
            (GhMobileApp, Worker, 0.85),
            (AdoFabrikam, Worker, 0.25),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Engineer(Team::Payments) => &[
            (JiraPay, Worker, 0.9),
            (GhPaymentsApi, Worker, 0.85),
            (JiraOps, Worker, 0.2),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Engineer(Team::Platform) => &[
            (GlBilling, Worker, 0.85),
            (AdoFabrikam, Worker, 0.7),
            (JiraOps, Worker, 0.45),
            (SnowInfraOps, Worker, 0.1),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Engineer(Team::Data) => &[
            (GlDataPipeline, Worker, 0.85),
            (AdoDataPlatform, Worker, 0.85),
            (JiraOps, Worker, 0.25),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Engineer(Team::Core) => &[
            (AdoFabrikam, Worker, 0.95),
            (JiraOps, Worker, 0.5),
            (JiraWeb, Worker, 0.45),
            (GhWebPortal, Worker, 0.15),
            (SnowServiceDesk, Requester, 0.15),
        ],
        Role::Product => &[
            (JiraWeb, Worker, 0.5),
            (JiraMob, Worker, 0.35),
            (JiraPay, Worker, 0.3),
            (JiraOps, Worker, 0.15),
            (AdoFabrikam, Worker, 0.5),
            (GhWebPortal, Worker, 0.08),
            (SnowServiceDesk, Requester, 0.2),
        ],
        Role::Qa => &[
            (JiraWeb, Worker, 0.55),
            (JiraMob, Worker, 0.35),
            (JiraPay, Worker, 0.2),
            (AdoFabrikam, Worker, 0.75),
            (AdoDataPlatform, Worker, 0.1),
        ],
        Role::Support => &[
            (SnowServiceDesk, Worker, 0.95),
            (JiraSd, Worker, 0.75),
            (JiraOps, Worker, 0.15),
            (SnowInfraOps, Worker, 0.1),
        ],
        Role::Ops => &[
            (JiraOps, Worker, 0.9),
            (SnowInfraOps, Worker, 0.85),
            (SnowServiceDesk, Worker, 0.35),
            (GlBilling, Worker, 0.35),
            (GhWebPortal, Worker, 0.12),
            (AdoFabrikam, Worker, 0.3),
            (JiraSd, Worker, 0.2),
        ],
        Role::Business => &[
            (SnowServiceDesk, Requester, 0.55),
            (JiraSd, Requester, 0.5),
            (JiraWeb, Worker, 0.06),
            (AdoFabrikam, Worker, 0.04),
        ],
    }
}

/// GitHub logins are shown as their owner typed them.
fn capitalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = true;
    for c in s.chars() {
        if upper && c.is_ascii_alphabetic() {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
        if c == '-' {
            upper = true;
        }
    }
    out
}

fn upper_first(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The email as some directories store it: `Ann.Lee@Northwind.example`.
fn title_case_email(email: &str) -> String {
    let title = |part: &str| {
        part.split('.')
            .map(upper_first)
            .collect::<Vec<_>>()
            .join(".")
    };
    match email.split_once('@') {
        Some((local, domain)) => match domain.split_once('.') {
            Some((host, rest)) => format!("{}@{}.{rest}", title(local), upper_first(host)),
            None => format!("{}@{}", title(local), upper_first(domain)),
        },
        None => email.to_string(),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NameParts {
    first_display: &'static str,
    last_display: &'static str,
    /// Lower-case ASCII, as used in handles.
    first: &'static str,
    last: &'static str,
}

impl NameParts {
    const fn new(
        first_display: &'static str,
        last_display: &'static str,
        first: &'static str,
        last: &'static str,
    ) -> Self {
        NameParts {
            first_display,
            last_display,
            first,
            last,
        }
    }

    fn from_tables(first: usize, last: usize) -> Self {
        NameParts {
            first_display: FIRST[first].0,
            first: FIRST[first].1,
            last_display: LAST[last].0,
            last: LAST[last].1,
        }
    }

    fn display(&self) -> String {
        format!("{} {}", self.first_display, self.last_display)
    }

    fn is_ascii(&self) -> bool {
        self.first_display.is_ascii() && self.last_display.is_ascii()
    }

    /// How people with accented names often type them where they choose: "Jose Garcia".
    fn ascii_display(&self) -> String {
        format!("{} {}", upper_first(self.first), upper_first(self.last))
    }
}

/// What `Builder::person` needs to know about someone; the rest is drawn at random.
struct Spec {
    name: NameParts,
    external: bool,
    domain: &'static str,
    style: LocalStyle,
    role: Role,
    tenure: (i64, i64),
    weight: u32,
}

/// Employed before the span starts and still there after it ends.
const TENURED: (i64, i64) = (-400 * DAY, SPAN + 400 * DAY);

impl Builder {
    /// A handle nobody else has: `base`, `base2`, `base3`, …
    fn claim(&mut self, base: &str) -> String {
        let mut candidate = base.to_string();
        let mut n = 2;
        while self.handles.contains(&candidate.to_lowercase()) {
            candidate = format!("{base}{n}");
            n += 1;
        }
        self.handles.insert(candidate.to_lowercase());
        candidate
    }

    fn random_tenure(&mut self, external: bool) -> (i64, i64) {
        let r = &mut self.rng;
        // Contractors come and go far more than employees.
        let weights: [u32; 4] = if external {
            [35, 15, 25, 25]
        } else {
            [70, 13, 14, 3]
        };
        match r.weighted(&weights) {
            0 => TENURED,
            1 => (TENURED.0, r.range(20 * DAY, SPAN - 5 * DAY)),
            2 => (r.range(10 * DAY, SPAN - 10 * DAY), TENURED.1),
            _ => {
                let join = r.range(0, SPAN - 30 * DAY);
                (join, join + r.range(30 * DAY, 200 * DAY))
            }
        }
    }

    fn random_weight(&mut self, role: Role) -> u32 {
        let r = &mut self.rng;
        if role == Role::Business {
            return 1 + r.below(2) as u32;
        }
        match r.weighted(&[45, 40, 15]) {
            0 => 1 + r.below(3) as u32,
            1 => 4 + r.below(5) as u32,
            _ => 9 + r.below(8) as u32,
        }
    }

    fn random_role(&mut self, external: bool) -> Role {
        use Team::*;
        const ROLES: [Role; 11] = [
            Role::Engineer(Web),
            Role::Engineer(Mobile),
            Role::Engineer(Payments),
            Role::Engineer(Platform),
            Role::Engineer(Data),
            Role::Engineer(Core),
            Role::Product,
            Role::Qa,
            Role::Support,
            Role::Ops,
            Role::Business,
        ];
        let weights: [u32; 11] = if external {
            [14, 10, 8, 10, 8, 10, 5, 15, 20, 0, 0]
        } else {
            [9, 6, 5, 7, 5, 8, 8, 6, 14, 7, 25]
        };
        ROLES[self.rng.weighted(&weights)]
    }

    fn random_person(&mut self, external: bool) -> Person {
        let name = loop {
            let first = self.rng.below(FIRST.len() as u64) as usize;
            let last = self.rng.below(LAST.len() as u64) as usize;
            let name = NameParts::from_tables(first, last);
            if self.names.insert((name.first_display, name.last_display)) {
                break name;
            }
        };
        let (domain, style) = if external {
            let weights: Vec<u32> = PARTNERS.iter().map(|p| p.2).collect();
            let (d, s, _) = PARTNERS[self.rng.weighted(&weights)];
            (d, s)
        } else if self.rng.chance(0.12) {
            (COMPANY_DOMAIN, LocalStyle::InitialLast)
        } else {
            (COMPANY_DOMAIN, LocalStyle::FirstDotLast)
        };
        let role = self.random_role(external);
        let tenure = self.random_tenure(external);
        let weight = self.random_weight(role);
        self.person(Spec {
            name,
            external,
            domain,
            style,
            role,
            tenure,
            weight,
        })
    }

    fn person(&mut self, spec: Spec) -> Person {
        let name = spec.name;
        self.names.insert((name.first_display, name.last_display));
        let initial_last = format!("{}{}", &name.first[..1], name.last);
        let local = match spec.style {
            LocalStyle::FirstDotLast => format!("{}.{}", name.first, name.last),
            LocalStyle::InitialLast => initial_last.clone(),
            LocalStyle::First => name.first.to_string(),
        };
        let local = self.claim(&local);
        let account = if spec.external || spec.style == LocalStyle::InitialLast {
            local.clone()
        } else {
            self.claim(&initial_last)
        };

        let mut memberships = Vec::new();
        for &(project, part, chance) in role_projects(spec.role) {
            if self.rng.chance(chance) {
                memberships.push((project, part));
            }
        }
        if memberships.is_empty() {
            let (project, part, _) = role_projects(spec.role)[0];
            memberships.push((project, part));
        }

        let mut person = Person {
            external: spec.external,
            join: spec.tenure.0,
            leave: spec.tenure.1,
            weight: spec.weight,
            memberships,
            ids: Default::default(),
            name,
            email: format!("{local}@{}", spec.domain),
            account,
        };
        for system in System::ALL {
            self.ensure_ident(&mut person, system);
        }
        person
    }

    /// Gives `p` an identity in `system` when one of its projects is there.
    fn ensure_ident(&mut self, p: &mut Person, system: System) {
        if p.uses(system) || !p.memberships.iter().any(|(pr, _)| pr.system() == system) {
            return;
        }
        let ident = self.ident(system, p);
        p.ids[system as usize] = Some(ident);
    }

    fn ident(&mut self, system: System, person: &Person) -> Ident {
        let display = person.name.display();
        let email = person.email.clone();
        let local = email.split('@').next().unwrap_or_default();
        match system {
            // Jira Cloud: the accountId is no username; profile visibility hides the email
            // of many people, and a deleted account shows as "Former user".
            System::Jira => {
                let left = person.leave < SPAN;
                if left && self.rng.chance(0.35) {
                    return Ident {
                        display_name: Some("Former user".into()),
                        ..Ident::default()
                    };
                }
                let hidden = self.rng.chance(if person.external { 0.5 } else { 0.4 });
                Ident {
                    email: (!hidden).then_some(email),
                    display_name: Some(display),
                    ..Ident::default()
                }
            }
            // Azure DevOps: uniqueName is the Entra UPN, typed with capitals by some admins.
            System::AzureDevOps => Ident {
                email: Some(if self.rng.chance(0.08) {
                    title_case_email(&email)
                } else {
                    email
                }),
                display_name: Some(display),
                ..Ident::default()
            },
            System::ServiceNow => {
                let username = if self.rng.chance(0.7) {
                    local.to_string()
                } else {
                    person.account.clone()
                };
                let email = if self.rng.chance(0.02) {
                    email.to_uppercase()
                } else {
                    email
                };
                Ident {
                    email: Some(email),
                    username: Some(username),
                    display_name: Some(display),
                    service_account: false,
                }
            }
            // GitHub: a personal login; the email only when the profile makes it public.
            System::GitHub => {
                let login = self.github_login(person);
                let r = &mut self.rng;
                let email = r.chance(0.2).then(|| {
                    if r.chance(0.75) {
                        email
                    } else {
                        format!("{}@mailbox.example", login.to_lowercase())
                    }
                });
                let display_name = r.chance(0.6).then(|| {
                    if !person.name.is_ascii() && r.chance(0.5) {
                        person.name.ascii_display()
                    } else {
                        display
                    }
                });
                Ident {
                    email,
                    username: Some(login),
                    display_name,
                    service_account: false,
                }
            }
            // Self-managed GitLab, mostly synced from the directory; the email only where
            // the token may read it.
            System::GitLab => {
                let username = match self.rng.weighted(&[60, 30, 10]) {
                    0 => person.account.clone(),
                    1 => local.to_string(),
                    _ => self.github_login(person).to_lowercase(),
                };
                Ident {
                    email: self.rng.chance(0.65).then_some(email),
                    username: Some(username),
                    display_name: Some(display),
                    service_account: false,
                }
            }
        }
    }

    /// A personal GitHub login: chosen by its owner, so rarely their company handle.
    fn github_login(&mut self, person: &Person) -> String {
        let (first, last) = (person.name.first, person.name.last);
        let (f, l) = (&first[..1], &last[..1]);
        let r = &mut self.rng;
        let nn = 10 + r.below(89);
        let base = match r.weighted(&[20, 15, 15, 10, 10, 5, 5, 10, 10]) {
            0 => format!("{first}{last}"),
            1 => format!("{first}-{last}"),
            2 => format!("{f}{last}{nn}"),
            3 => format!("{first}{last}-{}", r.pick(&["dev", "nw", "codes", "work"])),
            4 => format!("{first}{}", 1970 + r.below(35)),
            5 => format!("{last}{f}"),
            6 => format!("{first}-{l}"),
            // Logins cannot contain dots; those who could reuse their account name did.
            7 if !person.account.contains('.') => return person.account.clone(),
            _ => format!("{first}{last}{nn}"),
        };
        let login = self.claim(&base);
        if self.rng.chance(0.15) {
            capitalise(&login)
        } else {
            login
        }
    }

    /// A person whose identities are written out by hand.
    fn fixed(
        &mut self,
        name: NameParts,
        weight: u32,
        memberships: &[(Project, Part)],
        ids: &[(System, Ident)],
    ) -> Person {
        self.names.insert((name.first_display, name.last_display));
        let mut person = Person {
            external: false,
            join: TENURED.0,
            leave: TENURED.1,
            weight,
            memberships: memberships.to_vec(),
            ids: Default::default(),
            name,
            email: String::new(),
            account: String::new(),
        };
        for (system, ident) in ids {
            for handle in [&ident.username, &ident.email].into_iter().flatten() {
                let handle = handle.to_lowercase();
                let handle = handle.split('@').next().unwrap_or_default();
                self.handles.insert(handle.to_string());
            }
            if person.email.is_empty() {
                person.email = ident.email.clone().unwrap_or_default().to_lowercase();
            }
            person.ids[*system as usize] = Some(ident.clone());
        }
        person
    }

    /// The people who make the report interesting; see the crate documentation.
    fn edge_cases(&mut self) -> Vec<Person> {
        use Part::Worker;
        use Project::*;
        let id = |email: Option<&str>, username: Option<&str>, display: &str| Ident {
            email: email.map(str::to_string),
            username: username.map(str::to_string),
            display_name: Some(display.to_string()),
            service_account: false,
        };
        let mut out = Vec::new();

        // Ann Lee has a different handle in every system; rule 1 chains them into one user
        // (and her Jira activity joins through her unique display name).
        out.push(self.fixed(
            NameParts::new("Ann", "Lee", "ann", "lee"),
            14,
            &[
                (GlBilling, Worker),
                (AdoFabrikam, Worker),
                (JiraOps, Worker),
                (SnowInfraOps, Worker),
                (GhWebPortal, Worker),
            ],
            &[
                (System::Jira, id(None, None, "Ann Lee")),
                (
                    System::AzureDevOps,
                    id(Some("Ann.Lee@Northwind.example"), None, "Ann Lee"),
                ),
                (
                    System::ServiceNow,
                    id(Some("ann.lee@northwind.example"), Some("alee"), "Ann Lee"),
                ),
                (
                    System::GitHub,
                    id(
                        Some("ann.lee@northwind.example"),
                        Some("annlee-dev"),
                        "Ann Lee",
                    ),
                ),
                (System::GitLab, id(None, Some("alee"), "Ann Lee")),
            ],
        ));

        // Priya Patel: one email, three usernames — listed as Duplicates.
        let priya = Some("priya.patel@northwind.example");
        out.push(self.fixed(
            NameParts::new("Priya", "Patel", "priya", "patel"),
            12,
            &[
                (JiraOps, Worker),
                (SnowInfraOps, Worker),
                (GlBilling, Worker),
                (GhWebPortal, Worker),
            ],
            &[
                (System::Jira, id(priya, None, "Priya Patel")),
                (System::ServiceNow, id(priya, Some("ppatel"), "Priya Patel")),
                (
                    System::GitLab,
                    id(priya, Some("priya.patel"), "Priya Patel"),
                ),
                (System::GitHub, id(priya, Some("priyap"), "Priya Patel")),
            ],
        ));

        // Jane and John Smith both go by `jsmith`, in different systems: rule 1 merges
        // them — the over-merge the TUI's list of largest users is there to expose.
        out.push(self.fixed(
            NameParts::new("Jane", "Smith", "jane", "smith"),
            10,
            &[(JiraWeb, Worker), (GhWebPortal, Worker)],
            &[
                (
                    System::Jira,
                    id(Some("jane.smith@northwind.example"), None, "Jane Smith"),
                ),
                (
                    System::GitHub,
                    id(
                        Some("jane.smith@northwind.example"),
                        Some("JSmith"),
                        "Jane Smith",
                    ),
                ),
            ],
        ));
        out.push(self.fixed(
            NameParts::new("John", "Smith", "john", "smith"),
            10,
            &[(SnowServiceDesk, Worker), (JiraSd, Worker)],
            &[
                (System::Jira, id(None, None, "John Smith")),
                (
                    System::ServiceNow,
                    id(
                        Some("john.smith@northwind.example"),
                        Some("jsmith"),
                        "John Smith",
                    ),
                ),
            ],
        ));

        // A shared administrator account: ServiceNow's `admin` and the Jira site admin
        // `admin@…` resolve into one user unless `admin` is configured as a generic handle.
        out.push(self.fixed(
            NameParts::new("System", "Administrator", "system", "administrator"),
            1,
            &[(SnowServiceDesk, Worker), (JiraSd, Worker)],
            &[
                (
                    System::ServiceNow,
                    id(
                        Some("servicenow-admin@northwind.example"),
                        Some("admin"),
                        "System Administrator",
                    ),
                ),
                (
                    System::Jira,
                    id(Some("admin@northwind.example"), None, "Northwind Admin"),
                ),
            ],
        ));

        // Namesakes. Each hides the email in Jira, where nothing else tells them apart, so
        // their Jira activity resolves to one ambiguous display-name user.
        // (person, Jira project, a project where the system shows the email)
        let namesakes = [
            (
                NameParts::new("Chris", "Johnson", "chris", "johnson"),
                [
                    (false, COMPANY_DOMAIN, Role::Engineer(Team::Core)),
                    (false, COMPANY_DOMAIN, Role::Qa),
                ],
                JiraWeb,
                AdoFabrikam,
            ),
            (
                NameParts::new("María", "García", "maria", "garcia"),
                [
                    (false, COMPANY_DOMAIN, Role::Support),
                    (true, "contoso-consulting.example", Role::Support),
                ],
                JiraSd,
                SnowServiceDesk,
            ),
            (
                NameParts::new("Wei", "Zhang", "wei", "zhang"),
                [
                    (false, COMPANY_DOMAIN, Role::Engineer(Team::Data)),
                    (false, COMPANY_DOMAIN, Role::Engineer(Team::Mobile)),
                ],
                JiraOps,
                AdoFabrikam,
            ),
        ];
        for (name, people, jira, visible) in namesakes {
            for (external, domain, role) in people {
                let mut p = self.person(Spec {
                    name,
                    external,
                    domain,
                    style: LocalStyle::FirstDotLast,
                    role,
                    tenure: TENURED,
                    weight: 9,
                });
                p.add_membership(jira, Worker);
                p.add_membership(visible, Worker);
                self.ensure_ident(&mut p, System::Jira);
                self.ensure_ident(&mut p, visible.system());
                p.ids[System::Jira as usize] = Some(id(None, None, &name.display()));
                out.push(p);
            }
        }
        out
    }

    /// A few ServiceNow users imported from a spreadsheet with broken email cells.
    fn spoil_some_emails(&mut self) {
        let broken = |local: &str, i: usize| match i % 5 {
            0 => local.to_string(),
            1 => format!("{local}@"),
            2 => "n/a".to_string(),
            3 => format!("{local}@@northwind.example"),
            _ => format!("{local} northwind.example"),
        };
        let mut spoiled = 0;
        let mut i = 40;
        while spoiled < 8 && i < self.people.len() {
            let p = &mut self.people[i];
            if let Some(ident) = p.ids[System::ServiceNow as usize].as_mut() {
                let local = p.email.split('@').next().unwrap_or_default().to_string();
                ident.email = Some(broken(&local, spoiled));
                spoiled += 1;
            }
            i += 97;
        }
    }
}
