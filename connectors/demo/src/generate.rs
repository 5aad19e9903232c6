//! Integrations, the work items they sync, and who touched them.
//!
//! The data set is built item by item: every synced pair of work items gets a creator, an
//! assignee, a life of comments, updates, attachments, reassignments and bot activity on
//! both sides, and a sync for most of those changes. Items are generated in creation
//! order, each from its own random stream, so `Records` can stream them without holding
//! the data set in memory.

use chrono::{DateTime, Utc};
use tally_model::{
    EntityRef, Integration, IntegrationEnd, IntegrationStatus, Interaction, Record, SyncRecord,
    SyncStatus, UserObservation,
};

use crate::clock::{days_before_end, Clock, DAY, SPAN, SPAN_DAYS};
use crate::org::{Ident, Org, Project, System};
use crate::rng::Rng;

/// Fixed for all time: changing it changes the demo everyone has seen.
pub(crate) const SEED: u64 = 0x7A11_DE30_2024_0001;

/// What kind of work item, which decides how long it lives and how busy it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Incident,
    Problem,
    Change,
    Bug,
    Story,
    Task,
    Epic,
    Issue,
    Review,
}

impl Shape {
    /// (median lifetime in days, mean number of changes after creation)
    fn activity(self) -> (f64, f64) {
        match self {
            Shape::Incident => (1.5, 3.0),
            Shape::Problem => (20.0, 5.0),
            Shape::Change => (6.0, 3.5),
            Shape::Bug => (7.0, 4.0),
            Shape::Story => (12.0, 4.5),
            Shape::Task => (5.0, 2.5),
            Shape::Epic => (60.0, 6.0),
            Shape::Issue => (9.0, 3.5),
            Shape::Review => (2.0, 4.0),
        }
    }
}

/// (entity type in a, entity type in b, shape, share of items)
type TypePair = (&'static str, &'static str, Shape, u32);

/// One configured integration and the traffic it carries.
struct Def {
    name: &'static str,
    a: Project,
    b: Project,
    types: &'static [TypePair],
    active: bool,
    /// Days before `end` when it started syncing (`SPAN_DAYS` or more: before the span).
    from_days: i64,
    /// Days before `end` when it stopped syncing (0: still running).
    until_days: i64,
    /// Days before `end` of its last configuration change.
    updated_days: i64,
    /// New synced item pairs per day.
    per_day: f64,
    /// The share of items created in `a` (the rest start in `b` and are synced to `a`).
    a_first: f64,
}

