//! YAML → normalised model: names, maps (`ANY …` and the reviewed wildcards), unions (arrays of
//! several dictionary shapes, told apart by a one-value key), value lists, inherited
//! availability, secrets and presence.

use std::{fs, path::Path};

use super::{
    availability::{Resolved, avail, resolve},
    ir::{AllowedValue, DefaultValue, Family, Message, Node, Schema, Secret, Shape},
    names,
    review::{self, Used},
    yaml,
};

/// Reads and normalises every YAML under `dir/mdm`.
pub fn load(dir: &Path, origin: String) -> Result<Schema, String> {
    let used = Used::default();
    let mut schema = Schema {
        origin,
        commands: Vec::new(),
        checkins: Vec::new(),
        errors: Vec::new(),
    };
    for (sub, family) in [
        ("commands", Family::Command),
        ("checkin", Family::Checkin),
        ("errors", Family::Error),
    ] {
        let folder = dir.join("mdm").join(sub);
        let mut files: Vec<_> = fs::read_dir(&folder)
            .map_err(|e| format!("{}: {e}", folder.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{}: no YAML files", folder.display()));
        }
        for path in files {
            let relative = format!(
                "mdm/{sub}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = fs::read_to_string(&path).map_err(|e| format!("{relative}: {e}"))?;
            let file: yaml::File =
                serde_yaml_ng::from_str(&text).map_err(|e| format!("{relative}: {e}"))?;
            let message =
                message(family, &relative, file, &used).map_err(|e| format!("{relative}: {e}"))?;
            match family {
                Family::Command => schema.commands.push(message),
                Family::Checkin => schema.checkins.push(message),
                Family::Error => schema.errors.push(message),
            }
        }
    }
    for list in [
        &mut schema.commands,
        &mut schema.checkins,
        &mut schema.errors,
    ] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in list.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(format!(
                    "{} and {} both define {}",
                    pair[0].file, pair[1].file, pair[0].name
                ));
            }
        }
    }
    let unused = used.unused();
    if !unused.is_empty() {
        return Err(format!(
            "reviewed entries in xtask/src/codegen/review.rs match nothing in the schema \
             (fixed upstream? then delete them): {}",
            unused.join("; ")
        ));
    }
    Ok(schema)
}

struct Ctx<'a> {
    used: &'a Used,
    /// `command DeviceLock`.
    message: String,
}

fn message(
    family: Family,
    file_name: &str,
    file: yaml::File,
    used: &Used,
) -> Result<Message, String> {
    let mut request_keys = file.payloadkeys.unwrap_or_default();
    let response_keys = file.responsekeys.unwrap_or_default();
    let (name, rust) = match family {
        Family::Command | Family::Checkin => {
            let name = file
                .payload
                .requesttype
                .clone()
                .ok_or("payload.requesttype is missing")?;
            let rust = names::camel(&name);
            (name, rust)
        }
        Family::Error => {
            let code = take_tag(&mut request_keys, "code")?;
            let rust = names::camel(code.strip_prefix("com.apple.").unwrap_or(&code));
            (code, rust)
        }
    };
    if family == Family::Checkin {
        let tag = take_tag(&mut request_keys, "MessageType")?;
        if tag != name {
            return Err(format!(
                "MessageType {tag:?} differs from requesttype {name:?}"
            ));
        }
    }
    let family_word = match family {
        Family::Command => "command",
        Family::Checkin => "checkin",
        Family::Error => "error",
    };
    let ctx = Ctx {
        used,
        message: format!("{family_word} {name}"),
    };
    let base = resolve(&Resolved::new(), file.payload.supported_os.as_ref())?;
    let availability = avail(&base, "payload")?;
    let request = keys(&ctx, "request", &request_keys, &base)?;
    let response = keys(&ctx, "response", &response_keys, &base)?;
    let hand_written = match family {
        Family::Command => used
            .find(&review::HAND_WRITTEN, &name)
            .map(|entry| entry.reason),
        _ => None,
    };
    Ok(Message {
        family,
        module: names::snake(&rust),
        name,
        rust,
        title: file.title,
        doc: file
            .payload
            .content
            .unwrap_or_else(|| file.description.clone()),
        file: file_name.to_owned(),
        availability,
        request,
        response,
        hand_written,
    })
}

