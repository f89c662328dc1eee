//! Stage 3, look up: is the tenant already a customer of the pinned connection? Asked before every
//! create, so a restart, a timeout or a lost answer resolves to adopting what exists instead of
//! creating a second tenant (docs/rules.md, rule 14).

use crate::partner_center::models::Customer as PcCustomer;
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::customer::TenantRequest;

/// The customer of the pinned connection the Customer names (with get-by-id's details: the list
/// leaves commerceId and associatedPartnerId empty), or None.
pub async fn find(pc: &dyn PartnerCenterApi, tenant: &TenantRequest) -> Result<Option<PcCustomer>, PartnerCenterError> {
    let listed = match tenant {
        TenantRequest::New { domain, .. }
        | TenantRequest::Existing {
            tenant_id: None,
            domain: Some(domain),
        } => pc.customers_by_domain(domain).await?.into_iter().next(),
        TenantRequest::Existing {
            tenant_id: Some(id), ..
        } => return by_id(pc, id).await,
        TenantRequest::Existing {
            tenant_id: None,
            domain: None,
        } => None,
    };
    match listed {
        None => Ok(None),
        Some(c) => Ok(Some(by_id(pc, &c.id).await?.unwrap_or(c))),
    }
}

/// The customer `id` of the pinned connection, or None. A 403 with code 20002 ("no commerce
/// relationship") is a tenant that exists but has not accepted this partner yet: not found.
pub async fn by_id(pc: &dyn PartnerCenterApi, id: &str) -> Result<Option<PcCustomer>, PartnerCenterError> {
    match pc.get_customer(id).await {
        Ok(c) => Ok(Some(c)),
        Err(PartnerCenterError::NotFound { .. }) => Ok(None),
        Err(PartnerCenterError::Forbidden { code, .. }) if code == "20002" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Longest invitation URL published in status (Partner Center's is about 170 characters).
const MAX_INVITATION_URL: usize = 2048;

/// The invitation URL from Partner Center, if it is one a Global Admin may safely be told to open:
/// https, bounded in length (it is published in status).
pub fn checked_invitation_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.len() > MAX_INVITATION_URL {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    (parsed.scheme() == "https" && parsed.host_str().is_some()).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bounded_https_invitation_url_is_published() {
        let long = format!("https://admin.microsoft.com/{}", "a".repeat(MAX_INVITATION_URL));
        // (from Partner Center, published)
        let rows = [
            (
                "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId=p",
                true,
            ),
            (" https://admin.microsoft.com/x ", true),
            ("http://admin.microsoft.com/x", false),
            ("javascript:alert(1)", false),
            ("", false),
            (long.as_str(), false),
        ];
        for (url, published) in rows {
            assert_eq!(checked_invitation_url(url).is_some(), published, "{url}");
        }
    }
}
