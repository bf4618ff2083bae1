//! Exact counts of small spaces whose size is known by hand, and of very large ones.

mod common;

use common::count;

#[test]
fn independent_choices_multiply() {
    let src =
        "space s { param a = choice(1, 2, 3) param b = range(1, 10) param c = choice(true, false)
        graph { linear(out = a * b) dropout(rate = if c { 0.1 } else { 0.2 }) } }";
    assert_eq!(count(src).as_deref(), Some("60"));
}

#[test]
fn constraints_are_honoured_exactly() {
    let src = "space s { param a = range(1, 12) param b = range(1, 12) require a % b == 0 require a + b <= 12
        graph { linear(out = a) linear(out = b) } }";
    // Pairs (a, b) in 1..12 with b dividing a and a + b <= 12, counted by hand.
    let expected = (1..=12)
        .flat_map(|a| (1..=12).map(move |b| (a, b)))
        .filter(|(a, b)| a % b == 0 && a + b <= 12)
        .count();
    assert_eq!(count(src), Some(expected.to_string()));
}

#[test]
fn repeat_gives_each_repetition_its_own_choices() {
    let src =
        "space s { param n = choice(1, 2, 3) graph { repeat n { linear(out = choice(8, 16)) } } }";
    assert_eq!(count(src).as_deref(), Some("14")); // 2 + 4 + 8
}

#[test]
fn a_named_param_inside_a_repeat_is_shared() {
    let src = "space s { param n = choice(1, 2, 3) param w = choice(8, 16) graph { repeat n { linear(out = w) } } }";
    assert_eq!(count(src).as_deref(), Some("6"));
}

#[test]
fn an_optional_that_is_off_does_not_multiply() {
    let src = "space s { graph { optional dropout(rate = choice(0.1, 0.2, 0.3)) } }";
    assert_eq!(count(src).as_deref(), Some("4")); // off, or on with one of 3 rates
}

#[test]
fn a_shared_param_used_only_under_optionals_counts_once_when_inactive() {
    let src = "space s { param r = choice(0.1, 0.2, 0.3)
        graph { optional dropout(rate = r) optional dropout(rate = r) } }";
    // Both off: r inactive (1). Otherwise 3 on/off patterns x 3 values of r.
    assert_eq!(count(src).as_deref(), Some("10"));
}

#[test]
fn a_branch_not_taken_does_not_multiply() {
    let src = "space s { param g = choice(true, false) param w = choice(1, 2, 3, 4)
        graph { if g { linear(out = w) } else { identity() } } }";
    assert_eq!(count(src).as_deref(), Some("5"));
}

#[test]
fn a_choice_between_subgraphs_sums_its_alternatives() {
    let src = "space s { graph { choice({ linear(out = choice(1, 2)) linear(out = choice(3, 4)) }, identity(), dropout(rate = choice(0.1, 0.2))) } }";
    assert_eq!(count(src).as_deref(), Some("7")); // 4 + 1 + 2
}

#[test]
fn function_call_sites_get_their_own_choices() {
    let src = "fn f() -> module { linear(out = choice(1, 2, 3)) }
        space s { graph { f() f() f() } }";
    assert_eq!(count(src).as_deref(), Some("27"));
}

#[test]
fn a_value_argument_is_one_choice_per_call() {
    let src = "fn f(w: int) -> module { linear(out = w) linear(out = w) }
        space s { graph { f(w = choice(1, 2, 3)) } }";
    assert_eq!(count(src).as_deref(), Some("3"));
}

#[test]
fn a_module_argument_is_a_template() {
    let src = "fn twice(m: module) -> module { m >> m }
        space s { graph { twice(linear(out = choice(1, 2))) } }";
    assert_eq!(count(src).as_deref(), Some("4"));
}

#[test]
fn enum_variants_with_payloads_count_their_payload_choices() {
    let src = "import std.transformer.{ attention }
        space s { graph { embedding(vocab = 10, dim = 64) attention(heads = 4, kind = choice(softmax, linear, local(window = choice(8, 16, 32)))) } }";
    assert_eq!(count(src).as_deref(), Some("5"));
}

#[test]
fn quantised_floats_are_finite() {
    let src = "space s { param r = uniform(0.0, 0.5, q = 0.1) graph { dropout(rate = r) } }";
    assert_eq!(count(src).as_deref(), Some("6"));
}

#[test]
fn the_poster_space_has_25008_architectures() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/deep_architect_poster.nas"
    ))
    .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = nasc::check_source("deep_architect_poster.nas", src, Some(dir));
    match &out.summaries[0].size {
        nasc::space::summary::Size::Finite(n) => assert_eq!(n.to_string(), "25008"),
        other => panic!("unexpected size {other:?}"),
    }
}

#[test]
fn huge_spaces_count_exactly() {
    // 40 independent params of 10 values: exactly 10^40, without enumerating.
    let mut src = String::from("space s {\n");
    for i in 0..40 {
        src.push_str(&format!(
            "param p{i} = choice(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)\n"
        ));
    }
    src.push_str("graph {\n");
    for i in 0..40 {
        src.push_str(&format!("linear(out = p{i})\n"));
    }
    src.push_str("} }\n");
    assert_eq!(count(&src), Some(format!("1{}", "0".repeat(40))));
}