/// Removes the tag key (`MessageType`, `code`) and returns its one listed value.
fn take_tag(keys: &mut Vec<yaml::Key>, tag: &str) -> Result<String, String> {
    let index = keys
        .iter()
        .position(|k| k.key == tag)
        .ok_or_else(|| format!("no {tag} key"))?;
    let key = keys.remove(index);
    match key.rangelist.as_deref() {
        Some([yaml::Scalar::String(value)]) => Ok(value.clone()),
        _ => Err(format!("{tag}: expected a rangelist of one string")),
    }
}

fn keys(
    ctx: &Ctx<'_>,
    side: &str,
    keys: &[yaml::Key],
    parent: &Resolved,
) -> Result<Vec<Node>, String> {
    let nodes = keys
        .iter()
        .map(|k| node(ctx, &format!("{side} {}", k.key), k, parent))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&nodes)?;
    Ok(nodes)
}

fn check_unique(nodes: &[Node]) -> Result<(), String> {
    for (i, a) in nodes.iter().enumerate() {
        if nodes[..i].iter().any(|b| b.key == a.key) {
            return Err(format!("key {} is defined twice", a.key));
        }
    }
    Ok(())
}

/// Normalises one key; `path` is `<side> <wire path>`.
fn node(ctx: &Ctx<'_>, path: &str, key: &yaml::Key, parent: &Resolved) -> Result<Node, String> {
    let at = |e: String| format!("{path}: {e}");
    let resolved = resolve(parent, key.supported_os.as_ref()).map_err(at)?;
    let availability = avail(&resolved, path)?;
    let required = match key.presence.as_deref() {
        None | Some("optional") => false,
        Some("required") => true,
        Some(other) => return Err(at(format!("unknown presence {other:?}"))),
    };
    let subkeys = key.subkeys.as_deref().unwrap_or_default();
    let mut values = rangelist(key).map_err(at)?;
    let shape = match key.ty.as_str() {
        "<string>" => {
            // A string with sub-keys: the sub-keys are its values (the DeviceInformation
            // query names), each with its own availability.
            for sub in subkeys {
                if sub.ty != "<string>" || sub.subkeys.is_some() {
                    return Err(at(format!("value {} is not a plain string", sub.key)));
                }
                let own = resolve(&resolved, sub.supported_os.as_ref()).map_err(at)?;
                values.push(AllowedValue::String {
                    value: sub.key.clone(),
                    doc: sub.content.clone().unwrap_or_default(),
                    availability: Some(avail(&own, path)?),
                });
            }
            Shape::String
        }
        scalar @ ("<integer>" | "<real>" | "<boolean>" | "<date>" | "<data>" | "<any>") => {
            if !subkeys.is_empty() {
                return Err(at(format!("a {scalar} with sub-keys")));
            }
            match scalar {
                "<integer>" => Shape::Integer,
                "<real>" => Shape::Real,
                "<boolean>" => Shape::Boolean,
                "<date>" => Shape::Date,
                "<data>" => Shape::Data,
                _ => Shape::Any,
            }
        }
        "<dictionary>" => dictionary(ctx, path, subkeys, &resolved)?,
        "<array>" => array(ctx, path, key, subkeys, &resolved)?,
        other => return Err(at(format!("unknown type {other}"))),
    };
    let shape = match shape {
        Shape::Map(value) if matches!(value.shape, Shape::Any) => {
            match ctx.used.find(
                &review::ERROR_CHAIN_ITEMS,
                &format!("{} {path}", ctx.message),
            ) {
                Some(_) => Shape::ErrorChainItem,
                None => Shape::Map(value),
            }
        }
        other => other,
    };
    if !values.is_empty() && !matches!(shape, Shape::String | Shape::Integer) {
        return Err(at(
            "a rangelist on a key that is neither string nor integer".into(),
        ));
    }
    let mut node = Node {
        key: key.key.clone(),
        doc: key
            .content
            .clone()
            .or_else(|| key.title.clone())
            .unwrap_or_default(),
        required,
        availability,
        secret: None,
        default: default(key).map_err(at)?,
        values,
        range: key.range.as_ref().map(|r| (r.min, r.max)),
        subkeytype: key.subkeytype.clone(),
        shape,
    };
    node.secret = secret(ctx, path, &node);
    Ok(node)
}

