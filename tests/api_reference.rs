//! docs/reference/api.md is generated from the checked-in CRDs (crds/*.yaml) and must stay exactly
//! what they say. Regenerate with `UPDATE_DOCS=1 cargo test --test api_reference`; without it the
//! test fails when the checked-in file differs (like tests/crd_drift.rs does for crds/).
//!
//! The reference is rendered from the YAML users install, not from the Rust types, so it documents
//! what the API server enforces: every field with its type, whether it is required, its description
//! and its validation (pattern, enum, bounds, and the message of every CEL rule).

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const REFERENCE: &str = "docs/reference/api.md";
const FIX: &str = "UPDATE_DOCS=1 cargo test --test api_reference";

/// Kinds in the order a reader meets them (docs/concepts.md); unknown kinds follow by name.
const KIND_ORDER: &[&str] = &["PartnerCenterConnection", "CustomerPlan", "Reseller"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every CRD under crds/, parsed, with its file name, in [`KIND_ORDER`].
fn load_crds(dir: &Path) -> Vec<(String, Value)> {
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let crd: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        crds.push((file, crd));
    }
    let rank = |crd: &Value| {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default().to_string();
        let index = KIND_ORDER.iter().position(|k| *k == kind).unwrap_or(KIND_ORDER.len());
        (index, kind)
    };
    crds.sort_by_key(|(_, crd)| rank(crd));
    crds
}

// ---- Markdown helpers -------------------------------------------------------------------------

