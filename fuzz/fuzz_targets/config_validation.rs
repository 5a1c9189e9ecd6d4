#![no_main]
//! Catalog validation never panics, and whatever it accepts names only known fields.

use connector_hub::catalog::catalog;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let entries = catalog().entries();
    let def = &entries[usize::from(selector) % entries.len()];
    let Ok(config) = serde_json::from_slice::<BTreeMap<String, String>>(rest) else {
        return;
    };
    if let Ok(valid) = catalog().validate(def, &config) {
        assert!(valid.keys().all(|k| def.field(k).is_some()));
    }
});
