//! Paging by the `Link` response header (RFC 8288), as GitHub and others page their
//! listings: each page names the next one as `<url>; rel="next"`, and the last page names
//! none. The body is a JSON array of items, or an object holding the array under a key.

use reqwest::header::{HeaderMap, LINK};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::HttpClient;
use crate::error::HttpError;
use crate::rate_limit::RateLimitGate;
use crate::redact::redact_url;

/// The target of the `rel="next"` link in `headers`, if any.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            let is_next = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            is_next.then(|| target.to_string())
        })
}

/// One page of a Link-paged listing: its items and the headers it came with.
#[derive(Debug)]
pub struct LinkPage<T> {
    pub items: Vec<T>,
    /// The page's other top-level fields, when the body is an object.
    pub rest: serde_json::Map<String, Value>,
    pub url: Url,
}

/// Walks a Link-paged listing one page at a time, so a connector sends and checkpoints a
/// page's records before asking for the next. With a [`RateLimitGate`], every request
/// first waits out an exhausted quota, and every response reports its quota to it.
pub struct LinkPager {
    client: HttpClient,
    next: Option<Url>,
    items_key: Option<&'static str>,
    gate: Option<RateLimitGate>,
    pages: u32,
}

impl LinkPager {
    /// A listing whose body is a JSON array.
    pub fn new(client: &HttpClient, path: &str, query: &[(&str, &str)]) -> Result<Self, HttpError> {
        Ok(LinkPager {
            client: client.clone(),
            next: Some(client.url(path, query)?),
            items_key: None,
            gate: None,
            pages: 0,
        })
    }

    /// The items are the array under `key` of an object body (`{"users": [...]}`).
    pub fn items_under(mut self, key: &'static str) -> Self {
        self.items_key = Some(key);
        self
    }

    pub fn with_gate(mut self, gate: RateLimitGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// The next page, or `None` when the listing is exhausted. A `next` link is followed
    /// only on the base URL's origin ([`HttpClient::url`]).
    pub async fn next_page<T: DeserializeOwned>(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<LinkPage<T>>, HttpError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let (headers, body) = get(&self.client, self.gate.as_ref(), cancel, &url).await?;
        self.pages += 1;
        let json_error = |detail: String| HttpError::Json {
            connector: self.client.connector().to_string(),
            url: redact_url(&url),
            detail,
        };
        let value: Value = self.client.parse_json(&url, &body)?;
        let (items, rest) = match (value, self.items_key) {
            (Value::Array(items), None) => (items, serde_json::Map::new()),
            (Value::Object(mut rest), Some(key)) => match rest.remove(key) {
                Some(Value::Array(items)) => (items, rest),
                Some(Value::Null) | None => (Vec::new(), rest),
                Some(_) => return Err(json_error(format!("\"{key}\" is not an array"))),
            },
            (_, None) => return Err(json_error("expected a JSON array".to_string())),
            (_, Some(_)) => return Err(json_error("expected a JSON object".to_string())),
        };
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                serde_json::from_value(item).map_err(|e| json_error(format!("item {i}: {e}")))
            })
            .collect::<Result<Vec<T>, _>>()?;
        if let Some(next) = next_link(&headers) {
            let next = self.client.url(&next, &[])?;
            // A server linking a page to itself would loop for ever.
            if next != url {
                self.next = Some(next);
            }
        }
        Ok(Some(LinkPage { items, rest, url }))
    }
}

/// GET `url` through `gate` (when given): waits out an exhausted quota first, and reports
/// the response's quota after. Returns the headers and body of a success.
pub async fn get(
    client: &HttpClient,
    gate: Option<&RateLimitGate>,
    cancel: &CancellationToken,
    url: &Url,
) -> Result<(HeaderMap, Vec<u8>), HttpError> {
    if let Some(gate) = gate {
        if !gate.wait(cancel).await {
            return Err(HttpError::Cancelled {
                connector: client.connector().to_string(),
            });
        }
    }
    let (headers, body) = client.execute_full(cancel, Method::GET, url, None).await?;
    if let Some(gate) = gate {
        gate.observe(&headers);
    }
    Ok((headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_next_link_among_others() {
        let mut h = HeaderMap::new();
        // As api.github.com sends it (octokit/fixtures, scenario paginate-issues).
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel=\"prev\", \
                 <https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel=\"next\", \
                 <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1000/issues?per_page=3&page=3")
        );
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1000/issues?per_page=3&page=4>; rel=\"prev\", \
                 <https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel=\"first\"",
            ),
        );
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
