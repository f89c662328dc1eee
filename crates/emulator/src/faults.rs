//! Injected faults (control API): which requests they match and what they do instead of, or
//! before, normal handling.

use serde::{Deserialize, Serialize};

use super::state::Inner;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultMatch {
    pub tenant_id: Option<String>,
    pub path_prefix: Option<String>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultKind {
    /// 429 + Retry-After with the throttling body.
    Throttle {
        #[serde(rename = "retryAfterSeconds")]
        retry_after_seconds: u64,
    },
    /// Answer with this status and an error body of the path family's shape.
    Status { status: u16 },
    /// Wait this long (real time), then handle normally. With `after: true`, handle first (a
    /// create takes effect) and hold the answer this long instead, so a client timeout fires after
    /// the work is done.
    Delay {
        millis: u64,
        #[serde(default)]
        after: bool,
    },
    /// 200 with a truncated JSON body.
    Malformed,
    /// Close the TCP connection without answering. With `after: true`, handle the request first (a
    /// create takes effect), then close without sending the answer: the client cannot know.
    DropConnection {
        #[serde(default)]
        after: bool,
    },
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Throttle { .. } => "throttle",
            FaultKind::Status { .. } => "status",
            FaultKind::Delay { after: false, .. } => "delay",
            FaultKind::Delay { after: true, .. } => "delayAfter",
            FaultKind::Malformed => "malformed",
            FaultKind::DropConnection { after: false } => "dropConnection",
            FaultKind::DropConnection { after: true } => "dropConnectionAfter",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(rename = "match", default)]
    pub matcher: FaultMatch,
    pub fault: FaultKind,
    /// How many matching requests it applies to; None = until cleared.
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

impl FaultSpec {
    /// Rejects faults that cannot be applied, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        match &self.fault {
            FaultKind::Status { status } if !(100..=599).contains(status) => {
                Err("fault.status: must be an HTTP status between 100 and 599".into())
            }
            _ if self.count == Some(0) => Err("count: must be at least 1 (omit it to apply until cleared)".into()),
            _ => Ok(()),
        }
    }
}

impl FaultMatch {
    fn matches(&self, method: &str, path: &str, tenant: Option<&str>) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.to_lowercase().starts_with(&p.to_lowercase()))
            && self
                .tenant_id
                .as_deref()
                .is_none_or(|t| tenant.is_some_and(|x| x.eq_ignore_ascii_case(t)))
    }
}

impl Inner {
    /// The first matching fault, consuming one use of it.
    pub fn take_fault(&mut self, method: &str, path: &str, tenant: Option<&str>) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| f.spec.matcher.matches(method, path, tenant))?;
        let fault = &mut self.faults[index];
        let kind = fault.spec.fault.clone();
        if let Some(left) = fault.spec.count.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.faults.remove(index);
            }
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_table() {
        let m = FaultMatch {
            tenant_id: Some("T1".into()),
            path_prefix: Some("/v1/customers".into()),
            method: Some("get".into()),
        };
        let cases = [
            ("GET", "/v1/customers", Some("t1"), true),
            ("GET", "/v1/customers/abc", Some("t1"), true),
            ("POST", "/v1/customers", Some("t1"), false),
            ("GET", "/v1/profiles/mpn", Some("t1"), false),
            ("GET", "/v1/customers", Some("t2"), false),
            ("GET", "/v1/customers", None, false),
        ];
        for (method, path, tenant, want) in cases {
            assert_eq!(m.matches(method, path, tenant), want, "{method} {path} {tenant:?}");
        }
        assert!(FaultMatch::default().matches("HEAD", "/x", None));
    }

    #[test]
    fn fault_spec_parses_every_kind() {
        for (json, want) in [
            (
                r#"{"kind":"throttle","retryAfterSeconds":2}"#,
                FaultKind::Throttle { retry_after_seconds: 2 },
            ),
            (r#"{"kind":"status","status":503}"#, FaultKind::Status { status: 503 }),
            (
                r#"{"kind":"delay","millis":5}"#,
                FaultKind::Delay {
                    millis: 5,
                    after: false,
                },
            ),
            (
                r#"{"kind":"delay","millis":5,"after":true}"#,
                FaultKind::Delay { millis: 5, after: true },
            ),
            (r#"{"kind":"malformed"}"#, FaultKind::Malformed),
            (
                r#"{"kind":"dropConnection"}"#,
                FaultKind::DropConnection { after: false },
            ),
            (
                r#"{"kind":"dropConnection","after":true}"#,
                FaultKind::DropConnection { after: true },
            ),
        ] {
            let spec: FaultSpec = serde_json::from_str(&format!(r#"{{"fault":{json},"count":1}}"#)).unwrap();
            assert_eq!(spec.fault, want);
        }
    }
}
