//! Typed Partner Center response models (camelCase JSON). Tolerant by design: unknown fields are
//! ignored and every field that list results or older API versions may omit is optional or defaulted.
//! Enum-like values stay strings (Partner Center adds values over time) with helpers where we branch.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `{key, value}` header pair inside a link.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Link {
    pub uri: String,
    pub method: Option<String>,
    pub headers: Vec<KeyValue>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_link: Option<Link>,
    pub next: Option<Link>,
    pub previous: Option<Link>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Attributes {
    pub object_type: Option<String>,
    pub etag: Option<String>,
}

/// A (seek-based) collection: `totalCount` is the count of this page, not a grand total.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Collection<T> {
    /// Read leniently: an absurd or garbage count is `None` rather than failing the page.
    #[serde(deserialize_with = "super::durations::lenient_u64")]
    pub total_count: Option<u64>,
    pub items: Vec<T>,
    pub continuation_token: Option<String>,
    pub links: Option<Links>,
    pub attributes: Option<Attributes>,
}

impl<T> Default for Collection<T> {
    fn default() -> Self {
        Collection {
            total_count: None,
            items: Vec::new(),
            continuation_token: None,
            links: None,
            attributes: None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Contact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
}

/// `GET /v1/profiles/organization` (App+User only).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct OrganizationProfile {
    pub id: Option<String>,
    pub company_name: Option<String>,
    pub default_address: Option<Address>,
    pub tenant_id: Option<String>,
    pub domain: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub culture: Option<String>,
    pub profile_type: Option<String>,
}

impl OrganizationProfile {
    /// The partner's ISO-2 country as Partner Center reports it.
    pub fn country(&self) -> Option<&str> {
        self.default_address.as_ref()?.country.as_deref()
    }
}

/// `GET /v1/profiles/legalbusiness?vettingVersion=Current` (both auth modes).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct LegalBusinessProfile {
    pub company_name: Option<String>,
    pub address: Option<Address>,
    pub primary_contact: Option<Contact>,
    pub company_approver_address: Option<Address>,
    pub company_approver_email: Option<String>,
    pub vetting_status: Option<String>,
    pub vetting_sub_status: Option<String>,
    pub profile_type: Option<String>,
}

impl LegalBusinessProfile {
    pub fn country(&self) -> Option<&str> {
        self.address.as_ref()?.country.as_deref()
    }
}

/// `GET /v1/profiles/mpn` (App+User only).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct MpnProfile {
    pub mpn_id: Option<String>,
    pub partner_name: Option<String>,
    pub profile_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct CustomerCompanyProfile {
    pub tenant_id: Option<String>,
    pub domain: Option<String>,
    pub company_name: Option<String>,
    pub address: Option<Address>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct CustomerBillingProfile {
    pub id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub culture: Option<String>,
    pub language: Option<String>,
    pub company_name: Option<String>,
    pub default_address: Option<Address>,
}

/// The initial admin credentials Partner Center returns when it creates a customer.
#[derive(Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserCredentials {
    pub user_name: Option<String>,
    pub password: Option<SecretString>,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A customer. List results leave `commerceId`, `billingProfile`, `allowDelegatedAccess` and
/// `associatedPartnerId` empty; get-by-id fills them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    pub commerce_id: Option<String>,
    pub company_profile: Option<CustomerCompanyProfile>,
    pub billing_profile: Option<CustomerBillingProfile>,
    /// `none|reseller|advisor|syndication|microsoft_support`.
    pub relationship_to_partner: Option<String>,
    pub allow_delegated_access: Option<bool>,
    pub associated_partner_id: Option<String>,
    pub custom_domains: Vec<String>,
    pub user_credentials: Option<UserCredentials>,
}

impl Customer {
    pub fn domain(&self) -> Option<&str> {
        self.company_profile.as_ref()?.domain.as_deref()
    }
    pub fn company_name(&self) -> Option<&str> {
        self.company_profile.as_ref()?.company_name.as_deref()
    }
}

