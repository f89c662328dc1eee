//! CEL validation rules and schema overrides shared by the kinds. Each rule's message names the
//! field and says how to fix it, because this is what `kubectl apply` shows the user.

use kube::core::{Message, Reason, Rule};
use schemars::{Schema, SchemaGenerator, json_schema};

/// Upper-case region code (product.md §4). Whether the code is known is the controller's job.
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

/// Spec rule: Microsoft allows tenant creation only for direct-bill accounts.
pub fn tenant_creation_direct_only() -> Rule {
    Rule::new("!has(self.allowTenantCreation) || !self.allowTenantCreation || self.cspType == 'Direct'")
        .message(
            "allowTenantCreation: true requires cspType Direct (Microsoft allows tenant creation only for direct-bill accounts); \
             remove allowTenantCreation or use a Direct plan",
        )
        .field_path(".allowTenantCreation")
        .reason(Reason::FieldValueForbidden)
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
