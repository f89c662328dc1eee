//! A Partner Center that answers from memory, for the stage tests: no HTTP, every call recorded,
//! any call made to fail with a given error or to never answer.

use crate::partner_center::models::{
    Address, AddressToValidate, AddressValidation, Agreement, AgreementOutcome, AgreementTemplate, CountryRules,
    Customer, LegalBusinessProfile, MpnProfile, NewAgreement, NewCustomer, OrganizationProfile, PartnerRelationship,
};
use crate::partner_center::{PartnerCenterApi, PartnerCenterError, TokenClaims};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

type Result<T> = std::result::Result<T, PartnerCenterError>;

#[derive(Default)]
pub struct FakePartnerCenter {
    tid: String,
    country: String,
    customers: u64,
    resellers: usize,
    failures: HashMap<&'static str, PartnerCenterError>,
    hangs: Vec<&'static str>,
    /// Customer ids the audit feed names.
    pub audited: Vec<String>,
    calls: Mutex<Vec<&'static str>>,
}

impl FakePartnerCenter {
    pub const TENANT: &'static str = "22222222-2222-4222-8222-222222222222";

    /// An indirect provider in New Zealand with 640 customers and two indirect resellers.
    pub fn nz() -> Self {
        FakePartnerCenter {
            tid: Self::TENANT.into(),
            country: "NZ".into(),
            customers: 640,
            resellers: 2,
            ..Default::default()
        }
    }

    pub fn with_tid(mut self, tid: &str) -> Self {
        self.tid = tid.into();
        self
    }

    pub fn fail(mut self, operation: &'static str, e: PartnerCenterError) -> Self {
        self.failures.insert(operation, e);
        self
    }

    /// `operation` never answers (a host that accepts the connection and says nothing).
    pub fn hang(mut self, operation: &'static str) -> Self {
        self.hangs.push(operation);
        self
    }

    /// The `i`th listed customer: tenant `00000000-0000-4000-8000-{i:012x}`.
    pub fn customer(i: u64) -> Customer {
        let id = format!("00000000-0000-4000-8000-{i:012x}");
        Customer {
            company_profile: Some(crate::partner_center::models::CustomerCompanyProfile {
                tenant_id: Some(id.clone()),
                domain: Some(format!("customer{i}.onmicrosoft.com")),
                company_name: Some(format!("Customer {i}")),
                address: None,
            }),
            id,
            relationship_to_partner: Some("reseller".into()),
            ..Default::default()
        }
    }

    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().expect("calls").clone()
    }

    async fn enter(&self, operation: &'static str) -> Result<()> {
        self.calls.lock().expect("calls").push(operation);
        if self.hangs.contains(&operation) {
            std::future::pending::<()>().await;
        }
        match self.failures.get(operation) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl PartnerCenterApi for FakePartnerCenter {
    async fn organization_profile(&self) -> Result<OrganizationProfile> {
        self.enter("organization_profile").await?;
        Ok(OrganizationProfile {
            company_name: Some("Contoso NZ".into()),
            tenant_id: Some(self.tid.clone()),
            domain: Some("contosonz.onmicrosoft.com".into()),
            default_address: Some(Address {
                country: Some(self.country.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
    async fn legal_business_profile(&self) -> Result<LegalBusinessProfile> {
        self.enter("legal_business_profile").await?;
        Ok(LegalBusinessProfile::default())
    }
    async fn mpn_profile(&self) -> Result<MpnProfile> {
        self.enter("mpn_profile").await?;
        Ok(MpnProfile {
            mpn_id: Some("1234567".into()),
            ..Default::default()
        })
    }
    async fn list_customers(&self) -> Result<Vec<Customer>> {
        self.enter("list_customers").await?;
        Ok(Vec::new())
    }
    async fn count_customers(&self) -> Result<u64> {
        self.enter("count_customers").await?;
        Ok(self.customers)
    }
    async fn each_customer_page(&self, each: &mut (dyn FnMut(Vec<Customer>) + Send)) -> Result<u64> {
        self.enter("list_customers").await?;
        let all: Vec<Customer> = (0..self.customers).map(Self::customer).collect();
        let mut pages = 0;
        for page in all.chunks(500) {
            each(page.to_vec());
            pages += 1;
        }
        Ok(pages)
    }
    async fn audited_customers(&self, _start: jiff::Timestamp) -> Result<Vec<String>> {
        self.enter("audited_customers").await?;
        Ok(self.audited.clone())
    }
    async fn get_customer(&self, customer_tenant_id: &str) -> Result<Customer> {
        self.enter("get_customer").await?;
        let mut c = Customer {
            id: customer_tenant_id.into(),
            ..Default::default()
        };
        c.billing_profile = Some(crate::partner_center::models::CustomerBillingProfile {
            default_address: Some(Address {
                country: Some(self.country.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
        Ok(c)
    }
    async fn domain_available(&self, _domain: &str) -> Result<bool> {
        self.enter("domain_available").await?;
        Ok(true)
    }
    async fn indirect_resellers(&self) -> Result<Vec<PartnerRelationship>> {
        self.enter("indirect_resellers").await?;
        Ok((0..self.resellers)
            .map(|i| PartnerRelationship {
                id: format!("reseller-{i}"),
                state: Some("Active".into()),
                ..Default::default()
            })
            .collect())
    }
    async fn create_customer(&self, _new: &NewCustomer, _request_id: uuid::Uuid) -> Result<Customer> {
        self.enter("create_customer").await?;
        Ok(Customer::default())
    }
    async fn customers_by_domain(&self, _domain: &str) -> Result<Vec<Customer>> {
        self.enter("customers_by_domain").await?;
        Ok(Vec::new())
    }
    async fn validate_address(&self, _address: &AddressToValidate) -> Result<AddressValidation> {
        self.enter("validate_address").await?;
        Ok(AddressValidation::Valid)
    }
    async fn country_rules(&self, country: &str) -> Result<CountryRules> {
        self.enter("country_rules").await?;
        Ok(CountryRules {
            iso2: country.to_ascii_uppercase(),
            ..Default::default()
        })
    }
    async fn delete_customer(&self, _customer_tenant_id: &str) -> Result<()> {
        self.enter("delete_customer").await
    }
    async fn relationship_request_url(&self) -> Result<String> {
        self.enter("relationship_request_url").await?;
        Ok("https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId=fake".into())
    }
    async fn agreement_templates(&self) -> Result<Vec<AgreementTemplate>> {
        self.enter("agreement_templates").await?;
        Ok(Vec::new())
    }
    async fn record_agreement(&self, _customer_tenant_id: &str, _new: &NewAgreement) -> Result<AgreementOutcome> {
        self.enter("record_agreement").await?;
        Ok(AgreementOutcome::AlreadyRecorded)
    }
    async fn customer_agreements(&self, _customer_tenant_id: &str) -> Result<Vec<Agreement>> {
        self.enter("customer_agreements").await?;
        Ok(Vec::new())
    }
    async fn customers_of_reseller(&self, _reseller_tenant_id: &str) -> Result<Vec<Customer>> {
        self.enter("customers_of_reseller").await?;
        Ok(Vec::new())
    }
    async fn token_claims(&self) -> Result<TokenClaims> {
        self.enter("token").await?;
        Ok(TokenClaims {
            tid: Some(self.tid.clone()),
            ..Default::default()
        })
    }
}