const DEFS: &[Def] = &[
    Def {
        name: "OPS <-> Fabrikam",
        a: Project::JiraOps,
        b: Project::AdoFabrikam,
        types: &[
            ("Bug", "Bug", Shape::Bug, 4),
            ("Task", "Task", Shape::Task, 6),
        ],
        active: true,
        from_days: 900,
        until_days: 0,
        updated_days: 421,
        per_day: 4.5,
        a_first: 0.7,
    },
    Def {
        name: "WEB <-> Fabrikam",
        a: Project::JiraWeb,
        b: Project::AdoFabrikam,
        types: &[
            ("Bug", "Bug", Shape::Bug, 4),
            ("Story", "User Story", Shape::Story, 5),
            ("Epic", "Feature", Shape::Epic, 1),
        ],
        active: true,
        from_days: 900,
        until_days: 0,
        updated_days: 40,
        per_day: 5.0,
        a_first: 0.7,
    },
    Def {
        name: "SD <-> IT Service Desk",
        a: Project::JiraSd,
        b: Project::SnowServiceDesk,
        types: &[
            ("Incident", "incident", Shape::Incident, 9),
            ("Problem", "problem", Shape::Problem, 1),
        ],
        active: true,
        from_days: 900,
        until_days: 0,
        updated_days: 19,
        per_day: 7.0,
        // Most incidents are raised in ServiceNow and escalated to the Jira service desk.
        a_first: 0.35,
    },
    Def {
        name: "OPS <-> Infrastructure Ops",
        a: Project::JiraOps,
        b: Project::SnowInfraOps,
        types: &[("Change", "change_request", Shape::Change, 1)],
        active: true,
        from_days: 300,
        until_days: 0,
        updated_days: 122,
        per_day: 2.0,
        a_first: 0.7,
    },
    Def {
        name: "northwind/web-portal <-> WEB",
        a: Project::GhWebPortal,
        b: Project::JiraWeb,
        types: &[
            ("Issue", "Bug", Shape::Issue, 3),
            ("Issue", "Story", Shape::Issue, 1),
            ("Pull Request", "Task", Shape::Review, 2),
        ],
        active: true,
        from_days: 900,
        until_days: 0,
        updated_days: 203,
        per_day: 3.0,
        a_first: 0.6,
    },
    Def {
        name: "northwind/mobile-app <-> MOB",
        a: Project::GhMobileApp,
        b: Project::JiraMob,
        types: &[
            ("Issue", "Bug", Shape::Issue, 3),
            ("Issue", "Story", Shape::Issue, 1),
            ("Pull Request", "Task", Shape::Review, 1),
        ],
        active: true,
        from_days: 900,
        until_days: 0,
        updated_days: 75,
        per_day: 2.5,
        a_first: 0.6,
    },
    Def {
        name: "platform/billing <-> Fabrikam",
        a: Project::GlBilling,
        b: Project::AdoFabrikam,
        types: &[
            ("Issue", "Bug", Shape::Issue, 3),
            ("Merge Request", "Task", Shape::Review, 2),
        ],
        active: true,
        from_days: 150,
        until_days: 0,
        updated_days: 150,
        per_day: 4.0,
        a_first: 0.7,
    },
    // Switched off nine months ago and never touched since: in the 1-year report, not in
    // the 6-month one.
    Def {
        name: "platform/data-pipeline <-> Data Platform",
        a: Project::GlDataPipeline,
        b: Project::AdoDataPlatform,
        types: &[
            ("Issue", "User Story", Shape::Issue, 2),
            ("Issue", "Bug", Shape::Issue, 1),
        ],
        active: false,
        from_days: 900,
        until_days: 272,
        updated_days: 270,
        per_day: 2.5,
        a_first: 0.7,
    },
    // Switched off last month.
    Def {
        name: "PAY <-> northwind/payments-api",
        a: Project::JiraPay,
        b: Project::GhPaymentsApi,
        types: &[
            ("Bug", "Issue", Shape::Bug, 2),
            ("Task", "Issue", Shape::Task, 1),
        ],
        active: false,
        from_days: 900,
        until_days: 37,
        updated_days: 35,
        per_day: 2.0,
        a_first: 0.7,
    },
];

/// Numbering of work items: each space counts on its own, from where the project was when
/// the span began.
fn id_space(project: Project, entity_type: &str) -> (usize, u32) {
    use Project::*;
    match (project, entity_type) {
        (JiraOps, _) => (0, 2_140),
        (JiraWeb, _) => (1, 5_310),
        (JiraSd, _) => (2, 11_800),
        (JiraMob, _) => (3, 870),
        (JiraPay, _) => (4, 460),
        // Azure DevOps numbers work items across the whole organisation.
        (AdoFabrikam | AdoDataPlatform, _) => (5, 38_000),
        (SnowServiceDesk | SnowInfraOps, "incident") => (6, 41_000),
        (SnowServiceDesk | SnowInfraOps, "problem") => (7, 2_300),
        (SnowServiceDesk | SnowInfraOps, _) => (8, 12_600),
        (GhWebPortal, _) => (9, 1_420),
        (GhMobileApp, _) => (10, 730),
        (GhPaymentsApi, _) => (11, 310),
        (GlBilling, "Merge Request") => (12, 880),
        (GlBilling, _) => (13, 240),
        (GlDataPipeline, "Merge Request") => (14, 520),
        (GlDataPipeline, _) => (15, 190),
    }
}
const ID_SPACES: usize = 16;

fn format_id(project: Project, entity_type: &str, n: u32) -> String {
    match project.system() {
        System::Jira => format!("{}-{n}", project.name()),
        System::AzureDevOps => n.to_string(),
        System::ServiceNow => {
            let prefix = match entity_type {
                "incident" => "INC",
                "problem" => "PRB",
                _ => "CHG",
            };
            format!("{prefix}{n:07}")
        }
        System::GitHub => format!("{}#{n}", project.name()),
        System::GitLab if entity_type == "Merge Request" => format!("{}!{n}", project.name()),
        System::GitLab => format!("{}#{n}", project.name()),
    }
}

/// One synced pair of work items, before its activity is generated.
#[derive(Debug, Clone, Copy)]
struct Plan {
    created: i64,
    def: u8,
    ty: u8,
    created_in_a: bool,
    seed: u64,
    a_num: u32,
    b_num: u32,
}

