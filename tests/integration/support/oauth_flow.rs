//! Drives the OAuth2 connect flow over HTTP the way a browser does: wizard steps (server
//! functions with the session cookie), `POST /oauth/start`, the fake provider's consent page,
//! the cross-site callback (which carries no cookie) and `/oauth/finish`.

use reqwest::Client;
use serde_json::Value;
use std::collections::HashMap;

pub struct Browser {
    pub http: Client,
    pub base: String,
    pub fakes: String,
    pub cookie: String,
}

/// Query parameters of a URL.
pub fn params(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Browser {
    pub fn new(base: &str, fakes: &str, jwt: &str) -> Self {
        Self {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            fakes: fakes.to_owned(),
            cookie: format!("ch_session={jwt}"),
        }
    }

    /// A same-site POST from the signed-in browser (session cookie and Origin, as a form sends).
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
    }

    /// One wizard step; returns the draft id of the page it leads to.
    pub async fn step(
        &self,
        connector_type: &str,
        draft: Option<&str>,
        replace: Option<&str>,
        action: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut form = vec![("connector_type", connector_type), ("action", action)];
        if let Some(d) = draft {
            form.push(("draft", d));
        }
        if let Some(r) = replace {
            form.push(("replace", r));
        }
        form.extend_from_slice(extra);
        let r = self
            .post("/api/wizard_step")
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .expect("wizard step");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "wizard {action}: {status} {body}");
        let url: String = serde_json::from_str(&body).expect("url");
        params(&format!("http://x{url}"))
            .get("draft")
            .cloned()
            .expect("draft in url")
    }

    /// What the wizard page would render for this draft.
    pub async fn view(&self, connector_type: &str, draft: &str) -> Value {
        let r = self
            .post("/api/wizard_view")
            .header("accept", "application/json")
            .form(&[("connector_type", connector_type), ("draft", draft)])
            .send()
            .await
            .expect("wizard view");
        assert!(r.status().is_success(), "wizard view: {}", r.status());
        r.json().await.expect("view json")
    }

    /// Starts a wizard and chooses "Connect with …", answering `answers` (e.g. a shop domain)
    /// on the way; returns the draft, now waiting at the sign-in step.
    pub async fn begin(
        &self,
        connector_type: &str,
        replace: Option<&str>,
        answers: &[&str],
    ) -> String {
        let draft = self.step(connector_type, None, replace, "start", &[]).await;
        let draft = self
            .step(connector_type, Some(&draft), replace, "oauth", &[])
            .await;
        for answer in answers {
            self.step(
                connector_type,
                Some(&draft),
                replace,
                "answer",
                &[("value", answer)],
            )
            .await;
        }
        draft
    }

    /// `POST /oauth/start`: returns where the server sends the browser (the consent page).
    pub async fn authorize(&self, connector_type: &str, draft: &str) -> String {
        let r = self
            .post("/oauth/start")
            .form(&[("connector_type", connector_type), ("draft", draft)])
            .send()
            .await
            .expect("oauth start");
        assert_eq!(r.status(), 303, "start redirects");
        location(&r)
    }

    /// The user's answer on the fake consent page; returns the callback URL it redirects to.
    pub async fn consent(&self, authorize_url: &str, allow: bool) -> String {
        let page = self
            .http
            .get(authorize_url)
            .send()
            .await
            .expect("consent page");
        assert_eq!(page.status(), 200, "the fake shows its consent page");
        let q = params(authorize_url);
        let provider = if authorize_url.contains("/shopify/") {
            "shopify".to_owned()
        } else {
            authorize_url
                .split("/oauth/")
                .nth(1)
                .and_then(|s| s.split('/').next())
                .unwrap_or_default()
                .to_owned()
        };
        let mut form: Vec<(String, String)> = q.into_iter().collect();
        form.push((
            "decision".into(),
            if allow { "allow" } else { "deny" }.into(),
        ));
        let r = self
            .http
            .post(format!("{}/oauth/{provider}/decide", self.fakes))
            .form(&form)
            .send()
            .await
            .expect("decide");
        assert_eq!(r.status(), 303);
        location(&r)
    }

    /// Follows the provider's redirect like a browser: the callback (cross-site, so without the
    /// cookie), then our own page's hop to `/oauth/finish` (same-site, with it). Returns the
    /// wizard's draft id from where it lands.
    pub async fn callback(&self, callback_url: &str) -> String {
        let r = self.http.get(callback_url).send().await.expect("callback");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let page = r.text().await.unwrap_or_default();
        let href = page
            .split("url=")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("refresh target")
            .replace("&amp;", "&");
        assert!(href.starts_with("/oauth/finish?"), "hop: {href}");
        let r = self
            .http
            .get(format!("{}{href}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("finish");
        assert_eq!(r.status(), 303, "finish redirects to the wizard");
        let to = location(&r);
        params(&format!("http://x{to}"))
            .get("draft")
            .cloned()
            .expect("lands in a wizard draft")
    }

    /// Names the connection and runs the test; returns the saved connector's id (or None when
    /// the test failed and the wizard kept the user).
    pub async fn save(
        &self,
        connector_type: &str,
        draft: &str,
        replace: Option<&str>,
    ) -> Option<String> {
        self.step(
            connector_type,
            Some(draft),
            replace,
            "name",
            &[("display_name", "Signed in"), ("sync_frequency", "daily")],
        )
        .await;
        let view = self.view(connector_type, draft).await;
        view["saved_connector"].as_str().map(str::to_owned)
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/oauth/_stats", self.fakes))
            .send()
            .await
            .expect("stats")
            .json::<Value>()
            .await
            .expect("stats json")["stats"]
            .clone()
    }

    pub async fn control(&self, control: Value) {
        let r = self
            .http
            .post(format!("{}/oauth/_control", self.fakes))
            .json(&control)
            .send()
            .await
            .expect("control");
        assert_eq!(r.status(), 204);
    }
}
