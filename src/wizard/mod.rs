//! The setup wizard's state machine (server only). A draft is opened for each request
//! (`Flow::open`), moved on by one `WizardAction` (`Flow::apply`) or by the provider's answer to
//! a sign-in (`Flow::finish_sign_in`), stored again, and shown as a `WizardView`.
//!
//! `flow` decides the steps, `sign_in` the OAuth2 part, `saving` the test and save at the end,
//! `view` what a page shows, `draft` what is kept between requests.

mod draft;
mod flow;
mod saving;
mod sign_in;
mod view;

pub(crate) use flow::Flow;
pub(crate) use sign_in::SignIn;
