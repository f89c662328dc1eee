//! Rule 17 (docs/customers.md, "Agreements"): the Microsoft Customer Agreement is recorded once,
//! through the pinned connection, by the partner allowed to attest. Pure: the reconciler
//! (src/controller/customer/agreement.rs) asks [`refusal`] before any call, sends what
//! [`new_agreement`] builds with the template [`choose_template`] picks, and confirms with
//! [`confirmed`].

use super::finding::Finding;
use crate::api::CustomerAgreement;
use crate::partner_center::models::{Agreement, AgreementContact, AgreementTemplate, NewAgreement};

/// The condition type, and the reasons of rule 17.
pub mod reasons {
    /// Condition type (and its reason when True).
    pub const AGREEMENT_RECORDED: &str = "AgreementRecorded";
    /// `spec.agreement.dateAgreed` is after today (in the earliest time zone).
    pub const AGREEMENT_DATE_IN_FUTURE: &str = "AgreementDateInFuture";
    /// `spec.agreement.dateAgreed` is not a calendar date (admission checks the shape only).
    pub const AGREEMENT_DATE_INVALID: &str = "AgreementDateInvalid";
    /// The pinned connection is an indirect reseller's own account: the provider must attest.
    pub const INDIRECT_RESELLER_CANNOT_ATTEST: &str = "IndirectResellerCannotAttest";
    /// Partner Center offered no Microsoft Customer Agreement template.
    pub const AGREEMENT_TEMPLATE_MISSING: &str = "AgreementTemplateMissing";
    /// Recorded (or "already recorded"), but the read-back does not list it yet: retried.
    pub const AGREEMENT_NOT_CONFIRMED: &str = "AgreementNotConfirmed";
}

/// The `type` sent and the `agreementType` accepted from templates.
pub const AGREEMENT_TYPE: &str = "MicrosoftCustomerAgreement";

/// Hours the earliest time zone (UTC+14, Line Islands) is ahead of UTC: a customer there may
/// have accepted "tomorrow" by the operator's UTC clock.
const EARLIEST_ZONE_HOURS: i64 = 14;

/// Who would attest through the pinned connection (its namespace's owner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attester {
    /// The provider's own connection (the provider namespace).
    Provider,
    /// A reseller's own connection (an override); `indirect_reseller`: the reseller declares
    /// `spec.indirectReseller`, i.e. it is a Microsoft indirect reseller of the provider.
    Reseller { name: String, indirect_reseller: bool },
}

/// Why nothing may be sent for `agreement`, checked before any call; `now` is the operator's clock.
pub fn refusal(agreement: &CustomerAgreement, attester: &Attester, now: jiff::Timestamp) -> Option<Finding> {
    let field = "spec.agreement.dateAgreed";
    let Ok(date) = agreement.date_agreed.trim().parse::<jiff::civil::Date>() else {
        return Some(Finding::new(
            reasons::AGREEMENT_DATE_INVALID,
            format!(
                "{field} {:?} is not a calendar date: write the date the customer accepted the Microsoft Customer Agreement as YYYY-MM-DD",
                agreement.date_agreed
            ),
        ));
    };
    let latest = latest_today(now);
    if date > latest {
        return Some(Finding::new(
            reasons::AGREEMENT_DATE_IN_FUTURE,
            format!(
                "{field} {date} is in the future (today is at most {latest} anywhere): an agreement can only be recorded once the customer has accepted it; set the date of acceptance"
            ),
        ));
    }
    if let Attester::Reseller {
        name,
        indirect_reseller: true,
    } = attester
    {
        return Some(Finding::new(
            reasons::INDIRECT_RESELLER_CANNOT_ATTEST,
            format!(
                "the pinned connection is the own account of Reseller '{name}', an indirect reseller (spec.indirectReseller), and indirect resellers cannot attest the Microsoft Customer Agreement: the provider must attest through its IndirectProvider connection; remove spec.agreement and have the provider record it"
            ),
        ));
    }
    None
}

