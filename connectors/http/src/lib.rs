//! tally-http: what every HTTP connector shares (DESIGN "Connectors").
//!
//! - [`HttpClient`]: one reqwest client (rustls with ring) per connector instance, with a
//!   base URL, [`Auth`] (basic, bearer, API-key header), connect and request timeouts,
//!   retries with exponential backoff and jitter on 429/5xx honouring `Retry-After`, and a
//!   concurrency limit. Every wait ends on the collection's shutdown token.
//! - Secrets come only from the environment variable the configuration names
//!   ([`secret_from_env`], [`auth_from_settings`]) and never appear in errors or logs.
//! - [`OffsetPager`] and [`TokenPager`] walk paginated listings page by page.
//! - [`HttpError`] names the connector, the URL without secrets and the status, and says
//!   what to check; it converts into [`tally_model::ConnectorError`].
//!
//! - `testing` (feature `testing`): `testing::run` a connector and look at what it
//!   emitted, `testing::fast` options; for connector tests and plugin authors.
//!
//! - [`link_paging`]: paging by the `Link` header ([`link_paging::LinkPager`]);
//!   [`rate_limit`]: `X-RateLimit-*` quotas waited out before they run out
//!   ([`rate_limit::RateLimitGate`]) and rate-limit refusals (403/429) retried when
//!   their headers say how long to wait.
//! - [`links`]: the keys of a link field and the entity a key names, for `sync` records.
//! - [`settings`]: the defaults and checks of the keys every connector's `Settings` has,
//!   and [`settings::SettingsError`].
//!
//! - [`people`]: the shared [`Person`] and its `user` [`observation`]s, each person,
//!   interaction and moment once per entity ([`Observations`]).
//! - [`cursor`]: the "last second and the ids seen at it" cursor of listings filtered in
//!   whole seconds ([`cursor::LastSecond`]).
//!
//! Connector conventions: each connector declares its `Settings` with
//! [`http_settings!`](crate::http_settings) (the common keys once, unknown keys still an
//! error at their line), checks them in a [`Configured`] (which starts with
//! [`settings::HttpSettings::checked`]), and makes its client with
//! [`Configured::client`] when it runs, so one connector with a missing variable fails
//! alone.

mod auth;
mod base;
mod client;
pub mod cursor;
mod error;
pub mod link_paging;
pub mod links;
mod paging;
pub mod people;
pub mod rate_limit;
mod redact;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use auth::{secret_from_env, Auth, Secret};
pub use base::Configured;
pub use client::{auth_from_settings, parse_base_url, HttpClient, HttpOptions};
pub use error::HttpError;
pub use paging::{OffsetPager, OffsetPaging, Page, TokenPager, TokenPaging, TokenSource};
pub use people::{observation, Observations, Person};
pub use redact::{redact_url, redact_url_str};
pub use reqwest::{Method, Url};
pub use tokio_util::sync::CancellationToken;
