//! Sample messages made from Apple's schema ([`crate::schema`]), for tests, fuzzing and
//! benchmarks (feature `test-support`): every value of its key's type, required keys always
//! present, optional ones by chance (or all of them), listed values mostly, and unknown keys
//! sprinkled in so round trips prove they are kept.

use core::time::Duration;
use std::time::SystemTime;

use plist::{Date, Dictionary, Integer, Value};

use crate::{
    CheckinType, CommandType,
    schema::{AllowedValue, KeySpec, Kind},
};

/// A source of choices: a seeded generator, or a fuzzer's bytes.
pub trait Choices {
    /// The next 64 choice bits.
    fn next_u64(&mut self) -> u64;

    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability 1 in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A deterministic generator (`SplitMix64`) from a seed.
#[derive(Debug, Clone)]
pub struct Seeded(pub u64);

impl Choices for Seeded {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Choices read from bytes (a fuzzer's input), 8 at a time; zeros once they run out.
#[derive(Debug, Clone)]
pub struct FromBytes<'a>(pub &'a [u8]);

impl Choices for FromBytes<'_> {
    fn next_u64(&mut self) -> u64 {
        let take = self.0.len().min(8);
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let mut word = [0u8; 8];
        word[..take].copy_from_slice(head);
        u64::from_le_bytes(word)
    }
}

/// Makes values from key specs.
#[derive(Debug, Clone)]
pub struct Sampler<C> {
    choices: C,
    /// Every optional key present, every array and map three items long (a large message).
    pub full: bool,
    /// Unknown keys added to dictionaries now and then.
    pub unknown_keys: bool,
    /// String values the schema does not list, now and then (hand-written closed enums refuse
    /// them: off for commands with a hand-written type).
    pub unlisted_values: bool,
    /// Deepest nesting of `<any>` values.
    pub any_depth: usize,
}

impl<C: Choices> Sampler<C> {
    /// A sampler with unknown keys and unlisted values on, optional keys by chance.
    pub fn new(choices: C) -> Self {
        Self {
            choices,
            full: false,
            unknown_keys: true,
            unlisted_values: true,
            any_depth: 2,
        }
    }

    /// A command (`CommandUUID` and the `Command` dictionary) of `command_type`.
    pub fn command(&mut self, command_type: CommandType) -> Value {
        let mut command = self.dictionary(command_type.spec().request);
        command.insert(
            "RequestType".to_owned(),
            Value::String(command_type.as_str().to_owned()),
        );
        let mut top = Dictionary::new();
        top.insert("CommandUUID".to_owned(), Value::String(self.text()));
        top.insert("Command".to_owned(), Value::Dictionary(command));
        Value::Dictionary(top)
    }

    /// A response to `command_type`: the envelope (`Acknowledged`) and its own keys.
    pub fn response(&mut self, command_type: CommandType) -> Value {
        let mut top = self.dictionary(command_type.spec().response);
        top.insert("CommandUUID".to_owned(), Value::String(self.text()));
        top.insert(
            "Status".to_owned(),
            Value::String("Acknowledged".to_owned()),
        );
        top.insert(
            "UDID".to_owned(),
            Value::String("00008101-001A2B3C4D5E6F70".to_owned()),
        );
        Value::Dictionary(top)
    }

    /// A check-in message of `checkin_type`.
    pub fn checkin(&mut self, checkin_type: CheckinType) -> Value {
        let mut top = self.dictionary(checkin_type.spec().request);
        top.insert(
            "MessageType".to_owned(),
            Value::String(checkin_type.as_str().to_owned()),
        );
        Value::Dictionary(top)
    }

    /// A dictionary with `keys`: the required ones, optional ones by chance, maybe an unknown
    /// one.
    pub fn dictionary(&mut self, keys: &[KeySpec]) -> Dictionary {
        let mut dict = Dictionary::new();
        for key in keys {
            if key.required || self.full || self.choices.one_in(2) {
                let value = self.value(key);
                dict.insert(key.key.to_owned(), value);
            }
        }
        if self.unknown_keys && self.choices.one_in(3) {
            let name = format!("X-Unknown-{}", self.choices.below(100));
            let value = self.any(self.any_depth);
            dict.insert(name, value);
        }
        dict
    }

