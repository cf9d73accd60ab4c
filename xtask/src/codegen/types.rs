//! The Rust types of one module: which nodes become structs, open enums and unions, and their
//! names. Names are unique within the module (one module per request type): a struct is named
//! after its `subkeytype`, else its key; a name already taken by a different shape gets its
//! parent's name in front. Identical shapes under one name (the schema's YAML aliases) share a
//! type.

use std::collections::HashMap;

use super::{
    ir::{Node, Shape, Side},
    names,
};

/// A type to emit.
pub enum Def<'a> {
    /// A dictionary with named keys.
    Struct(StructDef<'a>),
    /// A string with listed values.
    Enum { name: String, node: &'a Node },
    /// An array item of several shapes.
    Union {
        name: String,
        node: &'a Node,
        tag: &'a str,
        variants: Vec<(&'a Node, String)>,
    },
}

pub struct StructDef<'a> {
    pub name: String,
    /// The first doc line of a top-level struct.
    pub title: Option<String>,
    /// The YAML path, for docs.
    pub path: String,
    pub doc: &'a str,
    pub fields: &'a [Node],
    /// Keys left out of the struct (a union's tag).
    pub skip: Option<&'a str>,
    /// Unknown keys kept in the struct (false at the top of a command or response: the
    /// envelope keeps them).
    pub extra: bool,
    /// The identity keys (`UDID`…) as one `identity: Identity` field (check-in messages).
    pub identity: bool,
    pub side: Side,
    /// Top-level: the message itself.
    pub top: bool,
}

/// The identity keys check-in messages share with the response envelope (`Identity`).
pub const IDENTITY_KEYS: [(&str, &str); 7] = [
    ("UDID", "string"),
    ("EnrollmentID", "string"),
    ("EnrollmentUserID", "string"),
    ("UserID", "string"),
    ("UserShortName", "string"),
    ("UserLongName", "string"),
    ("NotOnConsole", "boolean"),
];

/// The module's types, in emission order, and the name of every typed node.
pub struct Types<'a> {
    pub defs: Vec<Def<'a>>,
    names: HashMap<*const Node, String>,
    taken: HashMap<String, Option<&'a Node>>,
}

impl<'a> Types<'a> {
    /// A table with `reserved` names already taken (the top-level types).
    pub fn new(reserved: &[&str]) -> Self {
        let mut taken = HashMap::new();
        for name in names::RESERVED_TYPES.iter().chain(reserved) {
            taken.insert((*name).to_owned(), None);
        }
        Self {
            defs: Vec::new(),
            names: HashMap::new(),
            taken,
        }
    }

    /// Adds a top-level struct and everything under it.
    pub fn top(&mut self, def: StructDef<'a>) -> Result<(), String> {
        let fields = def.fields;
        let skip = def.skip;
        let side = def.side;
        let parent = def.name.clone();
        let path = def.path.clone();
        self.defs.push(Def::Struct(def));
        for field in fields.iter().filter(|f| Some(f.key.as_str()) != skip) {
            self.visit(field, &parent, &format!("{path}.{}", field.key), side)?;
        }
        Ok(())
    }

    /// The Rust name given to `node`'s own type.
    pub fn name(&self, node: &Node) -> Option<&str> {
        self.names
            .get(&core::ptr::from_ref(node))
            .map(String::as_str)
    }

