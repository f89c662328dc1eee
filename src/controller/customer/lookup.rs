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

async fn by_id(pc: &dyn PartnerCenterApi, id: &str) -> Result<Option<PcCustomer>, PartnerCenterError> {
    match pc.get_customer(id).await {
        Ok(c) => Ok(Some(c)),
        Err(PartnerCenterError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
