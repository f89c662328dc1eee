//! Stage 5, create: the request body from the spec, and what each answer means. Pure except for
//! the one call in [`create`]; the request id is the one recorded in status at the pin (reused on
//! every retry, so Partner Center can de-duplicate a create whose answer was lost).

use crate::api::{ConnectionRef, NewTenant};
use crate::partner_center::models::{Address, NewBillingProfile, NewCompanyProfile, NewCustomer};
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::Finding;
use std::time::Duration;
use uuid::Uuid;

/// Reasons of a create Partner Center refused (the condition reason of Ready).
pub mod reasons {
    pub const REGISTRATION_NUMBER_REQUIRED: &str = "RegistrationNumberRequired";
    pub const REGISTRATION_NUMBER_NOT_SUPPORTED: &str = "RegistrationNumberNotSupported";
    pub const REGISTRATION_NUMBER_INVALID: &str = "RegistrationNumberInvalid";
    pub const PHONE_NUMBER_REQUIRED: &str = "PhoneNumberRequired";
    pub const COUNTRY_NOT_ONBOARDED: &str = "CountryNotOnboarded";
    pub const INDIRECT_RESELLER_INVALID: &str = "IndirectResellerInvalid";
    pub const RESELLER_AGREEMENT_NOT_ACCEPTED: &str = "ResellerAgreementNotAccepted";
    pub const SANDBOX_QUOTA_EXCEEDED: &str = "SandboxQuotaExceeded";
    pub const ACTION_NOT_ALLOWED: &str = "ActionNotAllowed";
    pub const CREATE_REFUSED: &str = "CreateRefused";
}

/// `<prefix>.onmicrosoft.com`, lower-case: the domain a new tenant gets.
pub fn domain_of(new: &NewTenant) -> String {
    format!("{}.onmicrosoft.com", new.domain_prefix.to_ascii_lowercase())
}

/// The `POST /v1/customers` body. `enableGDAPByDefault` is always sent as false: when omitted,
/// Partner Center creates a default GDAP relationship in production, which grants the partner's
/// admin agents broad rights nobody declared; GDAP is a decision of its own, out of this kind.
pub fn new_customer(new: &NewTenant, associated_partner_id: Option<&str>) -> NewCustomer {
    let a = &new.address;
    NewCustomer {
        company_profile: NewCompanyProfile {
            domain: domain_of(new),
            organization_registration_number: new.organization_registration_number.clone(),
        },
        billing_profile: NewBillingProfile {
            email: new.email.clone(),
            culture: new.culture.clone(),
            language: new.language.clone(),
            company_name: new.company_name.clone(),
            default_address: Address {
                country: Some(a.country.clone()),
                region: None,
                city: Some(a.city.clone()),
                state: a.state.clone(),
                address_line1: Some(a.address_line1.clone()),
                address_line2: a.address_line2.clone(),
                postal_code: Some(a.postal_code.clone()),
                first_name: Some(a.first_name.clone()),
                last_name: Some(a.last_name.clone()),
                phone_number: a.phone_number.clone(),
            },
        },
        associated_partner_id: associated_partner_id.map(str::to_string),
        enable_gdap_by_default: Some(false),
    }
}

/// What a create's answer means for the Customer.
#[derive(Debug)]
pub enum Created {
    /// The tenant exists; the answer carries the one-time admin credentials.
    Tenant(Box<crate::partner_center::models::Customer>),
    /// Lost answer (dropped, timed out): the tenant may exist. Look the domain up next time.
    Unknown(String),
    /// Partner Center refused it for a reason someone must fix: Ready=False with it.
    Refused(Finding),
    /// A passing problem (throttled, server error): try again after `retry_after` (or backoff).
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
}

/// Where the create goes and for whom, for the messages.
pub struct Target<'a> {
    pub connection: &'a ConnectionRef,
    pub country: &'a str,
    pub associated_partner_id: Option<&'a str>,
}

