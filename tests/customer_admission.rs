//! The `Customer` kind's API against a real kube-apiserver with the real kubectl, acting as the
//! users of docs/rules.md (rules 11–18): the CRD validation rules (formats, exactly one tenant choice, immutable
//! fields), the shipped RBAC (a reseller's admins manage Customers in their own namespace only),
//! the reseller-guard policy on `Reseller.spec.indirectReseller` (provider-only), tenant creation
//! allowed on IndirectProvider plans, and the kubectl experience. No controller acts on Customers
//! yet: everything here is the API server's own behaviour.

mod support;

use std::time::{Duration, Instant};
use support::{ControlPlane, User, apply_ok, kubectl_ok, output_text, read_repo_file as read};

const POLICY: &str = "ValidatingAdmissionPolicy 'reseller-guard.channel.csp.dev'";

// ---------------------------------------------------------------------------------------------
// Valid Customers the bad manifests are derived from.

const NEW: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: Customer
metadata: {name: NAME, namespace: ra}
spec:
  reseller: reseller-a
  plan: eur-direct-sandbox
  tenant:
    new:
      domainPrefix: contosonz
      companyName: Contoso NZ Ltd
      email: admin@contoso.co.nz
      culture: en-NZ
      language: en
      address:
        addressLine1: 1 Queen Street
        city: Auckland
        postalCode: "1010"
        country: NZ
        firstName: Ana
        lastName: Smith
  agreement:
    primaryContact: {firstName: Ana, lastName: Smith, email: ana@contoso.co.nz}
    dateAgreed: "2026-11-30"
  deletionPolicy: Orphan
  adminCredentialsSecretName: contoso-admin
"#;

const EXISTING: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: Customer
metadata: {name: NAME, namespace: ra}
spec:
  plan: eur-direct-sandbox
  tenant:
    existing:
      tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f
"#;

/// `template` named `name` with each `(from, to)` replaced once (each must occur).
fn edit(template: &str, name: &str, edits: &[(&str, &str)]) -> String {
    let mut yaml = template.replace("NAME", name);
    for (from, to) in edits {
        assert!(yaml.contains(from), "fixture edit {from:?} does not apply to {name}");
        yaml = yaml.replacen(from, to, 1);
    }
    yaml
}

/// One refused manifest: for an update, the valid object applied first; the exact message lines
/// kubectl must show (field path, then the rule's message).
struct Bad {
    case: &'static str,
    before: Option<String>,
    manifest: String,
    expect: Vec<String>,
}

