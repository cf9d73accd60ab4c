//! Rust text for a module's schema data: availability constants (shared within the module)
//! and the `KeySpec` statics of every key, nested keys in statics of their own.

use core::fmt::Write as _;

use super::ir::{AllowedValue, Avail, DefaultValue, Node, Shape};

/// Collects the statics of one module.
#[derive(Default)]
pub struct Spec {
    availabilities: Vec<Avail>,
    /// `static NAME: TYPE = VALUE;` items, in order.
    statics: Vec<String>,
}

impl Spec {
    /// The constant holding `avail` (emitted once per distinct value).
    pub fn availability(&mut self, avail: &Avail) -> String {
        let index = match self.availabilities.iter().position(|a| a == avail) {
            Some(index) => index,
            None => {
                self.availabilities.push(avail.clone());
                self.availabilities.len() - 1
            }
        };
        format!("AV_{index}")
    }

    fn add(&mut self, ty: &str, value: String) -> String {
        let name = format!("K_{}", self.statics.len());
        self.statics.push(format!("static {name}: {ty} = {value};"));
        name
    }

    /// A static array of the specs of `nodes`; returns its name.
    pub fn keys(&mut self, nodes: &[Node]) -> String {
        let items: Vec<String> = nodes.iter().map(|n| self.key(n)).collect();
        self.add(
            &format!("[rt::KeySpec; {}]", items.len()),
            format!("[{}]", items.join(", ")),
        )
    }

    /// The `KeySpec` expression of `node`.
    pub fn key(&mut self, node: &Node) -> String {
        let kind = self.kind(node);
        let availability = self.availability(&node.availability);
        let mut expr = format!(
            "rt::KeySpec::new({:?}, {kind}, {}, {availability})",
            node.key, node.required
        );
        if node.secret.is_some() {
            expr.push_str(".secret()");
        }
        if !node.values.is_empty() {
            let values: Vec<String> = node
                .values
                .iter()
                .map(|v| match v {
                    AllowedValue::Integer(i) => format!("rt::AllowedValue::Integer({i})"),
                    AllowedValue::String {
                        value,
                        availability,
                        ..
                    } => {
                        let availability = match availability {
                            Some(a) => format!("Some({})", self.availability(a)),
                            None => "None".to_owned(),
                        };
                        format!(
                            "rt::AllowedValue::String {{ value: {value:?}, availability: \
                             {availability} }}"
                        )
                    }
                })
                .collect();
            let name = self.add(
                &format!("[rt::AllowedValue; {}]", values.len()),
                format!("[{}]", values.join(", ")),
            );
            let _ = write!(expr, ".values(&{name})");
        }
        match &node.default {
            Some(DefaultValue::Boolean(b)) => {
                let _ = write!(expr, ".default(rt::DefaultValue::Boolean({b}))");
            }
            Some(DefaultValue::Integer(i)) => {
                let _ = write!(expr, ".default(rt::DefaultValue::Integer({i}))");
            }
            Some(DefaultValue::String(s)) => {
                let _ = write!(expr, ".default(rt::DefaultValue::String({s:?}))");
            }
            None => {}
        }
        expr
    }