/// The create call with the recorded request id.
pub async fn create(pc: &dyn PartnerCenterApi, body: &NewCustomer, request_id: Uuid, target: &Target<'_>) -> Created {
    match pc.create_customer(body, request_id).await {
        Ok(c) => Created::Tenant(Box::new(c)),
        Err(e) => classify(&e, target),
    }
}

/// The meaning of a failed create (see [`refusal`] for business errors).
pub fn classify(e: &PartnerCenterError, target: &Target<'_>) -> Created {
    if e.is_outcome_unknown() {
        return Created::Unknown(e.to_string());
    }
    if let Some(code) = e.code()
        && let Some(f) = refusal(code, target)
    {
        return Created::Refused(f);
    }
    match e {
        PartnerCenterError::SandboxLimitReached { .. } => {
            Created::Refused(refusal(800018, target).expect("800018 is in the table"))
        }
        PartnerCenterError::Throttled { retry_after } => Created::Retry {
            message: e.to_string(),
            retry_after: *retry_after,
        },
        e if e.is_transient() => Created::Retry {
            message: e.to_string(),
            retry_after: None,
        },
        e => Created::Refused(Finding::new(
            reasons::CREATE_REFUSED,
            format!(
                "Partner Center refused to create the tenant through connection {}/{}: {e}; fix what it names in spec.tenant.new (or the connection), the operator retries on the next change",
                target.connection.namespace, target.connection.name
            ),
        )),
    }
}