fn bad(case: &'static str, template: &str, name: &str, edits: &[(&str, &str)], expect: &[&str]) -> Bad {
    Bad {
        case,
        before: None,
        manifest: edit(template, name, edits),
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

fn bad_update(case: &'static str, template: &str, name: &str, edits: &[(&str, &str)], expect: &[&str]) -> Bad {
    Bad {
        case,
        before: Some(edit(template, name, &[])),
        manifest: edit(template, name, edits),
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

const NEW_TENANT: &str = "    new:
      domainPrefix: contosonz
      companyName: Contoso NZ Ltd
      email: admin@contoso.co.nz
      culture: en-NZ
      language: en
      address:
        addressLine1: 1 Queen Street
        city: Auckland
        postalCode: \"1010\"
        country: NZ
        firstName: Ana
        lastName: Smith
";

fn bad_customers() -> Vec<Bad> {
    let long51 = format!("firstName: {}", "A".repeat(51));
    let long201 = format!("addressLine1: {}", "x".repeat(201));
    let long28 = format!("domainPrefix: {}", "a".repeat(28));
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let (long51, long201, long28) = (leak(long51), leak(long201), leak(long28));
    let exactly_one = "spec.tenant: Invalid value: \"object\": tenant must set exactly one of tenant.new (create a new \
                       Microsoft tenant) or tenant.existing (adopt an existing one)";
    let existing_one = "spec.tenant.existing: Invalid value: \"object\": tenant.existing must set exactly one of \
                        tenantId (the tenant's Entra id, a GUID) or domain (such as contoso.onmicrosoft.com)";
    let choice = "spec.tenant: Forbidden: tenant: the choice between tenant.new and tenant.existing is immutable: \
                  create another Customer to provision a different tenant";
    vec![
        // Exactly one tenant choice.
        bad(
            "no tenant choice",
            NEW,
            "c-none",
            &[(NEW_TENANT, "    {}\n")],
            &[exactly_one],
        ),
        bad(
            "both new and existing",
            NEW,
            "c-both",
            &[(
                "    new:\n",
                "    existing: {tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f}\n    new:\n",
            )],
            &[exactly_one],
        ),
        bad(
            "existing names both tenantId and domain",
            EXISTING,
            "c-ex-both",
            &[(
                "tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
                "tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\n      domain: fabrikam.onmicrosoft.com",
            )],
            &[existing_one],
        ),
        bad(
            "existing names neither",
            EXISTING,
            "c-ex-none",
            &[(
                "existing:\n      tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
                "existing: {}",
            )],
            &[existing_one],
        ),
        bad(
            "existing tenantId not a GUID",
            EXISTING,
            "c-ex-guid",
            &[("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "fabrikam")],
            &[
                "spec.tenant.existing.tenantId: Invalid value: \"string\": tenant.existing.tenantId must be the \
               customer's Entra tenant id, a GUID like 01234567-89ab-cdef-0123-456789abcdef; got \"fabrikam\"",
            ],
        ),
        bad(
            "existing domain not a domain",
            EXISTING,
            "c-ex-domain",
            &[("tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "domain: fabrikam")],
            &[
                "spec.tenant.existing.domain: Invalid value: \"string\": tenant.existing.domain must be a domain \
               name of the tenant, such as contoso.onmicrosoft.com or contoso.com; got \"fabrikam\"",
            ],
        ),
        // Formats of a new tenant.
        bad(
            "domainPrefix with a hyphen",
            NEW,
            "c-prefix",
            &[("domainPrefix: contosonz", "domainPrefix: contoso-nz")],
            &[
                "spec.tenant.new.domainPrefix: Invalid value: \"string\": tenant.new.domainPrefix must be 1 to 27 \
               letters and digits (no dots, hyphens or spaces; it becomes <domainPrefix>.onmicrosoft.com), such as \
               contosonz; got \"contoso-nz\"",
            ],
        ),
        bad(
            "domainPrefix with the suffix",
            NEW,
            "c-prefix-suffix",
            &[("domainPrefix: contosonz", "domainPrefix: contosonz.onmicrosoft.com")],
            &[
                "spec.tenant.new.domainPrefix: Invalid value: \"string\": tenant.new.domainPrefix must be 1 to 27 \
               letters and digits (no dots, hyphens or spaces; it becomes <domainPrefix>.onmicrosoft.com), such as \
               contosonz; got \"contosonz.onmicrosoft.com\"",
            ],
        ),
        bad(
            "domainPrefix too long",
            NEW,
            "c-prefix-long",
            &[("domainPrefix: contosonz", long28)],
            &[leak(format!(
                "spec.tenant.new.domainPrefix: Invalid value: \"string\": tenant.new.domainPrefix must be 1 to 27 \
                 letters and digits (no dots, hyphens or spaces; it becomes <domainPrefix>.onmicrosoft.com), such as \
                 contosonz; got \"{}\"",
                "a".repeat(28)
            ))],
        ),
        bad(
            "country lower case",
            NEW,
            "c-country",
            &[("country: NZ", "country: nz")],
            &[
                "spec.tenant.new.address.country: Invalid value: \"string\": tenant.new.address.country must be an \
               upper-case ISO 3166 two-letter country code, such as NZ or DE; got \"nz\"",
            ],
        ),
        bad(
            "country of three letters",
            NEW,
            "c-country3",
            &[("country: NZ", "country: NZL")],
            &[
                "spec.tenant.new.address.country: Invalid value: \"string\": tenant.new.address.country must be an \
               upper-case ISO 3166 two-letter country code, such as NZ or DE; got \"NZL\"",
            ],
        ),
        bad(
            "email without @",
            NEW,
            "c-email",
            &[("email: admin@contoso.co.nz", "email: admin.contoso.co.nz")],
            &[
                "spec.tenant.new.email: Invalid value: \"string\": tenant.new.email must be an e-mail address such as \
               admin@contoso.com; got \"admin.contoso.co.nz\"",
            ],
        ),
        bad(
            "culture with underscore",
            NEW,
            "c-culture",
            &[("culture: en-NZ", "culture: en_NZ")],
            &[
                "spec.tenant.new.culture: Invalid value: \"string\": tenant.new.culture must be a culture written \
               language-COUNTRY, such as en-US or de-DE; got \"en_NZ\"",
            ],
        ),
        bad(
            "language upper case",
            NEW,
            "c-language",
            &[("language: en", "language: EN")],
            &[
                "spec.tenant.new.language: Invalid value: \"string\": tenant.new.language must be a lower-case \
               two-letter ISO 639-1 language code, such as en or de; got \"EN\"",
            ],
        ),
        bad(
            "addressLine1 empty",
            NEW,
            "c-line1-empty",
            &[("addressLine1: 1 Queen Street", "addressLine1: \"\"")],
            &[
                "spec.tenant.new.address.addressLine1: Invalid value: \"\": spec.tenant.new.address.addressLine1 in \
               body should be at least 1 chars long",
            ],
        ),
        bad(
            "addressLine1 too long",
            NEW,
            "c-line1-long",
            &[("addressLine1: 1 Queen Street", long201)],
            &["spec.tenant.new.address.addressLine1: Too long: may not be more than 200 bytes"],
        ),
        bad(
            "firstName too long",
            NEW,
            "c-first",
            &[(
                "firstName: Ana\n        lastName",
                &format!("{long51}\n        lastName"),
            )],
            &["spec.tenant.new.address.firstName: Too long: may not be more than 50 bytes"],
        ),
        bad(
            "lastName missing",
            NEW,
            "c-last",
            &[("        lastName: Smith\n", "")],
            &["spec.tenant.new.address.lastName: Required value"],
        ),
        bad(
            "companyName missing",
            NEW,
            "c-company",
            &[("      companyName: Contoso NZ Ltd\n", "")],
            &["spec.tenant.new.companyName: Required value"],
        ),
        // The rest of the spec.
        bad(
            "deletionPolicy unknown",
            NEW,
            "c-deletion",
            &[("deletionPolicy: Orphan", "deletionPolicy: Destroy")],
            &[
                "spec.deletionPolicy: Invalid value: \"string\": deletionPolicy must be Orphan (deleting the Customer \
               leaves the tenant; the default) or Delete (only through Sandbox connections); got \"Destroy\"",
            ],
        ),
        bad(
            "admin Secret name not an object name",
            NEW,
            "c-secret",
            &[(
                "adminCredentialsSecretName: contoso-admin",
                "adminCredentialsSecretName: Contoso_Admin",
            )],
            &[
                "spec.adminCredentialsSecretName: Invalid value: \"string\": adminCredentialsSecretName must be an \
               object name (lower-case letters, digits, \"-\" and \".\"); got \"Contoso_Admin\"",
            ],
        ),
        bad(
            "plan given by display name",
            NEW,
            "c-plan",
            &[("plan: eur-direct-sandbox", "plan: EUR Direct Sandbox")],
            &[
                "spec.plan: Invalid value: \"string\": plan must be an object name (lower-case letters, digits, \"-\" \
               and \".\"); got \"EUR Direct Sandbox\"",
            ],
        ),
        bad(
            "plan missing",
            EXISTING,
            "c-noplan",
            &[("  plan: eur-direct-sandbox\n", "")],
            &["spec.plan: Required value"],
        ),
        bad(
            "reseller not an object name",
            NEW,
            "c-reseller",
            &[("reseller: reseller-a", "reseller: Reseller A")],
            &[
                "spec.reseller: Invalid value: \"string\": reseller must be an object name (lower-case letters, \
               digits, \"-\" and \".\"); got \"Reseller A\"",
            ],
        ),
        bad(
            "agreement contact e-mail",
            NEW,
            "c-agr-email",
            &[("email: ana@contoso.co.nz", "email: ana")],
            &[
                "spec.agreement.primaryContact.email: Invalid value: \"string\": agreement.primaryContact.email must \
               be an e-mail address such as admin@contoso.com; got \"ana\"",
            ],
        ),
        bad(
            "agreement contact lastName empty",
            NEW,
            "c-agr-last",
            &[("lastName: Smith, email", "lastName: \"\", email")],
            &["spec.agreement.primaryContact.lastName: Invalid value: \"\": \
               spec.agreement.primaryContact.lastName in body should be at least 1 chars long"],
        ),
        bad(
            "dateAgreed not ISO",
            NEW,
            "c-date",
            &[("dateAgreed: \"2026-11-30\"", "dateAgreed: 30/11/2026")],
            &[
                "spec.agreement.dateAgreed: Invalid value: \"string\": agreement.dateAgreed must be a date written \
               YYYY-MM-DD, such as 2026-11-30; got \"30/11/2026\"",
            ],
        ),
        bad(
            "dateAgreed month 13",
            NEW,
            "c-date13",
            &[("dateAgreed: \"2026-11-30\"", "dateAgreed: \"2026-13-01\"")],
            &[
                "spec.agreement.dateAgreed: Invalid value: \"string\": agreement.dateAgreed must be a date written \
               YYYY-MM-DD, such as 2026-11-30; got \"2026-13-01\"",
            ],
        ),
        // Immutable once set.
        bad_update(
            "domainPrefix changed",
            NEW,
            "u-prefix",
            &[("domainPrefix: contosonz", "domainPrefix: contosonz2")],
            &[
                "spec.tenant.new.domainPrefix: Forbidden: tenant.new.domainPrefix is immutable: the onmicrosoft.com \
               domain of a tenant never changes; create another Customer for another domain",
            ],
        ),
        bad_update(
            "country changed",
            NEW,
            "u-country",
            &[("country: NZ", "country: AU")],
            &[
                "spec.tenant.new.address.country: Forbidden: tenant.new.address.country is immutable: a tenant's \
               country cannot be changed; create another Customer for a tenant in another country",
            ],
        ),
        bad_update(
            "new switched to existing",
            NEW,
            "u-new-existing",
            &[(NEW_TENANT, "    existing: {domain: contosonz.onmicrosoft.com}\n")],
            &[choice],
        ),
        bad_update(
            "existing switched to new",
            EXISTING,
            "u-existing-new",
            &[(
                "    existing:\n      tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\n",
                NEW_TENANT,
            )],
            &[choice],
        ),
        bad_update(
            "existing tenantId changed",
            EXISTING,
            "u-ex-id",
            &[(
                "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
                "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a",
            )],
            &[
                "spec.tenant.existing: Forbidden: tenant.existing is immutable: create another Customer to adopt a \
               different tenant",
            ],
        ),
        bad_update(
            "existing tenantId replaced by domain",
            EXISTING,
            "u-ex-domain",
            &[(
                "tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
                "domain: fabrikam.onmicrosoft.com",
            )],
            &[
                "spec.tenant.existing: Forbidden: tenant.existing is immutable: create another Customer to adopt a \
               different tenant",
            ],
        ),
    ]
}

/// Customers admission accepts, and updates of fields that are not immutable.
fn good_customers() -> Vec<(&'static str, String)> {
    vec![
        ("new tenant with every field", edit(NEW, "g-new", &[])),
        (
            "new tenant, optional fields absent",
            edit(
                NEW,
                "g-minimal",
                &[
                    ("  reseller: reseller-a\n", ""),
                    (
                        "  agreement:\n    primaryContact: {firstName: Ana, lastName: Smith, email: ana@contoso.co.nz}\n    dateAgreed: \"2026-11-30\"\n",
                        "",
                    ),
                    ("  deletionPolicy: Orphan\n", ""),
                    ("  adminCredentialsSecretName: contoso-admin\n", ""),
                ],
            ),
        ),
        (
            "new tenant with optional address lines, Delete, 27-character prefix",
            edit(
                NEW,
                "g-full",
                &[
                    (
                        "domainPrefix: contosonz",
                        &format!("domainPrefix: {}", "Contoso1".repeat(3) + "NZ1"),
                    ),
                    (
                        "city: Auckland",
                        "addressLine2: Level 3\n        city: Auckland\n        state: Auckland\n        phoneNumber: \"+64 9 000 0000\"",
                    ),
                    (
                        "language: en",
                        "language: en\n      organizationRegistrationNumber: NZBN-9429000000000",
                    ),
                    ("deletionPolicy: Orphan", "deletionPolicy: Delete"),
                ],
            ),
        ),
        ("existing tenant by id", edit(EXISTING, "g-ex-id", &[])),
        (
            "existing tenant by domain",
            edit(
                EXISTING,
                "g-ex-domain",
                &[(
                    "tenantId: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
                    "domain: fabrikam.onmicrosoft.com",
                )],
            ),
        ),
        // Updates of mutable fields of g-new (applied after it).
        (
            "g-new: company name, e-mail, address line and plan may change",
            edit(
                NEW,
                "g-new",
                &[
                    ("companyName: Contoso NZ Ltd", "companyName: Contoso New Zealand Ltd"),
                    ("email: admin@contoso.co.nz", "email: it@contoso.co.nz"),
                    ("addressLine1: 1 Queen Street", "addressLine1: 2 Queen Street"),
                    ("plan: eur-direct-sandbox", "plan: nz-indirect-production"),
                ],
            ),
        ),
    ]
}

#[test]
fn customer_manifests_are_checked_at_admission_naming_the_field_and_the_fix() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    cp.install_crds()
        .expect("CRDs are accepted by the API server (CEL cost included)");
    kubectl_ok(&cp, User::Admin, &["create", "namespace", "ra"]);

    let mut failures = Vec::new();
    for (case, manifest) in good_customers() {
        let out = cp.apply_yaml(User::Admin, &manifest);
        if !out.status.success() {
            failures.push(format!("[{case}] was refused:\n{}", output_text(&out)));
        }
    }

    let cases = bad_customers();
    assert!(cases.len() >= 30, "the table has {} cases", cases.len());
    for case in &cases {
        if let Some(before) = &case.before {
            apply_ok(&cp, User::Admin, before);
        }
        let out = cp.apply_yaml(User::Admin, &case.manifest);
        let text = output_text(&out);
        if out.status.success() {
            failures.push(format!("[{}] was accepted:\n{text}", case.case));
            continue;
        }
        let missing: Vec<_> = case.expect.iter().filter(|w| !text.contains(w.as_str())).collect();
        if !missing.is_empty() {
            failures.push(format!("[{}] refusal lacks {missing:?}:\n{text}", case.case));
        }
        println!("[{}]\n  {}", case.case, text.trim().replace('\n', "\n  "));
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // What was accepted is stored as written: no defaults added (GitOps sees no drift).
    let stored = cp.get_json(&["-n", "ra", "customer", "g-minimal"]);
    assert!(stored["spec"].get("deletionPolicy").is_none(), "{}", stored["spec"]);
    let again = apply_ok(&cp, User::Admin, &edit(EXISTING, "g-ex-id", &[]));
    assert!(again.contains("unchanged"), "re-apply changed something: {again}");
}

// ---------------------------------------------------------------------------------------------
// Users: RBAC, the reseller-guard on spec.indirectReseller, tenant creation on Indirect plans,
// and what kubectl shows.

/// CRDs, the reseller-guard policy, the provider-admin role bound to the provider admins' group,
/// and the reseller-admin template rendered for reseller-a (namespace ra) and reseller-b (rb).
fn install(cp: &ControlPlane) {
    cp.install_crds()
        .expect("CRDs are accepted by the API server (CEL cost included)");
    apply_ok(cp, User::Admin, &read("deploy/admission/reseller-guard.yaml"));
    apply_ok(cp, User::Admin, &read("deploy/rbac/provider-admin.yaml"));
    kubectl_ok(
        cp,
        User::Admin,
        &[
            "create",
            "clusterrolebinding",
            "channel-provider-admin",
            "--clusterrole=channel-provider-admin",
            "--group=channel:provider-admins",
        ],
    );
    for ns in ["channel-system", "ra", "rb"] {
        kubectl_ok(cp, User::Admin, &["create", "namespace", ns]);
    }
    let template = read("deploy/rbac/reseller-admin-template.yaml");
    for (reseller, ns, user) in [
        ("reseller-a", "ra", "reseller-admin-a"),
        ("reseller-b", "rb", "reseller-admin-b"),
    ] {
        let rendered = template
            .replace("${RESELLER}", reseller)
            .replace("${NAMESPACE}", ns)
            .replace("${SUBJECT_KIND}", "User")
            .replace("${SUBJECT_NAME}", user);
        assert!(!rendered.contains("${"), "a placeholder is left:\n{rendered}");
        apply_ok(cp, User::Admin, &rendered);
    }
}

const RESELLERS: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: provider}
spec:
  displayName: The Provider
  shortName: PROV
  namespace: channel-system
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: reseller-a}
spec:
  displayName: Reseller A
  shortName: RSA
  parent: provider
  namespace: ra
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: reseller-b}
spec:
  displayName: Reseller B
  shortName: RSB
  parent: provider
  namespace: rb
"#;

const INDIRECT_PLAN: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: nz-indirect-production}
spec:
  displayName: NZ Indirect Production
  region: NZ
  cspType: IndirectProvider
  environment: Production
  allowTenantCreation: true
  connectionRef: {namespace: channel-system, name: nz-indirect-production}
"#;

fn forbidden(user: &str, verb: &str, resource: &str, ns: &str) -> String {
    format!(
        "User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"channel.csp.dev\" in the namespace \"{ns}\""
    )
}

fn patch_reseller(cp: &ControlPlane, user: User, reseller: &str, merge_patch: &str) -> std::process::Output {
    cp.kubectl_run(
        user,
        &["patch", "reseller", reseller, "--type=merge", "-p", merge_patch],
    )
}

/// The policy is loaded by an informer: wait until it refuses a guarded change (server dry run).
fn wait_for_policy(cp: &ControlPlane) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cp.kubectl_run(
            User::ResellerAdmin("a"),
            &[
                "patch",
                "reseller",
                "reseller-a",
                "--dry-run=server",
                "--type=merge",
                "-p",
                r#"{"spec":{"region":"ZZ"}}"#,
            ],
        );
        let text = output_text(&out);
        if !out.status.success() && text.contains(POLICY) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the admission policy never became active: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

const IR_A: &str =
    r#"{"spec":{"indirectReseller":{"tenantId":"7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b","mpnId":"1234567"}}}"#;

#[test]
fn reseller_admins_manage_customers_in_their_own_namespace_and_only_the_provider_sets_indirect_reseller() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    install(&cp);
    apply_ok(&cp, User::ProviderAdmin, RESELLERS);
    wait_for_policy(&cp);

    // Tenant creation through an IndirectProvider plan is allowed (the old refusal is lifted).
    let out = apply_ok(&cp, User::ProviderAdmin, INDIRECT_PLAN);
    assert!(
        out.contains("customerplan.channel.csp.dev/nz-indirect-production created"),
        "{out}"
    );

    // A reseller admin manages Customers in its own namespace.
    let a = User::ResellerAdmin("a");
    let out = apply_ok(&cp, a, &edit(NEW, "contoso", &[]));
    assert!(out.contains("customer.channel.csp.dev/contoso created"), "{out}");
    let out = apply_ok(
        &cp,
        a,
        &edit(
            NEW,
            "contoso",
            &[("companyName: Contoso NZ Ltd", "companyName: Contoso Limited")],
        ),
    );
    assert!(out.contains("customer.channel.csp.dev/contoso configured"), "{out}");
    kubectl_ok(&cp, a, &["-n", "ra", "get", "customers"]);
    kubectl_ok(
        &cp,
        a,
        &["-n", "ra", "get", "customer", "contoso", "--subresource=status"],
    );

    // ... and nowhere else; nor may it write status (the operator's).
    let rows: &[(&str, Vec<&str>, String)] = &[
        (
            "create in another reseller's namespace",
            vec!["create", "-f", "-"],
            forbidden("reseller-admin-a", "create", "customers", "rb"),
        ),
        (
            "list another reseller's namespace",
            vec!["-n", "rb", "get", "customers"],
            forbidden("reseller-admin-a", "list", "customers", "rb"),
        ),
        (
            "write status",
            vec![
                "-n",
                "ra",
                "patch",
                "customer",
                "contoso",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"tenantId":"x"}}"#,
            ],
            forbidden("reseller-admin-a", "patch", "customers/status", "ra"),
        ),
        (
            "delete in the provider namespace",
            vec!["-n", "channel-system", "delete", "customer", "anything"],
            forbidden("reseller-admin-a", "delete", "customers", "channel-system"),
        ),
    ];
    for (case, args, want) in rows {
        let out = if args[0] == "create" {
            cp.kubectl_stdin(a, args, &edit(NEW, "intruder", &[("namespace: ra", "namespace: rb")]))
        } else {
            cp.kubectl_run(a, args)
        };
        let text = output_text(&out);
        assert!(!out.status.success(), "[{case}] was allowed:\n{text}");
        assert!(text.contains(want.as_str()), "[{case}] refusal lacks {want:?}:\n{text}");
    }
    // A reseller admin of another reseller cannot even read reseller-a's Customers.
    let text = output_text(&cp.kubectl_run(User::ResellerAdmin("b"), &["-n", "ra", "get", "customer", "contoso"]));
    assert!(
        text.contains(&forbidden("reseller-admin-b", "get", "customers", "ra")),
        "{text}"
    );

    // The provider manages Customers everywhere.
    apply_ok(
        &cp,
        User::ProviderAdmin,
        &edit(EXISTING, "fabrikam", &[("namespace: ra", "namespace: rb")]),
    );
    apply_ok(
        &cp,
        User::ProviderAdmin,
        &edit(EXISTING, "own", &[("namespace: ra", "namespace: channel-system")]),
    );
    kubectl_ok(&cp, User::ProviderAdmin, &["get", "customers", "-A"]);

    // spec.indirectReseller is provider-only: a reseller admin cannot set it on its own Reseller.
    let out = patch_reseller(&cp, a, "reseller-a", IR_A);
    let text = output_text(&out);
    assert!(!out.status.success(), "a reseller admin set indirectReseller:\n{text}");
    let want = format!(
        "{POLICY} with binding 'reseller-guard.channel.csp.dev' denied request: spec.indirectReseller: only the \
         provider may set or change this (RBAC: update on resellers/entitlements in channel.csp.dev); a \
         reseller's own admins may change only spec.displayName"
    );
    assert!(text.contains(&want), "refusal lacks {want:?}:\n{text}");
    // Its format is checked at admission.
    let text = output_text(&patch_reseller(
        &cp,
        User::ProviderAdmin,
        "reseller-a",
        r#"{"spec":{"indirectReseller":{"tenantId":"tier2","mpnId":"MPN-1"}}}"#,
    ));
    for want in [
        "spec.indirectReseller.tenantId: Invalid value: \"string\": indirectReseller.tenantId must be the indirect \
         reseller's Entra tenant id, a GUID like 01234567-89ab-cdef-0123-456789abcdef; got \"tier2\"",
        "spec.indirectReseller.mpnId: Invalid value: \"string\": indirectReseller.mpnId must be the reseller's \
         Microsoft partner (MPN) id, 1 to 10 digits such as 1234567; got \"MPN-1\"",
    ] {
        assert!(text.contains(want), "refusal lacks {want:?}:\n{text}");
    }
    // The provider can set it; then the reseller admin may still rename, but not change or remove it.
    let out = patch_reseller(&cp, User::ProviderAdmin, "reseller-a", IR_A);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = patch_reseller(&cp, a, "reseller-a", r#"{"spec":{"displayName":"Reseller A Ltd"}}"#);
    assert!(out.status.success(), "rename refused: {}", output_text(&out));
    for change in [
        r#"{"spec":{"indirectReseller":{"mpnId":"7654321"}}}"#,
        r#"{"spec":{"indirectReseller":null}}"#,
    ] {
        let text = output_text(&patch_reseller(&cp, a, "reseller-a", change));
        assert!(text.contains(&want), "{change}: refusal lacks {want:?}:\n{text}");
    }
    let spec = cp.get_json(&["reseller", "reseller-a"])["spec"].clone();
    assert_eq!(spec["indirectReseller"]["mpnId"], "1234567", "{spec}");
    assert_eq!(spec["displayName"], "Reseller A Ltd", "{spec}");

    // kubectl: short name, category, printer columns. No controller acts on Customers yet, so the
    // status is written here as the operator will write it, to check the columns' JSON paths.
    let status = r#"{"status":{"observedGeneration":2,"connection":{"namespace":"channel-system","name":"eur-direct-sandbox"},"source":"Plan","tenantId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","provisioning":{"phase":"Created","requestId":"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e","startedAt":"2026-12-01T10:00:00Z"},"conditions":[{"type":"Ready","status":"True","reason":"Provisioned","message":"tenant created","lastTransitionTime":"2026-12-01T10:01:00Z","observedGeneration":2}]}}"#;
    kubectl_ok(
        &cp,
        User::Admin,
        &[
            "-n",
            "ra",
            "patch",
            "customer",
            "contoso",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
    );
    let table = kubectl_ok(&cp, a, &["-n", "ra", "get", "cust"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "RESELLER",
            "PLAN",
            "CONNECTION",
            "TENANT",
            "PHASE",
            "REASON",
            "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        row[..8],
        [
            "contoso",
            "True",
            "reseller-a",
            "eur-direct-sandbox",
            "eur-direct-sandbox",
            "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "Created",
            "Provisioned"
        ],
        "{table}"
    );
    let all = kubectl_ok(&cp, User::ProviderAdmin, &["get", "channel", "-A"]);
    for want in ["customer.channel.csp.dev/contoso", "customer.channel.csp.dev/fabrikam"] {
        assert!(all.contains(want), "`kubectl get channel -A` lacks {want}:\n{all}");
    }

    // `kubectl explain` teaches the fields (the published OpenAPI lags the CRD by a moment).
    let deadline = Instant::now() + Duration::from_secs(60);
    for (path, words) in [
        ("customer.spec.tenant.new", "domainPrefix"),
        ("customer.spec.tenant.new.domainPrefix", "onmicrosoft.com"),
        (
            "customer.spec.deletionPolicy",
            "honoured only through Sandbox connections",
        ),
        ("reseller.spec.indirectReseller", "Provider-only"),
    ] {
        loop {
            let out = cp.kubectl_run(a, &["explain", path]);
            let text = output_text(&out);
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if out.status.success() && flat.contains(words) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`kubectl explain {path}` does not say {words:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
