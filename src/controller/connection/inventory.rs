//! The account's customers as the last sync listed them, kept compactly per connection: the tenant
//! id as 16 bytes, the domain (lowercased) and company name as boxed strings, the relationship as one
//! byte. About 100 bytes a customer, so 10,000 customers are about 1 MB; the sync pages through the
//! list once (the count is the inventory's length, not a second listing).
//!
//! Details the list does not give (country, indirect reseller) are fetched per tenant within a
//! budget and cached in [`Details`]; see `sync::fetch_details`.

use crate::partner_center::models::Customer as PcCustomer;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// `relationshipToPartner` as one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relationship {
    Reseller,
    Advisor,
    Syndication,
    MicrosoftSupport,
    None,
    Other,
}

impl Relationship {
    fn parse(s: Option<&str>) -> Self {
        match s.map(str::to_ascii_lowercase).as_deref() {
            Some("reseller") => Relationship::Reseller,
            Some("advisor") => Relationship::Advisor,
            Some("syndication") => Relationship::Syndication,
            Some("microsoft_support") => Relationship::MicrosoftSupport,
            Some("none") | None => Relationship::None,
            Some(_) => Relationship::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Reseller => "reseller",
            Relationship::Advisor => "advisor",
            Relationship::Syndication => "syndication",
            Relationship::MicrosoftSupport => "microsoft_support",
            Relationship::None => "none",
            Relationship::Other => "other",
        }
    }
}

/// One listed customer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    /// Byte arrays, not u128: no 16-byte alignment padding (56 bytes an entry instead of 96).
    tenant: Guid,
    associated: Option<Guid>,
    relationship: Relationship,
    /// Length of the domain at the start of `text`.
    split: u16,
    /// The domain (lowercased) followed by the company name: one allocation for both.
    text: Box<str>,
}

type Guid = [u8; 16];

impl Listed {
    fn domain(&self) -> &str {
        &self.text[..usize::from(self.split)]
    }
    fn company(&self) -> &str {
        &self.text[usize::from(self.split)..]
    }
}

/// A listed customer as callers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedCustomer<'a> {
    /// Lowercased tenant id.
    pub tenant_id: String,
    /// Lowercased.
    pub domain: &'a str,
    pub company_name: &'a str,
    pub relationship: Relationship,
    /// As the list gives it (Partner Center's list leaves it empty; get-by-id fills it).
    pub associated_partner_id: Option<String>,
}

fn parse_guid(s: &str) -> Option<Guid> {
    uuid::Uuid::parse_str(s.trim()).ok().map(|u| *u.as_bytes())
}

pub fn guid_text(v: Guid) -> String {
    uuid::Uuid::from_bytes(v).hyphenated().to_string()
}

/// The account's customers as one sync listed them.
#[derive(Clone, Debug)]
pub struct Inventory {
    /// Sorted by tenant, unique.
    entries: Vec<Listed>,
    /// Indices into `entries`, sorted by domain.
    by_domain: Vec<u32>,
    /// Listed entries whose id is not a GUID (not indexable; counted so the total stays honest).
    unreadable: u64,
    /// When the sync that listed them finished.
    pub synced_at: jiff::Timestamp,
}