/// The business error codes Partner Center documents for a create, as the reason and a message
/// naming the field and the fix. None for codes it does not document there.
pub fn refusal(code: u64, t: &Target<'_>) -> Option<Finding> {
    use reasons::*;
    let conn = format!("{}/{}", t.connection.namespace, t.connection.name);
    let country = t.country;
    let (reason, message) = match code {
        600049 => (
            REGISTRATION_NUMBER_REQUIRED,
            format!(
                "Partner Center requires an organization registration number for country {country} (code 600049): set spec.tenant.new.organizationRegistrationNumber"
            ),
        ),
        600002 => (
            REGISTRATION_NUMBER_NOT_SUPPORTED,
            format!(
                "Partner Center accepts no organization registration number for country {country} (code 600002): remove spec.tenant.new.organizationRegistrationNumber"
            ),
        ),
        600050 => (
            REGISTRATION_NUMBER_INVALID,
            format!(
                "spec.tenant.new.organizationRegistrationNumber does not have the format Partner Center requires for country {country} (code 600050): correct it"
            ),
        ),
        600051 => (
            PHONE_NUMBER_REQUIRED,
            format!(
                "Partner Center requires a phone number for country {country} (code 600051): set spec.tenant.new.address.phoneNumber"
            ),
        ),
        2030 => (
            COUNTRY_NOT_ONBOARDED,
            format!(
                "the Partner Center account of connection {conn} is not onboarded to sell in country {country} (code 2030): onboard it in Partner Center, or use a plan whose account sells there"
            ),
        ),
        800016 => (
            INDIRECT_RESELLER_INVALID,
            format!(
                "Partner Center says {} is not a valid indirect reseller of the account of connection {conn} (code 800016): check spec.indirectReseller.tenantId of the reseller and that its relationship with the provider is Active",
                t.associated_partner_id.unwrap_or("the associated partner")
            ),
        ),
        900123 => (
            RESELLER_AGREEMENT_NOT_ACCEPTED,
            format!(
                "the indirect reseller {} has not accepted the Microsoft Partner Agreement (code 900123): the reseller must accept it in Partner Center; the operator retries on the next change",
                t.associated_partner_id.unwrap_or("of this customer")
            ),
        ),
        800018 => (
            SANDBOX_QUOTA_EXCEEDED,
            format!(
                "the sandbox account of connection {conn} holds its maximum of customers (code 800018): delete sandbox customers in Partner Center, or use another connection"
            ),
        ),
        600006 => (
            ACTION_NOT_ALLOWED,
            format!(
                "Partner Center does not allow this account to create customers through connection {conn} (code 600006): check that the connection uses App+User consent of an admin agent"
            ),
        ),
        _ => return None,
    };
    Some(Finding::new(reason, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> (ConnectionRef, &'static str) {
        (
            ConnectionRef {
                namespace: "csp-system".into(),
                name: "contoso-nz-production".into(),
            },
            "44444444-4444-4444-8444-444444444401",
        )
    }

    #[test]
    fn documented_codes_become_reasons_naming_the_field_and_the_fix() {
        let (conn, partner) = target();
        let t = Target {
            connection: &conn,
            country: "NZ",
            associated_partner_id: Some(partner),
        };
        // (code, reason, text the message must hold)
        let cases = [
            (
                600049,
                Some(reasons::REGISTRATION_NUMBER_REQUIRED),
                "set spec.tenant.new.organizationRegistrationNumber",
            ),
            (
                600002,
                Some(reasons::REGISTRATION_NUMBER_NOT_SUPPORTED),
                "remove spec.tenant.new.organizationRegistrationNumber",
            ),
            (600050, Some(reasons::REGISTRATION_NUMBER_INVALID), "correct it"),
            (
                600051,
                Some(reasons::PHONE_NUMBER_REQUIRED),
                "set spec.tenant.new.address.phoneNumber",
            ),
            (
                2030,
                Some(reasons::COUNTRY_NOT_ONBOARDED),
                "connection csp-system/contoso-nz-production is not onboarded to sell in country NZ",
            ),
            (
                800016,
                Some(reasons::INDIRECT_RESELLER_INVALID),
                "44444444-4444-4444-8444-444444444401 is not a valid indirect reseller",
            ),
            (
                900123,
                Some(reasons::RESELLER_AGREEMENT_NOT_ACCEPTED),
                "must accept it in Partner Center",
            ),
            (
                800018,
                Some(reasons::SANDBOX_QUOTA_EXCEEDED),
                "delete sandbox customers",
            ),
            (600006, Some(reasons::ACTION_NOT_ALLOWED), "App+User"),
            (2000, None, ""),
            (0, None, ""),
        ];
        for (code, reason, text) in cases {
            let got = refusal(code, &t);
            assert_eq!(got.as_ref().map(|f| f.reason.as_str()), reason, "{code}");
            if let Some(f) = got {
                assert!(f.message.contains(text), "{code}: {}", f.message);
                assert!(f.message.contains(&format!("code {code}")), "{code}: {}", f.message);
            }
        }
    }

    #[test]
    fn the_body_comes_from_the_spec_with_gdap_off_and_the_association() {
        let new: NewTenant = serde_json::from_value(serde_json::json!({
            "domainPrefix": "WingTip123", "companyName": "Wingtip", "email": "it@wingtip.example",
            "culture": "en-NZ", "language": "en",
            "address": {"addressLine1": "1 Queen St", "city": "Auckland", "postalCode": "1010",
                "country": "NZ", "firstName": "Gena", "lastName": "Soto", "phoneNumber": "6495550101"},
        }))
        .expect("tenant");
        let body = serde_json::to_value(new_customer(&new, Some("4444"))).expect("json");
        assert_eq!(body["companyProfile"]["domain"], "wingtip123.onmicrosoft.com");
        assert_eq!(body["associatedPartnerId"], "4444");
        assert_eq!(body["enableGDAPByDefault"], false);
        assert_eq!(body["billingProfile"]["defaultAddress"]["country"], "NZ");
        assert_eq!(body["billingProfile"]["defaultAddress"]["phoneNumber"], "6495550101");
        let own = serde_json::to_value(new_customer(&new, None)).expect("json");
        assert!(own.get("associatedPartnerId").is_none(), "{own}");
    }
}
