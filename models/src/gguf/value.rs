//! GGUF metadata values: the thirteen value types, typed accessors that forgive the integer width
//! a converter happened to choose, and llama.cpp's `--override-kv KEY=TYPE:VALUE` syntax.

use std::fmt;

/// One metadata value. Arrays may nest; an array's elements all have one type.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    Array(Vec<MetaValue>),
}

/// GGUF value type ids (`gguf_type`).
pub(crate) mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STR: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

impl MetaValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer that is not negative, whatever its stored width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => i64::try_from(v).ok(),
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::I16(v) => Some(v.into()),
            MetaValue::I32(v) => Some(v.into()),
            MetaValue::I64(v) => Some(v),
            _ => None,
        }
    }

    /// An `f32`, or an `f64` rounded to `f32` (what `--override-kv KEY=float:X` gives).
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            MetaValue::F32(v) => Some(v),
            MetaValue::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetaValue::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(v) => Some(v),
            _ => None,
        }
    }

    /// A short name for messages: `u32`, `f64`, `str`, `array`...
    pub fn type_name(&self) -> &'static str {
        match self {
            MetaValue::U8(_) => "u8",
            MetaValue::I8(_) => "i8",
            MetaValue::U16(_) => "u16",
            MetaValue::I16(_) => "i16",
            MetaValue::U32(_) => "u32",
            MetaValue::I32(_) => "i32",
            MetaValue::U64(_) => "u64",
            MetaValue::I64(_) => "i64",
            MetaValue::F32(_) => "f32",
            MetaValue::F64(_) => "f64",
            MetaValue::Bool(_) => "bool",
            MetaValue::Str(_) => "str",
            MetaValue::Array(_) => "array",
        }
    }

    /// The GGUF value type id (`gguf_type`) this value is stored as.
    pub fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => type_id::U8,
            MetaValue::I8(_) => type_id::I8,
            MetaValue::U16(_) => type_id::U16,
            MetaValue::I16(_) => type_id::I16,
            MetaValue::U32(_) => type_id::U32,
            MetaValue::I32(_) => type_id::I32,
            MetaValue::U64(_) => type_id::U64,
            MetaValue::I64(_) => type_id::I64,
            MetaValue::F32(_) => type_id::F32,
            MetaValue::F64(_) => type_id::F64,
            MetaValue::Bool(_) => type_id::BOOL,
            MetaValue::Str(_) => type_id::STR,
            MetaValue::Array(_) => type_id::ARRAY,
        }
    }
}

/// The value as llama.cpp's metadata dump shows it; long arrays are cut after 8 elements.
impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::U8(v) => write!(f, "{v}"),
            MetaValue::I8(v) => write!(f, "{v}"),
            MetaValue::U16(v) => write!(f, "{v}"),
            MetaValue::I16(v) => write!(f, "{v}"),
            MetaValue::U32(v) => write!(f, "{v}"),
            MetaValue::I32(v) => write!(f, "{v}"),
            MetaValue::U64(v) => write!(f, "{v}"),
            MetaValue::I64(v) => write!(f, "{v}"),
            MetaValue::F32(v) => write!(f, "{v}"),
            MetaValue::F64(v) => write!(f, "{v}"),
            MetaValue::Bool(v) => write!(f, "{v}"),
            MetaValue::Str(s) => write!(f, "{s:?}"),
            MetaValue::Array(items) => {
                const SHOWN: usize = 8;
                f.write_str("[")?;
                for (i, item) in items.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                if items.len() > SHOWN {
                    write!(f, ", ... {} items", items.len())?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Parses llama.cpp's `--override-kv` syntax `KEY=TYPE:VALUE`, TYPE one of `int` (an `I64`),
/// `float` (an `F64`), `bool` (`true` / `false`) or `str`.
pub fn parse_override_kv(s: &str) -> Result<(String, MetaValue), String> {
    let syntax = || format!("--override-kv \"{s}\": expected KEY=TYPE:VALUE, TYPE one of int, float, bool, str");
    let (key, typed) = s.split_once('=').ok_or_else(syntax)?;
    let (ty, value) = typed.split_once(':').ok_or_else(syntax)?;
    if key.is_empty() {
        return Err(syntax());
    }
    let value = match ty {
        "int" => value
            .trim()
            .parse::<i64>()
            .map(MetaValue::I64)
            .map_err(|e| format!("--override-kv {key}: \"{value}\" is not an int: {e}"))?,
        "float" => value
            .trim()
            .parse::<f64>()
            .map(MetaValue::F64)
            .map_err(|e| format!("--override-kv {key}: \"{value}\" is not a float: {e}"))?,
        "bool" => match value.trim() {
            "true" => MetaValue::Bool(true),
            "false" => MetaValue::Bool(false),
            _ => {
                return Err(format!(
                    "--override-kv {key}: \"{value}\" is not a bool (true or false)"
                ))
            }
        },
        "str" => MetaValue::Str(value.to_string()),
        _ => {
            return Err(format!(
                "--override-kv {key}: unknown type \"{ty}\" (int, float, bool or str)"
            ))
        }
    };
    Ok((key.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_accessors_forgive_width_but_not_sign() {
        assert_eq!(MetaValue::U8(7).as_u64(), Some(7));
        assert_eq!(MetaValue::I32(-1).as_u64(), None);
        assert_eq!(MetaValue::I32(-1).as_i64(), Some(-1));
        assert_eq!(MetaValue::U64(u64::MAX).as_i64(), None);
        assert_eq!(MetaValue::U64(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(MetaValue::F32(1.0).as_u64(), None);
        assert_eq!(MetaValue::F64(0.5).as_f32(), Some(0.5));
        assert_eq!(MetaValue::Str("x".into()).as_f32(), None);
    }

    #[test]
    fn override_kv_syntax() {
        let (k, v) = parse_override_kv("bailingmoe2.expert_group_count=int:1").unwrap();
        assert_eq!(k, "bailingmoe2.expert_group_count");
        assert_eq!((v.as_u64(), v.as_i64()), (Some(1), Some(1)));
        assert_eq!(parse_override_kv("a=float:1e-5").unwrap().1.as_f32(), Some(1e-5));
        assert_eq!(parse_override_kv("a=bool:false").unwrap().1, MetaValue::Bool(false));
        assert_eq!(
            parse_override_kv("a=str:x=y:z").unwrap().1,
            MetaValue::Str("x=y:z".into())
        );
        assert_eq!(parse_override_kv("a=int:-3").unwrap().1.as_u64(), None);
        for bad in ["a", "a=int", "=int:1", "a=int:x", "a=bool:yes", "a=u32:1", "a=float:"] {
            assert!(parse_override_kv(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn display_cuts_long_arrays() {
        let a = MetaValue::Array((0..10).map(MetaValue::U32).collect());
        assert_eq!(a.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, ... 10 items]");
        assert_eq!(MetaValue::Str("a\"b".into()).to_string(), "\"a\\\"b\"");
    }
}