fn dictionary(
    ctx: &Ctx<'_>,
    path: &str,
    subkeys: &[yaml::Key],
    resolved: &Resolved,
) -> Result<Shape, String> {
    if let [only] = subkeys {
        let wildcard = only.key == "ANY"
            || only.key.starts_with("ANY ")
            || ctx
                .used
                .find(
                    &review::WILDCARDS,
                    &format!("{} {path}.{}", ctx.message, only.key),
                )
                .is_some();
        if wildcard {
            let value = node(ctx, &format!("{path}.{}", only.key), only, resolved)?;
            return Ok(Shape::Map(Box::new(value)));
        }
    }
    let children = subkeys
        .iter()
        .map(|k| node(ctx, &format!("{path}.{}", k.key), k, resolved))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&children).map_err(|e| format!("{path}: {e}"))?;
    if children
        .iter()
        .any(|c| c.key == "ANY" || c.key.starts_with("ANY "))
    {
        return Err(format!("{path}: a wildcard beside named keys"));
    }
    Ok(Shape::Dict(children))
}

fn array(
    ctx: &Ctx<'_>,
    path: &str,
    key: &yaml::Key,
    subkeys: &[yaml::Key],
    resolved: &Resolved,
) -> Result<Shape, String> {
    match subkeys {
        [] => Err(format!("{path}: an array without an item")),
        [item] => {
            let item = node(ctx, &format!("{path}.{}", item.key), item, resolved)?;
            Ok(Shape::Array(Box::new(item)))
        }
        several => {
            // Several alternative dictionaries (Settings): a union told apart by the one key
            // every alternative has with a single listed value.
            let variants = several
                .iter()
                .map(|k| node(ctx, &format!("{path}.{}", k.key), k, resolved))
                .collect::<Result<Vec<_>, _>>()?;
            let tag = union_tag(&variants).ok_or_else(|| {
                format!("{path}: an array of several shapes without a common one-value key")
            })?;
            let mut values = Vec::new();
            for variant in &variants {
                let value = variant_tag(variant, &tag).unwrap_or_default();
                if values.contains(&value) {
                    return Err(format!("{path}: tag value {value} is used twice"));
                }
                values.push(value);
            }
            let union = Node {
                key: format!("{}Item", key.key),
                doc: key.content.clone().unwrap_or_default(),
                required: false,
                availability: avail(resolved, path)?,
                secret: None,
                default: None,
                values: Vec::new(),
                range: None,
                subkeytype: None,
                shape: Shape::Union { tag, variants },
            };
            Ok(Shape::Array(Box::new(union)))
        }
    }
}

/// The key that every variant has, required, with one listed string value.
fn union_tag(variants: &[Node]) -> Option<String> {
    let Shape::Dict(first) = &variants.first()?.shape else {
        return None;
    };
    first
        .iter()
        .map(|k| k.key.clone())
        .find(|tag| variants.iter().all(|v| variant_tag(v, tag).is_some()))
}

fn variant_tag(variant: &Node, tag: &str) -> Option<String> {
    let Shape::Dict(keys) = &variant.shape else {
        return None;
    };
    let key = keys.iter().find(|k| k.key == tag)?;
    match key.values.as_slice() {
        [AllowedValue::String { value, .. }] if key.required => Some(value.clone()),
        _ => None,
    }
}

