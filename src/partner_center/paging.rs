//! Seek-based paging rules (pure): the page size, where the next page is, and when paging is over.
//!
//! Partner Center's `links.next.uri` is relative and sometimes carries `/v1`, sometimes not
//! (one PowerShell release built `/v1//v1/customers` from it); the token travels as the
//! `MS-ContinuationToken` header. Paging ends on an empty token, a missing next link, or a
//! 400 with code 2000 when asking past the end.

use super::errors::{ApiFault, PartnerCenterError};
use super::http::MS_CONTINUATION_TOKEN;
use super::models::Collection;

/// The largest page Partner Center serves.
pub const PAGE_SIZE: u32 = 500;

/// Most pages one listing follows (a million customers at 500 a page): a server that hands out a
/// new continuation token forever gets an error instead of a worker held and memory grown for good.
pub const MAX_PAGES: u64 = 2000;

/// The request for the following page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextPage {
    /// Normalised `/v1/...` path with query.
    pub path_and_query: String,
    pub continuation_token: String,
}

/// Where the next page is, or `None` when this was the last page.
pub fn next_page<T>(page: &Collection<T>) -> Result<Option<NextPage>, PartnerCenterError> {
    let Some(next) = page.links.as_ref().and_then(|l| l.next.as_ref()) else {
        return Ok(None);
    };
    let from_header = next
        .headers
        .iter()
        .find(|kv| kv.key.eq_ignore_ascii_case(MS_CONTINUATION_TOKEN))
        .map(|kv| kv.value.trim())
        .filter(|v| !v.is_empty());
    let token = from_header.or(page
        .continuation_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty()));
    let Some(token) = token else {
        return Ok(None);
    };
    if next.uri.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(NextPage {
        path_and_query: normalise_link(&next.uri)?,
        continuation_token: token.to_string(),
    }))
}

/// Turns a link (relative with or without `/v1`, or absolute) into a `/v1/...` path with query,
/// to be joined to the connection's own API base. An absolute link's host is dropped on purpose:
/// the bearer token must only ever go to the configured host.
pub fn normalise_link(uri: &str) -> Result<String, PartnerCenterError> {
    let uri = uri.trim();
    let rel = match url::Url::parse(uri) {
        Ok(abs) if abs.has_host() => match abs.query() {
            Some(q) => format!("{}?{}", abs.path(), q),
            None => abs.path().to_string(),
        },
        _ => uri.to_string(),
    };
    let (path, query) = match rel.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rel.as_str(), None),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Drop every leading `v1` (covers `/v1/x`, `v1/x` and the doubled `/v1//v1/x`).
    let first_real = segments
        .iter()
        .position(|s| !s.eq_ignore_ascii_case("v1"))
        .unwrap_or(segments.len());
    let rest = &segments[first_real..];
    if rest.is_empty() || rest.iter().any(|s| *s == ".." || *s == ".") {
        return Err(PartnerCenterError::Decode {
            what: "a paging link".into(),
            // The link itself is server text and stays out of the message (see `errors`).
            detail: "the next link has no path or a dot segment".into(),
        });
    }
    let mut out = format!("/v1/{}", rest.join("/"));
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// True for the "no more records" answer: HTTP 400 with code 2000 on a next-page request.
pub fn is_end_of_paging(status: u16, body: &[u8]) -> bool {
    status == 400 && ApiFault::parse(body).code.0 == "2000"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partner_center::models::{KeyValue, Link, Links};

    #[test]
    fn normalise_links() {
        let cases = [
            (
                "/v1/customers?size=500&seekOperation=Next",
                "/v1/customers?size=500&seekOperation=Next",
            ),
            (
                "/customers?size=500&seekOperation=Next",
                "/v1/customers?size=500&seekOperation=Next",
            ),
            ("customers?size=500", "/v1/customers?size=500"),
            ("v1/customers", "/v1/customers"),
            ("/v1//v1/customers?size=500", "/v1/customers?size=500"),
            ("//customers/", "/v1/customers"),
            ("https://evil.example/v1/customers?size=500", "/v1/customers?size=500"),
            ("http://127.0.0.1:1/customers", "/v1/customers"),
            (
                "/relationships?relationship_type=IsIndirectCloudSolutionProviderOf&seekOperation=Next",
                "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf&seekOperation=Next",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_link(input).unwrap(), want, "{input}");
        }
        for bad in ["/v1", "/", "/v1/../admin"] {
            assert!(normalise_link(bad).is_err(), "{bad}");
        }
    }

    fn page(token: Option<&str>, next: Option<(&str, Option<&str>)>) -> Collection<()> {
        Collection {
            continuation_token: token.map(str::to_string),
            links: Some(Links {
                next: next.map(|(uri, header)| Link {
                    uri: uri.to_string(),
                    method: Some("GET".into()),
                    headers: header
                        .map(|h| {
                            vec![KeyValue {
                                key: "MS-ContinuationToken".into(),
                                value: h.into(),
                            }]
                        })
                        .unwrap_or_default(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn next_page_rules() {
        let next = "/customers?size=500&seekOperation=Next";
        let cases: Vec<(Collection<()>, Option<&str>)> = vec![
            (page(Some("tok"), Some((next, Some("tok")))), Some("tok")),
            // header missing: fall back to the body's token
            (page(Some("body-tok"), Some((next, None))), Some("body-tok")),
            // header wins over the body
            (page(Some("body"), Some((next, Some("hdr")))), Some("hdr")),
            (page(Some(""), Some((next, Some("")))), None),
            (page(None, Some((next, None))), None),
            (page(Some("tok"), None), None),
            (page(Some("tok"), Some(("", Some("tok")))), None),
            (Collection::default(), None),
        ];
        for (i, (p, want)) in cases.into_iter().enumerate() {
            let got = next_page(&p).unwrap();
            assert_eq!(got.as_ref().map(|n| n.continuation_token.as_str()), want, "case {i}");
            if let Some(n) = got {
                assert_eq!(n.path_and_query, "/v1/customers?size=500&seekOperation=Next");
            }
        }
    }

    #[test]
    fn end_of_paging() {
        let cases: &[(u16, &str, bool)] = &[
            (400, r#"{"code":2000,"description":"no more"}"#, true),
            (400, r#"{"code":"2000"}"#, true),
            (400, "\u{feff}{\"code\":2000}", true),
            (400, r#"{"code":3000}"#, false),
            (404, r#"{"code":2000}"#, false),
            (400, "", false),
        ];
        for (status, body, want) in cases {
            assert_eq!(is_end_of_paging(*status, body.as_bytes()), *want, "{status} {body}");
        }
    }
}
