use super::*;

fn term(field: Field, op: Op, value: &str, column: usize) -> Expr {
    Expr::Term { field, op, value: value.to_string(), column }
}

#[test]
fn terms_joined_by_spaces_are_and() {
    let expr = parse("kind:service_account owner:none").unwrap().unwrap();
    assert_eq!(
        expr,
        Expr::And(Box::new(term(Field::Kind, Op::Eq, "service_account", 1)), Box::new(term(Field::Owner, Op::Eq, "none", 22)))
    );
}

#[test]
fn comparisons_quotes_and_negation_parse() {
    let expr = parse(r#"app:"AWS prod" -kind:human risk>=70"#).unwrap().unwrap();
    assert_eq!(
        expr,
        Expr::And(
            Box::new(Expr::And(
                Box::new(term(Field::App, Op::Eq, "AWS prod", 1)),
                Box::new(Expr::Not(Box::new(term(Field::Kind, Op::Eq, "human", 17)))),
            )),
            Box::new(term(Field::Risk, Op::Ge, "70", 28)),
        )
    );
}

#[test]
fn or_binds_looser_than_and_and_parentheses_group() {
    let a = parse("privilege:admin idle>30d OR status:terminated").unwrap().unwrap();
    assert!(matches!(a, Expr::Or(..)), "{a:?}");
    let b = parse("privilege:admin (idle>30d OR status:terminated)").unwrap().unwrap();
    assert!(matches!(b, Expr::And(..)), "{b:?}");
    let c = parse("NOT kind:human AND active-grants>0").unwrap().unwrap();
    assert!(matches!(c, Expr::And(..)), "{c:?}");
}

#[test]
fn mistakes_are_reported_at_their_column() {
    let err = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(err("owmer:none"), "unknown field `owmer`, did you mean `owner`? at 1");
    assert_eq!(err("kind:human (risk>50"), "unbalanced parenthesis: this `(` is never closed at 12");
    assert_eq!(err("kind:human)"), "unbalanced parenthesis: `)` without `(` at 11");
    assert_eq!(err("app:\"AWS prod"), "unclosed quote at 5");
    assert_eq!(err("kind:"), "`kind` needs a value at 6");
    assert_eq!(err(">30d"), "an operator needs a field before it at 1");
    assert_eq!(err("kind:human OR"), "the query ends where a term was expected at 14");
}

#[test]
fn hostile_input_is_refused_without_panicking() {
    assert!(parse(&"(".repeat(500)).is_err());
    assert!(parse(&"x".repeat(MAX_QUERY + 1)).is_err());
    assert!(parse(&"-".repeat(200)).is_err());
    assert_eq!(parse("   ").unwrap(), None);
}

proptest::proptest! {
    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn query_shaped_text_parses_or_fails_cleanly(text in "[a-z:<>=()\" -]{0,80}") {
        let _ = parse(&text);
    }
}
