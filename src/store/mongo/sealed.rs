//! Sealed values for key rotation in MongoDB (see `store::sealed`): each kind's documents in
//! `_id` order. Records hold token bytes (binary) or, written before that, token text.

use super::super::sealed::*;
use super::*;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::Binary;

impl MongoStore {
    /// The collection and field a kind's values are kept in.
    fn sealed_place(&self, kind: SealedKind) -> (&Collection<Document>, &'static str) {
        match kind {
            SealedKind::Records => (&self.sync_records, "sealed"),
            SealedKind::Events => (&self.webhook_events, "sealed"),
            SealedKind::EndpointSecrets => (&self.webhook_endpoints, "secret"),
            SealedKind::PreviousEndpointSecrets => (&self.webhook_endpoints, "previous_secret"),
        }
    }
}

fn token_text(value: Option<&Bson>) -> Option<String> {
    match value? {
        Bson::Binary(b) => Some(URL_SAFE.encode(&b.bytes)),
        Bson::String(text) => Some(text.clone()),
        _ => None,
    }
}

fn object_id(position: &str) -> Result<ObjectId, StoreError> {
    ObjectId::parse_str(position)
        .map_err(|_| StoreError::Unavailable(format!("not a document position: {position}")))
}

#[async_trait]
impl SealedStore for MongoStore {
    async fn sealed_values(
        &self,
        kind: SealedKind,
        after: Option<&str>,
        n: usize,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let (collection, field) = self.sealed_place(kind);
        let mut filter = doc! {field: {"$exists": true, "$ne": Bson::Null}};
        if let Some(after) = after {
            filter.insert("_id", doc! {"$gt": object_id(after)?});
        }
        let docs: Vec<Document> = collection
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit(n))
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                let owner = (kind == SealedKind::Records).then(|| {
                    let s = |f: &str| d.get_str(f).unwrap_or_default();
                    format!(
                        "{}/{}/{}/{}",
                        s("tenant_id"),
                        s("connector_id"),
                        s("stream"),
                        s("record_id")
                    )
                });
                Some(SealedValue {
                    position: d.get_object_id("_id").ok()?.to_hex(),
                    token: token_text(d.get(field))?,
                    owner,
                })
            })
            .collect())
    }

    async fn reseal(&self, kind: SealedKind, changes: &[Reseal]) -> Result<u64, StoreError> {
        let (collection, field) = self.sealed_place(kind);
        let mut replaced = 0;
        // One value per update: each is compare-and-swap on its old token, and a rotation that
        // stops halfway is simply run again.
        for change in changes {
            let old_bytes = Binary {
                subtype: BinarySubtype::Generic,
                bytes: URL_SAFE.decode(&change.value.token).unwrap_or_default(),
            };
            let filter = doc! {
                "_id": object_id(&change.value.position)?,
                field: {"$in": [Bson::Binary(old_bytes), Bson::String(change.value.token.clone())]},
            };
            let new_token = match kind {
                SealedKind::Records => Bson::Binary(Binary {
                    subtype: BinarySubtype::Generic,
                    bytes: URL_SAFE
                        .decode(&change.token)
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                }),
                _ => Bson::String(change.token.clone()),
            };
            let mut set = doc! {field: new_token};
            if let Some(digest) = &change.digest {
                set.insert("digest", digest);
            }
            let result = collection
                .update_one(filter, doc! {"$set": set})
                .await
                .map_err(map_error)?;
            replaced += result.modified_count;
        }
        Ok(replaced)
    }
}
