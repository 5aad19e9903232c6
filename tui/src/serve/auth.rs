//! Bearer tokens of the Admin API. The configuration holds only each token's SHA-256, so
//! a leaked `tally.toml` gives no access; a request's token is hashed and compared with
//! every configured hash in constant time. Tokens are never logged: the log shows the
//! configured name of the token that matched.

use std::process::ExitCode;

use axum::http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tally_config::ApiToken;

/// The role and permission that may read reports (SPEC §8).
pub const ADMIN_ROLE: &str = "Administrator";
pub const READ_PERMISSION: &str = "server_management:read";

/// Prefix of generated tokens: makes them recognisable to secret scanners and people.
const TOKEN_PREFIX: &str = "tally_";

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random token once, and the `[[api.token]]` lines to paste into the
    /// configuration (which keeps only its SHA-256).
    New {
        /// Name shown in the request log for this token, e.g. `ops-bot`.
        name: String,
        /// Role of the token; only `Administrator` may fetch reports.
        #[arg(long, default_value = ADMIN_ROLE)]
        role: String,
        /// Permission of the token (repeat for several).
        #[arg(long = "permission", value_name = "PERMISSION", default_values_t = [READ_PERMISSION.to_owned()])]
        permissions: Vec<String>,
    },
}

/// `tally token new NAME`.
pub fn token_main(cmd: TokenCommand) -> ExitCode {
    let TokenCommand::New {
        name,
        role,
        permissions,
    } = cmd;
    for (what, value) in std::iter::once(("name", &name))
        .chain(std::iter::once(("role", &role)))
        .chain(permissions.iter().map(|p| ("permission", p)))
    {
        // The value goes between TOML quotes as is; refusing the few characters that
        // would need escaping keeps the pasted lines obviously right.
        if value.trim().is_empty()
            || value
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            eprintln!("tally token new: the {what} {value:?} must be non-empty, without quotes, backslashes or control characters");
            return ExitCode::from(2);
        }
    }
    let token = match new_token() {
        Ok(t) => t,
        Err(()) => {
            eprintln!("tally token new: the operating system's random number generator failed");
            return ExitCode::from(1);
        }
    };
    let perms: Vec<String> = permissions.iter().map(|p| format!("\"{p}\"")).collect();
    println!(
        "# The token for {name}. It is shown only this once: store it where the client reads it."
    );
    println!("{token}");
    println!();
    println!("# Paste into tally.toml; the file keeps only the token's SHA-256:");
    println!("[[api.token]]");
    println!("name = \"{name}\"");
    println!("sha256 = \"{}\"", sha256_hex(&token));
    println!("role = \"{role}\"");
    println!("permissions = [{}]", perms.join(", "));
    ExitCode::SUCCESS
}

