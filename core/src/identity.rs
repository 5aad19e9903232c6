//! Identity resolution (SPEC §3): pure functions over identity tuples.
//!
//! STUB: the API below is fixed; the implementation is being written.

use serde::Serialize;

/// The identifier rule that identified a user, in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Rule {
    UsernamesOrEmails,
    Emails,
    DisplayNames,
    Usernames,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::UsernamesOrEmails,
        Rule::Emails,
        Rule::DisplayNames,
        Rule::Usernames,
    ];

    /// The exact label used in the workbooks and in `identity-cases.json`.
    pub fn label(self) -> &'static str {
        match self {
            Rule::UsernamesOrEmails => "Usernames or Emails",
            Rule::Emails => "Emails",
            Rule::DisplayNames => "Display Names",
            Rule::Usernames => "Usernames",
        }
    }

    /// 0..4, the index into `[u64; 4]` breakdowns; lower is higher priority.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One identity tuple as observed (raw; `resolve` normalises).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IdentityInput<'a> {
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// Configuration that changes how identities resolve (`[identity]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityRules {
    /// Handles that link nothing (compared lower-cased).
    pub generic_handles: Vec<String>,
    /// Each list names identifiers (emails, usernames or display names) of one person.
    pub forced_merges: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// Indices into the `inputs` slice, ascending.
    pub members: Vec<usize>,
    pub rule: Rule,
    /// The rule-1 handles of this user (sorted), empty for other rules.
    pub shared_handles: Vec<String>,
    /// A configured forced merge joined two or more users into this one.
    pub forced_merge: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Sorted by their smallest member index.
    pub users: Vec<ResolvedUser>,
    /// Inputs with no identifier at all, ascending.
    pub unidentified: Vec<usize>,
    /// Inputs whose email was present but not `local@domain`, ascending.
    pub invalid_emails: Vec<usize>,
}

pub fn resolve(_inputs: &[IdentityInput<'_>], _rules: &IdentityRules) -> Resolution {
    Resolution::default()
}
