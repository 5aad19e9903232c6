//! Test fixture: a plugin that misbehaves on purpose, where its settings say, so the
//! tests can check that tally contains it. Kind `broken-panicky`.
//!
//! ```toml
//! [[connector]]
//! name = "bad"
//! kind = "broken-panicky"
//! mode = "panic-in-create"   # or "panic-mid-run", "fail-mid-run", "ok"
//! ```
//!
//! Mid-run modes first send one user observation (`early@broken.example`), which tally
//! keeps: what a connector sent before it failed stays stored.

use chrono::{TimeZone, Utc};
use serde::Deserialize;
use tally_model::{Connector, ConnectorContext, ConnectorError, Interaction, UserObservation};
use tally_plugin_sdk::{async_trait, Instance};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Ok,
    PanicInCreate,
    PanicMidRun,
    FailMidRun,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub mode: Mode,
}

pub struct Broken {
    name: String,
    mode: Mode,
}

impl Broken {
    pub fn from_settings(settings: Settings, instance: &Instance) -> Result<Self, ConnectorError> {
        if settings.mode == Mode::PanicInCreate {
            panic!("deliberate panic in create");
        }
        Ok(Broken {
            name: instance.name().to_owned(),
            mode: settings.mode,
        })
    }
}

#[async_trait]
impl Connector for Broken {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        "broken-panicky"
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let at = Utc
            .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
            .single()
            .ok_or_else(|| ConnectorError::Source("bad date".into()))?;
        ctx.send(UserObservation {
            system: "Broken".into(),
            at,
            email: Some("early@broken.example".into()),
            username: None,
            display_name: None,
            interaction: Interaction::Updater,
            project: Some("BRK".into()),
            entity_type: Some("Bug".into()),
            entity_id: Some("BRK-1".into()),
            service_account: false,
        })
        .await?;
        match self.mode {
            Mode::PanicMidRun => panic!("deliberate panic mid-run"),
            Mode::FailMidRun => Err(ConnectorError::Source(
                "the end system answered 500 (deliberate)".into(),
            )),
            Mode::Ok | Mode::PanicInCreate => Ok(()),
        }
    }
}

tally_plugin_sdk::export_connector!(
    kind = "broken-panicky",
    version = "0.0.1",
    Broken::from_settings
);