/// Today's date in the earliest time zone: the latest date a customer can have accepted on.
fn latest_today(now: jiff::Timestamp) -> jiff::civil::Date {
    let ahead = now
        .checked_add(jiff::SignedDuration::from_hours(EARLIEST_ZONE_HOURS))
        .unwrap_or(jiff::Timestamp::MAX);
    ahead.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// The current Microsoft Customer Agreement template: the highest `versionRank` (absent counts as
/// 0; on a tie the first listed) among the templates of that type (absent type accepted: the
/// request asked for that type only).
pub fn choose_template(templates: &[AgreementTemplate]) -> Result<&AgreementTemplate, Finding> {
    templates
        .iter()
        .filter(|t| !t.template_id.trim().is_empty())
        .filter(|t| {
            t.agreement_type
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case(AGREEMENT_TYPE))
        })
        .fold(None::<&AgreementTemplate>, |best, t| match best {
            Some(b) if b.version_rank.unwrap_or(0) >= t.version_rank.unwrap_or(0) => Some(b),
            _ => Some(t),
        })
        .ok_or_else(|| {
            Finding::new(
                reasons::AGREEMENT_TEMPLATE_MISSING,
                "Partner Center offered no Microsoft Customer Agreement template (GET /v1/agreements?agreementType=MicrosoftCustomerAgreement): agreements are recorded only in the public cloud; check the connection's cloud, the operator retries hourly",
            )
        })
}

/// The attestation to send: the declared contact, the template, the date as midnight UTC.
pub fn new_agreement(agreement: &CustomerAgreement, template_id: &str) -> NewAgreement {
    let c = &agreement.primary_contact;
    NewAgreement {
        primary_contact: AgreementContact {
            first_name: c.first_name.trim().to_string(),
            last_name: c.last_name.trim().to_string(),
            email: c.email.trim().to_string(),
            phone_number: c
                .phone_number
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        },
        template_id: template_id.to_string(),
        date_agreed: format!("{}T00:00:00Z", agreement.date_agreed.trim()),
        agreement_type: AGREEMENT_TYPE.to_string(),
    }
}