impl Default for Inventory {
    fn default() -> Self {
        Builder::default().finish(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// Two inventories are the same when they list the same customers, whenever they were listed.
impl PartialEq for Inventory {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.unreadable == other.unreadable
    }
}

impl Inventory {
    /// Customers the account lists (readable or not).
    pub fn len(&self) -> u64 {
        (self.entries.len() as u64).saturating_add(self.unreadable)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn find(&self, tenant: Guid) -> Option<&Listed> {
        self.entries
            .binary_search_by_key(&tenant, |e| e.tenant)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The account lists the tenant `tenant_id` (any case).
    pub fn lists_tenant(&self, tenant_id: &str) -> bool {
        parse_guid(tenant_id).is_some_and(|t| self.find(t).is_some())
    }

    /// The tenant id (lowercased) of the listed customer whose domain is `domain` (any case).
    pub fn lists_domain(&self, domain: &str) -> Option<String> {
        let d = domain.trim().to_ascii_lowercase();
        let i = self
            .by_domain
            .binary_search_by(|&i| self.entries[i as usize].domain().cmp(d.as_str()))
            .ok()?;
        Some(guid_text(self.entries[self.by_domain[i] as usize].tenant))
    }

    /// The listed customer with tenant `tenant_id`.
    pub fn customer(&self, tenant_id: &str) -> Option<ListedCustomer<'_>> {
        let e = self.find(parse_guid(tenant_id)?)?;
        Some(view(e))
    }

    /// Every listed tenant id as 16 bytes, sorted.
    pub fn tenants(&self) -> impl Iterator<Item = Guid> + '_ {
        self.entries.iter().map(|e| e.tenant)
    }

    /// Tenants listed here but not in `before` (appeared) and listed in `before` but not here
    /// (vanished), lowercased; one merge of two sorted lists.
    pub fn changes_since(&self, before: &Inventory) -> Changes {
        let (mut a, mut b) = (self.entries.iter().peekable(), before.entries.iter().peekable());
        let mut changes = Changes::default();
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.tenant == y.tenant => {
                    if x != y {
                        changes.changed.push(guid_text(x.tenant));
                    }
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.tenant < y.tenant => {
                    changes.appeared.push(guid_text(x.tenant));
                    a.next();
                }
                (Some(_), Some(y)) => {
                    changes.vanished.push(guid_text(y.tenant));
                    b.next();
                }
                (Some(x), None) => {
                    changes.appeared.push(guid_text(x.tenant));
                    a.next();
                }
                (None, Some(y)) => {
                    changes.vanished.push(guid_text(y.tenant));
                    b.next();
                }
                (None, None) => return changes,
            }
        }
    }

    /// Heap bytes held (for the memory figures of the benchmark and the tests).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Listed>()
            + self.by_domain.capacity() * 4
            + self.entries.iter().map(|e| e.text.len()).sum::<usize>()
    }
}

fn view(e: &Listed) -> ListedCustomer<'_> {
    ListedCustomer {
        tenant_id: guid_text(e.tenant),
        domain: e.domain(),
        company_name: e.company(),
        relationship: e.relationship,
        associated_partner_id: e.associated.map(guid_text),
    }
}

/// What differs between two syncs' inventories (lowercased tenant ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub appeared: Vec<String>,
    pub vanished: Vec<String>,
    /// Listed in both, but with another domain, company, relationship or association.
    pub changed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.vanished.is_empty() && self.changed.is_empty()
    }
}

/// Builds an [`Inventory`] page by page, keeping only the compact fields.
#[derive(Default)]
pub struct Builder {
    entries: Vec<Listed>,
    unreadable: u64,
}

impl Builder {
    pub fn add(&mut self, c: &PcCustomer) {
        let id = c
            .company_profile
            .as_ref()
            .and_then(|p| p.tenant_id.as_deref())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&c.id);
        let Some(tenant) = parse_guid(id).or_else(|| parse_guid(&c.id)) else {
            self.unreadable = self.unreadable.saturating_add(1);
            return;
        };
        let mut domain = c.domain().unwrap_or_default().trim().to_ascii_lowercase();
        // Domains are at most 253 characters; a longer one from the network is cut, not trusted.
        let mut end = domain.len().min(253);
        while !domain.is_char_boundary(end) {
            end -= 1;
        }
        domain.truncate(end);
        let split = u16::try_from(domain.len()).unwrap_or(0);
        domain.push_str(c.company_name().unwrap_or_default());
        self.entries.push(Listed {
            tenant,
            associated: c.associated_partner_id.as_deref().and_then(parse_guid),
            relationship: Relationship::parse(c.relationship_to_partner.as_deref()),
            split,
            text: domain.into_boxed_str(),
        });
    }

    pub fn add_page(&mut self, page: &[PcCustomer]) {
        self.entries.reserve(page.len());
        for c in page {
            self.add(c);
        }
    }

    pub fn finish(mut self, synced_at: jiff::Timestamp) -> Inventory {
        self.entries.sort_unstable_by_key(|e| e.tenant);
        // A tenant listed twice (a page boundary moving under concurrent changes) is one customer.
        let before = self.entries.len();
        self.entries.dedup_by_key(|e| e.tenant);
        let _duplicates = before - self.entries.len();
        self.entries.shrink_to_fit();
        let mut by_domain: Vec<u32> = (0..self.entries.len() as u32).collect();
        by_domain.sort_unstable_by(|&a, &b| self.entries[a as usize].domain().cmp(self.entries[b as usize].domain()));
        Inventory {
            entries: self.entries,
            by_domain,
            unreadable: self.unreadable,
            synced_at,
        }
    }
}

