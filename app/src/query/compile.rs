//! Turns a parsed query into one SQL condition over the grants join (`g` grant, `i` identity,
//! `e` entitlement, `a` application). Every value is a bound parameter.

use super::{Expr, Field, Op, QueryError};
use crate::db::Sql;
use crate::identities::{IdentityKind, IdentityStatus, Privilege};
use crate::scoring::Rule;
use crate::time_fmt::DAY;

/// Largest number of days a query may name (about 270 years).
const MAX_DAYS: i64 = 100_000;

pub fn compile(expr: &Expr, now: i64, sql: &mut Sql) -> Result<(), QueryError> {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            sql.push("(");
            compile(a, now, sql)?;
            sql.push(if matches!(expr, Expr::And(..)) { " and " } else { " or " });
            compile(b, now, sql)?;
            sql.push(")");
        }
        Expr::Not(inner) => {
            sql.push("not (");
            compile(inner, now, sql)?;
            sql.push(")");
        }
        Expr::Term { field, op, value, column } => term(*field, *op, value, *column, now, sql)?,
    }
    Ok(())
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => " = ",
        Op::Gt => " > ",
        Op::Ge => " >= ",
        Op::Lt => " < ",
        Op::Le => " <= ",
    }
}

fn number(value: &str, column: usize, days: bool) -> Result<i64, QueryError> {
    let digits = if days { value.strip_suffix('d').unwrap_or(value) } else { value };
    let n: i64 = digits.parse().map_err(|_| QueryError {
        column,
        message: if days { format!("`{value}` is not a number of days (like 30d)") } else { format!("`{value}` is not a number") },
    })?;
    if n.abs() > MAX_DAYS {
        return Err(QueryError { column, message: format!("`{value}` is too large") });
    }
    Ok(n)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn term(field: Field, op: Op, value: &str, column: usize, now: i64, sql: &mut Sql) -> Result<(), QueryError> {
    let name = super::FIELDS.iter().find(|(_, f, _)| *f == field).map(|(n, _, _)| *n).unwrap_or("name");
    let needs_eq = || -> Result<(), QueryError> {
        if op == Op::Eq { Ok(()) } else { Err(QueryError { column, message: format!("`{name}` takes `:` (like {name}:value)") }) }
    };
    let needs_compare = || -> Result<(), QueryError> {
        if op == Op::Eq {
            Err(QueryError { column, message: format!("`{name}` compares with >, >=, < or <= (like {name}>30d)") })
        } else {
            Ok(())
        }
    };
    let bad = |message: String| QueryError { column, message };
    let lower = value.to_lowercase();
    match field {
        Field::Kind => {
            needs_eq()?;
            if lower == "machine" {
                sql.push("i.kind <> 'human'");
            } else {
                let kind = IdentityKind::parse(value).map_err(|m| bad(format!("{m} or machine")))?;
                sql.push("i.kind = ").bind(kind.as_str());
            }
        }
        Field::Status => {
            needs_eq()?;
            let status = IdentityStatus::parse(value).map_err(bad)?;
            sql.push("i.status = ").bind(status.as_str());
        }
        Field::Privilege => {
            needs_eq()?;
            let privilege = Privilege::parse(value).map_err(bad)?;
            sql.push("e.privilege = ").bind(privilege.as_str());
        }
        Field::Owner => {
            needs_eq()?;
            match lower.as_str() {
                "none" => {
                    sql.push("(i.kind <> 'human' and i.owner is null)");
                }
                "any" => {
                    sql.push("i.owner is not null");
                }
                _ => {
                    sql.push("(lower(i.owner) = ").bind(lower.clone());
                    sql.push(" or exists (select 1 from identity o where o.identity_id = i.owner_identity_id and lower(o.display_name) = ")
                        .bind(lower)
                        .push("))");
                }
            }
        }
        Field::App => {
            needs_eq()?;
            sql.push("(lower(a.name) = ").bind(lower.clone()).push(" or lower(a.external_id) = ").bind(lower).push(")");
        }
        Field::Entitlement => {
            needs_eq()?;
            sql.push("lower(e.name) = ").bind(lower);
        }
        Field::Department => {
            needs_eq()?;
            sql.push("lower(i.department) = ").bind(lower);
        }
        Field::Source => {
            needs_eq()?;
            sql.push("i.source_id in (select source_id from source where lower(name) = ").bind(lower).push(")");
        }
        Field::Name => {
            needs_eq()?;
            let pattern = format!("%{}%", escape_like(&lower));
            sql.push("(lower(i.display_name) like ").bind(pattern.clone()).push(" escape '\\'");
            sql.push(" or lower(i.email) like ").bind(pattern.clone()).push(" escape '\\'");
            sql.push(" or lower(i.external_id) like ").bind(pattern).push(" escape '\\')");
        }
        Field::Factor => {
            needs_eq()?;
            let rule = Rule::ALL.iter().find(|r| r.as_str() == lower).ok_or_else(|| {
                bad(format!("unknown factor `{value}` (factors: {})", Rule::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")))
            })?;
            sql.push("g.risk_rules like ").bind(format!("%,{},%", rule.as_str()));
        }
        Field::Risk => {
            let n = number(value, column, false)?;
            if !(0..=100).contains(&n) {
                return Err(bad(format!("risk is 0–100, not {n}")));
            }
            sql.push("s.risk_score").push(sql_op(op)).bind(n);
        }
        Field::ActiveGrants => {
            let n = number(value, column, false)?;
            sql.push("(select count(*) from access_grant x where x.identity_id = i.identity_id and x.ended_at is null)")
                .push(sql_op(op))
                .bind(n);
        }
        Field::Idle => {
            needs_compare()?;
            let threshold = now - number(value, column, true)? * DAY;
            let used = "coalesce(g.last_used_at, i.last_active_at)";
            match op {
                // Never used counts as idle for as long as can be.
                Op::Gt => sql.push(&format!("({used} is null or {used} < ")).bind(threshold).push(")"),
                Op::Ge => sql.push(&format!("({used} is null or {used} <= ")).bind(threshold).push(")"),
                Op::Lt => sql.push(&format!("{used} > ")).bind(threshold),
                _ => sql.push(&format!("{used} >= ")).bind(threshold),
            };
        }
        Field::Rotated => {
            needs_compare()?;
            let threshold = now - number(value, column, true)? * DAY;
            let flipped = match op {
                Op::Gt => " < ",
                Op::Ge => " <= ",
                Op::Lt => " > ",
                _ => " >= ",
            };
            sql.push("i.credential_rotated_at").push(flipped).bind(threshold);
        }
        Field::Expires => {
            needs_compare()?;
            let threshold = now + number(value, column, true)? * DAY;
            sql.push("i.expires_at").push(sql_op(op)).bind(threshold);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn compiled(text: &str) -> Sql {
        let expr = parse(text).expect("parses").expect("not empty");
        let mut sql = Sql::default();
        compile(&expr, 1_000 * DAY, &mut sql).expect("compiles");
        sql
    }

    #[test]
    fn values_are_bound_never_pasted() {
        let sql = compiled(r#"app:"x' or 1=1 --" name:"%'; drop table identity; --""#);
        assert!(!sql.text.contains("drop table"), "{}", sql.text);
        assert!(!sql.text.contains("1=1"), "{}", sql.text);
        assert_eq!(sql.values.len(), 5);
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let sql = compiled("kind:human OR kind:bot -status:active");
        assert_eq!(sql.text, "(i.kind = $1 or (i.kind = $2 and not (i.status = $3)))");
    }

    #[test]
    fn terms_check_their_values_and_operators() {
        let err = |text: &str| match parse(text) {
            Err(e) => e.to_string(),
            Ok(expr) => compile(&expr.expect("not empty"), 0, &mut Sql::default()).unwrap_err().to_string(),
        };
        assert_eq!(
            err("kind:robot"),
            "unknown kind `robot` (expected one of human, service_account, api_key, token, certificate, bot, ai_agent, workload) or machine at 1"
        );
        assert_eq!(
            err("x:1 idle:30d"),
            "unknown field `x` (fields: kind, status, owner, app, entitlement, privilege, department, source, name, factor, risk, idle, rotated, expires, active-grants) at 1"
        );
        assert_eq!(err("idle:30d"), "`idle` compares with >, >=, < or <= (like idle>30d) at 1");
        assert_eq!(err("risk>=101"), "risk is 0–100, not 101 at 1");
        assert_eq!(err("idle>99999999999999999999d"), "`99999999999999999999d` is not a number of days (like 30d) at 1");
        assert_eq!(err("rotated>200000d"), "`200000d` is too large at 1");
        assert_eq!(err("kind>human"), "`kind` takes `:` (like kind:value) at 1");
    }
}