/// The recorded agreement of the declared contact (e-mail, case-insensitive) among those Partner
/// Center lists: Microsoft records one per contact.
pub fn confirmed<'a>(listed: &'a [Agreement], agreement: &CustomerAgreement) -> Option<&'a Agreement> {
    let email = agreement.primary_contact.email.trim();
    listed.iter().find(|a| {
        a.agreement_type
            .as_deref()
            .is_none_or(|k| k.eq_ignore_ascii_case(AGREEMENT_TYPE))
            && a.primary_contact
                .as_ref()
                .is_some_and(|c| c.email.trim().eq_ignore_ascii_case(email))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(date: &str, email: &str) -> CustomerAgreement {
        serde_json::from_value(serde_json::json!({
            "primaryContact": {"firstName": " Ana ", "lastName": "Smith", "email": email, "phoneNumber": " "},
            "dateAgreed": date,
        }))
        .expect("agreement")
    }

    fn at(ts: &str) -> jiff::Timestamp {
        ts.parse().expect("timestamp")
    }

    #[test]
    fn refused_before_any_call() {
        let provider = Attester::Provider;
        let direct_reseller = Attester::Reseller {
            name: "northwind".into(),
            indirect_reseller: false,
        };
        let indirect = Attester::Reseller {
            name: "northwind".into(),
            indirect_reseller: true,
        };
        // (dateAgreed, attester, now, the reason the user sees, or None: sent)
        let cases = [
            ("2026-12-01", &provider, "2026-12-01T12:00:00Z", None),
            ("2020-02-29", &provider, "2026-12-01T12:00:00Z", None),
            // UTC+14 is already on 2 December at 10:00 UTC, not yet at 09:59.
            ("2026-12-02", &provider, "2026-12-01T10:00:00Z", None),
            (
                "2026-12-02",
                &provider,
                "2026-12-01T09:59:59Z",
                Some(reasons::AGREEMENT_DATE_IN_FUTURE),
            ),
            (
                "2027-01-01",
                &provider,
                "2026-12-01T12:00:00Z",
                Some(reasons::AGREEMENT_DATE_IN_FUTURE),
            ),
            (
                "2026-02-30",
                &provider,
                "2026-12-01T12:00:00Z",
                Some(reasons::AGREEMENT_DATE_INVALID),
            ),
            ("2026-11-30", &direct_reseller, "2026-12-01T12:00:00Z", None),
            (
                "2026-11-30",
                &indirect,
                "2026-12-01T12:00:00Z",
                Some(reasons::INDIRECT_RESELLER_CANNOT_ATTEST),
            ),
            // The date is checked first: the fix it names comes before the attester's.
            (
                "2027-11-30",
                &indirect,
                "2026-12-01T12:00:00Z",
                Some(reasons::AGREEMENT_DATE_IN_FUTURE),
            ),
        ];
        for (date, attester, now, want) in cases {
            let got = refusal(&agreement(date, "a@b.example"), attester, at(now));
            assert_eq!(
                got.as_ref().map(|f| f.reason.as_str()),
                want,
                "{date} {attester:?} {now}"
            );
            if let Some(f) = got
                && f.reason != reasons::INDIRECT_RESELLER_CANNOT_ATTEST
            {
                assert!(f.message.contains("spec.agreement.dateAgreed"), "{}", f.message);
            }
        }
        let f = refusal(
            &agreement("2026-11-30", "a@b.example"),
            &indirect,
            at("2026-12-01T00:00:00Z"),
        )
        .expect("refused");
        assert!(
            f.message.contains("the provider must attest") && f.message.contains("'northwind'"),
            "{}",
            f.message
        );
    }

    fn template(id: &str, kind: Option<&str>, rank: Option<i64>) -> AgreementTemplate {
        AgreementTemplate {
            template_id: id.into(),
            agreement_type: kind.map(str::to_string),
            agreement_link: None,
            version_rank: rank,
        }
    }

    #[test]
    fn the_template_is_the_highest_version_rank_of_the_type() {
        let mca = Some(AGREEMENT_TYPE);
        // (templates offered, the template id chosen, or None: AgreementTemplateMissing)
        let cases: Vec<(Vec<AgreementTemplate>, Option<&str>)> = vec![
            (vec![], None),
            (vec![template("a", mca, Some(0))], Some("a")),
            (vec![template("a", None, None)], Some("a")),
            (
                vec![
                    template("a", mca, Some(1)),
                    template("b", mca, Some(3)),
                    template("c", mca, Some(2)),
                ],
                Some("b"),
            ),
            (
                vec![template("a", mca, Some(2)), template("b", mca, Some(2))],
                Some("a"),
            ),
            (vec![template("a", mca, None), template("b", mca, Some(-1))], Some("a")),
            (
                vec![
                    template("cloud", Some("MicrosoftCloudAgreement"), Some(9)),
                    template("a", mca, Some(1)),
                ],
                Some("a"),
            ),
            (vec![template("cloud", Some("MicrosoftCloudAgreement"), Some(9))], None),
            (
                vec![template(" ", mca, Some(9)), template("a", mca, Some(0))],
                Some("a"),
            ),
        ];
        for (templates, want) in cases {
            let got = choose_template(&templates);
            match (got, want) {
                (Ok(t), Some(w)) => assert_eq!(t.template_id, w, "{templates:?}"),
                (Err(f), None) => assert_eq!(f.reason, reasons::AGREEMENT_TEMPLATE_MISSING),
                (got, want) => panic!("{templates:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn what_is_sent() {
        let sent = new_agreement(&agreement("2026-11-30", " Ana@Kauri.example "), "tmpl-1");
        let body = serde_json::to_value(&sent).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "primaryContact": {"firstName": "Ana", "lastName": "Smith", "email": "Ana@Kauri.example"},
                "templateId": "tmpl-1",
                "dateAgreed": "2026-11-30T00:00:00Z",
                "type": "MicrosoftCustomerAgreement",
            })
        );
    }

    #[test]
    fn confirmed_by_the_declared_contact() {
        let listed = |email: &str, kind: Option<&str>| Agreement {
            primary_contact: Some(AgreementContact {
                email: email.into(),
                ..Default::default()
            }),
            template_id: Some("t".into()),
            agreement_type: kind.map(str::to_string),
            ..Default::default()
        };
        let spec = agreement("2026-11-30", "ana@kauri.example");
        // (agreements listed, confirmed)
        let cases = [
            (vec![], false),
            (vec![listed("ANA@kauri.example", Some(AGREEMENT_TYPE))], true),
            (vec![listed("ana@kauri.example", None)], true),
            (vec![listed("bob@kauri.example", Some(AGREEMENT_TYPE))], false),
            (
                vec![listed("ana@kauri.example", Some("MicrosoftCloudAgreement"))],
                false,
            ),
            (
                vec![
                    listed("bob@kauri.example", Some(AGREEMENT_TYPE)),
                    listed("ana@kauri.example", Some(AGREEMENT_TYPE)),
                ],
                true,
            ),
        ];
        for (items, want) in cases {
            assert_eq!(confirmed(&items, &spec).is_some(), want, "{items:?}");
        }
        let no_contact = Agreement::default();
        assert!(confirmed(std::slice::from_ref(&no_contact), &spec).is_none());
    }
}