/// Text for a table cell: whitespace collapsed (descriptions are wrapped in the CRDs), Markdown
/// specials outside code spans escaped, `|` escaped everywhere (also inside code spans, as GitHub
/// tables require).
fn cell(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    let mut in_code = false;
    for c in collapsed.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '\\' | '*' | '_' | '[' | ']' if !in_code => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A code span for a table cell, with a fence longer than any backtick run inside.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    let longest = text.split(|c: char| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// GitHub's heading anchor for a kind name (letters and digits only here).
fn anchor(heading: &str) -> String {
    heading.to_lowercase().replace(' ', "-")
}

/// A scalar as users write it in YAML.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---- CEL messageExpression rendering -----------------------------------------------------------

/// Renders a CEL `messageExpression` that concatenates string literals and expressions
/// (`'got "' + self + '"'`) as the text kubectl shows, with each expression as a code span in
/// place of its value. None when the expression is not such a concatenation.
fn render_message_expression(expr: &str) -> Option<String> {
    let mut text = String::new();
    for part in split_top_level_plus(expr)? {
        let part = part.trim();
        match string_literal(part) {
            Some(literal) => text.push_str(&literal),
            None if part.is_empty() => return None,
            None => {
                text.push('`');
                text.push_str(part);
                text.push('`');
            }
        }
    }
    // Escaped as a whole, so the spaces where literals meet expressions survive.
    Some(cell(&text))
}

/// Splits on `+` outside string literals and brackets; None when quotes or brackets do not balance.
fn split_top_level_plus(expr: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in expr.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            '+' if depth == 0 => {
                parts.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quote.is_some() || depth != 0 {
        return None;
    }
    parts.push(&expr[start..]);
    Some(parts)
}

/// The value of a whole single- or double-quoted CEL string literal (simple escapes only).
fn string_literal(part: &str) -> Option<String> {
    let q = part.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = part.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == q {
            return None; // an unescaped quote inside: two literals, not one
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            other @ ('\\' | '\'' | '"' | '`' | '?') => out.push(other),
            _ => return None,
        }
    }
    Some(out)
}

// ---- Schema walk --------------------------------------------------------------------------------

/// One documented field.
struct Row {
    path: String,
    kind: String,
    required: bool,
    description: String,
    validation: Vec<String>,
}

fn type_of(s: &Value) -> String {
    let base = |s: &Value| -> String {
        let t = s["type"].as_str().unwrap_or("any");
        match s["format"].as_str() {
            Some(f) => format!("{t} ({f})"),
            None => t.to_string(),
        }
    };
    match s["type"].as_str() {
        Some("array") => format!("[]{}", base(&s["items"])),
        Some("object") if s["additionalProperties"].is_object() => {
            format!("map[string]{}", base(&s["additionalProperties"]))
        }
        _ => base(s),
    }
}

/// A CEL rule (`x-kubernetes-validations` entry) as the user meets it: the message kubectl
/// prints, where it is reported, and the reason when it is not the default.
fn cel(rule: &Value, at: &str) -> String {
    let message = match (rule["message"].as_str(), rule["messageExpression"].as_str()) {
        (Some(m), _) => cell(m),
        (None, Some(e)) => render_message_expression(e).unwrap_or_else(|| format!("message expression {}", code(e))),
        // Without a message the API server prints the rule itself.
        (None, None) => format!("failed rule: {}", code(rule["rule"].as_str().unwrap_or_default())),
    };
    let mut out = format!("**CEL**: {message}");
    if let Some(field) = rule["fieldPath"].as_str() {
        let reported = format!("{at}{field}").trim_start_matches('.').to_string();
        let _ = write!(out, " (reported at {})", code(&reported));
    }
    if let Some(reason) = rule["reason"].as_str() {
        let _ = write!(out, " (reason {})", code(reason));
    }
    out
}

fn validations(s: &Value, path: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(d) = s.get("default") {
        v.push(format!("default {}", code(&scalar(d))));
    }
    if let Some(values) = s["enum"].as_array() {
        let listed: Vec<String> = values
            .iter()
            .filter(|x| !x.is_null())
            .map(|x| code(&scalar(x)))
            .collect();
        v.push(format!("one of {}", listed.join(", ")));
    }
    if let Some(p) = s["pattern"].as_str() {
        v.push(format!("pattern {}", code(p)));
    }
    for (key, what) in [
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("minProperties", "min properties"),
        ("maxProperties", "max properties"),
    ] {
        if let Some(n) = s.get(key) {
            v.push(format!("{what} {}", scalar(n)));
        }
    }
    match s["x-kubernetes-list-type"].as_str() {
        Some("map") => {
            let keys: Vec<String> = s["x-kubernetes-list-map-keys"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| code(&scalar(k)))
                .collect();
            v.push(format!(
                "list keyed by {} (no two items with the same key)",
                keys.join(", ")
            ));
        }
        Some("set") => v.push("a set (no duplicates)".to_string()),
        Some(other) => v.push(format!("list type {}", code(other))),
        None => {}
    }
    for rule in s["x-kubernetes-validations"].as_array().into_iter().flatten() {
        v.push(cel(rule, path));
    }
    if s["type"] == "array" {
        // The items' own constraints (their properties get rows of their own).
        for item in validations(&s["items"], &format!("{path}[]")) {
            v.push(format!("each item: {item}"));
        }
    }
    v
}

/// Appends a row for `schema` at `path`, then rows for everything below it, properties sorted.
fn walk(schema: &Value, path: &str, required: bool, rows: &mut Vec<Row>) {
    let mut description = schema["description"].as_str().unwrap_or_default().to_string();
    if let Some(item) = schema["items"]["description"].as_str() {
        description = format!("{description} Each item: {item}").trim().to_string();
    }
    rows.push(Row {
        path: path.to_string(),
        kind: type_of(schema),
        required,
        description,
        validation: validations(schema, path),
    });
    let (children, child_path) = if schema["type"] == "array" {
        (&schema["items"], format!("{path}[]"))
    } else if schema["additionalProperties"].is_object() {
        (&schema["additionalProperties"], format!("{path}.<key>"))
    } else {
        (schema, path.to_string())
    };
    let required_names: Vec<&str> = children["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(properties) = children["properties"].as_object() else {
        return;
    };
    let mut names: Vec<&String> = properties.keys().collect();
    names.sort();
    for name in names {
        walk(
            &properties[name.as_str()],
            &format!("{child_path}.{name}"),
            required_names.contains(&name.as_str()),
            rows,
        );
    }
}

// ---- The document ---------------------------------------------------------------------------------

fn render(crds: &[(String, Value)]) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# API reference");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "<!-- Generated from crds/*.yaml by tests/api_reference.rs. Do not edit: run `{FIX}`. -->"
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Every kind, field and validation rule of the CRDs in `crds/`, as the API server enforces them. This page is \
         generated from those files (`{FIX}`) and a test fails when it falls behind them. For what the kinds mean \
         and how they fit together, read [concepts](../concepts.md); for the rules the operator checks beyond \
         admission, [rules](../rules.md)."
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "How to read the field tables: a path such as `spec.services.azureAD.customerPlans[].plan` names the \
         field `plan` of every item of the list `customerPlans`. *Required* means the API server refuses the object \
         without the field (when its parent is present). Entries starting with CEL are validation rules the API \
         server evaluates on create and update; the text is the message `kubectl` prints when the rule fails, with \
         `code` standing for the value the message inserts. Status fields are written by the operator only."
    );
    let _ = writeln!(w);
    for (_, crd) in crds {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
        let _ = writeln!(w, "- [{kind}](#{})", anchor(kind));
    }
    for (file, crd) in crds {
        render_kind(w, file, crd);
    }
    md
}

