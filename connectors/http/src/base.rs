//! The part of an HTTP connector that is the same in every one: its name, its checked
//! settings, its system name and the client options, and the one way its client is made.

use tally_model::ConnectorError;

use crate::settings::HttpSettings;
use crate::{auth_from_settings, Auth, HttpClient, HttpOptions, Secret};

/// A connector's configuration after its checks passed. Each connector keeps one and
/// adds its own behaviour around it.
#[derive(Debug, Clone)]
pub struct Configured<S> {
    /// The connector's `name` in the configuration.
    pub name: String,
    pub settings: S,
    /// The system name in reports: `system`, else `name`.
    pub system: String,
    pub options: HttpOptions,
}

impl<S: HttpSettings> Configured<S> {
    /// Runs `check` (the connector's own, which starts with [`HttpSettings::checked`]) and
    /// keeps the settings. The secret is read only by [`Configured::client`], when the
    /// connector runs, so a missing variable fails that connector alone.
    pub fn new(
        name: &str,
        settings: S,
        options: HttpOptions,
        check: impl FnOnce(&S) -> Result<(), ConnectorError>,
    ) -> Result<Self, ConnectorError> {
        check(&settings)?;
        Ok(Configured {
            name: name.to_string(),
            system: settings.system_name(name),
            settings,
            options,
        })
    }

    /// A client for `base_url` authenticated by the settings: basic auth when `user` is
    /// set (with `token_env` holding the password), else `token(secret)`.
    pub fn client(
        &self,
        base_url: &str,
        token: impl FnOnce(Secret) -> Auth,
    ) -> Result<HttpClient, ConnectorError> {
        let c = self.settings.common();
        let auth = auth_from_settings(&self.name, c.user, Some(c.token_env), token)?;
        Ok(HttpClient::new(
            &self.name,
            base_url,
            auth,
            Some(c.token_env),
            self.options.clone(),
        )?)
    }
}
