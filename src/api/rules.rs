//! CEL validation rules and schema overrides shared by the kinds. Each rule's message names the
//! field and says how to fix it, because this is what `kubectl apply` shows the user.

use kube::core::{Message, Reason, Rule};
use schemars::{Schema, SchemaGenerator, json_schema};

/// Upper-case region code (docs/rules.md, rule 9). Whether the code is known is the controller's job.
pub fn region_format() -> Rule {
    Rule::new("self.matches('^[A-Z]{2,5}$')").message(Message::Expression(
        "'region must be an upper-case region code of 2 to 5 letters, such as NZ (a country) or EUR (a composite region); got \"' + self + '\"'".into(),
    ))
}

/// The partner's Entra tenant id.
pub fn tenant_guid() -> Rule {
    Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')")
        .message(Message::Expression(
            "'partnerTenantId must be the partner\\'s Entra tenant id, a GUID like 01234567-89ab-cdef-0123-456789abcdef; got \"' + self + '\"'".into(),
        ))
}

/// Refuse `IndirectReseller` with the reason, before the generic value check.
pub fn csp_type_not_indirect_reseller() -> Rule {
    Rule::new("self != 'IndirectReseller'")
        .message(
            "cspType IndirectReseller is not accepted: indirect resellers have no Partner Center API access; \
             use the connection of the indirect provider (cspType IndirectProvider) that serves the reseller",
        )
        .reason(Reason::FieldValueForbidden)
}

/// `Direct` or `IndirectProvider`. The schema is a plain string (see [`csp_type_schema`]), so this
/// rule is the value check; `IndirectReseller` is left to the rule before, which explains it.
pub fn csp_type_value() -> Rule {
    Rule::new("self in ['Direct', 'IndirectProvider', 'IndirectReseller']").message(Message::Expression(
        "'cspType must be Direct or IndirectProvider; got \"' + self + '\"'".into(),
    ))
}

/// A field that may be set on create and never changed.
pub fn immutable(field: &str, fix: &str) -> Rule {
    Rule::new("self == oldSelf")
        .message(Message::Message(format!("{field} is immutable: {fix}")))
        .reason(Reason::FieldValueForbidden)
}

/// Lower-case RFC 1123 label: namespace names.
pub fn dns_label(field: &str) -> Rule {
    Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message(Message::Expression(format!(
        "'{field} must be a namespace name (lower-case letters, digits and \"-\", at most 63 characters); got \"' + self + '\"'"
    )))
}

/// Lower-case RFC 1123 subdomain: object names.
pub fn dns_subdomain(field: &str) -> Rule {
    Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message(
        Message::Expression(format!(
            "'{field} must be an object name (lower-case letters, digits, \"-\" and \".\"); got \"' + self + '\"'"
        )),
    )
}

/// `cspType` is a string in the schema, not an enum: an enum violation is a "blocking" error
/// for the API server, which then skips every CEL rule — and with it the message that explains
/// why `IndirectReseller` is refused. The rules above do the value check instead.
pub fn csp_type_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": 32,
        "description": "Direct (direct-bill partner) or IndirectProvider (indirect provider, written Indirect in plan names). IndirectReseller is refused: indirect resellers have no Partner Center API access. Immutable."
    })
}

/// A Go-style duration with s/m/h units between a minute (Partner Center is not to be hammered) and
/// a day (a connection checked less often is not being checked). At most 5 digits per number, so
/// that no value within the field's 32 characters overflows CEL's duration (about 290 years) and
/// turns into an evaluation error instead of this message.
pub fn sync_interval() -> Rule {
    Rule::new("self.matches('^([0-9]{1,5}(s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('24h')")
        .message(Message::Expression(
            "'syncInterval must be a duration between 1m and 24h written with s, m and h, such as 15m or 1h30m; got \"' + self + '\"'".into(),
        ))
}

/// An absolute http(s) URL.
pub fn http_url(field: &str, example: &str) -> Rule {
    Rule::new("isURL(self) && url(self).getScheme() in ['https', 'http'] && url(self).getHost() != ''").message(
        Message::Expression(format!(
            "'{field} must be an absolute http(s) URL such as {example}; got \"' + self + '\"'"
        )),
    )
}

/// Shape of a plan display name (rule 1): `[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>`.
const PLAN_NAME_FORMAT: &str = "^([A-Z0-9]{2,16} )?[A-Z]{2,5} (Direct|Indirect) (Production|Sandbox)$";

/// Field rule on `displayName`: the naming convention's shape.
pub fn plan_name_format() -> Rule {
    Rule::new(format!("self.matches('{PLAN_NAME_FORMAT}')")).message(Message::Expression(
        "'displayName must follow the naming convention \"[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>\" with single spaces, such as \"EUR Direct Sandbox\" or \"CNZ NZ Indirect Production\"; got \"' + self + '\"'".into(),
    ))
}