    /// A value of `spec`'s type.
    pub fn value(&mut self, spec: &KeySpec) -> Value {
        let items = |s: &mut Self| if s.full { 3 } else { s.choices.below(3) };
        match spec.kind {
            Kind::String => {
                let listed: Vec<&str> = spec
                    .values
                    .iter()
                    .filter_map(|v| match v {
                        AllowedValue::String { value, .. } => Some(*value),
                        AllowedValue::Integer(_) => None,
                    })
                    .collect();
                let unlisted = self.unlisted_values && self.choices.one_in(5);
                if !listed.is_empty() && !unlisted {
                    let index = self.pick(listed.len());
                    Value::String(listed[index].to_owned())
                } else {
                    Value::String(self.text())
                }
            }
            Kind::Integer => {
                let listed: Vec<i64> = spec
                    .values
                    .iter()
                    .filter_map(|v| match v {
                        AllowedValue::Integer(i) => Some(*i),
                        AllowedValue::String { .. } => None,
                    })
                    .collect();
                let value = if listed.is_empty() {
                    self.integer()
                } else {
                    listed[self.pick(listed.len())]
                };
                Value::Integer(Integer::from(value))
            }
            Kind::Real => Value::Real(self.real()),
            Kind::Boolean => Value::Boolean(self.choices.one_in(2)),
            Kind::Date => Value::Date(self.date()),
            Kind::Data => Value::Data(self.bytes()),
            Kind::Any => self.any(self.any_depth),
            Kind::Array(item) => {
                let n = items(self);
                Value::Array((0..n).map(|_| self.value(item)).collect())
            }
            Kind::Dictionary([]) => match self.any(self.any_depth.max(1)) {
                Value::Dictionary(d) => Value::Dictionary(d),
                other => {
                    let mut d = Dictionary::new();
                    d.insert("Value".to_owned(), other);
                    Value::Dictionary(d)
                }
            },
            Kind::Dictionary(keys) => Value::Dictionary(self.dictionary(keys)),
            Kind::Map(value) => {
                let n = items(self);
                let mut dict = Dictionary::new();
                for i in 0..n {
                    let item = self.value(value);
                    dict.insert(format!("key-{i}.{}", self.choices.below(10)), item);
                }
                Value::Dictionary(dict)
            }
            Kind::Union { tag, variants } => {
                if self.unlisted_values && self.choices.one_in(8) {
                    let mut dict = self.dictionary(&[]);
                    dict.insert(tag.to_owned(), Value::String("FutureSetting".to_owned()));
                    return Value::Dictionary(dict);
                }
                let (_, keys) = variants[self.pick(variants.len())];
                Value::Dictionary(self.dictionary(keys))
            }
        }
    }

    fn pick(&mut self, len: usize) -> usize {
        usize::try_from(self.choices.below(len as u64)).unwrap_or(0)
    }

    /// A string XML can carry: letters, digits, a few markup characters and non-ASCII.
    fn text(&mut self) -> String {
        const PARTS: [&str; 10] = ["a", "Z", "7", " ", "<", "&", ">", "é", "☃", "-"];
        let len = if self.full {
            12
        } else {
            self.choices.below(12)
        };
        (0..len).map(|_| PARTS[self.pick(PARTS.len())]).collect()
    }

    fn integer(&mut self) -> i64 {
        let raw = self.choices.next_u64();
        match self.choices.below(4) {
            0 => i64::from_le_bytes(raw.to_le_bytes()),
            1 => -i64::from(u8::try_from(raw & 0xff).unwrap_or(0)),
            _ => i64::from(u16::try_from(raw & 0xffff).unwrap_or(0)),
        }
    }

    /// Eighths: exact in binary and in the shortest decimal form.
    fn real(&mut self) -> f64 {
        let raw = i32::from_le_bytes(
            u32::try_from(self.choices.next_u64() & 0xffff_ffff)
                .unwrap_or(0)
                .to_le_bytes(),
        );
        f64::from(raw) / 8.0
    }

    /// Whole seconds (what XML property lists keep), 1970 to 2100.
    fn date(&mut self) -> Date {
        let seconds = self.choices.below(4_102_444_800);
        Date::from(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = if self.full {
            16
        } else {
            self.choices.below(20)
        };
        (0..len)
            .map(|_| u8::try_from(self.choices.next_u64() & 0xff).unwrap_or(0))
            .collect()
    }

    /// Any value, nested at most `depth` deep.
    fn any(&mut self, depth: usize) -> Value {
        match self.choices.below(if depth == 0 { 6 } else { 8 }) {
            0 => Value::String(self.text()),
            1 => Value::Integer(Integer::from(self.integer())),
            2 => Value::Real(self.real()),
            3 => Value::Boolean(self.choices.one_in(2)),
            4 => Value::Date(self.date()),
            5 => Value::Data(self.bytes()),
            6 => {
                let n = self.choices.below(3);
                Value::Array((0..n).map(|_| self.any(depth - 1)).collect())
            }
            _ => {
                let n = self.choices.below(3);
                let mut dict = Dictionary::new();
                for i in 0..n {
                    let value = self.any(depth - 1);
                    dict.insert(format!("any-{i}"), value);
                }
                Value::Dictionary(dict)
            }
        }
    }
}
