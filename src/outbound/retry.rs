//! The one policy for a provider call that did not work the first time. A refused credential is
//! renewed once, when the connection can renew it, and the call sent again; a provider's rate
//! limit is waited out as long as it asks (within a bound), and a provider that failed or could
//! not be reached is given a doubling backoff — for as many retries as the caller allows. Each
//! caller keeps its own short loop (send, show the policy the answer, do as it says), because
//! what a send and a wait are differs: a proxied call is answered with the provider's response, a
//! sync page renews its run's lease while it waits.

use crate::error::{Error, ErrorCode};
use http::HeaderMap;
use std::time::Duration;

/// How many waits a call may make, from which first backoff, and the longest wait a provider may
/// ask for before its answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Waits (rate limits, outages) before the answer stands; renewing a token is not one.
    pub(crate) retries: u32,
    /// The first wait after an outage or a rate limit that names none; it doubles each time.
    pub(crate) backoff: Duration,
    /// A provider asking for a longer wait than this has its answer returned instead.
    pub(crate) max_wait: Duration,
}

impl RetryPolicy {
    /// No waiting: the answer stands, though a refused credential is still renewed once (a
    /// connection test, a preview, a registration).
    pub(crate) const NO_WAIT: Self = Self {
        retries: 0,
        backoff: Duration::from_millis(250),
        max_wait: Duration::ZERO,
    };

    /// `retries` waits from a quarter-second backoff, waiting out at most 30 s a time (what a
    /// caller asking the proxy for retries gets).
    pub(crate) fn with_retries(retries: u32) -> Self {
        Self {
            retries,
            backoff: Duration::from_millis(250),
            max_wait: Duration::from_secs(30),
        }
    }

    fn backoff(&self, wait: u32) -> Duration {
        self.backoff
            .saturating_mul(2u32.saturating_pow(wait.min(6)))
    }
}

/// A provider's answer, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Done: a success, or a failure no retry mends.
    Final,
    /// The credential was refused (401; an invalid or expired token).
    Refused,
    /// The provider is limiting requests, asking for this wait when it says.
    Limited(Option<Duration>),
    /// The provider failed (a gateway error) or could not be reached in time.
    Unavailable,
}

impl Answer {
    /// A raw HTTP answer (the proxy's, which is passed on as it is).
    pub(crate) fn of_status(status: u16, headers: &HeaderMap) -> Self {
        match status {
            401 => Self::Refused,
            429 => Self::Limited(super::http::retry_after(headers).map(Duration::from_secs)),
            502..=504 => Self::Unavailable,
            _ => Self::Final,
        }
    }

    /// An answer already read as an error (a sync page, a check).
    pub(crate) fn of_error(error: &Error) -> Self {
        match error.code {
            ErrorCode::InvalidCredentials | ErrorCode::ExpiredCredentials => Self::Refused,
            ErrorCode::RateLimited => Self::Limited(error.retry_after.map(Duration::from_secs)),
            ErrorCode::ProviderError
            | ErrorCode::ProviderUnreachable
            | ErrorCode::ProviderTimeout
            | ErrorCode::Timeout
            | ErrorCode::HostUnreachable => Self::Unavailable,
            _ => Self::Final,
        }
    }

    /// A result read as an error when it is one.
    pub(crate) fn of_result<T>(result: &Result<T, Error>) -> Self {
        result.as_ref().err().map_or(Self::Final, Self::of_error)
    }

    /// A call that got no answer (as `http` classifies the transport's failures): worth another
    /// try, unlike a refusal by the egress policy.
    pub(crate) fn of_failed_send(error: &Error) -> Self {
        match error.code {
            ErrorCode::HostUnreachable
            | ErrorCode::Timeout
            | ErrorCode::TlsError
            | ErrorCode::UnexpectedResponse
            | ErrorCode::ProviderUnreachable => Self::Unavailable,
            _ => Self::Final,
        }
    }
}

/// What to do after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The answer stands.
    Return,
    /// Renew the credential and send again.
    Renew,
    /// Wait this long and send again.
    Wait(Duration),
}

/// One call's attempts under a policy.
#[derive(Debug, Clone)]
pub(crate) struct Attempts {
    policy: RetryPolicy,
    sent: u32,
    waits: u32,
    renewed: bool,
}

