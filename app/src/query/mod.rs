//! The query language over grants: `kind:service_account owner:none`, `privilege:admin idle>30d`,
//! `app:"AWS prod" kind:api_key rotated>90d`, `risk>=70 -kind:human`, with AND (a space or
//! `AND`), `OR`, NOT (`-` or `NOT`) and parentheses.
//!
//! A real grammar: the text is tokenised, parsed into a tree, and errors point at the column
//! of the mistake. The tree is compiled (server side) into one SQL condition whose values are
//! all bound parameters.
//!
//! ```text
//! query   = or
//! or      = and { "OR" and }
//! and     = unary { ["AND"] unary }
//! unary   = ("-" | "NOT") unary | primary
//! primary = "(" or ")" | term
//! term    = FIELD OP VALUE | WORD          (a bare word searches identity names)
//! OP      = ":" | "=" | ">" | ">=" | "<" | "<="
//! VALUE   = WORD | "quoted string" | NUMBER [d]
//! ```

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod compile;

/// A field a term can name, with what it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Kind,
    Status,
    Owner,
    App,
    Entitlement,
    Privilege,
    Department,
    Source,
    Name,
    Factor,
    Risk,
    /// Days since the grant (or else its identity) was last used.
    Idle,
    /// Days since the credential was rotated.
    Rotated,
    /// Days until the identity expires (negative once expired).
    Expires,
    /// The identity's active grants.
    ActiveGrants,
}

pub const FIELDS: &[(&str, Field, &str)] = &[
    ("kind", Field::Kind, "human, service_account, api_key, token, certificate, bot, ai_agent, workload, or machine"),
    ("status", Field::Status, "active, disabled, terminated"),
    ("owner", Field::Owner, "none, any, or an owner's name, email or id"),
    ("app", Field::App, "the application's name or id"),
    ("entitlement", Field::Entitlement, "the entitlement's name"),
    ("privilege", Field::Privilege, "admin, write, read, unknown"),
    ("department", Field::Department, "the identity's department"),
    ("source", Field::Source, "the source it was imported from"),
    ("name", Field::Name, "part of the identity's name, email or id"),
    ("factor", Field::Factor, "a risk factor, e.g. no_owner, dormant, never_used, not_rotated"),
    ("risk", Field::Risk, "the risk score, 0–100 (risk>=70)"),
    ("idle", Field::Idle, "days since last use (idle>30d)"),
    ("rotated", Field::Rotated, "days since the credential was rotated (rotated>90d)"),
    ("expires", Field::Expires, "days until expiry (expires<14d)"),
    ("active-grants", Field::ActiveGrants, "the identity's active grants (active-grants>0)"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Term { field: Field, op: Op, value: String, column: usize },
}

/// A mistake in a query, at a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.message, self.column)
    }
}

