use proptest::prelude::*;

use super::*;

const NOW: i64 = 20_000 * DAY;

/// An active, owned, recently used, read-only, rotated machine credential: nothing to say.
fn calm() -> Input {
    Input {
        kind: IdentityKind::ServiceAccount,
        status: IdentityStatus::Active,
        has_owner: true,
        owner_inactive: false,
        identity_last_active_at: Some(NOW - DAY),
        credential_rotated_at: Some(NOW - 10 * DAY),
        expires_at: Some(NOW + 200 * DAY),
        privilege: Privilege::Read,
        privilege_inferred: false,
        criticality: Criticality::Medium,
        granted_at: Some(NOW - 400 * DAY),
        last_used_at: Some(NOW - DAY),
        peers_holding: 8,
        peers: 10,
        toxic: None,
    }
}

fn rules(score: &Score) -> Vec<Rule> {
    score.factors.iter().map(|f| f.rule).collect()
}

#[test]
fn a_calm_grant_scores_zero_with_no_factors() {
    let s = score(&calm(), &Settings::default(), NOW);
    assert_eq!((s.value, s.factors.len()), (0, 0));
}

#[test]
fn dormancy_is_judged_against_the_cadence_of_the_kind() {
    let settings = Settings::default();
    let idle = |kind, days: i64| {
        let input = Input { kind, last_used_at: Some(NOW - days * DAY), identity_last_active_at: Some(NOW - days * DAY), ..calm() };
        rules(&score(&input, &settings, NOW)).contains(&Rule::Dormant)
    };
    assert!(idle(IdentityKind::Human, 31));
    assert!(!idle(IdentityKind::Human, 30));
    assert!(idle(IdentityKind::ApiKey, 46));
    assert!(!idle(IdentityKind::ApiKey, 45));
    assert!(idle(IdentityKind::ServiceAccount, 91));
    assert!(!idle(IdentityKind::ServiceAccount, 90));
}

#[test]
fn never_used_scores_worse_than_old_use() {
    let settings = Settings::default();
    let never = Input { last_used_at: None, identity_last_active_at: None, ..calm() };
    let old = Input { last_used_at: Some(NOW - 100 * DAY), identity_last_active_at: Some(NOW - 100 * DAY), ..calm() };
    let never = score(&never, &settings, NOW);
    assert_eq!(never.words(), "never used in 400 days since granted");
    assert!(never.value > score(&old, &settings, NOW).value);
}

#[test]
fn usage_falls_back_to_the_identitys_last_activity() {
    let input = Input { last_used_at: None, identity_last_active_at: Some(NOW - 212 * DAY), ..calm() };
    assert_eq!(score(&input, &Settings::default(), NOW).words(), "no use in 212 days");
}

#[test]
fn an_active_identity_with_an_unused_entitlement_is_overprivileged() {
    let input = Input { last_used_at: Some(NOW - 120 * DAY), ..calm() };
    let s = score(&input, &Settings::default(), NOW);
    assert_eq!(rules(&s), vec![Rule::Dormant, Rule::UnusedEntitlement]);
}

#[test]
fn privilege_adds_points_and_says_when_it_was_inferred() {
    let admin = score(&Input { privilege: Privilege::Admin, privilege_inferred: true, ..calm() }, &Settings::default(), NOW);
    assert_eq!(admin.words(), "admin (inferred)");
    let write = score(&Input { privilege: Privilege::Write, ..calm() }, &Settings::default(), NOW);
    assert!(admin.value > write.value && write.value > 0);
}

#[test]
fn machine_ownership_and_credential_hygiene_are_factors() {
    let input = Input { has_owner: false, credential_rotated_at: Some(NOW - 400 * DAY), expires_at: None, ..calm() };
    assert_eq!(score(&input, &Settings::default(), NOW).words(), "no owner · not rotated in 400 days · no expiry");
    let soon = Input { expires_at: Some(NOW + 5 * DAY), ..calm() };
    assert_eq!(score(&soon, &Settings::default(), NOW).words(), "expires in 5 days");
    let human = Input { kind: IdentityKind::Human, has_owner: false, expires_at: None, ..calm() };
    assert_eq!(score(&human, &Settings::default(), NOW).value, 0, "people have managers, not owners");
}

#[test]
fn one_severe_factor_is_never_hidden_by_many_mild_ones() {
    let settings = Settings::default();
    let severe = Input { status: IdentityStatus::Terminated, ..calm() };
    let mild = Input {
        privilege: Privilege::Unknown,
        expires_at: None,
        credential_rotated_at: Some(NOW - 100 * DAY),
        peers_holding: 1,
        peers: 10,
        ..calm()
    };
    let severe = score(&severe, &settings, NOW);
    let mild = score(&mild, &settings, NOW);
    assert_eq!(mild.factors.len(), 4);
    assert!(severe.value > mild.value, "{} vs {}", severe.value, mild.value);
    assert_eq!(severe.words(), "identity terminated but still granted");
}

#[test]
fn the_worked_example_in_the_readme_holds() {
    // A service account's key: admin on a high-criticality application, no use in 212 days,
    // owner terminated, not rotated in 400 days.
    let input = Input {
        kind: IdentityKind::ApiKey,
        privilege: Privilege::Admin,
        criticality: Criticality::High,
        last_used_at: Some(NOW - 212 * DAY),
        identity_last_active_at: Some(NOW - 212 * DAY),
        owner_inactive: true,
        credential_rotated_at: Some(NOW - 400 * DAY),
        ..calm()
    };
    let s = score(&input, &Settings::default(), NOW);
    assert_eq!(s.words(), "owner disabled or terminated · no use in 212 days · admin · not rotated in 400 days");
    // (35 + 35/2 + 30/4 + 12/8) × 1.25 = (35 + 17.5 + 7.5 + 1.5) × 1.25 = 76.875 → 77
    assert_eq!(s.value, 77);
}