fn render_kind(w: &mut String, file: &str, crd: &Value) {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let kind = names["kind"].as_str().unwrap_or_default();
    let list = |v: &Value| -> String {
        let items: Vec<String> = v.as_array().into_iter().flatten().map(|x| code(&scalar(x))).collect();
        if items.is_empty() {
            "–".to_string()
        } else {
            items.join(", ")
        }
    };
    let group = spec["group"].as_str().unwrap_or_default();
    let _ = writeln!(w);
    let _ = writeln!(w, "## {kind}");
    let _ = writeln!(w);
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if let Some(d) = versions
        .first()
        .and_then(|v| v["schema"]["openAPIV3Schema"]["description"].as_str())
    {
        let _ = writeln!(w, "{}", cell(d));
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "| | |");
    let _ = writeln!(w, "|---|---|");
    let _ = writeln!(w, "| group | {} |", code(group));
    let served: Vec<String> = versions
        .iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap_or_default();
            let mut flags = Vec::new();
            if v["served"] == true {
                flags.push("served");
            }
            if v["storage"] == true {
                flags.push("storage");
            }
            format!("{} ({})", code(name), flags.join(", "))
        })
        .collect();
    let _ = writeln!(w, "| versions | {} |", served.join(", "));
    if let Some(v) = versions.first() {
        let _ = writeln!(
            w,
            "| apiVersion | {} |",
            code(&format!("{group}/{}", v["name"].as_str().unwrap_or_default()))
        );
    }
    let _ = writeln!(w, "| scope | {} |", scalar(&spec["scope"]));
    let _ = writeln!(
        w,
        "| plural / singular | {} / {} |",
        code(&scalar(&names["plural"])),
        code(&scalar(&names["singular"]))
    );
    let _ = writeln!(w, "| short names | {} |", list(&names["shortNames"]));
    let _ = writeln!(w, "| categories | {} |", list(&names["categories"]));
    let _ = writeln!(w, "| CRD file | `crds/{file}` |");

    for version in &versions {
        let vname = version["name"].as_str().unwrap_or_default();
        let subresources: Vec<String> = version["subresources"]
            .as_object()
            .map(|m| m.keys().map(|k| code(k)).collect())
            .unwrap_or_default();
        if versions.len() > 1 {
            let _ = writeln!(w);
            let _ = writeln!(w, "### {kind} {vname}");
        }
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "Subresources: {}.",
            if subresources.is_empty() {
                "none".to_string()
            } else {
                subresources.join(", ")
            }
        );
        if let Some(columns) = version["additionalPrinterColumns"].as_array() {
            let _ = writeln!(w);
            let _ = writeln!(w, "### {kind} printer columns");
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "What `kubectl get {}` shows; columns marked *wide* only with `-o wide`.",
                scalar(&names["plural"])
            );
            let _ = writeln!(w);
            let _ = writeln!(w, "| column | type | JSON path | shown |");
            let _ = writeln!(w, "|---|---|---|---|");
            for c in columns {
                let shown = if c["priority"].as_i64().unwrap_or(0) > 0 {
                    "wide"
                } else {
                    "default"
                };
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {shown} |",
                    cell(c["name"].as_str().unwrap_or_default()),
                    scalar(&c["type"]),
                    code(c["jsonPath"].as_str().unwrap_or_default()),
                );
            }
        }
        let root = &version["schema"]["openAPIV3Schema"];
        if let Some(rules) = root["x-kubernetes-validations"].as_array() {
            let _ = writeln!(w);
            let _ = writeln!(w, "### {kind} rules on the whole object");
            let _ = writeln!(w);
            for rule in rules {
                let _ = writeln!(w, "- {}", cel(rule, ""));
            }
        }
        let required: Vec<&str> = root["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut top: Vec<&String> = root["properties"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        top.sort();
        for name in top {
            let mut rows = Vec::new();
            walk(
                &root["properties"][name.as_str()],
                name,
                required.contains(&name.as_str()),
                &mut rows,
            );
            let _ = writeln!(w);
            let _ = writeln!(w, "### {kind} {name}");
            let _ = writeln!(w);
            if name == "status" {
                let _ = writeln!(
                    w,
                    "Written by the operator (the status subresource); never set it yourself."
                );
                let _ = writeln!(w);
            }
            let _ = writeln!(w, "| field | type | required | description | validation |");
            let _ = writeln!(w, "|---|---|---|---|---|");
            for r in rows {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} |",
                    code(&r.path),
                    code(&r.kind),
                    if r.required { "yes" } else { "" },
                    cell(&r.description),
                    r.validation.join("<br>"),
                );
            }
        }
    }
}