/// Longest query accepted, in characters.
pub const MAX_QUERY: usize = 1_000;
/// Deepest nesting of parentheses and NOTs accepted.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
    Minus,
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((Tok::Open, column));
                i += 1;
            }
            ')' => {
                tokens.push((Tok::Close, column));
                i += 1;
            }
            '-' if tokens.last().is_none_or(|(t, _)| !matches!(t, Tok::Op(_))) => {
                tokens.push((Tok::Minus, column));
                i += 1;
            }
            ':' | '=' => {
                tokens.push((Tok::Op(Op::Eq), column));
                i += 1;
            }
            '>' | '<' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    _ => Op::Le,
                };
                tokens.push((Tok::Op(op), column));
                i += if eq { 2 } else { 1 };
            }
            '"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(QueryError { column, message: "unclosed quote".into() }),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if chars.get(i + 1).is_some() => {
                            value.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(ch) => {
                            value.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push((Tok::Quoted(value), column));
            }
            _ => {
                let start = i;
                // A word ends at blanks, brackets, quotes and operators; `-` inside a word
                // (active-grants, service-x) stays part of it.
                while i < chars.len() && !chars[i].is_whitespace() && !"():=<>\"".contains(chars[i]) {
                    i += 1;
                }
                tokens.push((Tok::Word(chars[start..i].iter().collect()), start + 1));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }
    fn column(&self) -> usize {
        self.tokens.get(self.pos).map(|(_, c)| *c).unwrap_or(self.end)
    }
    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.is_keyword("OR") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            if self.is_keyword("AND") {
                self.pos += 1;
            } else if self.peek().is_none() || matches!(self.peek(), Some(Tok::Close)) || self.is_keyword("OR") {
                return Ok(left);
            }
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError { column: self.column(), message: format!("nested deeper than {MAX_DEPTH} levels") });
        }
        let result = if matches!(self.peek(), Some(Tok::Minus)) || self.is_keyword("NOT") {
            self.pos += 1;
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let column = self.column();
        match self.tokens.get(self.pos).cloned() {
            None => Err(QueryError { column, message: "the query ends where a term was expected".into() }),
            Some((Tok::Open, _)) => {
                self.pos += 1;
                let inner = self.or()?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(QueryError { column, message: "unbalanced parenthesis: this `(` is never closed".into() }),
                }
            }
            Some((Tok::Close, _)) => Err(QueryError { column, message: "unbalanced parenthesis: `)` without `(`".into() }),
            Some((Tok::Op(_), _)) => Err(QueryError { column, message: "an operator needs a field before it".into() }),
            Some((Tok::Minus, _)) => Err(QueryError { column, message: "unexpected `-`".into() }),
            Some((Tok::Quoted(text), _)) => {
                self.pos += 1;
                Ok(Expr::Term { field: Field::Name, op: Op::Eq, value: text, column })
            }
            Some((Tok::Word(word), _)) => {
                self.pos += 1;
                let Some(Tok::Op(op)) = self.peek().cloned() else {
                    return Ok(Expr::Term { field: Field::Name, op: Op::Eq, value: word, column });
                };
                let field = field(&word).ok_or_else(|| QueryError { column, message: unknown_field(&word) })?;
                self.pos += 1;
                let value_column = self.column();
                let value = match self.tokens.get(self.pos).cloned() {
                    Some((Tok::Word(v), _)) | Some((Tok::Quoted(v), _)) => v,
                    Some((Tok::Minus, _)) => {
                        // A negative number: `expires>-30d`.
                        self.pos += 1;
                        match self.tokens.get(self.pos).cloned() {
                            Some((Tok::Word(v), _)) => format!("-{v}"),
                            _ => return Err(QueryError { column: value_column, message: format!("`{word}` needs a value") }),
                        }
                    }
                    _ => return Err(QueryError { column: value_column, message: format!("`{word}` needs a value") }),
                };
                self.pos += 1;
                Ok(Expr::Term { field, op, value, column })
            }
        }
    }
}

fn field(name: &str) -> Option<Field> {
    let lower = name.to_ascii_lowercase();
    FIELDS.iter().find(|(n, _, _)| *n == lower).map(|(_, f, _)| *f)
}

fn unknown_field(name: &str) -> String {
    let best = FIELDS.iter().map(|(n, _, _)| (distance(&name.to_ascii_lowercase(), n), *n)).min();
    match best {
        Some((d, n)) if d <= 2 => format!("unknown field `{name}`, did you mean `{n}`?"),
        _ => format!("unknown field `{name}` (fields: {})", FIELDS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")),
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (row[j + 1] + 1).min(row[j] + 1).min(previous + usize::from(ca != *cb));
            previous = current;
        }
    }
    row[b.len()]
}

/// Parses a query; an empty one is `None` (everything).
pub fn parse(text: &str) -> Result<Option<Expr>, QueryError> {
    if text.chars().count() > MAX_QUERY {
        return Err(QueryError { column: MAX_QUERY + 1, message: format!("the query is longer than {MAX_QUERY} characters") });
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let end = text.chars().count() + 1;
    let mut parser = Parser { tokens, pos: 0, end, depth: 0 };
    let expr = parser.or()?;
    if let Some((token, column)) = parser.tokens.get(parser.pos) {
        let message = match token {
            Tok::Close => "unbalanced parenthesis: `)` without `(`".to_string(),
            _ => "unexpected text after the query".to_string(),
        };
        return Err(QueryError { column: *column, message });
    }
    Ok(Some(expr))
}

#[cfg(test)]
mod tests;
