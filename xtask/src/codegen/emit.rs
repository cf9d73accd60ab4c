//! Rust text for one module's types: structs (with their readers and writers over the crate's
//! bounded `Fields`), open enums and unions.

use core::fmt::Write as _;

use super::{
    docs,
    ir::{AllowedValue, DefaultValue, Node, Secret, Shape, Side},
    names,
    types::{Def, IDENTITY_KEYS, StructDef, Types},
};

/// Appends `///` lines for `text` at `indent`.
pub fn doc(out: &mut String, indent: &str, text: &str) {
    for line in docs::lines(text) {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

/// The Rust type of a field holding `node` (without `Option`).
pub fn rust_type(types: &Types<'_>, node: &Node) -> String {
    if let Some(secret) = node.secret {
        return match secret {
            Secret::Text => "rt::Password",
            Secret::Bytes => "rt::SecretData",
            Secret::UnlockToken => "rt::UnlockToken",
        }
        .to_owned();
    }
    match &node.shape {
        Shape::String if node.is_enum() => types.name(node).unwrap_or("String").to_owned(),
        Shape::String => "String".to_owned(),
        Shape::Integer => "i64".to_owned(),
        Shape::Real => "f64".to_owned(),
        Shape::Boolean => "bool".to_owned(),
        Shape::Date => "rt::Date".to_owned(),
        Shape::Data => "rt::Data".to_owned(),
        Shape::Any => "rt::Value".to_owned(),
        Shape::Array(item) => format!("Vec<{}>", rust_type(types, item)),
        Shape::Dict(keys) if keys.is_empty() => "rt::Dictionary".to_owned(),
        Shape::Dict(_) | Shape::Union { .. } => {
            types.name(node).unwrap_or("rt::Dictionary").to_owned()
        }
        Shape::Map(value) => format!("rt::BTreeMap<String, {}>", rust_type(types, value)),
        Shape::ErrorChainItem => "rt::ErrorChainItem".to_owned(),
    }
}

/// Whether the field is stored without `Option`: a required key the server writes.
fn mandatory(side: Side, node: &Node) -> bool {
    side == Side::Server && node.required
}

/// A field of a struct: its Rust name and node.
struct Field<'a> {
    name: String,
    node: &'a Node,
}

fn fields<'a>(def: &StructDef<'a>) -> Result<Vec<Field<'a>>, String> {
    let mut out: Vec<Field<'a>> = Vec::new();
    for node in def.fields {
        if Some(node.key.as_str()) == def.skip {
            continue;
        }
        if def.identity && IDENTITY_KEYS.iter().any(|(k, _)| *k == node.key) {
            let expected = IDENTITY_KEYS
                .iter()
                .find(|(k, _)| *k == node.key)
                .map(|(_, t)| *t);
            let found = match node.shape {
                Shape::String => "string",
                Shape::Boolean => "boolean",
                _ => "other",
            };
            if expected != Some(found) || node.secret.is_some() {
                return Err(format!(
                    "{}.{}: not the identity's type",
                    def.path, node.key
                ));
            }
            continue;
        }
        let name = names::field(&node.key);
        if ["extra", "identity"].contains(&name.as_str()) {
            return Err(format!(
                "{}.{}: clashes with a generated field",
                def.path, node.key
            ));
        }
        if let Some(other) = out.iter().find(|f| f.name == name) {
            return Err(format!(
                "{}: keys {} and {} both become `{name}`",
                def.path, other.node.key, node.key
            ));
        }
        out.push(Field { name, node });
    }
    Ok(out)
}

/// Doc text of a field: Apple's description, then what the generator adds.
fn field_doc(out: &mut String, node: &Node, side: Side) {
    let _ = writeln!(out, "    /// `{}`.", node.key);
    if !node.doc.trim().is_empty() {
        out.push_str("    ///\n");
        doc(out, "    ", &node.doc);
    }
    let mut notes = Vec::new();
    if node.required {
        notes.push(if side == Side::Server {
            "Required.".to_owned()
        } else {
            "Required by the schema, but devices leave it out on errors: optional here.".to_owned()
        });
    }
    match &node.default {
        Some(DefaultValue::Boolean(b)) => notes.push(format!("Default: `{b}`.")),
        Some(DefaultValue::Integer(i)) => notes.push(format!("Default: `{i}`.")),
        Some(DefaultValue::String(s)) => notes.push(format!("Default: `{s}`.")),
        None => {}
    }
    let integers: Vec<String> = node
        .values
        .iter()
        .filter_map(|v| match v {
            AllowedValue::Integer(i) => Some(format!("`{i}`")),
            AllowedValue::String { .. } => None,
        })
        .collect();
    if !integers.is_empty() {
        notes.push(format!("Values: {}.", integers.join(", ")));
    }
    if let Some((min, max)) = node.range {
        let show = |v: Option<f64>| v.map_or("…".to_owned(), |v| format!("{v}"));
        notes.push(format!("Range: {} to {}.", show(min), show(max)));
    }
    if node.secret.is_some() {
        notes.push(
            "Secret: zeroized, compared in constant time, redacted from `Debug` and redacted \
             output."
                .to_owned(),
        );
    }
    notes.push(format!("Available: {}.", node.availability.describe()));
    out.push_str("    ///\n");
    for note in notes {
        let _ = writeln!(out, "    /// {note}");
    }
}

