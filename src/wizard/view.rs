//! What a wizard page shows: the answers so far (secrets masked), the current question, and the
//! outcome of the test. Holds no secret: it is serialized into the page.

use super::Flow;
use crate::catalog::{AuthMode, FieldDef};
use crate::model::wizard::{ConnectorBrief, ShownAnswer, WizardStep, WizardView, SECRET_MASK};

impl Flow<'_> {
    pub(crate) fn view(&self) -> WizardView {
        let step = self.step();
        let current = self.current_field();
        let fields = self.applicable();
        // Answers shown: every applicable answered field before the current one.
        let upto = match (step, current) {
            (WizardStep::Field, Some(f)) => fields
                .iter()
                .position(|x| x.name == f.name)
                .unwrap_or(fields.len()),
            (WizardStep::Intro | WizardStep::Auth, _) => 0,
            (WizardStep::Authorize, _) if self.draft.mode == AuthMode::OAuth => fields.len(),
            _ => fields.len(),
        };
        let answered = fields
            .iter()
            .take(upto)
            .filter(|f| self.answered(&f.name))
            .map(|f| ShownAnswer {
                field: f.name.clone(),
                label: f.label.clone(),
                question: question(f),
                shown: if f.secret {
                    SECRET_MASK.to_owned()
                } else {
                    self.draft.answers.get(&f.name).cloned().unwrap_or_default()
                },
            })
            .collect();
        let prefill = current.filter(|f| !f.secret).and_then(|f| {
            self.draft
                .answers
                .get(&f.name)
                .cloned()
                .or_else(|| f.default.clone())
        });
        WizardView {
            def: ConnectorBrief::from(self.def),
            draft_id: self.id.as_ref().map(ToString::to_string),
            revision: self.draft.revision,
            replace: self.replace.as_ref().map(ToString::to_string),
            step,
            field: current.cloned(),
            prefill,
            has_secret_answer: current.is_some_and(|f| f.secret && self.answered(&f.name)),
            answered,
            error: self.draft.error.clone(),
            result: self.draft.result.clone(),
            saved_connector: self.draft.saved.as_ref().map(ToString::to_string),
            display_name: self
                .draft
                .display_name
                .as_ref()
                .map_or_else(|| self.def.name.clone(), ToString::to_string),
            sync_frequency: self.draft.sync_frequency,
            mode: self.draft.mode,
            oauth_available: self.oauth_available(),
            signed_in: self.draft.signed_in.clone(),
            choices: self.draft.choices.clone(),
        }
    }
}

fn question(field: &FieldDef) -> String {
    format!("What is your {}?", field.label.to_ascii_lowercase())
}
