//! Pagination helpers for the two shapes REST APIs use: offset/limit with a total
//! (Redmine `offset`/`limit`/`total_count`, Jira Data Center `startAt`/`maxResults`/`total`)
//! and continuation tokens (Azure DevOps `continuationToken`, Jira Cloud `nextPageToken`).
//!
//! A pager hands out one page at a time, so a connector sends and checkpoints each page's
//! records before asking for the next: a failure later loses nothing already collected.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::client::HttpClient;
use crate::error::HttpError;
use crate::redact::redact_url;

/// One page of items, with the page's other fields (`total_count`, `isLastBatch`, …).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The page's top-level fields except the items.
    pub rest: Map<String, Value>,
}

/// Splits a page body into its items (the array under `items_key`) and the other fields.
fn split_page<T: DeserializeOwned>(
    client: &HttpClient,
    url: &Url,
    body: &[u8],
    items_key: &str,
) -> Result<Page<T>, HttpError> {
    let json_error = |detail: String| HttpError::Json {
        connector: client.connector().to_string(),
        url: redact_url(url),
        detail,
    };
    let value: Value = client.parse_json(url, body)?;
    let Value::Object(mut rest) = value else {
        return Err(json_error("expected a JSON object".to_string()));
    };
    let items = match rest.remove(items_key) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err(json_error(format!("\"{items_key}\" is not an array"))),
    };
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item)
                .map_err(|e| json_error(format!("item {i} of \"{items_key}\": {e}")))
        })
        .collect::<Result<Vec<T>, _>>()?;
    Ok(Page { items, rest })
}

/// The parameter and field names of an offset/limit API.
#[derive(Debug, Clone)]
pub struct OffsetPaging {
    pub offset_param: &'static str,
    pub limit_param: &'static str,
    pub items_key: &'static str,
    pub total_key: &'static str,
    pub page_size: u32,
}

impl OffsetPaging {
    /// Redmine: `?offset=&limit=`, `{"<items>": [...], "total_count": n}`; the server caps
    /// `limit` at 100 by default.
    pub fn redmine(items_key: &'static str) -> Self {
        OffsetPaging {
            offset_param: "offset",
            limit_param: "limit",
            items_key,
            total_key: "total_count",
            page_size: 100,
        }
    }

    /// Jira (v2 search and most list endpoints): `?startAt=&maxResults=`,
    /// `{"<items>": [...], "total": n}`.
    pub fn jira(items_key: &'static str) -> Self {
        OffsetPaging {
            offset_param: "startAt",
            limit_param: "maxResults",
            items_key,
            total_key: "total",
            page_size: 100,
        }
    }
}

/// Walks an offset/limit listing. It advances by the number of items actually returned
/// (servers cap the page size silently) and stops at the total, or at an empty page when
/// the server gives no total.
pub struct OffsetPager {
    client: HttpClient,
    path: String,
    query: Vec<(String, String)>,
    paging: OffsetPaging,
    offset: u64,
    total: Option<u64>,
    done: bool,
}

impl OffsetPager {
    pub fn new(
        client: &HttpClient,
        path: &str,
        query: &[(&str, &str)],
        paging: OffsetPaging,
    ) -> Self {
        OffsetPager {
            client: client.clone(),
            path: path.to_string(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            paging,
            offset: 0,
            total: None,
            done: false,
        }
    }

    /// The offset of the next page.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The total the server reported on the last page, if it reports one.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The next page, or `None` when the listing is exhausted.
    pub async fn next_page<T: DeserializeOwned>(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<Page<T>>, HttpError> {
        if self.done {
            return Ok(None);
        }
        let offset = self.offset.to_string();
        let limit = self.paging.page_size.to_string();
        let mut query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        query.push((self.paging.offset_param, &offset));
        query.push((self.paging.limit_param, &limit));
        let url = self.client.url(&self.path, &query)?;
        let body = self.client.execute(cancel, Method::GET, &url, None).await?;
        let page: Page<T> = split_page(&self.client, &url, &body, self.paging.items_key)?;
        self.total = page.rest.get(self.paging.total_key).and_then(Value::as_u64);
        self.offset += page.items.len() as u64;
        self.done = page.items.is_empty() || self.total.is_some_and(|t| self.offset >= t);
        if page.items.is_empty() {
            return Ok(None);
        }
        Ok(Some(page))
    }
}

/// Where the token for the next page comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A top-level field of the page (`continuationToken`, `nextPageToken`).
    BodyField(&'static str),
    /// A response header (`x-ms-continuationtoken`).
    Header(&'static str),
}

/// The names of a continuation-token API.
#[derive(Debug, Clone)]
pub struct TokenPaging {
    /// The query parameter that carries the token back.
    pub token_param: &'static str,
    pub source: TokenSource,
    pub items_key: &'static str,
    /// A boolean field that marks the last page (`isLastBatch`, `isLast`). Without it, the
    /// listing ends when a page carries no token.
    pub last_flag: Option<&'static str>,
}

/// Walks a continuation-token listing. The token of the last page is kept: for APIs whose
/// final token is a watermark (Azure DevOps reporting revisions), it is the cursor for the
/// next run.
pub struct TokenPager {
    client: HttpClient,
    path: String,
    query: Vec<(String, String)>,
    paging: TokenPaging,
    token: Option<String>,
    done: bool,
}

impl TokenPager {
    /// Starts at `token` (a saved watermark), or at the beginning with `None`.
    pub fn new(
        client: &HttpClient,
        path: &str,
        query: &[(&str, &str)],
        paging: TokenPaging,
        token: Option<String>,
    ) -> Self {
        TokenPager {
            client: client.clone(),
            path: path.to_string(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            paging,
            token,
            done: false,
        }
    }

    /// The latest token: the one the next page would be fetched with.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page, or `None` when the listing is exhausted. A last page may hold items;
    /// it is returned and the following call gives `None`.
    pub async fn next_page<T: DeserializeOwned>(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<Page<T>>, HttpError> {
        if self.done {
            return Ok(None);
        }
        let mut query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(token) = &self.token {
            query.push((self.paging.token_param, token));
        }
        let url = self.client.url(&self.path, &query)?;
        let (headers, body) = self
            .client
            .execute_full(cancel, Method::GET, &url, None)
            .await?;
        let page: Page<T> = split_page(&self.client, &url, &body, self.paging.items_key)?;
        let next = match &self.paging.source {
            TokenSource::BodyField(field) => page
                .rest
                .get(*field)
                .and_then(Value::as_str)
                .map(str::to_string),
            TokenSource::Header(name) => headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
        .filter(|t| !t.is_empty());
        let last_flag = self
            .paging
            .last_flag
            .and_then(|f| page.rest.get(f))
            .and_then(Value::as_bool);
        // A repeated token would loop forever; treat it as the end.
        let repeated = next.is_some() && next == self.token;
        self.done = match last_flag {
            Some(last) => last || next.is_none() || repeated,
            None => next.is_none() || repeated,
        };
        if next.is_some() {
            self.token = next;
        }
        if page.items.is_empty() && self.done {
            return Ok(None);
        }
        Ok(Some(page))
    }
}