/// A record and, for observations of a person, which person: the tests count people with
/// it, the public API drops it.
pub(crate) type Tagged = (Option<u32>, Record);

pub(crate) struct Generator {
    pub(crate) clock: Clock,
    pub(crate) org: Org,
    plans: Vec<Plan>,
}

impl Generator {
    pub(crate) fn new(end: DateTime<Utc>) -> Self {
        let org = Org::build(SEED);
        let mut plans = Vec::new();
        for (d, def) in DEFS.iter().enumerate() {
            let mut rng = Rng::stream(SEED, 2, d as u64);
            let from = days_before_end(def.from_days.min(SPAN_DAYS));
            let until = days_before_end(def.until_days);
            let days = (until - from) as f64 / DAY as f64;
            let count = (def.per_day * days) as u64;
            let weights: Vec<u32> = def.types.iter().map(|t| t.3).collect();
            for k in 0..count {
                // Slow growth: the integrations carry more in the recent months.
                let created = loop {
                    let s = rng.range(from, until);
                    let x = s as f64 / SPAN as f64;
                    if rng.chance((0.8 + 0.4 * x) / 1.2) {
                        break s;
                    }
                };
                plans.push(Plan {
                    created,
                    def: d as u8,
                    ty: rng.weighted(&weights) as u8,
                    created_in_a: rng.chance(def.a_first),
                    seed: crate::rng::mix(SEED ^ ((d as u64) << 32) ^ k),
                    a_num: 0,
                    b_num: 0,
                });
            }
        }
        plans.sort_by_key(|p| (p.created, p.def, p.seed));
        let mut next = [0u32; ID_SPACES];
        let mut numbering = Rng::stream(SEED, 3, 0);
        let mut number = |project: Project, ty: &str| {
            let (space, start) = id_space(project, ty);
            // Not every item in a project is integrated: numbers have gaps.
            next[space] += 1 + numbering.below(3) as u32;
            start + next[space]
        };
        for p in &mut plans {
            let def = &DEFS[p.def as usize];
            let (ta, tb, _, _) = def.types[p.ty as usize];
            p.a_num = number(def.a, ta);
            p.b_num = number(def.b, tb);
        }
        Generator {
            clock: Clock::new(end),
            org,
            plans,
        }
    }

    pub(crate) fn plan_count(&self) -> usize {
        self.plans.len()
    }