    fn kind(&mut self, node: &Node) -> String {
        match &node.shape {
            Shape::String => "rt::Kind::String".to_owned(),
            Shape::Integer => "rt::Kind::Integer".to_owned(),
            Shape::Real => "rt::Kind::Real".to_owned(),
            Shape::Boolean => "rt::Kind::Boolean".to_owned(),
            Shape::Date => "rt::Kind::Date".to_owned(),
            Shape::Data => "rt::Kind::Data".to_owned(),
            Shape::Any => "rt::Kind::Any".to_owned(),
            Shape::Dict(keys) if keys.is_empty() => "rt::Kind::Dictionary(&[])".to_owned(),
            Shape::Dict(keys) => format!("rt::Kind::Dictionary(&{})", self.keys(keys)),
            Shape::Array(item) => {
                let item = self.key(item);
                format!("rt::Kind::Array(&{})", self.add("rt::KeySpec", item))
            }
            Shape::Map(value) => {
                let value = self.key(value);
                format!("rt::Kind::Map(&{})", self.add("rt::KeySpec", value))
            }
            Shape::Union { tag, variants } => {
                let mut entries = Vec::new();
                for variant in variants {
                    let Shape::Dict(keys) = &variant.shape else {
                        continue;
                    };
                    let value = keys
                        .iter()
                        .find(|k| k.key == *tag)
                        .and_then(|k| k.values.first())
                        .map(|v| match v {
                            AllowedValue::String { value, .. } => value.clone(),
                            AllowedValue::Integer(i) => i.to_string(),
                        })
                        .unwrap_or_default();
                    let keys = self.keys(keys);
                    entries.push(format!("({value:?}, &{keys})"));
                }
                let name = self.add(
                    &format!("[(&str, &[rt::KeySpec]); {}]", entries.len()),
                    format!("[{}]", entries.join(", ")),
                );
                format!("rt::Kind::Union {{ tag: {tag:?}, variants: &{name} }}")
            }
            Shape::ErrorChainItem => {
                let availability = self.availability(&node.availability);
                let keys = format!(
                    "[rt::KeySpec::new(\"ErrorCode\", rt::Kind::Integer, true, {availability}), \
                     rt::KeySpec::new(\"ErrorDomain\", rt::Kind::String, true, {availability}), \
                     rt::KeySpec::new(\"LocalizedDescription\", rt::Kind::String, false, \
                     {availability}), rt::KeySpec::new(\"USEnglishDescription\", \
                     rt::Kind::String, false, {availability})]"
                );
                format!(
                    "rt::Kind::Dictionary(&{})",
                    self.add("[rt::KeySpec; 4]", keys)
                )
            }
        }
    }

    /// The module's constants and statics.
    pub fn finish(self, out: &mut String) {
        out.push('\n');
        for (index, avail) in self.availabilities.iter().enumerate() {
            let _ = writeln!(
                out,
                "const AV_{index}: rt::Availability = {};",
                availability_expr(avail)
            );
        }
        for item in self.statics {
            out.push_str(&item);
            out.push('\n');
        }
    }
}

/// `rt::Availability { platforms: &[rt::P::device(...)...] }`.
pub fn availability_expr(avail: &Avail) -> String {
    let platforms: Vec<String> = avail
        .0
        .iter()
        .map(|p| {
            let mut e = format!(
                "rt::P::device(rt::Platform::{}, {:?})",
                p.platform, p.introduced
            );
            if let Some(right) = &p.access_right {
                let variant: String = right.split_whitespace().collect();
                let _ = write!(e, ".right(rt::AccessRight::{variant})");
            }
            if !p.device_channel {
                e.push_str(".no_device_channel()");
            }
            if p.user_channel {
                e.push_str(".user_channel()");
            }
            if p.supervised {
                e.push_str(".supervised()");
            }
            if p.requires_dep {
                e.push_str(".dep()");
            }
            if p.user_approved {
                e.push_str(".user_approved()");
            }
            if let Some(d) = &p.deprecated {
                let _ = write!(e, ".deprecated({d:?})");
            }
            if let Some(r) = &p.removed {
                let _ = write!(e, ".removed({r:?})");
            }
            if let Some((mode, device, user)) = &p.shared_ipad {
                let _ = write!(
                    e,
                    ".shared_ipad(rt::Allowance::{}, {device:?}, {user:?})",
                    allowance(mode)
                );
            }
            if let Some((mode, behavior)) = &p.user_enrollment {
                let _ = write!(
                    e,
                    ".user_enrollment(rt::Allowance::{}, {behavior:?})",
                    allowance(mode)
                );
            }
            e
        })
        .collect();
    format!(
        "rt::Availability {{ platforms: &[{}] }}",
        platforms.join(", ")
    )
}

fn allowance(mode: &str) -> &'static str {
    match mode {
        "required" => "Required",
        "forbidden" => "Forbidden",
        "ignored" => "Ignored",
        _ => "Allowed",
    }
}
