#![no_main]
//! Token verification never panics and never accepts a token it did not sign.

use connector_hub::auth::Authenticator;
use connector_hub::config::Settings;
use connector_hub::secret::SecretString;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = Settings::load(None, &|_: &str| None) else {
        return;
    };
    let auth = Authenticator::from_secret(
        &SecretString::new("fuzzing-secret-0123456789abcdef-0123"),
        &settings.auth,
    );
    assert!(auth.verify(token).is_none());
});