    pub(crate) fn integrations(&self) -> Vec<Record> {
        DEFS.iter()
            .map(|def| {
                let end = |project: Project, pick: fn(&TypePair) -> &'static str| {
                    let mut types: Vec<String> = Vec::new();
                    for t in def.types {
                        let name = pick(t).to_string();
                        if !types.contains(&name) {
                            types.push(name);
                        }
                    }
                    IntegrationEnd {
                        system: project.system().name().to_string(),
                        project: project.name().to_string(),
                        entity_types: types,
                    }
                };
                Record::Integration(Integration {
                    name: def.name.to_string(),
                    status: if def.active {
                        IntegrationStatus::Active
                    } else {
                        IntegrationStatus::Inactive
                    },
                    updated_at: self.clock.at(days_before_end(def.updated_days)),
                    ends: [end(def.a, |t| t.0), end(def.b, |t| t.1)],
                })
            })
            .collect()
    }

    /// Appends every record of plan `i` to `out`.
    pub(crate) fn plan_records(&self, i: usize, out: &mut Vec<Tagged>) {
        let Some(plan) = self.plans.get(i) else {
            return;
        };
        let def = &DEFS[plan.def as usize];
        let (ta, tb, shape, _) = def.types[plan.ty as usize];
        let sides = [
            Side {
                project: def.a,
                entity_type: ta,
                id: format_id(def.a, ta, plan.a_num),
            },
            Side {
                project: def.b,
                entity_type: tb,
                id: format_id(def.b, tb, plan.b_num),
            },
        ];
        let (origin, other) = if plan.created_in_a { (0, 1) } else { (1, 0) };
        let stop = days_before_end(def.until_days).min(SPAN);
        let (median, mean_changes) = shape.activity();
        let mut item = Item {
            gen: self,
            rng: Rng::new(plan.seed),
            sides,
            out,
        };
        let rng = &mut item.rng;
        let life = (rng.exp_median(median) * DAY as f64).clamp(3_600.0, 240.0 * DAY as f64);
        let start = plan.created;
        let last = (start + life as i64).min(stop);
        let changes = rng.geometric(mean_changes);

        // Created: by a person or a bot, usually assigned at once.
        let s = start;
        let org = &self.org;
        let origin_project = item.sides[origin].project;
        let reporter = match creating_bot(origin_project, shape, &mut item.rng) {
            Some(bot) => Actor::Bot(bot),
            None => match org
                .requesters(origin_project)
                .pick(&mut item.rng, org, s)
                .or_else(|| org.workers(origin_project).pick(&mut item.rng, org, s))
            {
                Some(p) => Actor::Person(p),
                None => return,
            },
        };
        let mut assignee = if item.rng.chance(0.85) {
            org.workers(origin_project).pick(&mut item.rng, org, s)
        } else {
            None
        };
        item.observe(origin, s, reporter.clone(), Interaction::Updater);
        item.observe(
            origin,
            s + 1,
            reporter.clone(),
            Interaction::MappedUserField,
        );
        if let Some(a) = assignee {
            item.observe(
                origin,
                s + 2,
                Actor::Person(a),
                Interaction::MappedUserField,
            );
        }
        let first_sync = s + item.rng.range(30, 900);
        if item.sync(origin, other, first_sync, Interaction::Updater, 1.0) {
            if let Actor::Person(p) = reporter {
                item.observe_if_known(other, first_sync + 1, p, Interaction::MappedUserField);
            }
            if let Some(a) = assignee {
                item.observe_if_known(other, first_sync + 2, a, Interaction::MappedUserField);
            }
        }

        // Its life: changes on either side, most of them synced across.
        let mut times: Vec<i64> = (0..changes)
            .map(|_| {
                let u = item.rng.unit().powf(1.6);
                first_sync + 60 + (u * (last - first_sync - 60).max(0) as f64) as i64
            })
            .collect();
        times.sort_unstable();
        for t in times {
            let side = if item.rng.chance(0.6) { origin } else { other };
            let project = item.sides[side].project;
            let system = project.system();
            let change = Change::ALL[item.rng.weighted(&Change::WEIGHTS)];
            let interaction = change.interaction();
            if change == Change::Automation {
                let (bot, interaction) = automation_bot(project, shape, &mut item.rng);
                item.observe(side, t, Actor::Bot(bot), interaction);
            } else {
                // Mostly the assignee and the reporter; anyone on the project now and then.
                let r = item.rng.unit();
                let regular = if r < 0.4 {
                    assignee
                } else if r < 0.6 {
                    reporter.person()
                } else {
                    None
                };
                let actor = regular
                    .filter(|&p| org.people[p as usize].uses(system) && active(org, p, t))
                    .or_else(|| org.workers(project).pick(&mut item.rng, org, t));
                let Some(actor) = actor else { continue };
                item.observe(side, t, Actor::Person(actor), interaction);
                if change == Change::Comment && item.rng.chance(0.25) {
                    if let Some(m) = org.workers(project).pick(&mut item.rng, org, t) {
                        item.observe(side, t, Actor::Person(m), Interaction::Mention);
                    }
                }
                if change == Change::Reassign {
                    assignee = org.workers(project).pick(&mut item.rng, org, t);
                    if let Some(a) = assignee {
                        item.observe(side, t + 1, Actor::Person(a), Interaction::MappedUserField);
                    }
                }
            }
            if item.rng.chance(change.sync_chance()) {
                let at = t + item.rng.range(5, 240);
                let to = 1 - side;
                if item.sync(side, to, at, interaction, 0.5) && change == Change::Reassign {
                    if let Some(a) = assignee {
                        item.observe_if_known(to, at + 1, a, Interaction::MappedUserField);
                    }
                }
            }
        }
    }
}

/// One change in an item's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Comment,
    Update,
    Attachment,
    Reassign,
    /// An automation rule, a CI job or a pipeline touching the item.
    Automation,
}

impl Change {
    const ALL: [Change; 5] = [
        Change::Comment,
        Change::Update,
        Change::Attachment,
        Change::Reassign,
        Change::Automation,
    ];
    const WEIGHTS: [u32; 5] = [36, 30, 7, 8, 12];

    fn interaction(self) -> Interaction {
        match self {
            Change::Comment => Interaction::CommentAuthor,
            Change::Attachment => Interaction::AttachmentAuthor,
            Change::Update | Change::Reassign | Change::Automation => Interaction::Updater,
        }
    }