#[test]
fn criticality_scales_the_score_and_it_never_passes_100() {
    let input =
        Input { status: IdentityStatus::Terminated, privilege: Privilege::Admin, has_owner: false, expires_at: Some(NOW - DAY), ..calm() };
    let high = score(&Input { criticality: Criticality::High, ..input.clone() }, &Settings::default(), NOW);
    let low = score(&Input { criticality: Criticality::Low, ..input }, &Settings::default(), NOW);
    assert_eq!(high.value, 100);
    assert!(low.value < high.value);
}

#[test]
fn rarity_needs_enough_peers_to_mean_anything() {
    let rare = Input { peers_holding: 2, peers: 10, ..calm() };
    assert_eq!(score(&rare, &Settings::default(), NOW).words(), "rare among peers (20 %)");
    let few = Input { peers_holding: 1, peers: 4, ..calm() };
    assert_eq!(score(&few, &Settings::default(), NOW).value, 0);
}

#[test]
fn holding_both_sides_of_a_separation_of_duties_rule_is_named_with_the_reason() {
    let toxic = Input { toxic: Some("with Payments: approve (create and approve payments)".into()), ..calm() };
    let scored = score(&toxic, &Settings::default(), NOW);
    assert_eq!(scored.words(), "toxic combination with Payments: approve (create and approve payments)");
    assert_eq!(rules(&scored), vec![Rule::ToxicCombination]);
    assert_eq!(scored.value, 45);
}

#[test]
fn a_settings_change_beyond_its_range_is_refused_naming_the_field() {
    let settings = Settings { cadence_human_days: 0, ..Settings::default() };
    assert_eq!(settings.check(), Err("Inactive after (people), days: must be between 1 and 3650, not 0".to_string()));
    let settings = Settings { admin_points: 101, ..Settings::default() };
    assert!(settings.check().is_err_and(|e| e.starts_with("Points: admin access")), "{:?}", settings.check());
    assert_eq!(Settings::default().check(), Ok(()));
}

#[test]
fn a_settings_change_is_described_field_by_field() {
    let changed = Settings { admin_points: 40, rotation_days: 60, ..Settings::default() };
    assert_eq!(Settings::default().changes_to(&changed), "Points: admin access 30 → 40; Not rotated after, days 90 → 60");
}

#[test]
fn settings_stored_before_a_field_existed_take_its_default() {
    let old: Settings = serde_json::from_str(r#"{"admin_points": 50}"#).expect("parses");
    assert_eq!(old, Settings { admin_points: 50, ..Settings::default() });
}

fn any_input() -> impl Strategy<Value = Input> {
    (
        prop::sample::select(IdentityKind::ALL.to_vec()),
        prop::sample::select(IdentityStatus::ALL.to_vec()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0i64..2_000),
        prop::option::of(0i64..2_000),
        prop::option::of(-500i64..2_000),
        prop::sample::select(Privilege::ALL.to_vec()),
        prop::sample::select(Criticality::ALL.to_vec()),
        prop::option::of(0i64..3_000),
        prop::option::of(0i64..2_000),
        (0i64..50, 0i64..50),
    )
        .prop_map(
            |(
                kind,
                status,
                has_owner,
                owner_inactive,
                active,
                rotated,
                expires,
                privilege,
                criticality,
                granted,
                used,
                (holding, peers),
            )| Input {
                kind,
                status,
                has_owner,
                owner_inactive: has_owner && owner_inactive,
                identity_last_active_at: active.map(|d| NOW - d * DAY),
                credential_rotated_at: rotated.map(|d| NOW - d * DAY),
                expires_at: expires.map(|d| NOW + d * DAY),
                privilege,
                privilege_inferred: false,
                criticality,
                granted_at: granted.map(|d| NOW - d * DAY),
                last_used_at: used.map(|d| NOW - d * DAY),
                peers_holding: holding.min(peers),
                peers,
                toxic: None,
            },
        )
}

proptest! {
    #[test]
    fn scores_stay_between_0_and_100_and_are_repeatable(input in any_input()) {
        let a = score(&input, &Settings::default(), NOW);
        let b = score(&input, &Settings::default(), NOW);
        prop_assert!(a.value <= 100);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn more_dormant_never_scores_lower(input in any_input(), extra in 1i64..1_000) {
        let Some(used) = input.last_used_at else { return Ok(()) };
        let older = Input { last_used_at: Some(used - extra * DAY), ..input.clone() };
        prop_assert!(score(&older, &Settings::default(), NOW).value >= score(&input, &Settings::default(), NOW).value);
    }

    #[test]
    fn adding_an_active_owner_never_scores_higher(input in any_input()) {
        let without = Input { has_owner: false, owner_inactive: false, ..input.clone() };
        let with = Input { has_owner: true, owner_inactive: false, ..input };
        prop_assert!(score(&with, &Settings::default(), NOW).value <= score(&without, &Settings::default(), NOW).value);
    }

    #[test]
    fn more_privilege_never_scores_lower(input in any_input()) {
        let read = score(&Input { privilege: Privilege::Read, ..input.clone() }, &Settings::default(), NOW).value;
        let write = score(&Input { privilege: Privilege::Write, ..input.clone() }, &Settings::default(), NOW).value;
        let admin = score(&Input { privilege: Privilege::Admin, ..input }, &Settings::default(), NOW).value;
        prop_assert!(read <= write && write <= admin);
    }
}
