//! How many proxied calls one tenant may have in flight at once, in this process: a tenant whose
//! provider is slow (or who calls slow paths on purpose) holds its own slots, not every
//! connection the hub has. A slot is held until the answer has streamed back.

use crate::ids::TenantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Tenants remembered before idle ones (every slot free) are forgotten.
const REMEMBERED: usize = 1024;

pub(super) struct TenantSlots {
    per_tenant: usize,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

impl TenantSlots {
    pub(crate) fn new(per_tenant: u64) -> Self {
        Self {
            per_tenant: usize::try_from(per_tenant)
                .unwrap_or(usize::MAX)
                .clamp(1, Semaphore::MAX_PERMITS),
            tenants: Mutex::default(),
        }
    }

    /// A slot for `tenant`, or `None` when all of its slots are taken.
    pub(crate) fn try_take(&self, tenant: &TenantId) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            if tenants.len() >= REMEMBERED && !tenants.contains_key(tenant) {
                let full = self.per_tenant;
                tenants.retain(|_, s| s.available_permits() < full);
            }
            Arc::clone(
                tenants
                    .entry(tenant.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))),
            )
        };
        semaphore.try_acquire_owned().ok()
    }

    pub(crate) fn per_tenant(&self) -> usize {
        self.per_tenant
    }
}

impl Default for TenantSlots {
    fn default() -> Self {
        Self::new(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_has_its_own_slots_and_gets_them_back() {
        let slots = TenantSlots::new(2);
        let tenant = |t: &str| TenantId::parse(t).expect("tenant");
        let (a, b) = (tenant("acme"), tenant("globex"));
        let first = slots.try_take(&a).expect("one");
        let _second = slots.try_take(&a).expect("two");
        assert!(slots.try_take(&a).is_none(), "a third waits for one back");
        assert!(
            slots.try_take(&b).is_some(),
            "another tenant is not held up"
        );
        drop(first);
        assert!(
            slots.try_take(&a).is_some(),
            "a slot comes back with its answer"
        );
    }
}