#[test]
fn deep_repeats_count_exactly() {
    let src = "space s { graph { repeat 100 { linear(out = choice(1, 2)) } } }";
    assert_eq!(
        count(src),
        Some(num_bigint::BigUint::from(2u32).pow(100).to_string())
    );
}

#[test]
fn continuous_dimensions_make_the_space_infinite() {
    let out = common::check("space s { param lr = log_uniform(1e-4, 1e-2) param w = choice(1, 2) graph { linear(out = w) } train { optimizer = adamw(lr = lr) } }");
    assert!(
        out.contains("infinite (continuous: lr); discrete part: 2"),
        "{out}"
    );
}

#[test]
fn a_constraint_that_excludes_the_bad_shapes_silences_the_shape_rule() {
    let src = "import std.transformer.{ attention }
        space s { param width = choice(64, 96, 128) param heads = choice(4, 6)
            require width % heads == 0
            graph { embedding(vocab = 100, dim = width) attention(heads = heads) lm_head(vocab = 100) } }";
    assert!(common::codes(src).is_empty(), "{}", common::check(src));
    // (64, 4), (96, 4), (96, 6), (128, 4)
    assert_eq!(count(src).as_deref(), Some("4"));
}

#[test]
fn without_the_constraint_the_shape_rule_fails() {
    let src = "import std.transformer.{ attention }
        space s { param width = choice(64, 96, 128) param heads = choice(4, 6)
            graph { embedding(vocab = 100, dim = width) attention(heads = heads) lm_head(vocab = 100) } }";
    assert_eq!(common::codes(src), vec!["E018"]);
}

#[test]
fn shape_rules_are_decided_in_huge_spaces() {
    // 40 independent params read by 40 independent rules (`out > 0`): each is decided on
    // its own values, so the one bad value among 10^40 architectures is found.
    let mut src = String::from("space s {\n");
    for i in 0..40 {
        let lo = if i == 17 { 0 } else { 1 };
        src.push_str(&format!("param p{i} = range({lo}, {})\n", lo + 9));
    }
    src.push_str("graph {\n");
    for i in 0..40 {
        src.push_str(&format!("linear(out = p{i})\n"));
    }
    src.push_str("} }\n");
    let out = common::check(&src);
    assert_eq!(common::codes(&src), vec!["E018"], "{out}");
    assert!(out.contains("`out > 0`"), "{out}");
}

#[test]
fn functions_that_call_others_twice_count_in_linear_time() {
    // f0 expands to 2^40 copies of the leaf; each body is expanded once per binding.
    let mut src = String::new();
    for i in 0..40 {
        src.push_str(&format!(
            "fn f{i}() -> module {{ f{}() >> f{}() }}\n",
            i + 1,
            i + 1
        ));
    }
    src.push_str("fn f40() -> module { linear(out = 1) }\n");
    src.push_str("space s { param w = choice(1, 2, 3) graph { linear(out = w) f0() } }\n");
    assert_eq!(count(&src).as_deref(), Some("3"), "{}", common::check(&src));
    // With a choice in the leaf, every copy chooses: 2^(2^10) for ten levels.
    let mut src = String::new();
    for i in 0..10 {
        src.push_str(&format!(
            "fn f{i}() -> module {{ f{}() >> f{}() }}\n",
            i + 1,
            i + 1
        ));
    }
    src.push_str("fn f10() -> module { linear(out = choice(1, 2)) }\nspace s { graph { f0() } }\n");
    assert_eq!(
        count(&src),
        Some(num_bigint::BigUint::from(2u32).pow(1024).to_string())
    );
}

/// The widest inline integer range does not overflow the count (it used to, in debug
/// builds); it is too large to count.
#[test]
fn the_widest_inline_range_is_unavailable_not_an_overflow() {
    let src = "space s { graph { embedding(vocab = 10, dim = choice(range(-9223372036854775807, 9223372036854775807))) lm_head(vocab = 10) } }";
    assert_eq!(count(src), None);
}

/// Integer bounds and steps are kept exactly: past 2^53 an `f64` holds only even
/// numbers, then only multiples of four, and so on.
#[test]
fn ranges_past_two_to_the_53_count_exactly() {
    for (range, expected) in [
        ("range(9007199254740990, 9007199254740999)", "10"),
        ("range(-9223372036854775807, -9223372036854775800)", "8"),
        ("range(1, 4611686018427387905, 4611686018427387904)", "2"),
        ("range(1, 3074457345618258601, 1537228672809129300)", "3"),
    ] {
        let src = format!("space s {{ param a = {range} graph {{ linear(out = 8) }} }}");
        assert_eq!(count(&src).as_deref(), Some(expected), "{range}");
    }
}

/// A count that would pass 2^65,536 is given up at once instead of raising a number of
/// a billion digits to a power (it filled the memory before).
#[test]
fn a_count_past_the_bound_is_given_up_quickly() {
    let src = "space s { param n = choice(1000, 2000)
        graph { repeat n { repeat n { repeat n { linear(out = choice(16, 32)) } } } } }";
    let started = std::time::Instant::now();
    assert_eq!(count(src), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Under the bound it still counts exactly: 2^30,000.
    let src = "space s { graph { repeat 30000 { linear(out = choice(16, 32)) } } }";
    let expected = num_bigint::BigUint::from(2u32).pow(30_000).to_string();
    assert!(count(src) == Some(expected), "2^30,000 counts exactly");
}