// ---- Tests --------------------------------------------------------------------------------------

#[test]
fn checked_in_api_reference_matches_the_crds() {
    let generated = render(&load_crds(&repo().join("crds")));
    let path = repo().join(REFERENCE);
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{REFERENCE} cannot be read ({e}); generate it with: {FIX}"));
    if on_disk == generated {
        return;
    }
    let old: Vec<&str> = on_disk.lines().collect();
    let new: Vec<&str> = generated.lines().collect();
    let first = (0..old.len().max(new.len()))
        .find(|&i| old.get(i) != new.get(i))
        .unwrap_or(0);
    let differing = (0..old.len().max(new.len()))
        .filter(|&i| old.get(i) != new.get(i))
        .count();
    panic!(
        "{REFERENCE} is out of date with crds/*.yaml ({differing} of {} lines differ; the first at line {}):\n  \
         checked in: {}\n  generated:  {}\nregenerate it with: {FIX} (and commit it; check the change with: git diff {REFERENCE})",
        new.len(),
        first + 1,
        old.get(first).unwrap_or(&"<end of file>"),
        new.get(first).unwrap_or(&"<end of file>"),
    );
}

/// Every property of every schema and every CEL rule in crds/ appears in the reference — found by a
/// walk of the raw YAML that shares nothing with the renderer's walk.
#[test]
fn every_field_and_every_rule_is_in_the_reference() {
    fn collect(v: &Value, path: &str, fields: &mut Vec<String>, rules: &mut usize) {
        let Value::Object(m) = v else { return };
        *rules += m
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if let Some(Value::Object(props)) = m.get("properties") {
            for (name, child) in props {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                fields.push(p.clone());
                collect(child, &p, fields, rules);
            }
        }
        if let Some(items) = m.get("items") {
            collect(items, &format!("{path}[]"), fields, rules);
        }
        if let Some(extra) = m.get("additionalProperties") {
            collect(extra, &format!("{path}.<key>"), fields, rules);
        }
    }
    let crds = load_crds(&repo().join("crds"));
    assert!(
        crds.len() >= 3,
        "expected the three channel CRDs under crds/, found {}",
        crds.len()
    );
    let md = render(&crds);
    let mut expected_rules = 0;
    for (file, crd) in &crds {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        let section = md
            .split("\n## ")
            .find(|s| s.starts_with(&format!("{kind}\n")))
            .unwrap_or_else(|| panic!("no section for {kind} ({file})"));
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let mut fields = Vec::new();
            collect(
                &version["schema"]["openAPIV3Schema"],
                "",
                &mut fields,
                &mut expected_rules,
            );
            assert!(fields.len() > 10, "{file}: only {} fields found", fields.len());
            for f in fields {
                assert!(
                    section.contains(&format!("| {} |", code(&f))),
                    "{kind}: field {f} has no row"
                );
            }
            for c in version["additionalPrinterColumns"].as_array().into_iter().flatten() {
                let path = c["jsonPath"].as_str().unwrap();
                assert!(section.contains(&code(path)), "{kind}: printer column {path} missing");
            }
        }
    }
    let rendered_rules = md.matches("**CEL**").count();
    assert_eq!(rendered_rules, expected_rules, "every CEL rule once, no more");
}