    /// Integrations sync what the other side needs: comments, attachments and assignees
    /// almost always, field edits often, bot chatter rarely.
    fn sync_chance(self) -> f64 {
        match self {
            Change::Comment => 0.75,
            Change::Update => 0.6,
            Change::Attachment => 0.85,
            Change::Reassign => 0.9,
            Change::Automation => 0.25,
        }
    }
}

fn active(org: &Org, p: u32, s: i64) -> bool {
    org.people[p as usize].active_at(s)
}

#[derive(Debug, Clone)]
enum Actor {
    Person(u32),
    Bot(Ident),
}

impl Actor {
    fn person(&self) -> Option<u32> {
        match self {
            Actor::Person(p) => Some(*p),
            Actor::Bot(_) => None,
        }
    }
}

struct Side {
    project: Project,
    entity_type: &'static str,
    id: String,
}

impl Side {
    fn entity(&self) -> EntityRef {
        EntityRef {
            system: self.project.system().name().to_string(),
            project: Some(self.project.name().to_string()),
            entity_type: Some(self.entity_type.to_string()),
            entity_id: self.id.clone(),
        }
    }
}

/// The item being generated.
struct Item<'a> {
    gen: &'a Generator,
    rng: Rng,
    sides: [Side; 2],
    out: &'a mut Vec<Tagged>,
}

impl Item<'_> {
    fn observe(&mut self, side: usize, s: i64, actor: Actor, interaction: Interaction) {
        let (person, ident) = match actor {
            Actor::Person(p) => {
                let system = self.sides[side].project.system();
                match self.gen.org.people[p as usize].ident(system) {
                    Some(ident) => (Some(p), ident.clone()),
                    None => return,
                }
            }
            Actor::Bot(ident) => (None, ident),
        };
        let side = &self.sides[side];
        let mut obs = UserObservation {
            system: side.project.system().name().to_string(),
            at: self.gen.clock.at(s),
            email: ident.email,
            username: ident.username,
            display_name: ident.display_name,
            interaction,
            project: Some(side.project.name().to_string()),
            entity_type: Some(side.entity_type.to_string()),
            entity_id: Some(side.id.clone()),
            service_account: ident.service_account,
        };
        let person = match person {
            Some(_) if self.rng.chance(0.0025) => {
                // An anonymous portal submission or a purged account: nothing identifies
                // it.
                let blank = self.rng.chance(0.5).then(String::new);
                obs.email = blank.clone();
                obs.username = None;
                obs.display_name = blank;
                None
            }
            Some(_) if self.rng.chance(0.004) => {
                sloppy(&mut obs, &mut self.rng);
                person
            }
            _ => person,
        };
        self.out.push((person, Record::User(obs)));
    }

    /// Observes a person carried over by the sync, if the other system knows them (a
    /// user field maps only to someone who has an account there).
    fn observe_if_known(&mut self, side: usize, s: i64, p: u32, interaction: Interaction) {
        let system = self.sides[side].project.system();
        if self.gen.org.people[p as usize].uses(system) {
            self.observe(side, s, Actor::Person(p), interaction);
        }
    }

    /// Syncs from one side to the other, retrying most failures; true if it got through.
    /// The integration's account in the target system shows up as having made the change
    /// (always when it creates the item there).
    fn sync(&mut self, from: usize, to: usize, s: i64, what: Interaction, agent: f64) -> bool {
        let mut at = s;
        let ok = loop {
            let failed = self.rng.chance(0.04);
            let status = if failed {
                SyncStatus::Failed
            } else {
                SyncStatus::Success
            };
            self.out.push((
                None,
                Record::Sync(SyncRecord {
                    at: self.gen.clock.at(at),
                    status,
                    source: self.sides[from].entity(),
                    target: self.sides[to].entity(),
                }),
            ));
            if !failed {
                break true;
            }
            if !self.rng.chance(0.75) {
                break false;
            }
            at += self.rng.range(60, 1_800);
        };
        if ok && self.rng.chance(agent) {
            let agent = sync_agent(self.sides[to].project);
            self.observe(to, at + 2, Actor::Bot(agent), what);
        }
        ok
    }
}

/// White space and capitals where people typed them: the normalisation rules exist for
/// this.
fn sloppy(obs: &mut UserObservation, rng: &mut Rng) {
    match rng.below(3) {
        0 => {
            if let Some(e) = obs.email.as_mut() {
                *e = format!(" {e} ");
            }
        }
        1 => {
            if let Some(d) = obs.display_name.as_mut() {
                *d = format!("{}  ", d.replacen(' ', "  ", 1));
            }
        }
        _ => {
            if let Some(u) = obs.username.as_mut() {
                *u = format!("{}\t", u.to_uppercase());
            }
        }
    }
}

