//! The indexes the store's queries rely on (unique ones keep audit chains and ids single),
//! created at start.

use super::super::StoreError;
use super::documents::map_error;
use super::MongoStore;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

impl MongoStore {
    pub(super) async fn create_indexes(&self) -> Result<(), StoreError> {
        let unique = || IndexOptions::builder().unique(true).build();
        let index = |keys: Document, unique_index: bool| {
            let builder = IndexModel::builder().keys(keys);
            if unique_index {
                builder.options(unique()).build()
            } else {
                builder.build()
            }
        };
        self.connectors
            .create_indexes([
                index(doc! {"tenant_id": 1, "connector_id": 1}, true),
                index(doc! {"tenant_id": 1, "status": 1}, false),
                index(
                    doc! {"tenant_id": 1, "created_at": -1, "connector_id": -1},
                    false,
                ),
            ])
            .await
            .map_err(map_error)?;
        self.drafts
            .create_index(index(
                doc! {"tenant_id": 1, "user_id": 1, "draft_id": 1},
                true,
            ))
            .await
            .map_err(map_error)?;
        self.audit
            .create_index(index(doc! {"tenant_id": 1, "seq": 1}, true))
            .await
            .map_err(map_error)?;
        self.audit_heads
            .create_index(index(doc! {"tenant_id": 1}, true))
            .await
            .map_err(map_error)?;
        self.rate_windows
            .create_index(index(doc! {"key": 1, "window_start": 1}, true))
            .await
            .map_err(map_error)?;
        let expire = IndexOptions::builder()
            .expire_after(std::time::Duration::from_secs(0))
            .build();
        self.rate_windows
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"expire_at": 1})
                    .options(expire)
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.leases
            .create_index(index(doc! {"name": 1}, true))
            .await
            .map_err(map_error)?;
        self.connectors
            .create_index(index(
                doc! {"connector_type": 1, "token_refreshed_at": 1},
                false,
            ))
            .await
            .map_err(map_error)?;
        self.oauth_states
            .create_index(index(doc! {"state_hash": 1}, true))
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