/// A partner relationship, e.g. an indirect reseller of an indirect provider.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct PartnerRelationship {
    pub id: String,
    pub name: Option<String>,
    /// snake_case, e.g. `is_indirect_cloud_solution_provider_of`.
    pub relationship_type: Option<String>,
    /// Capitalised, e.g. `Active`.
    pub state: Option<String>,
    pub mpn_id: Option<String>,
    /// The reseller's ISO-2 country.
    pub location: Option<String>,
}

impl PartnerRelationship {
    pub fn is_active(&self) -> bool {
        self.state.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("active"))
    }
}

/// Body of `POST /v1/customers`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomer {
    pub company_profile: NewCompanyProfile,
    pub billing_profile: NewBillingProfile,
    /// The indirect reseller's tenant id (indirect providers only; App+User only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated_partner_id: Option<String>,
    /// Whether Partner Center creates a default GDAP relationship; when omitted, production creates one.
    #[serde(rename = "enableGDAPByDefault", skip_serializing_if = "Option::is_none")]
    pub enable_gdap_by_default: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewCompanyProfile {
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_registration_number: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewBillingProfile {
    pub email: String,
    pub culture: String,
    pub language: String,
    pub company_name: String,
    pub default_address: Address,
}

/// Body of `POST /v1/validations/address`, and the corrected address Partner Center may suggest.
/// Deserialization accepts camelCase and snake_case: the corrected address comes inside a JSON string
/// whose key style is not the envelope's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct AddressToValidate {
    #[serde(alias = "address_line1", alias = "AddressLine1")]
    pub address_line1: String,
    #[serde(
        alias = "address_line2",
        alias = "AddressLine2",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line2: Option<String>,
    #[serde(alias = "City")]
    pub city: String,
    #[serde(alias = "State", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(alias = "postal_code", alias = "PostalCode")]
    pub postal_code: String,
    #[serde(alias = "Country")]
    pub country: String,
}

/// The answer of `POST /v1/validations/address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressValidation {
    Valid,
    /// Partner Center refused the address (HTTP 400, code 2007). `code` is the validation code (e.g.
    /// 60071), `reason` its name (e.g. `ZipCityInvalid`, or `Unknown` when none could be read) and
    /// `corrected` the address Partner Center suggests instead, when it sent a well-formed one.
    Invalid {
        code: Option<u32>,
        reason: String,
        corrected: Option<AddressToValidate>,
    },
}

/// `GET /v1/countryvalidationrules/{iso2}`: what Partner Center checks for a country.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct CountryRules {
    #[serde(rename = "iso2Code")]
    pub iso2: String,
    #[serde(rename = "iso3Code")]
    pub iso3: Option<String>,
    pub default_culture: Option<String>,
    #[serde(rename = "isStateRequired")]
    pub state_required: bool,
    pub supported_states_list: Vec<String>,
    pub supported_languages_list: Vec<String>,
    #[serde(rename = "supportedCulturesList")]
    pub supported_cultures: Vec<String>,
    #[serde(rename = "isPostalCodeRequired")]
    pub postal_code_required: bool,
    pub postal_code_regex: Option<String>,
    #[serde(rename = "isCityRequired")]
    pub city_required: bool,
    pub phone_number_regex: Option<String>,
    #[serde(rename = "isVatIdSupported")]
    pub vat_id_supported: bool,
    pub vat_id_regex: Option<String>,
    #[serde(rename = "isTaxIdSupported")]
    pub tax_id_supported: bool,
    #[serde(rename = "isTaxIdOptional")]
    pub tax_id_optional: bool,
    pub tax_id_format: Option<String>,
    pub tax_id_sample: Option<String>,
    pub country_calling_codes_list: Vec<String>,
}