fn bot(email: Option<&str>, username: Option<&str>, display: Option<&str>) -> Ident {
    Ident {
        email: email.map(str::to_string),
        username: username.map(str::to_string),
        display_name: display.map(str::to_string),
        service_account: true,
    }
}

/// The account an integration writes with in each system.
fn sync_agent(project: Project) -> Ident {
    match project {
        Project::JiraOps
        | Project::JiraWeb
        | Project::JiraSd
        | Project::JiraMob
        | Project::JiraPay => bot(None, None, Some("Exalate")),
        // A plain licensed user that Azure DevOps cannot flag: an administrator catches it
        // with a service-account pattern.
        Project::AdoFabrikam | Project::AdoDataPlatform => Ident {
            email: Some("svc-exalate-ado@northwind.example".into()),
            username: None,
            display_name: Some("Exalate Sync".into()),
            service_account: false,
        },
        Project::SnowServiceDesk | Project::SnowInfraOps => bot(
            Some("svc.integration@northwind.example"),
            Some("svc.integration"),
            Some("Integration User"),
        ),
        Project::GhWebPortal | Project::GhMobileApp | Project::GhPaymentsApi => {
            bot(None, Some("northwind-exalate[bot]"), None)
        }
        Project::GlBilling => bot(
            Some("project_118_bot@noreply.gitlab.northwind.example"),
            Some("project_118_bot"),
            Some("exalate-sync"),
        ),
        Project::GlDataPipeline => bot(
            Some("project_207_bot@noreply.gitlab.northwind.example"),
            Some("project_207_bot"),
            Some("exalate-sync"),
        ),
    }
}

/// Items some bot opens: portal widgets, monitoring, dependency updates.
fn creating_bot(project: Project, shape: Shape, rng: &mut Rng) -> Option<Ident> {
    match (project.system(), shape) {
        (System::Jira, Shape::Incident) if rng.chance(0.06) => {
            Some(bot(None, None, Some("Jira Service Management Widget")))
        }
        (System::ServiceNow, Shape::Incident) if rng.chance(0.12) => Some(bot(
            Some("svc.event.mgmt@northwind.example"),
            Some("svc.event.mgmt"),
            Some("Event Management"),
        )),
        (System::GitHub, Shape::Review) if rng.chance(0.15) => {
            Some(bot(None, Some("dependabot[bot]"), None))
        }
        (System::GitLab, Shape::Review) if rng.chance(0.08) => Some(bot(
            Some("project_118_bot_5e2a9c@noreply.gitlab.northwind.example"),
            Some("project_118_bot_5e2a9c"),
            Some("renovate"),
        )),
        _ => None,
    }
}

/// Bots that work on items during their life: automation rules, CI, pipelines.
fn automation_bot(project: Project, shape: Shape, rng: &mut Rng) -> (Ident, Interaction) {
    let comment = rng.chance(0.35);
    let interaction = if comment {
        Interaction::CommentAuthor
    } else {
        Interaction::Updater
    };
    let ident = match project.system() {
        System::Jira => bot(None, None, Some("Automation for Jira")),
        System::AzureDevOps => {
            return (
                bot(
                    None,
                    None,
                    Some("Project Collection Build Service (northwind)"),
                ),
                Interaction::Updater,
            )
        }
        System::ServiceNow => bot(
            Some("svc.event.mgmt@northwind.example"),
            Some("svc.event.mgmt"),
            Some("Event Management"),
        ),
        System::GitHub if shape == Shape::Review && !comment && rng.chance(0.5) => {
            bot(None, Some("dependabot[bot]"), None)
        }
        System::GitHub => bot(None, Some("github-actions[bot]"), None),
        System::GitLab => match project {
            Project::GlBilling => bot(
                Some("project_118_bot_5e2a9c@noreply.gitlab.northwind.example"),
                Some("project_118_bot_5e2a9c"),
                Some("renovate"),
            ),
            _ => bot(
                Some("project_207_bot_81d4f0@noreply.gitlab.northwind.example"),
                Some("project_207_bot_81d4f0"),
                Some("ci-pipeline"),
            ),
        },
    };
    (ident, interaction)
}