fn rangelist(key: &yaml::Key) -> Result<Vec<AllowedValue>, String> {
    let Some(list) = &key.rangelist else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|v| match (v, key.ty.as_str()) {
            (yaml::Scalar::String(s), "<string>") => Ok(AllowedValue::String {
                value: s.clone(),
                doc: String::new(),
                availability: None,
            }),
            (yaml::Scalar::Integer(i), "<integer>") => Ok(AllowedValue::Integer(*i)),
            (other, ty) => Err(format!("rangelist value {other:?} on a {ty}")),
        })
        .collect()
}

fn default(key: &yaml::Key) -> Result<Option<DefaultValue>, String> {
    Ok(match (&key.default, key.ty.as_str()) {
        (None, _) => None,
        (Some(yaml::Scalar::Boolean(b)), "<boolean>") => Some(DefaultValue::Boolean(*b)),
        (Some(yaml::Scalar::Integer(i)), "<integer>") => Some(DefaultValue::Integer(*i)),
        (Some(yaml::Scalar::String(s)), "<string>") => Some(DefaultValue::String(s.clone())),
        (Some(other), ty) => return Err(format!("default {other:?} on a {ty}")),
    })
}

/// Decides whether a string or data key is a secret: its name says so (password, passcode,
/// passphrase, token, secret, PIN, bypass code, recovery key) or its description's subject
/// does ("The six-character PIN…"), unless reviewed otherwise.
fn secret(ctx: &Ctx<'_>, path: &str, node: &Node) -> Option<Secret> {
    let kind = match node.shape {
        Shape::String => Secret::Text,
        Shape::Data if node.key == "UnlockToken" => Secret::UnlockToken,
        Shape::Data => Secret::Bytes,
        _ => return None,
    };
    let at = format!("{} {path}", ctx.message);
    if ctx.used.find(&review::SECRET, &at).is_some() {
        return Some(kind);
    }
    let said = name_says_secret(&node.key) || description_says_secret(&node.doc);
    if !said || ctx.used.find(&review::NOT_SECRET, &at).is_some() {
        return None;
    }
    Some(kind)
}

/// The name rule (the same words as `mdm_protocol::is_secret_key`).
pub fn name_says_secret(key: &str) -> bool {
    const WORDS: [&str; 7] = [
        "password",
        "passcode",
        "passphrase",
        "token",
        "secret",
        "bypasscode",
        "recoverykey",
    ];
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    WORDS.iter().any(|w| folded.contains(w)) || heck_words(key).iter().any(|w| w == "pin")
}

fn heck_words(key: &str) -> Vec<String> {
    use heck::ToSnakeCase;
    key.to_snake_case().split('_').map(str::to_owned).collect()
}

/// Whether the description's first sentence is about a secret: "The/A/An [up to four words]
/// password|passcode|passphrase|PIN|token|bypass code|recovery key".
pub fn description_says_secret(doc: &str) -> bool {
    const NOUNS: [&[&str]; 7] = [
        &["password"],
        &["passcode"],
        &["passphrase"],
        &["pin"],
        &["token"],
        &["bypass", "code"],
        &["recovery", "key"],
    ];
    let words: Vec<String> = doc
        .split_whitespace()
        .take(8)
        .map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .to_ascii_lowercase()
        })
        .collect();
    if !matches!(words.first().map(String::as_str), Some("the" | "a" | "an")) {
        return false;
    }
    (1..words.len().min(7)).any(|start| {
        NOUNS.iter().any(|noun| {
            words
                .get(start..start + noun.len())
                .is_some_and(|w| w.iter().map(String::as_str).eq(noun.iter().copied()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_rules() {
        assert!(name_says_secret("PINRequiredForDeviceLock"));
        assert!(name_says_secret("security-token"));
        assert!(!name_says_secret("Shipping"));
        assert!(!name_says_secret("PushMagic"));
        assert!(description_says_secret(
            "The six-character PIN for Find My."
        ));
        assert!(description_says_secret(
            "The Activation Lock bypass code if it's available."
        ));
        assert!(description_says_secret(
            "A new personal recovery key that is encrypted"
        ));
        assert!(!description_says_secret(
            "A string that specifies the service for the requested token."
        ));
        assert!(!description_says_secret(
            "If 'true', the device has a passcode."
        ));
    }
}