    /// Names the types under `node` (a field of the type named `parent`).
    fn visit(
        &mut self,
        node: &'a Node,
        parent: &str,
        path: &str,
        side: Side,
    ) -> Result<(), String> {
        match &node.shape {
            Shape::Dict(keys) if !keys.is_empty() => {
                let candidate = names::camel(node.subkeytype.as_deref().unwrap_or(&node.key));
                if let Some(name) = self.claim(candidate, parent, node)? {
                    self.defs.push(Def::Struct(StructDef {
                        name: name.clone(),
                        title: None,
                        path: path.to_owned(),
                        doc: &node.doc,
                        fields: keys,
                        skip: None,
                        extra: true,
                        identity: false,
                        side,
                        top: false,
                    }));
                    for key in keys {
                        self.visit(key, &name, &format!("{path}.{}", key.key), side)?;
                    }
                }
            }
            Shape::Array(item) => {
                self.visit(item, parent, &format!("{path}[]"), side)?;
            }
            Shape::Map(value) => {
                // The value is named after the map (`restrictedBool` → `RestrictedBoolEntry`)
                // unless it has a subkeytype of its own.
                if value.is_struct() && value.subkeytype.is_none() {
                    let candidate = format!("{}Entry", names::camel(&node.key));
                    self.visit_named(value, candidate, parent, &format!("{path}.*"), side)?;
                } else {
                    self.visit(value, parent, &format!("{path}.*"), side)?;
                }
            }
            Shape::Union { tag, variants } => {
                let union_name = names::camel(&node.key);
                let Some(union_name) = self.claim(union_name, parent, node)? else {
                    return Ok(());
                };
                let singular = union_name
                    .strip_suffix("Item")
                    .unwrap_or(&union_name)
                    .trim_end_matches('s')
                    .to_owned();
                let mut named = Vec::new();
                let index = self.defs.len();
                self.defs.push(Def::Union {
                    name: union_name.clone(),
                    node,
                    tag,
                    variants: Vec::new(),
                });
                for variant in variants {
                    let Shape::Dict(keys) = &variant.shape else {
                        return Err(format!("{path}: a union variant is not a dictionary"));
                    };
                    let candidate = format!("{}{singular}", names::camel(&variant.key));
                    let name = self
                        .claim(candidate, &union_name, variant)?
                        .ok_or_else(|| format!("{path}: union variant shared"))?;
                    self.defs.push(Def::Struct(StructDef {
                        name: name.clone(),
                        title: None,
                        path: format!("{path}[{}]", variant.key),
                        doc: &variant.doc,
                        fields: keys,
                        skip: Some(tag),
                        extra: true,
                        identity: false,
                        side,
                        top: false,
                    }));
                    for key in keys.iter().filter(|k| k.key != *tag) {
                        self.visit(key, &name, &format!("{path}.{}", key.key), side)?;
                    }
                    named.push((variant, name));
                }
                if let Some(Def::Union { variants, .. }) = self.defs.get_mut(index) {
                    *variants = named;
                }
            }
            Shape::String if node.is_enum() => {
                let candidate = names::camel(&node.key);
                if let Some(name) = self.claim(candidate, parent, node)? {
                    self.defs.push(Def::Enum { name, node });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_named(
        &mut self,
        node: &'a Node,
        candidate: String,
        parent: &str,
        path: &str,
        side: Side,
    ) -> Result<(), String> {
        let Shape::Dict(keys) = &node.shape else {
            return Ok(());
        };
        if let Some(name) = self.claim(candidate, parent, node)? {
            self.defs.push(Def::Struct(StructDef {
                name: name.clone(),
                title: None,
                path: path.to_owned(),
                doc: &node.doc,
                fields: keys,
                skip: None,
                extra: true,
                identity: false,
                side,
                top: false,
            }));
            for key in keys {
                self.visit(key, &name, &format!("{path}.{}", key.key), side)?;
            }
        }
        Ok(())
    }

    /// Gives `node` a name: `candidate` if free, the shared type if an equal node has it, else
    /// `parent` + `candidate` (then a number). `None` when the node shares an emitted type.
    fn claim(
        &mut self,
        candidate: String,
        parent: &str,
        node: &'a Node,
    ) -> Result<Option<String>, String> {
        let mut name = candidate.clone();
        let mut attempt = 0;
        loop {
            match self.taken.get(&name) {
                None => break,
                Some(Some(other)) if same_shape(other, node) => {
                    self.names.insert(core::ptr::from_ref(node), name);
                    return Ok(None);
                }
                Some(_) => {
                    attempt += 1;
                    name = match attempt {
                        1 => format!("{parent}{candidate}"),
                        n if n < 10 => format!("{parent}{candidate}{n}"),
                        _ => return Err(format!("cannot find a free name for {candidate}")),
                    };
                }
            }
        }
        self.taken.insert(name.clone(), Some(node));
        self.names.insert(core::ptr::from_ref(node), name.clone());
        Ok(Some(name))
    }
}

/// Shapes that can share a type: equal except for the key they sit under.
fn same_shape(a: &Node, b: &Node) -> bool {
    a.shape == b.shape && a.subkeytype == b.subkeytype && a.values == b.values
}