/// `GET /v1/customers/relationshiprequests`: the invitation link a partner sends to an existing tenant.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct RelationshipRequest {
    pub url: String,
}

/// An item of `GET /v1/agreements?agreementType=...`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct AgreementTemplate {
    pub template_id: String,
    pub agreement_type: Option<String>,
    pub agreement_link: Option<String>,
    pub version_rank: Option<i64>,
}

/// The person who accepted an agreement on the customer's behalf.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct AgreementContact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// Body of `POST /v1/customers/{id}/agreements`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewAgreement {
    pub primary_contact: AgreementContact,
    pub template_id: String,
    /// ISO 8601, e.g. `2026-12-01T00:00:00Z`.
    pub date_agreed: String,
    /// `MicrosoftCustomerAgreement`.
    #[serde(rename = "type")]
    pub agreement_type: String,
}

/// A recorded agreement (`POST` answer and `GET /v1/customers/{id}/agreements` items).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Agreement {
    pub primary_contact: Option<AgreementContact>,
    pub template_id: Option<String>,
    pub date_agreed: Option<String>,
    #[serde(rename = "type")]
    pub agreement_type: Option<String>,
    pub agreement_link: Option<String>,
    pub user_id: Option<String>,
}

/// What recording an agreement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgreementOutcome {
    Recorded(Box<Agreement>),
    /// Partner Center already holds one for this contact (code 600061, whatever the HTTP status).
    AlreadyRecorded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_profile_doc_example_and_minimal() {
        let doc = r#"{"id":"5f0c","companyName":"Contoso CSP","tenantId":"5f0c","domain":"contosocsp.onmicrosoft.com",
 "email":"ops@contoso.com","language":"en","culture":"en-US",
 "defaultAddress":{"country":"US","city":"Redmond","state":"WA","addressLine1":"1 Main St","postalCode":"98052"},
 "profileType":"OrganizationProfile","links":{"self":{"uri":"/profiles/organization","method":"GET","headers":[]}},
 "attributes":{"etag":"e","objectType":"OrganizationProfile"}}"#;
        let p: OrganizationProfile = serde_json::from_str(doc).unwrap();
        assert_eq!(p.country(), Some("US"));
        assert_eq!(p.tenant_id.as_deref(), Some("5f0c"));
        let min: OrganizationProfile = serde_json::from_str("{}").unwrap();
        assert_eq!(min.country(), None);
    }

    #[test]
    fn customer_collection_doc_example() {
        let doc = r#"{"totalCount":1,
 "items":[{"id":"b44b","companyProfile":{"tenantId":"b44b","domain":"fabrikam.onmicrosoft.com","companyName":"Fabrikam",
   "attributes":{"objectType":"CustomerCompanyProfile"}},"relationshipToPartner":"reseller","attributes":{"objectType":"Customer"}}],
 "continuationToken":"d196,0705_a4ay=",
 "links":{"self":{"uri":"/v1/customers?size=500","method":"GET","headers":[]},
          "next":{"uri":"/v1/customers?size=500&seekOperation=Next","method":"GET",
                  "headers":[{"key":"MS-ContinuationToken","value":"d196,0705_a4ay="}]}},
 "attributes":{"objectType":"Collection"}}"#;
        let c: Collection<Customer> = serde_json::from_str(doc).unwrap();
        assert_eq!(c.items.len(), 1);
        assert_eq!(c.items[0].domain(), Some("fabrikam.onmicrosoft.com"));
        assert_eq!(c.items[0].commerce_id, None);
        let next = c.links.unwrap().next.unwrap();
        assert_eq!(next.headers[0].key, "MS-ContinuationToken");
    }

    #[test]
    fn relationship_and_profiles() {
        let r: Collection<PartnerRelationship> = serde_json::from_str(
            r#"{"totalCount":1,"items":[{"id":"484e","name":"First Up Consultants","relationshipType":"is_indirect_cloud_solution_provider_of",
  "state":"Active","mpnId":"4847383","location":"US","attributes":{"objectType":"PartnerRelationship"}}],
 "attributes":{"objectType":"Collection"}}"#,
        )
        .unwrap();
        assert!(r.items[0].is_active());
        assert_eq!(r.items[0].location.as_deref(), Some("US"));
        let m: MpnProfile =
            serde_json::from_str(r#"{"mpnId":"4847383","partnerName":"Contoso","profileType":"MpnProfile"}"#).unwrap();
        assert_eq!(m.mpn_id.as_deref(), Some("4847383"));
        let l: LegalBusinessProfile = serde_json::from_str(
            r#"{"companyName":"C","address":{"country":"DE"},"primaryContact":{"email":"a@b"},"vettingStatus":"authorized","x":[]}"#,
        )
        .unwrap();
        assert_eq!(l.country(), Some("DE"));
    }

    #[test]
    fn created_customer_password_not_in_debug() {
        let c: Customer = serde_json::from_str(
            r#"{"id":"1","commerceId":"c","userCredentials":{"userName":"admin","password":"P@ssw0rd-xyz"},"relationshipToPartner":"none"}"#,
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("P@ssw0rd-xyz"), "{dbg}");
        assert!(dbg.contains("admin"));
    }

    #[test]
    fn new_customer_body_shape() {
        let n = NewCustomer {
            company_profile: NewCompanyProfile {
                domain: "wingtip123.onmicrosoft.com".into(),
                organization_registration_number: None,
            },
            billing_profile: NewBillingProfile {
                email: "it@wingtip.com".into(),
                culture: "en-US".into(),
                language: "en".into(),
                company_name: "Wingtip Toys".into(),
                default_address: Address {
                    country: Some("US".into()),
                    ..Default::default()
                },
            },
            associated_partner_id: None,
            enable_gdap_by_default: Some(false),
        };
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["enableGDAPByDefault"], false);
        assert_eq!(v["companyProfile"]["domain"], "wingtip123.onmicrosoft.com");
        assert_eq!(
            v["billingProfile"]["defaultAddress"],
            serde_json::json!({"country":"US"})
        );
        assert!(v.get("associatedPartnerId").is_none());
    }

    #[test]
    fn country_rules_doc_fields() {
        let r: CountryRules = serde_json::from_str(
            r#"{"iso2Code":"US","iso3Code":"USA","defaultCulture":"en-US","isStateRequired":true,
 "supportedStatesList":["WA"],"supportedLanguagesList":["en"],"supportedCulturesList":["en-US"],
 "isPostalCodeRequired":true,"postalCodeRegex":"^\\d{5}$","isCityRequired":true,"isVatIdSupported":false,
 "isTaxIdSupported":false,"isTaxIdOptional":false,"phoneNumberRegex":"^\\d{10}$","countryCallingCodesList":["1"],
 "attributes":{"objectType":"CountryValidationRules"}}"#,
        )
        .unwrap();
        assert_eq!(r.iso2, "US");
        assert!(r.state_required);
        assert_eq!(r.supported_cultures, vec!["en-US".to_string()]);
        assert_eq!(r.default_culture.as_deref(), Some("en-US"));
        assert_eq!(r.postal_code_regex.as_deref(), Some("^\\d{5}$"));
    }

    #[test]
    fn address_to_validate_camel_out_either_in() {
        let a = AddressToValidate {
            address_line1: "1 Microsoft Way".into(),
            city: "Redmond".into(),
            state: Some("WA".into()),
            postal_code: "98052".into(),
            country: "US".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"addressLine1":"1 Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052","country":"US"})
        );
        let snake: AddressToValidate = serde_json::from_str(
            r#"{"address_line1":"1 Microsoft Way","city":"Redmond","state":"WA","postal_code":"98052","country":"US"}"#,
        )
        .unwrap();
        assert_eq!(snake, a);
    }
}