fn new_token() -> Result<String, ()> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| ())?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn sha256(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

fn sha256_hex(token: &str) -> String {
    hex(&sha256(token))
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

struct Entry {
    name: String,
    hash: [u8; 32],
    may_read: bool,
}

/// The configured tokens.
pub struct Tokens(Vec<Entry>);

/// Who called: the configured name of the token, for the request log.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that matches no configured hash, or a malformed header.
    Unknown,
    /// A valid token without the role or permission; carries its name.
    Forbidden(String),
}

impl Tokens {
    /// Checks the configured tokens; the configuration already checked their form.
    pub fn from_config(tokens: &[ApiToken]) -> Result<Tokens, String> {
        let mut out: Vec<Entry> = Vec::with_capacity(tokens.len());
        for t in tokens {
            let Some(hash) = unhex(&t.sha256) else {
                return Err(format!(
                    "[[api.token]] {:?}: `sha256` is not 64 hex digits",
                    t.name
                ));
            };
            if let Some(other) = out.iter().find(|e| e.hash == hash) {
                return Err(format!(
                    "[[api.token]] {:?} and {:?} have the same `sha256`; give each client its own token",
                    other.name, t.name
                ));
            }
            let may_read =
                t.role == ADMIN_ROLE && t.permissions.iter().any(|p| p == READ_PERMISSION);
            if !may_read {
                tracing::warn!(
                    token = %t.name,
                    "token lacks role {ADMIN_ROLE} with permission {READ_PERMISSION}: its requests will get 403"
                );
            }
            out.push(Entry {
                name: t.name.clone(),
                hash,
                may_read,
            });
        }
        Ok(Tokens(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Who may read reports, from the request's headers.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(Refusal::Missing);
        };
        if values.next().is_some() {
            return Err(Refusal::Unknown);
        }
        let token = bearer_token(value).ok_or(Refusal::Unknown)?;
        let presented = sha256(token);
        // Every configured hash is compared, matched or not, so the time taken says
        // nothing about which entry (if any) matched.
        let mut found: Option<&Entry> = None;
        for e in &self.0 {
            if bool::from(e.hash.ct_eq(&presented)) {
                found = Some(e);
            }
        }
        match found {
            None => Err(Refusal::Unknown),
            Some(e) if e.may_read => Ok(Caller(e.name.clone())),
            Some(e) => Err(Refusal::Forbidden(e.name.clone())),
        }
    }
}

/// The token of `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return None;
    }
    Some(token)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, "Bearer realm=\"tally\"")],
                "401 Unauthorized: send `Authorization: Bearer <token>`; create a token with `tally token new NAME`\n",
            )
                .into_response(),
            Refusal::Unknown => (
                StatusCode::UNAUTHORIZED,
                [(
                    WWW_AUTHENTICATE,
                    "Bearer realm=\"tally\", error=\"invalid_token\"",
                )],
                "401 Unauthorized: the bearer token is not one of the configured tokens\n",
            )
                .into_response(),
            Refusal::Forbidden(name) => (
                StatusCode::FORBIDDEN,
                format!("403 Forbidden: token {name:?} needs role {ADMIN_ROLE} with permission {READ_PERMISSION}\n"),
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, token: &str, role: &str, perms: &[&str]) -> ApiToken {
        ApiToken {
            name: name.into(),
            sha256: sha256_hex(token),
            role: role.into(),
            permissions: perms.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn sha256_of_a_known_value() {
        assert_eq!(
            sha256_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(unhex(&sha256_hex("test")), Some(sha256("test")));
    }

    #[test]
    fn new_tokens_are_random_and_long() {
        let a = new_token().expect("rng");
        let b = new_token().expect("rng");
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
    }

    #[test]
    fn roles_and_permissions_decide() {
        let tokens = Tokens::from_config(&[
            config("ops", "t-ops", ADMIN_ROLE, &[READ_PERMISSION]),
            config("viewer", "t-view", "Viewer", &[READ_PERMISSION]),
            config("bare", "t-bare", ADMIN_ROLE, &[]),
        ])
        .expect("valid");
        assert_eq!(
            tokens.authorize(&headers("Bearer t-ops")).map(|c| c.0),
            Ok("ops".into())
        );
        assert_eq!(
            tokens.authorize(&headers("bearer   t-ops")).map(|c| c.0),
            Ok("ops".into())
        );
        assert_eq!(
            tokens.authorize(&headers("Bearer t-view")).map(|c| c.0),
            Err(Refusal::Forbidden("viewer".into()))
        );
        assert_eq!(
            tokens.authorize(&headers("Bearer t-bare")).map(|c| c.0),
            Err(Refusal::Forbidden("bare".into()))
        );
        for bad in ["Bearer nope", "Basic dDpw", "Bearer", "Bearer a b", "t-ops"] {
            assert_eq!(
                tokens.authorize(&headers(bad)).map(|c| c.0),
                Err(Refusal::Unknown),
                "{bad}"
            );
        }
        assert_eq!(
            tokens.authorize(&HeaderMap::new()).map(|c| c.0),
            Err(Refusal::Missing)
        );
    }

    #[test]
    fn one_hash_for_two_names_is_refused() {
        assert!(Tokens::from_config(&[
            config("a", "same", ADMIN_ROLE, &[]),
            config("b", "same", ADMIN_ROLE, &[]),
        ])
        .is_err());
    }
}