pub use crate::policy::inventory::Detail;

/// The details get-by-id gives of `c`.
pub fn detail_of(c: &PcCustomer) -> Detail {
    {
        let country = c
            .billing_profile
            .as_ref()
            .and_then(|b| b.default_address.as_ref())
            .and_then(|a| a.country.clone())
            .or_else(|| {
                c.company_profile
                    .as_ref()
                    .and_then(|p| p.address.as_ref())
                    .and_then(|a| a.country.clone())
            })
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_uppercase()));
        Detail {
            country,
            associated_partner_id: c.associated_partner_id.as_deref().and_then(parse_guid).map(guid_text),
        }
    }
}

/// Per-connection detail cache and call budget: each tenant's details are fetched once, and at most
/// `per_hour` detail calls are made in any hour (a sliding window of the calls' start times).
#[derive(Debug, Default)]
pub struct Details {
    by_tenant: HashMap<Guid, Detail>,
    calls: VecDeque<Instant>,
    /// Since when the audit feed has been read: records after it invalidate cached details.
    pub audited_since: Option<jiff::Timestamp>,
    /// The finding last announced by an Event per tenant, and the counts last announced for the
    /// connection: two reconciles in a row (before the watch cache has the new status) must not
    /// announce one finding twice.
    announced: HashMap<Guid, &'static str>,
    pub announced_counts: Option<crate::api::Inventory>,
}

const HOUR: Duration = Duration::from_secs(3600);

impl Details {
    pub fn get(&self, tenant_id: &str) -> Option<&Detail> {
        self.by_tenant.get(&parse_guid(tenant_id)?)
    }

    pub fn insert(&mut self, tenant_id: &str, d: Detail) {
        if let Some(t) = parse_guid(tenant_id) {
            self.by_tenant.insert(t, d);
        }
    }

    /// Records that `tenant_id` now has `finding` (None: no finding); true when that is new and
    /// deserves an Event.
    pub fn announce(&mut self, tenant_id: &str, finding: Option<&'static str>) -> bool {
        let Some(t) = parse_guid(tenant_id) else {
            return false;
        };
        match finding {
            None => {
                self.announced.remove(&t);
                false
            }
            Some(f) => self.announced.insert(t, f) != Some(f),
        }
    }

    /// Forgets the details of `tenant_id` (the audit feed says it changed): fetched again.
    pub fn invalidate(&mut self, tenant_id: &str) -> bool {
        parse_guid(tenant_id).is_some_and(|t| self.by_tenant.remove(&t).is_some())
    }

    /// Forgets tenants the account no longer lists (their details may differ if they come back).
    pub fn retain_listed(&mut self, inventory: &Inventory) {
        self.by_tenant.retain(|t, _| inventory.find(*t).is_some());
    }

    /// Calls still allowed in the hour up to `now`.
    pub fn allowance(&mut self, per_hour: u32, now: Instant) -> u32 {
        while let Some(first) = self.calls.front() {
            if now.saturating_duration_since(*first) >= HOUR {
                self.calls.pop_front();
            } else {
                break;
            }
        }
        per_hour.saturating_sub(u32::try_from(self.calls.len()).unwrap_or(u32::MAX))
    }

    /// Records one detail call made at `now`.
    pub fn spent(&mut self, now: Instant) {
        self.calls.push_back(now);
    }

