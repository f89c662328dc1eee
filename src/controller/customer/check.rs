//! Stage 4, check before creating: the domain is free (Partner Center documents no answer for a
//! create with a taken domain, so it is asked first) and the address valid (a sandbox customer
//! created with an invalid address can never be deleted). Neither is retried beyond the normal
//! requeue: both need someone to change the spec.

use super::status::reasons;
use crate::api::{ConnectionRef, NewTenant};
use crate::partner_center::models::{AddressToValidate, AddressValidation};
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::Finding;

/// The address of the spec as Partner Center validates it.
pub fn address_of(new: &NewTenant) -> AddressToValidate {
    let a = &new.address;
    AddressToValidate {
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    }
}

/// None when the create may go ahead; else why not. `domain` was not found under the pinned
/// connection (stage 3), so a taken domain is someone else's.
pub async fn check(
    pc: &dyn PartnerCenterApi,
    new: &NewTenant,
    domain: &str,
    connection: &ConnectionRef,
) -> Result<Option<Finding>, PartnerCenterError> {
    if !pc.domain_available(domain).await? {
        return Ok(Some(domain_taken(domain, connection)));
    }
    Ok(match pc.validate_address(&address_of(new)).await? {
        AddressValidation::Valid => None,
        AddressValidation::Invalid {
            code,
            reason,
            corrected,
        } => Some(address_invalid(code, &reason, corrected.as_ref())),
    })
}

pub fn domain_taken(domain: &str, connection: &ConnectionRef) -> Finding {
    Finding::new(
        reasons::DOMAIN_TAKEN,
        format!(
            "the domain {domain} is taken by a tenant that is not a customer of connection {}/{}: choose another spec.tenant.new.domainPrefix (create another Customer: it is immutable), or adopt that tenant with spec.tenant.existing",
            connection.namespace, connection.name
        ),
    )
}

pub fn address_invalid(code: Option<u32>, reason: &str, corrected: Option<&AddressToValidate>) -> Finding {
    let code = code.map(|c| format!(" {c}")).unwrap_or_default();
    let suggestion = match corrected {
        Some(a) => {
            let mut parts = vec![format!("addressLine1 '{}'", a.address_line1)];
            if let Some(l2) = &a.address_line2 {
                parts.push(format!("addressLine2 '{l2}'"));
            }
            parts.push(format!("city '{}'", a.city));
            if let Some(s) = &a.state {
                parts.push(format!("state '{s}'"));
            }
            parts.push(format!("postalCode '{}'", a.postal_code));
            parts.push(format!("country '{}'", a.country));
            format!("; Partner Center suggests {}", parts.join(", "))
        }
        None => String::new(),
    };
    Finding::new(
        reasons::ADDRESS_INVALID,
        format!(
            "Partner Center finds spec.tenant.new.address invalid (validation{code} {reason}){suggestion}: correct spec.tenant.new.address"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_field_and_the_fix() {
        let conn = ConnectionRef {
            namespace: "csp-system".into(),
            name: "contoso-nz-production".into(),
        };
        let corrected = AddressToValidate {
            address_line1: "1 Microsoft Way".into(),
            city: "Redmond".into(),
            state: Some("WA".into()),
            postal_code: "98052-6399".into(),
            country: "US".into(),
            ..Default::default()
        };
        // (case, finding, reason, text the message holds)
        let cases = [
            (
                "taken domain",
                domain_taken("wingtip.onmicrosoft.com", &conn),
                reasons::DOMAIN_TAKEN,
                "wingtip.onmicrosoft.com is taken by a tenant that is not a customer of connection csp-system/contoso-nz-production: choose another spec.tenant.new.domainPrefix",
            ),
            (
                "invalid with a suggestion",
                address_invalid(Some(60071), "ZipCityInvalid", Some(&corrected)),
                reasons::ADDRESS_INVALID,
                "(validation 60071 ZipCityInvalid); Partner Center suggests addressLine1 '1 Microsoft Way', city 'Redmond', state 'WA', postalCode '98052-6399', country 'US': correct spec.tenant.new.address",
            ),
            (
                "invalid without one",
                address_invalid(None, "Unknown", None),
                reasons::ADDRESS_INVALID,
                "invalid (validation Unknown): correct spec.tenant.new.address",
            ),
        ];
        for (case, f, reason, text) in cases {
            assert_eq!(f.reason, reason, "{case}");
            assert!(f.message.contains(text), "{case}: {}", f.message);
        }
    }
}