/// The last three words a plan name must end with, built from the spec (IndirectProvider is
/// written `Indirect`).
const PLAN_NAME_EXPECTED: &str =
    "(self.region + ' ' + (self.cspType == 'Direct' ? 'Direct' : 'Indirect') + ' ' + self.environment)";

/// Spec rule: the name's words agree with region, cspType and environment. Skipped when the
/// shape is wrong, which `plan_name_format` already reports.
pub fn plan_name_agrees() -> Rule {
    Rule::new(format!(
        "!self.displayName.matches('{PLAN_NAME_FORMAT}') || self.displayName == {PLAN_NAME_EXPECTED} || self.displayName.endsWith(' ' + {PLAN_NAME_EXPECTED})"
    ))
    .message(Message::Expression(format!(
        "'displayName \"' + self.displayName + '\" does not agree with spec.region, spec.cspType and spec.environment: its last three words must be \"' + {PLAN_NAME_EXPECTED} + '\" (at most one short-name word before them); fix the name or those fields'"
    )))
    .field_path(".displayName")
}

/// Reseller short name.
pub fn short_name_format() -> Rule {
    Rule::new("self.matches('^[A-Z0-9]{2,16}$')").message(Message::Expression(
        "'shortName must be 2 to 16 upper-case letters or digits (^[A-Z0-9]{2,16}$), such as CNZ; got \"' + self + '\"'".into(),
    ))
}

/// Spec rule: a reseller's namespace may be set once and then neither changed nor removed.
pub fn namespace_fixed_once_set() -> Rule {
    // `namespace` is a CEL reserved word: the API server exposes the field as `__namespace__`.
    Rule::new("!has(oldSelf.__namespace__) || (has(self.__namespace__) && self.__namespace__ == oldSelf.__namespace__)")
        .message(Message::Expression(
            "'namespace is immutable once set (it was \"' + oldSelf.__namespace__ + '\"): it holds the reseller\\'s own connections and cannot be changed or removed; create a new Reseller to use another namespace'".into(),
        ))
        .field_path(".namespace")
        .reason(Reason::FieldValueForbidden)
}

/// Spec rule: Test and Demo resellers are sandbox-only; an explicit `sandboxOnly: false` contradicts that.
pub fn sandbox_only_consistent() -> Rule {
    Rule::new("!(has(self.customerType) && self.customerType in ['Test', 'Demo'] && has(self.sandboxOnly) && !self.sandboxOnly)")
        .message(Message::Expression(
            "'sandboxOnly: false contradicts customerType ' + self.customerType + ': Test and Demo resellers may only be granted Sandbox plans; remove sandboxOnly or set it to true'".into(),
        ))
        .field_path(".sandboxOnly")
        .reason(Reason::FieldValueForbidden)
}

/// Root rule: a reseller cannot be its own parent (only the root has no parent, and no reseller
/// is its own ancestor).
pub fn not_own_parent() -> Rule {
    Rule::new("!has(self.spec.parent) || self.spec.parent != self.metadata.name")
        .message(Message::Expression(
            "'spec.parent names the reseller itself (\"' + self.metadata.name + '\"): set it to the parent Reseller, or remove it only on the root (the service provider)'".into(),
        ))
        .field_path(".spec.parent")
}

// ---------------------------------------------------------------------------------------------
// Customer (docs/rules.md, rules 11–18) and Reseller.spec.indirectReseller.

/// A GUID: an Entra tenant id. `what` says whose, for the message.
pub fn guid(field: &str, what: &str) -> Rule {
    // The message is a CEL string literal in single quotes.
    let what = what.replace('\'', "\\'");
    Rule::new("self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')").message(
        Message::Expression(format!(
            "'{field} must be {what}, a GUID like 01234567-89ab-cdef-0123-456789abcdef; got \"' + self + '\"'"
        )),
    )
}

/// Partner (MPN) id: digits only.
pub fn mpn_id() -> Rule {
    Rule::new("self.matches('^[0-9]{1,10}$')").message(Message::Expression(
        "'indirectReseller.mpnId must be the reseller\\'s Microsoft partner (MPN) id, 1 to 10 digits such as 1234567; got \"' + self + '\"'".into(),
    ))
}

/// Longest `domainPrefix` admission accepts. Microsoft's documentation consulted for this field does
/// not state the limit, so this is a conservative bound (well inside a 63-character DNS label)
/// that keeps every accepted prefix creatable; the field doc says so.
pub const DOMAIN_PREFIX_MAX: usize = 27;

