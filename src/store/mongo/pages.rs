//! Committing a page of a sync run: its records, the stream's position and the run's counts, in
//! one transaction. The records are written in a handful of round trips whatever the page's
//! size — one `insert_many` for the new ones, one `update` command carrying a statement per
//! changed one — since a round trip per record made a million-row sync take ten minutes.

use super::super::sync::*;
use super::sync::{sealed_token, stream_key};
use super::MongoStore;
use crate::model::data::StreamCounts;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{ClientSession, Collection};
use std::collections::{BTreeMap, HashMap};

/// Statements per `update` command, and their size, kept well inside what the server takes
/// (100,000 statements, a 16 MB command).
const STATEMENTS_PER_COMMAND: usize = 10_000;
const BYTES_PER_COMMAND: usize = 8 << 20;

/// Writes to one collection, sent together at the end. Statements run in order, so a later one
/// for the same document wins, as it would have one at a time.
#[derive(Default)]
struct Writes {
    inserts: Vec<Document>,
    /// Where each new document is in `inserts`, by record id: a second state of a record the
    /// page itself adds replaces the first before anything is sent.
    inserted: HashMap<String, usize>,
    updates: Vec<Document>,
}

impl Writes {
    fn insert(&mut self, record_id: &str, d: Document) {
        match self.inserted.get(record_id) {
            Some(&at) => self.inserts[at] = d,
            None => {
                self.inserted
                    .insert(record_id.to_owned(), self.inserts.len());
                self.inserts.push(d);
            }
        }
    }

    /// `$set` of `set` on the document `key` finds; a record this page inserted is changed
    /// before it is sent.
    fn update(&mut self, record_id: &str, key: Document, set: Document) {
        if let Some(&at) = self.inserted.get(record_id) {
            self.inserts[at].extend(set);
            return;
        }
        self.updates.push(doc! {"q": key, "u": {"$set": set}});
    }