impl Attempts {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            sent: 0,
            waits: 0,
            renewed: false,
        }
    }

    /// After each answer: what to do next. `can_renew`: the connection holds a refresh token.
    pub(crate) fn after(&mut self, answer: Answer, can_renew: bool) -> Next {
        self.sent += 1;
        let wait = match answer {
            Answer::Final => return Next::Return,
            Answer::Refused if can_renew && !self.renewed => {
                self.renewed = true;
                return Next::Renew;
            }
            Answer::Refused => return Next::Return,
            _ if self.waits >= self.policy.retries => return Next::Return,
            Answer::Limited(Some(asked)) if asked > self.policy.max_wait => return Next::Return,
            Answer::Limited(Some(asked)) => asked,
            Answer::Limited(None) | Answer::Unavailable => self.policy.backoff(self.waits),
        };
        self.waits += 1;
        Next::Wait(wait)
    }

    /// Whether the credential was renewed for this call (a refusal after that is the person's
    /// to fix).
    pub(crate) fn renewed(&self) -> bool {
        self.renewed
    }

    /// How many times the call was sent so far.
    pub(crate) fn sent(&self) -> u32 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            backoff: Duration::from_millis(100),
            max_wait: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_refused_credential_is_renewed_once_and_only_when_it_can_be() {
        let mut attempts = Attempts::new(policy(3));
        assert_eq!(attempts.after(Answer::Refused, true), Next::Renew);
        assert_eq!(attempts.after(Answer::Refused, true), Next::Return);
        assert!(attempts.renewed());
        assert_eq!(attempts.sent(), 2);
        let mut without = Attempts::new(policy(3));
        assert_eq!(without.after(Answer::Refused, false), Next::Return);
        assert!(!without.renewed());
    }

    #[test]
    fn outages_back_off_doubling_until_the_retries_are_spent() {
        let mut attempts = Attempts::new(policy(3));
        let waits: Vec<Next> = (0..4)
            .map(|_| attempts.after(Answer::Unavailable, true))
            .collect();
        assert_eq!(
            waits,
            [
                Next::Wait(Duration::from_millis(100)),
                Next::Wait(Duration::from_millis(200)),
                Next::Wait(Duration::from_millis(400)),
                Next::Return,
            ]
        );
    }

    #[test]
    fn a_rate_limit_is_waited_out_as_asked_unless_it_asks_too_much() {
        let mut attempts = Attempts::new(policy(3));
        let asked = Duration::from_secs(2);
        assert_eq!(
            attempts.after(Answer::Limited(Some(asked)), true),
            Next::Wait(asked)
        );
        assert_eq!(
            attempts.after(Answer::Limited(Some(Duration::from_secs(11))), true),
            Next::Return
        );
        let mut unnamed = Attempts::new(policy(3));
        assert_eq!(
            unnamed.after(Answer::Limited(None), true),
            Next::Wait(Duration::from_millis(100))
        );
    }

    #[test]
    fn without_retries_only_the_renewal_happens() {
        let mut attempts = Attempts::new(RetryPolicy::NO_WAIT);
        assert_eq!(attempts.after(Answer::Unavailable, true), Next::Return);
        let mut refused = Attempts::new(RetryPolicy::NO_WAIT);
        assert_eq!(refused.after(Answer::Refused, true), Next::Renew);
        assert_eq!(refused.after(Answer::Final, true), Next::Return);
    }

    #[test]
    fn answers_are_read_from_statuses_and_errors() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("7"));
        assert_eq!(
            Answer::of_status(429, &headers),
            Answer::Limited(Some(Duration::from_secs(7)))
        );
        assert_eq!(Answer::of_status(401, &headers), Answer::Refused);
        assert_eq!(Answer::of_status(503, &headers), Answer::Unavailable);
        assert_eq!(Answer::of_status(500, &headers), Answer::Final);
        assert_eq!(Answer::of_status(200, &headers), Answer::Final);
        let expired = Error::from_code(ErrorCode::ExpiredCredentials);
        assert_eq!(Answer::of_error(&expired), Answer::Refused);
        let bad = Error::from_code(ErrorCode::InvalidConfig);
        assert_eq!(Answer::of_error(&bad), Answer::Final);
    }
}
