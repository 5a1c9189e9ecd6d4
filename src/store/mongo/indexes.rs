//! The indexes the store's queries rely on (unique ones keep audit chains and ids single),
//! created at start.

use super::super::StoreError;
use super::documents::map_error;
use super::MongoStore;
use futures_util::TryStreamExt;
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
        // Connectors stored before provider webhooks get their address token here.
        let untokened: Vec<Document> = self
            .connectors
            .find(doc! {"hook_token": {"$exists": false}})
            .projection(doc! {"tenant_id": 1, "connector_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        for d in untokened {
            self.connectors
                .update_one(
                    doc! {"tenant_id": d.get_str("tenant_id").unwrap_or_default(),
                    "connector_id": d.get_str("connector_id").unwrap_or_default()},
                    doc! {"$set": {"hook_token": crate::random::random_hex(16)}},
                )
                .await
                .map_err(map_error)?;
        }
        self.connectors
            .create_indexes([
                index(doc! {"hook_token": 1}, true),
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
        self.connectors
            .create_index(index(doc! {"channel_expires_at": 1}, false))
            .await
            .map_err(map_error)?;
        // App-wide provider webhooks: a connector by the account an event names.
        self.connectors
            .create_index(index(
                doc! {"connector_type": 1, "account_key": 1, "tenant_id": 1, "connector_id": 1},
                false,
            ))
            .await
            .map_err(map_error)?;
        self.oauth_states
            .create_index(index(doc! {"state_hash": 1}, true))
            .await
            .map_err(map_error)?;
        self.create_agent_auth_indexes().await?;
        self.create_sync_indexes().await
    }

    /// One active run per connector (a unique index over the active ones only), runs by
    /// connector, and records by id and by change order.
    async fn create_sync_indexes(&self) -> Result<(), StoreError> {
        let one_active = IndexOptions::builder()
            .unique(true)
            .partial_filter_expression(doc! {"active": true})
            .build();
        self.sync_runs
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1})
                    .options(one_active)
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"run_id": 1})
                    .options(IndexOptions::builder().unique(true).build())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1, "created_at": -1, "run_id": -1})
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"active": 1, "created_at": 1})
                    .build(),
            ])
            .await
            .map_err(map_error)?;
        let unique = || IndexOptions::builder().unique(true).build();
        self.sync_streams
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1, "stream": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.sync_records
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1, "stream": 1, "record_id": 1})
                    .options(unique())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1, "stream": 1, "seq": 1})
                    .options(unique())
                    .build(),
            ])
            .await
            .map_err(map_error)?;
        self.provider_events
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1, "event_id": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.webhook_endpoints
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "endpoint_id": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.webhook_events
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"event_id": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.webhook_deliveries
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"delivery_id": 1})
                    .options(unique())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"status": 1, "next_at": 1})
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "endpoint_id": 1, "created_at": -1})
                    .build(),
            ])
            .await
            .map_err(map_error)?;
        self.sync_schedule
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "connector_id": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