    async fn send(
        self,
        collection: &Collection<Document>,
        s: &mut ClientSession,
    ) -> mongodb::error::Result<()> {
        if !self.inserts.is_empty() {
            collection
                .insert_many(self.inserts)
                .session(&mut *s)
                .await?;
        }
        let database = collection
            .client()
            .database(collection.namespace().db.as_str());
        let mut batch: Vec<Document> = Vec::new();
        let mut bytes = 0;
        let mut statements = self.updates.into_iter().peekable();
        while let Some(statement) = statements.next() {
            batch.push(statement);
            bytes += batch
                .last()
                .and_then(|s| mongodb::bson::to_vec(s).ok())
                .map_or(0, |v| v.len());
            // Whether the next statement still fits is judged before it is added.
            let next = statements
                .peek()
                .and_then(|s| mongodb::bson::to_vec(s).ok())
                .map_or(0, |v| v.len());
            let full = batch.len() >= STATEMENTS_PER_COMMAND || bytes + next >= BYTES_PER_COMMAND;
            if full || statements.peek().is_none() {
                let answer = database
                    .run_command(doc! {"update": collection.name(), "updates": std::mem::take(&mut batch), "ordered": true})
                    .session(&mut *s)
                    .await?;
                bytes = 0;
                // The command itself succeeds when a statement fails; that failure is in its
                // answer, and must fail the transaction.
                // Only the count and the server's code: a write error's message can quote the
                // document (its sealed token, its ids).
                if let Ok(errors) = answer.get_array("writeErrors") {
                    if let Some(first) = errors.first() {
                        let code = first
                            .as_document()
                            .and_then(|e| e.get_i32("code").ok())
                            .unwrap_or_default();
                        return Err(mongodb::error::Error::custom(format!(
                            "{} records could not be written (server code {code})",
                            errors.len()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// How a stored record stands, as far as this page is concerned.
struct Stored {
    digest: String,
    deleted: bool,
    /// Written by this pass already.
    seen: bool,
}

impl MongoStore {
    pub(super) async fn commit_page_in(
        &self,
        s: &mut ClientSession,
        p: &PageCommit,
    ) -> mongodb::error::Result<Option<StreamCounts>> {
        let owner = doc! {"run_id": &p.run_id, "holder": &p.holder, "status": "running"};
        let Some(run) = self
            .sync_runs
            .find_one(owner.clone())
            .session(&mut *s)
            .await?
        else {
            return Ok(None);
        };
        let mut run_counts: BTreeMap<String, StreamCounts> = run
            .get_str("counts")
            .ok()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        self.sync_streams
            .update_one(
                stream_key(p),
                doc! {"$setOnInsert": {"record_count": 0_i64, "next_seq": 1_i64}},
            )
            .upsert(true)
            .session(&mut *s)
            .await?;
        let state = self
            .sync_streams
            .find_one(stream_key(p))
            .session(&mut *s)
            .await?
            .unwrap_or_default();
        let mut seq = state.get_i64("next_seq").unwrap_or(1);
        let mut stored = self.stored_states(s, p).await?;
        let mut page = StreamCounts::default();
        let mut writes = Writes::default();
        let mut seen_again: Vec<&str> = Vec::new();
        for r in &p.records {
            let mut key = stream_key(p);
            key.insert("record_id", &r.record_id);
            let existing = stored.get(&r.record_id);
            if p.newest_first && existing.is_some_and(|e| e.seen) {
                continue; // this pass already wrote a newer state
            }
            let change = match existing {
                None if r.deleted => None,
                None => Some(&mut page.added),
                Some(e) if e.digest == r.digest && e.deleted == r.deleted => None,
                Some(e) if !e.deleted && r.deleted => Some(&mut page.deleted),
                Some(e) if e.deleted && !r.deleted => Some(&mut page.added),
                Some(_) => Some(&mut page.updated),
            };
            let set = doc! {"seq": seq, "sealed": sealed_token(&r.sealed), "digest": &r.digest,
            "changed_at": p.now, "deleted": r.deleted, "seen_pass": &p.pass_id};
            match change {
                Some(count) => {
                    *count += 1;
                    if existing.is_some() {
                        writes.update(&r.record_id, key, set);
                    } else {
                        key.extend(set);
                        writes.insert(&r.record_id, key);
                    }
                    seq += 1;
                    stored.insert(
                        r.record_id.clone(),
                        Stored {
                            digest: r.digest.clone(),
                            deleted: r.deleted,
                            seen: true,
                        },
                    );
                }
                None if existing.is_some() => {
                    seen_again.push(&r.record_id);
                    // As SQLite marks it: a later, older state in a newest-first page is skipped.
                    if let Some(e) = stored.get_mut(&r.record_id) {
                        e.seen = true;
                    }
                }
                None => {}
            }
        }
        if !seen_again.is_empty() {
            let mut filter = stream_key(p);
            filter.insert("record_id", doc! {"$in": seen_again});
            self.sync_records
                .update_many(filter, doc! {"$set": {"seen_pass": &p.pass_id}})
                .session(&mut *s)
                .await?;
        }
        writes.send(&self.sync_records, s).await?;
        if p.end.as_ref().is_some_and(|e| e.full_read) {
            // What a full read did not see is gone, each deletion a change of its own.
            let mut unseen = stream_key(p);
            unseen.insert("deleted", false);
            unseen.insert("seen_pass", doc! {"$ne": &p.pass_id});
            let gone: Vec<Document> = self
                .sync_records
                .find(unseen)
                .projection(doc! {"record_id": 1})
                .session(&mut *s)
                .await?
                .stream(&mut *s)
                .try_collect()
                .await?;
            let mut deletions = Writes::default();
            for d in gone {
                let id = d.get_str("record_id").unwrap_or_default();
                let mut key = stream_key(p);
                key.insert("record_id", id);
                deletions.update(
                    id,
                    key,
                    doc! {"deleted": true, "seq": seq, "changed_at": p.now},
                );
                seq += 1;
                page.deleted += 1;
            }
            deletions.send(&self.sync_records, s).await?;
        }
        let live_change = page.added as i64 - page.deleted as i64;
        let mut set = doc! {"next_seq": seq};
        match &p.end {
            None => {
                set.insert("pass", p.pass.clone().map_or(Bson::Null, Bson::String));
            }
            Some(end) => {
                set.insert("pass", Bson::Null);
                set.insert("last_synced_at", p.now);
                if let Some(cursor) = end.cursor {
                    set.insert("cursor", cursor);
                }
                if let Some(feed) = &end.feed {
                    set.insert("feed", feed.clone());
                }
            }
        }
        self.sync_streams
            .update_one(
                stream_key(p),
                doc! {"$set": set, "$inc": {"record_count": live_change}},
            )
            .session(&mut *s)
            .await?;
        run_counts.entry(p.stream.clone()).or_default().add(page);
        self.sync_runs
            .update_one(
                owner,
                doc! {"$set": {"counts": serde_json::to_string(&run_counts).unwrap_or_default(),
                "lease_until": p.now + p.lease_ms}},
            )
            .session(&mut *s)
            .await?;
        Ok(Some(page))
    }

    /// The stored state of each record of the page that is stored at all, in one query.
    async fn stored_states(
        &self,
        s: &mut ClientSession,
        p: &PageCommit,
    ) -> mongodb::error::Result<HashMap<String, Stored>> {
        let ids: Vec<&str> = p.records.iter().map(|r| r.record_id.as_str()).collect();
        let mut filter = stream_key(p);
        filter.insert("record_id", doc! {"$in": ids});
        Ok(self
            .sync_records
            .find(filter)
            .projection(doc! {"record_id": 1, "digest": 1, "deleted": 1, "seen_pass": 1})
            .session(&mut *s)
            .await?
            .stream(&mut *s)
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|d| {
                Some((
                    d.get_str("record_id").ok()?.to_owned(),
                    Stored {
                        digest: d.get_str("digest").ok()?.to_owned(),
                        deleted: d.get_bool("deleted").unwrap_or(false),
                        seen: d.get_str("seen_pass").ok() == Some(p.pass_id.as_str()),
                    },
                ))
            })
            .collect())
    }
}