    pub fn len(&self) -> usize {
        self.by_tenant.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partner_center::models::CustomerCompanyProfile;

    fn customer(id: &str, domain: &str) -> PcCustomer {
        PcCustomer {
            id: id.into(),
            company_profile: Some(CustomerCompanyProfile {
                tenant_id: Some(id.into()),
                domain: Some(domain.into()),
                company_name: Some(format!("Company of {domain}")),
                address: None,
            }),
            relationship_to_partner: Some("reseller".into()),
            ..Default::default()
        }
    }

    const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const B: &str = "BBBBBBBB-0000-4000-8000-000000000002";
    const C: &str = "cccccccc-0000-4000-8000-000000000003";

    fn inventory(list: &[(&str, &str)]) -> Inventory {
        let mut b = Builder::default();
        b.add_page(&list.iter().map(|(id, d)| customer(id, d)).collect::<Vec<_>>());
        b.finish(jiff::Timestamp::UNIX_EPOCH)
    }

    /// (case, query, listed?) against one inventory.
    #[test]
    fn tenants_and_domains_are_found_in_any_case() {
        let inv = inventory(&[
            (A, "alpha.onmicrosoft.com"),
            (B, "Beta.onmicrosoft.com"),
            ("not-a-guid", "x.com"),
        ]);
        assert_eq!(inv.len(), 3, "the unreadable entry still counts");
        let tenants = [
            ("lower", A, true),
            ("upper as listed", B, true),
            ("lowercased", &B.to_ascii_lowercase(), true),
            ("absent", C, false),
            ("not a guid", "nope", false),
        ];
        for (case, q, want) in tenants {
            assert_eq!(inv.lists_tenant(q), want, "{case}");
        }
        let domains = [
            ("exact", "alpha.onmicrosoft.com", Some(A.to_string())),
            ("mixed case", "BETA.onmicrosoft.com", Some(B.to_ascii_lowercase())),
            ("absent", "gamma.onmicrosoft.com", None),
            ("prefix only", "alpha", None),
        ];
        for (case, q, want) in domains {
            assert_eq!(inv.lists_domain(q), want, "{case}");
        }
        let listed = inv.customer(B).expect("listed");
        assert_eq!(
            (listed.domain, listed.company_name, listed.relationship.as_str()),
            ("beta.onmicrosoft.com", "Company of Beta.onmicrosoft.com", "reseller")
        );
    }

    #[test]
    fn changes_are_the_tenants_that_appeared_vanished_or_changed() {
        let before = inventory(&[(A, "alpha.onmicrosoft.com"), (B, "beta.onmicrosoft.com")]);
        let after = inventory(&[(B, "beta2.onmicrosoft.com"), (C, "gamma.onmicrosoft.com")]);
        assert_eq!(
            after.changes_since(&before),
            Changes {
                appeared: vec![C.into()],
                vanished: vec![A.into()],
                changed: vec![B.to_ascii_lowercase()],
            }
        );
        let mut later = before.clone();
        later.synced_at = jiff::Timestamp::now();
        assert!(later.changes_since(&before).is_empty());
        assert_eq!(later, before, "the listing time is not part of what was listed");
    }

    #[test]
    fn ten_thousand_customers_stay_compact() {
        let mut b = Builder::default();
        for i in 0..10_000u32 {
            let id = format!("{i:08x}-0000-4000-8000-000000000000");
            b.add(&customer(&id, &format!("customer{i:05}.onmicrosoft.com")));
        }
        let inv = b.finish(jiff::Timestamp::UNIX_EPOCH);
        let per_customer = inv.heap_bytes() / 10_000;
        // The text here is 69 bytes a customer (domain and company); the rest is the fixed part.
        let text: usize = inv.entries.iter().map(|e| e.text.len()).sum();
        let fixed = (inv.heap_bytes() - text) / 10_000;
        assert!(fixed <= 64, "{fixed} bytes per customer besides the text");
        assert!(inv.heap_bytes() < 2 << 20, "{} bytes for 10,000", inv.heap_bytes());
        assert_eq!(per_customer, fixed + text / 10_000, "nothing else is held");
        assert!(inv.lists_domain("customer09999.onmicrosoft.com").is_some());
    }

    #[test]
    fn the_budget_is_a_sliding_hour() {
        let mut d = Details::default();
        let t0 = Instant::now();
        assert_eq!(d.allowance(3, t0), 3);
        d.spent(t0);
        d.spent(t0);
        assert_eq!(d.allowance(3, t0 + Duration::from_secs(60)), 1);
        assert_eq!(
            d.allowance(3, t0 + HOUR),
            3,
            "an hour later both calls have left the window"
        );
        assert_eq!(d.allowance(0, t0), 0);
    }
}
