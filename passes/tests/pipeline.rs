//! Choosing passes by name.

use lingot_passes::{default_pipeline, known_passes, PassError, Pipeline, DEFAULT_PIPELINE};

#[test]
fn names_are_parsed_in_order_with_spaces_ignored() {
    let p = Pipeline::parse(" dce, fuse-moe-router ,cse,").expect("known names");
    assert_eq!(p.names(), ["dce", "fuse-moe-router", "cse"]);
}

#[test]
fn default_expands_to_the_default_pipeline() {
    let p = Pipeline::parse("cse,default").expect("known names");
    let mut want = vec!["cse"];
    want.extend(DEFAULT_PIPELINE.split(','));
    assert_eq!(p.names(), want);
    assert_eq!(
        default_pipeline().names(),
        DEFAULT_PIPELINE.split(',').collect::<Vec<_>>()
    );
}

#[test]
fn an_empty_list_is_the_empty_pipeline() {
    assert!(Pipeline::parse("").expect("empty is fine").is_empty());
    assert!(Pipeline::parse(" , ").expect("empty is fine").is_empty());
}

#[test]
fn an_unknown_name_is_an_error_that_lists_the_known_ones() {
    let err = Pipeline::parse("dce,fuse-everything").expect_err("unknown pass");
    let PassError::UnknownPass { name, .. } = &err else {
        panic!("wrong error: {err}")
    };
    assert_eq!(name, "fuse-everything");
    let msg = err.to_string();
    for known in known_passes() {
        assert!(msg.contains(known), "{msg:?} does not list {known}");
    }
}

#[test]
fn every_known_pass_parses_and_has_its_own_name() {
    for name in known_passes() {
        let p = Pipeline::parse(name).expect("known");
        assert_eq!(p.names(), [name]);
    }
}
