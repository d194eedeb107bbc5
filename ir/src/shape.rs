//! Shapes, outermost dimension first (as in PyTorch), whose dims may be symbolic.
//!
//! Two symbols exist: `t`, the tokens in the batch being evaluated, and `kv`, the positions held
//! in the KV cache once this batch is written (cached + `t`). They are bound at execution, so one
//! graph serves every batch size and context length.

use std::fmt;

/// A symbolic dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sym {
    /// Tokens in the batch.
    T,
    /// Positions in the KV cache after this batch is written.
    Kv,
}

impl Sym {
    pub const fn name(self) -> &'static str {
        match self {
            Sym::T => "t",
            Sym::Kv => "kv",
        }
    }

    pub fn from_name(s: &str) -> Option<Sym> {
        match s {
            "t" => Some(Sym::T),
            "kv" => Some(Sym::Kv),
            _ => None,
        }
    }
}

/// One dimension: a number or a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Const(usize),
    Sym(Sym),
}

impl Dim {
    pub const fn as_const(self) -> Option<usize> {
        match self {
            Dim::Const(n) => Some(n),
            Dim::Sym(_) => None,
        }
    }

    pub fn bind(self, b: &Bindings) -> usize {
        match self {
            Dim::Const(n) => n,
            Dim::Sym(Sym::T) => b.t,
            Dim::Sym(Sym::Kv) => b.kv,
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Dim {
        Dim::Const(n)
    }
}

impl From<Sym> for Dim {
    fn from(s: Sym) -> Dim {
        Dim::Sym(s)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Const(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s.name()),
        }
    }
}

/// Values of the symbols for one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bindings {
    pub t: usize,
    pub kv: usize,
}

/// A shape, outermost dimension first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn new(dims: impl IntoIterator<Item = Dim>) -> Shape {
        Shape(dims.into_iter().collect())
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// The innermost (contiguous) dimension.
    pub fn last(&self) -> Option<Dim> {
        self.0.last().copied()
    }

    /// Concrete sizes under `b`.
    pub fn bind(&self, b: &Bindings) -> Vec<usize> {
        self.0.iter().map(|d| d.bind(b)).collect()
    }

    /// The number of elements, if no dim is symbolic.
    pub fn const_elems(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |acc, d| acc.checked_mul(d.as_const()?))
    }
}

/// `[t, 64]`-style shape literal: `shape![Sym::T, 64]`.
#[macro_export]
macro_rules! shape {
    ($($d:expr),* $(,)?) => { $crate::Shape(vec![$($crate::Dim::from($d)),*]) };
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}