#[test]
fn message_expressions_render_as_the_text_users_see() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            r#"'region must be upper-case; got "' + self + '"'"#,
            Some(r#"region must be upper-case; got "`self`""#),
        ),
        (
            r"'it holds the reseller\'s own connections'",
            Some("it holds the reseller's own connections"),
        ),
        (
            "'contradicts customerType ' + self.customerType + ': remove it'",
            Some("contradicts customerType `self.customerType`: remove it"),
        ),
        // A bracketed expression with literals and `+` inside stays one expression.
        (
            "'must be \"' + (self.region + ' ' + self.environment) + '\"'",
            Some("must be \"`(self.region + ' ' + self.environment)`\""),
        ),
        (
            "'namespace was ' + oldSelf.__namespace__",
            Some("namespace was `oldSelf.__namespace__`"),
        ),
        // Markdown specials in the text are escaped, so they show as written.
        (
            "'use [<ShortName> ]<Region> | x_y'",
            Some(r"use \[&lt;ShortName&gt; \]&lt;Region&gt; \| x\_y"),
        ),
        // Not a plain concatenation: shown as the expression.
        ("'a' + ", None),
        ("'unterminated", None),
        ("(self + 'x'", None),
    ];
    for (expr, want) in cases {
        assert_eq!(render_message_expression(expr).as_deref(), *want, "{expr}");
    }
}

#[test]
fn cells_escape_markdown_outside_code_and_pipes_everywhere() {
    let cases: &[(&str, &str)] = &[
        ("a\n   b  c", "a b c"),
        (
            "`[<ShortName> ]<Region> <Direct|Indirect>`",
            "`[<ShortName> ]<Region> <Direct\\|Indirect>`",
        ),
        ("Reseller/<name> or *all*", "Reseller/&lt;name&gt; or \\*all\\*"),
        (
            "`__namespace__` and __namespace__",
            "`__namespace__` and \\_\\_namespace\\_\\_",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(cell(input), *want, "{input:?}");
    }
    assert_eq!(code("a`b"), "``a`b``");
    assert_eq!(code("x|y"), "`x\\|y`");
}

/// docs/rules.md is written by hand; every stable reason the rules can produce must be in it, so a
/// new reason cannot ship undocumented.
#[test]
fn every_policy_reason_is_documented_in_the_rules_page() {
    let rules = std::fs::read_to_string(repo().join("docs/rules.md")).expect("read docs/rules.md");
    let missing: Vec<&str> = partner_center_operator::policy::reasons::ALL
        .iter()
        .copied()
        .filter(|r| !rules.contains(&format!("`{r}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/rules.md does not mention these reasons of src/policy/finding.rs: {missing:?}; add each (as `Reason`) \
         under its rule with where it is reported and the fix"
    );
}