/// Emits every type of the module.
pub fn types(out: &mut String, types: &Types<'_>) -> Result<(), String> {
    for def in &types.defs {
        match def {
            Def::Struct(s) => structure(out, types, s)?,
            Def::Enum { name, node } => open_enum(out, name, node)?,
            Def::Union {
                name,
                node,
                tag,
                variants,
            } => union(out, name, node, tag, variants),
        }
    }
    Ok(())
}

fn structure(out: &mut String, types: &Types<'_>, def: &StructDef<'_>) -> Result<(), String> {
    let fields = fields(def)?;
    let name = &def.name;
    out.push('\n');
    if let Some(title) = &def.title {
        let _ = writeln!(out, "/// {title}");
    } else {
        let _ = writeln!(out, "/// `{}`.", def.path);
    }
    if !def.doc.trim().is_empty() {
        out.push_str("///\n");
        doc(out, "", def.doc);
    }
    let optional_only = fields.iter().all(|f| !mandatory(def.side, f.node));
    if optional_only {
        out.push_str("#[derive(Debug, Clone, Default, PartialEq)]\n");
    } else {
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
    }
    let _ = writeln!(out, "#[non_exhaustive]\npub struct {name} {{");
    for f in &fields {
        field_doc(out, f.node, def.side);
        let ty = rust_type(types, f.node);
        if mandatory(def.side, f.node) {
            let _ = writeln!(out, "    pub {}: {ty},", f.name);
        } else {
            let _ = writeln!(out, "    pub {}: Option<{ty}>,", f.name);
        }
    }
    if def.identity {
        out.push_str(
            "    /// `UDID`, `EnrollmentID`, `EnrollmentUserID`, `UserID`, `UserShortName`, \
             `UserLongName`, `NotOnConsole`: who sends the message.\n    pub identity: \
             rt::Identity,\n",
        );
    }
    if def.extra {
        out.push_str(
            "    /// Keys this schema does not list, kept verbatim (written back after the typed \
             keys).\n    pub extra: rt::Dictionary,\n",
        );
    }
    out.push_str("}\n\n");

    // Constructor: the required (server-side) fields as parameters.
    let required: Vec<&Field<'_>> = fields
        .iter()
        .filter(|f| mandatory(def.side, f.node))
        .collect();
    let _ = writeln!(out, "impl {name} {{");
    let params: Vec<String> = required
        .iter()
        .map(|f| format!("{}: {}", f.name, rust_type(types, f.node)))
        .collect();
    let _ = writeln!(
        out,
        "    /// A value with {} and nothing else.",
        if required.is_empty() {
            "no key set".to_owned()
        } else {
            format!(
                "the required keys ({})",
                required
                    .iter()
                    .map(|f| format!("`{}`", f.node.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(
        out,
        "    #[must_use]\n    pub fn new({}) -> Self {{\n        Self {{",
        params.join(", ")
    );
    for f in &fields {
        if mandatory(def.side, f.node) {
            let _ = writeln!(out, "            {},", f.name);
        } else {
            let _ = writeln!(out, "            {}: None,", f.name);
        }
    }
    if def.identity {
        out.push_str("            identity: rt::Identity::default(),\n");
    }
    if def.extra {
        out.push_str("            extra: rt::Dictionary::new(),\n");
    }
    out.push_str("        }\n    }\n\n");

    // Reader of the typed keys; what is left stays in `f`.
    let _ = writeln!(
        out,
        "    pub(crate) fn read_from(f: &mut rt::Fields) -> Result<Self, rt::ParseError> {{\n        Ok(Self {{"
    );
    for f in &fields {
        let call = if mandatory(def.side, f.node) {
            "req"
        } else {
            "opt"
        };
        let _ = writeln!(out, "            {}: f.{call}({:?})?,", f.name, f.node.key);
    }
    if def.identity {
        out.push_str("            identity: rt::Identity::read(f)?,\n");
    }
    if def.extra {
        out.push_str("            extra: rt::Dictionary::new(),\n");
    }
    out.push_str("        })\n    }\n\n");

    // Writer of the typed keys.
    let unused = if fields.is_empty() && !def.identity {
        "_"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "    pub(crate) fn write_to(&self, {unused}out: &mut rt::DictWriter) {{"
    );
    for f in &fields {
        if mandatory(def.side, f.node) {
            let _ = writeln!(out, "        out.put({:?}, &self.{});", f.node.key, f.name);
        } else {
            let _ = writeln!(
                out,
                "        out.put_opt({:?}, self.{}.as_ref());",
                f.node.key, f.name
            );
        }
    }
    if def.identity {
        out.push_str("        self.identity.write(out);\n");
    }
    out.push_str("    }\n");

    if def.extra {
        out.push_str(
            "\n    pub(crate) fn read(mut f: rt::Fields) -> Result<Self, rt::ParseError> {\n        \
             let mut value = Self::read_from(&mut f)?;\n        value.extra = f.rest();\n        \
             Ok(value)\n    }\n\n    pub(crate) fn write(&self, redact: bool) -> rt::Dictionary \
             {\n        let mut out = rt::DictWriter::with_extra(redact, &self.extra);\n        \
             self.write_to(&mut out);\n        out.finish()\n    }\n",
        );
    }
    out.push_str("}\n");

    if !def.top {
        let _ = writeln!(
            out,
            "\nimpl rt::FromPlist for {name} {{\n    const EXPECTED: &'static str = \
             \"dictionary\";\n    fn from_plist(value: rt::Value, at: &rt::At<'_>) -> \
             Result<Self, rt::ParseError> {{\n        Self::read(rt::dictionary_fields(value, \
             at)?)\n    }}\n}}\n\nimpl rt::ToPlist for {name} {{\n    fn to_plist(&self, \
             redact: bool) -> rt::Value {{\n        rt::Value::Dictionary(self.write(redact))\n    \
             }}\n}}"
        );
    }
    Ok(())
}

fn open_enum(out: &mut String, name: &str, node: &Node) -> Result<(), String> {
    let mut variants: Vec<(String, &str, &str)> = Vec::new();
    for value in &node.values {
        let AllowedValue::String { value, doc, .. } = value else {
            continue;
        };
        let variant = names::camel(value);
        if variant == "Unlisted" || variants.iter().any(|(v, _, _)| *v == variant) {
            return Err(format!(
                "{name}: values give the variant name {variant} twice"
            ));
        }
        variants.push((variant, value, doc));
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "/// `{}`: the values the schema lists, and any other.",
        node.key
    );
    out.push_str("#[derive(Debug, Clone, PartialEq, Eq, Hash)]\n#[non_exhaustive]\n");
    let _ = writeln!(out, "pub enum {name} {{");
    for (variant, value, value_doc) in &variants {
        let _ = writeln!(out, "    /// `{value}`.");
        if !value_doc.trim().is_empty() {
            out.push_str("    ///\n");
            doc(out, "    ", value_doc);
        }
        let _ = writeln!(out, "    {variant},");
    }
    out.push_str(
        "    /// A value this schema does not list (Apple adds values), kept verbatim.\n    \
         Unlisted(String),\n}\n\n",
    );
    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(
        out,
        "    /// Every value the schema lists.\n    pub const KNOWN: [Self; {}] = [{}];\n",
        variants.len(),
        variants
            .iter()
            .map(|(v, _, _)| format!("Self::{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str("    /// The wire string.\n    #[must_use]\n    pub fn as_str(&self) -> &str {\n        match self {\n");
    for (variant, value, _) in &variants {
        let _ = writeln!(out, "            Self::{variant} => {value:?},");
    }
    out.push_str("            Self::Unlisted(value) => value,\n        }\n    }\n}\n\n");
    let _ = writeln!(
        out,
        "impl rt::OpenEnum for {name} {{\n    fn from_wire(value: String) -> Self {{\n        match value.as_str() {{"
    );
    for (variant, value, _) in &variants {
        let _ = writeln!(out, "            {value:?} => Self::{variant},");
    }
    let _ = writeln!(
        out,
        "            _ => Self::Unlisted(value),\n        }}\n    }}\n\n    fn wire(&self) -> &str \
         {{\n        self.as_str()\n    }}\n}}\n\nimpl From<&str> for {name} {{\n    fn \
         from(value: &str) -> Self {{\n        rt::OpenEnum::from_wire(value.to_owned())\n    \
         }}\n}}\n\nimpl core::fmt::Display for {name} {{\n    fn fmt(&self, f: &mut \
         core::fmt::Formatter<'_>) -> core::fmt::Result {{\n        \
         f.write_str(self.as_str())\n    }}\n}}\n\nrt::open_enum_plist!({name});"
    );
    Ok(())
}

fn union(out: &mut String, name: &str, node: &Node, tag: &str, variants: &[(&Node, String)]) {
    out.push('\n');
    let _ = writeln!(
        out,
        "/// `{}`: one of several dictionaries, told apart by `{tag}`.",
        node.key
    );
    if !node.doc.trim().is_empty() {
        out.push_str("///\n");
        doc(out, "", &node.doc);
    }
    out.push_str(
        "#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\n// One item of an array: boxing \
         each variant would cost an allocation per item.\n#[allow(clippy::large_enum_variant)]\n",
    );
    let _ = writeln!(out, "pub enum {name} {{");
    let tag_value = |variant: &Node| -> String {
        match &variant.shape {
            Shape::Dict(keys) => keys
                .iter()
                .find(|k| k.key == tag)
                .and_then(|k| k.values.first())
                .map(|v| match v {
                    AllowedValue::String { value, .. } => value.clone(),
                    AllowedValue::Integer(i) => i.to_string(),
                })
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    for (variant, type_name) in variants {
        let _ = writeln!(out, "    /// `{tag}` = `{}`.", tag_value(variant));
        let _ = writeln!(out, "    {}({type_name}),", names::camel(&variant.key));
    }
    let _ = writeln!(
        out,
        "    /// An item whose `{tag}` this schema does not list (or that has none), kept whole.\n    \
         Unlisted(rt::Dictionary),\n}}\n"
    );
    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(
        out,
        "    /// The `{tag}` value (`None` for an item without one).\n    #[must_use]\n    pub fn \
         tag(&self) -> Option<&str> {{\n        match self {{"
    );
    for (variant, _) in variants {
        let _ = writeln!(
            out,
            "            Self::{}(_) => Some({:?}),",
            names::camel(&variant.key),
            tag_value(variant)
        );
    }
    let _ = writeln!(
        out,
        "            Self::Unlisted(item) => item.get({tag:?}).and_then(rt::Value::as_string),\n        \
         }}\n    }}\n}}\n"
    );
    let _ = writeln!(
        out,
        "impl rt::FromPlist for {name} {{\n    const EXPECTED: &'static str = \
         \"dictionary\";\n    fn from_plist(value: rt::Value, at: &rt::At<'_>) -> Result<Self, \
         rt::ParseError> {{\n        let mut f = rt::dictionary_fields(value, at)?;\n        let \
         tag = f.peek({tag:?}).and_then(rt::Value::as_string).map(str::to_owned);\n        \
         Ok(match tag.as_deref() {{"
    );
    for (variant, type_name) in variants {
        let _ = writeln!(
            out,
            "            Some({:?}) => {{\n                f.discard({tag:?});\n                \
             Self::{}({type_name}::read(f)?)\n            }}",
            tag_value(variant),
            names::camel(&variant.key)
        );
    }
    let _ = writeln!(
        out,
        "            _ => Self::Unlisted(f.rest()),\n        }})\n    }}\n}}\n"
    );
    let _ = writeln!(
        out,
        "impl rt::ToPlist for {name} {{\n    fn to_plist(&self, redact: bool) -> rt::Value {{\n        \
         let (tag, mut dict) = match self {{"
    );
    for (variant, _) in variants {
        let _ = writeln!(
            out,
            "            Self::{}(item) => ({:?}, item.write(redact)),",
            names::camel(&variant.key),
            tag_value(variant)
        );
    }
    let _ = writeln!(
        out,
        "            Self::Unlisted(item) => return rt::ToPlist::to_plist(item, redact),\n        \
         }};\n        dict.insert({tag:?}.to_owned(), rt::Value::String(tag.to_owned()));\n        \
         rt::Value::Dictionary(dict)\n    }}\n}}"
    );
}