/// The `<prefix>` of `<prefix>.onmicrosoft.com`.
pub fn domain_prefix() -> Rule {
    Rule::new(format!("self.matches('^[a-zA-Z0-9]{{1,{DOMAIN_PREFIX_MAX}}}$')")).message(Message::Expression(format!(
        "'tenant.new.domainPrefix must be 1 to {DOMAIN_PREFIX_MAX} letters and digits (no dots, hyphens or spaces; it becomes <domainPrefix>.onmicrosoft.com), such as contosonz; got \"' + self + '\"'"
    )))
}

/// A DNS domain name of an existing tenant (`contoso.onmicrosoft.com`, `contoso.com`).
pub fn domain_name(field: &str) -> Rule {
    Rule::new("self.matches('^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?\\\\.)+[a-zA-Z]{2,63}$')").message(
        Message::Expression(format!(
            "'{field} must be a domain name of the tenant, such as contoso.onmicrosoft.com or contoso.com; got \"' + self + '\"'"
        )),
    )
}

/// Upper-case ISO 3166-1 alpha-2 country code. Whether it lies in the plan's region is the
/// controller's check (rule 12).
pub fn country_iso2(field: &str) -> Rule {
    Rule::new("self.matches('^[A-Z]{2}$')").message(Message::Expression(format!(
        "'{field} must be an upper-case ISO 3166 two-letter country code, such as NZ or DE; got \"' + self + '\"'"
    )))
}

/// The shape of an e-mail address (one `@`, a dot in the domain, no spaces); whether it receives
/// mail is not admission's business.
pub fn email(field: &str) -> Rule {
    Rule::new("self.matches('^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$')").message(Message::Expression(format!(
        "'{field} must be an e-mail address such as admin@contoso.com; got \"' + self + '\"'"
    )))
}

/// A culture (language-COUNTRY) as Partner Center takes it, such as `en-US`.
pub fn culture() -> Rule {
    Rule::new("self.matches('^[a-z]{2,3}-[A-Z]{2}$')").message(Message::Expression(
        "'tenant.new.culture must be a culture written language-COUNTRY, such as en-US or de-DE; got \"' + self + '\"'"
            .into(),
    ))
}

/// An ISO 639-1 language code such as `en`.
pub fn language() -> Rule {
    Rule::new("self.matches('^[a-z]{2}$')").message(Message::Expression(
        "'tenant.new.language must be a lower-case two-letter ISO 639-1 language code, such as en or de; got \"' + self + '\"'"
            .into(),
    ))
}

/// A calendar date `YYYY-MM-DD`. CEL in the API server has no clock, so "not in the future" is the
/// controller's check.
pub fn calendar_date(field: &str) -> Rule {
    Rule::new("self.matches('^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$')").message(Message::Expression(
        format!("'{field} must be a date written YYYY-MM-DD, such as 2026-11-30; got \"' + self + '\"'"),
    ))
}

/// `Orphan` or `Delete`. A plain string with this rule instead of a schema enum: an enum
/// violation would skip every other CEL rule of the object (see [`csp_type_schema`]).
pub fn deletion_policy_value() -> Rule {
    Rule::new("self in ['Orphan', 'Delete']").message(Message::Expression(
        "'deletionPolicy must be Orphan (deleting the Customer leaves the tenant; the default) or Delete (only through Sandbox connections); got \"' + self + '\"'".into(),
    ))
}

/// Schema of `deletionPolicy` (a string: see [`deletion_policy_value`]).
pub fn deletion_policy_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": 16,
        "description": "Orphan (absent means Orphan): deleting the Customer leaves the tenant. Delete: the tenant is deleted too, honoured only through Sandbox connections (otherwise the Customer is not Ready, reason DeletionPolicyNotAllowed, and deletion orphans)."
    })
}

/// Rule on `tenant`: exactly one of `new` / `existing`.
pub fn tenant_exactly_one() -> Rule {
    Rule::new("has(self.new) != has(self.existing)").message(
        "tenant must set exactly one of tenant.new (create a new Microsoft tenant) or tenant.existing (adopt an existing one)",
    )
}

/// Transition rule on `tenant`: a Customer that creates a tenant cannot turn into one that adopts
/// a tenant, or the other way round.
pub fn tenant_choice_immutable() -> Rule {
    Rule::new("has(self.new) == has(oldSelf.new)")
        .message(
            "tenant: the choice between tenant.new and tenant.existing is immutable: create another Customer to \
             provision a different tenant",
        )
        .reason(Reason::FieldValueForbidden)
}

/// Rule on `tenant.existing`: exactly one of `tenantId` / `domain`.
pub fn existing_exactly_one() -> Rule {
    Rule::new("has(self.tenantId) != has(self.domain)").message(
        "tenant.existing must set exactly one of tenantId (the tenant's Entra id, a GUID) or domain (such as contoso.onmicrosoft.com)",
    )
}
