//! PostgreSQL tables as streams: discovery (tables and views the user may read, their columns and
//! primary keys), the user's choice of tables with an optional cursor column each, and keyset
//! pages read inside a read-only repeatable-read transaction. Each row becomes a JSON object
//! built by the server: `numeric` as a string (keeps precision), timestamps as RFC 3339 in UTC,
//! `bytea` as base64, arrays and `json`/`jsonb` as JSON.

use super::pages::PageToken;
use crate::checks::postgresql::{classify, connect, within_timeout};
use crate::error::{Error, ErrorCode};
use crate::model::data::Preview;
use crate::outbound::Outbound;
use crate::secret::SecretConfig;
use tokio_postgres::Client;

/// Rows per page: large enough to amortise a round trip and a commit, small enough to keep memory
/// flat (a page is a few megabytes).
pub(crate) const PAGE_ROWS: i64 = 5000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    /// `format_type` of the column: exact enough to cast a parameter to it.
    pub(super) sql_type: String,
    pub(super) kind: ColumnKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnKind {
    Integer,
    Timestamp,
    TimestampWithoutZone,
    Numeric,
    Bytea,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(super) schema: String,
    pub(super) name: String,
    pub(crate) columns: Vec<ColumnDef>,
    /// Primary key columns, in key order (empty for views and tables without one).
    pub(crate) key: Vec<String>,
}

impl Table {
    /// The stream's name: `schema.table`.
    pub(crate) fn stream(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns that can order changes: timestamps and integers.
    pub(crate) fn cursor_candidates(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns.iter().filter(|c| {
            matches!(
                c.kind,
                ColumnKind::Integer | ColumnKind::Timestamp | ColumnKind::TimestampWithoutZone
            )
        })
    }
}

/// A table the user chose to sync, and the column whose growth marks its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    pub(crate) stream: String,
    pub(crate) cursor: Option<String>,
}

/// The `tables` field: `schema.table` or `schema.table:cursor_column`, comma-separated; empty
/// means every table found.
pub(crate) fn selections(config: &SecretConfig) -> Vec<Selection> {
    config
        .get("tables")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once(':') {
            Some((table, cursor)) => Selection {
                stream: table.trim().to_owned(),
                cursor: Some(cursor.trim().to_owned()).filter(|c| !c.is_empty()),
            },
            None => Selection {
                stream: item.to_owned(),
                cursor: None,
            },
        })
        .collect()
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn kind(type_name: &str) -> ColumnKind {
    match type_name {
        "int2" | "int4" | "int8" => ColumnKind::Integer,
        "timestamptz" | "date" => ColumnKind::Timestamp,
        "timestamp" => ColumnKind::TimestampWithoutZone,
        "numeric" => ColumnKind::Numeric,
        "bytea" => ColumnKind::Bytea,
        _ => ColumnKind::Other,
    }
}

pub(crate) async fn open(outbound: &Outbound, config: &SecretConfig) -> Result<Client, Error> {
    let ctx = crate::checks::Ctx::new(outbound, config);
    let client = connect(&ctx).await?;
    client
        .batch_execute("SET TIME ZONE 'UTC'; SET statement_timeout = '300s'")
        .await
        .map_err(|e| classify(&e, ""))?;
    Ok(client)
}

/// Every table and view the user may read, outside the system schemas.
pub(crate) async fn discover(client: &Client) -> Result<Vec<Table>, Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, a.attname::text,
                    format_type(a.atttypid, a.atttypmod), t.typname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             JOIN pg_type t ON t.oid = a.atttypid
             WHERE c.relkind IN ('r', 'v', 'm', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%'
               AND has_table_privilege(c.oid, 'SELECT')
             ORDER BY 1, 2, a.attnum",
            &[],
        )
        .await
        .map_err(|e| classify(&e, ""))?;
    let mut tables: Vec<Table> = Vec::new();
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        let column = ColumnDef {
            name: row.get(2),
            sql_type: row.get(3),
            kind: kind(row.get::<_, String>(4).as_str()),
        };
        match tables.last_mut() {
            Some(t) if t.schema == schema && t.name == name => t.columns.push(column),
            _ => tables.push(Table {
                schema,
                name,
                columns: vec![column],
                key: Vec::new(),
            }),
        }
    }
    let keys = client
        .query(
            "SELECT n.nspname::text, c.relname::text, a.attname::text
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
             WHERE i.indisprimary
             ORDER BY 1, 2, array_position(i.indkey::int2[], a.attnum)",
            &[],
        )
        .await
        .map_err(|e| classify(&e, ""))?;
    for row in keys {
        let (schema, name, column): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if let Some(t) = tables
            .iter_mut()
            .find(|t| t.schema == schema && t.name == name)
        {
            t.key.push(column);
        }
    }
    Ok(tables)
}

/// The tables to read: the user's choice (each checked against discovery), or every table found
/// that has a primary key.
pub(crate) fn chosen(
    tables: &[Table],
    selections: &[Selection],
) -> Result<Vec<(Table, Option<String>)>, Error> {
    if selections.is_empty() {
        return Ok(tables
            .iter()
            .filter(|t| !t.key.is_empty())
            .map(|t| (t.clone(), None))
            .collect());
    }
    selections
        .iter()
        .map(|s| {
            let table = tables
                .iter()
                .find(|t| t.stream() == s.stream)
                .ok_or_else(|| {
                    Error::invalid_config(
                        "tables",
                        format!("There is no table “{}” this user can read.", s.stream),
                    )
                })?;
            if table.key.is_empty() {
                return Err(Error::invalid_config(
                    "tables",
                    format!(
                        "“{}” has no primary key, so its rows cannot be told apart between syncs.",
                        s.stream
                    ),
                ));
            }
            if let Some(cursor) = &s.cursor {
                if !table.cursor_candidates().any(|c| &c.name == cursor) {
                    return Err(Error::invalid_config(
                        "tables",
                        format!(
                            "“{cursor}” is not a timestamp or integer column of {}.",
                            s.stream
                        ),
                    ));
                }
            }
            Ok((table.clone(), s.cursor.clone()))
        })
        .collect()
}

/// One page of rows: each row's JSON text, its key (the record id), and its cursor value.
pub(super) struct RowPage {
    pub(super) rows: Vec<Row>,
    pub(super) next: Option<PageToken>,
}

pub(super) struct Row {
    pub(super) id: String,
    pub(super) json: String,
    /// The cursor column's value: unix ms for a timestamp, the number for an integer.
    pub(super) cursor: Option<i64>,
}

/// How a pass reads a table: all of it by key, or what changed since a cursor value, `limit`
/// rows a page.
pub(crate) struct TableRead {
    pub(crate) table: Table,
    pub(crate) cursor: Option<ColumnDef>,
    pub(crate) since: Option<i64>,
    pub(crate) limit: i64,
}

impl TableRead {
    /// Each row as a JSON object, built by the server: `row_to_json` of the row's columns with the
    /// conversions applied (numeric as text, bytea as base64, timestamps in UTC).
    fn json_expr(&self) -> String {
        let columns: Vec<String> = self
            .table
            .columns
            .iter()
            .map(|c| {
                let q = format!("t.{}", quote(&c.name));
                let value = match c.kind {
                    ColumnKind::Numeric => format!("{q}::text"),
                    ColumnKind::Bytea => format!("encode({q}, 'base64')"),
                    ColumnKind::TimestampWithoutZone => format!("({q} AT TIME ZONE 'UTC')"),
                    _ => q,
                };
                format!("{value} AS {}", quote(&c.name))
            })
            .collect();
        format!(
            "(SELECT row_to_json(j) FROM (SELECT {}) AS j)::text",
            columns.join(", ")
        )
    }

    fn cursor_ms(&self) -> Option<String> {
        self.cursor.as_ref().map(|c| {
            let q = quote(&c.name);
            match c.kind {
                ColumnKind::Integer => format!("{q}::bigint"),
                ColumnKind::TimestampWithoutZone => {
                    format!("(extract(epoch from ({q} AT TIME ZONE 'UTC')) * 1000)::bigint")
                }
                _ => format!("(extract(epoch from {q}) * 1000)::bigint"),
            }
        })
    }

    /// The ORDER BY columns: the cursor (incremental passes only), then the key.
    fn order(&self) -> Vec<&ColumnDef> {
        let mut order: Vec<&ColumnDef> = Vec::new();
        if self.since.is_some() {
            order.extend(self.cursor.as_ref());
        }
        order.extend(self.table.key.iter().filter_map(|k| self.table.column(k)));
        order
    }

    pub(super) fn sql(&self, after: bool) -> String {
        let order = self.order();
        let mut conditions = Vec::new();
        let mut param = 1;
        if let (Some(_), Some(c)) = (self.since, &self.cursor) {
            let q = quote(&c.name);
            conditions.push(match c.kind {
                ColumnKind::Integer => format!("{q} >= $1::bigint"),
                ColumnKind::TimestampWithoutZone => {
                    format!("{q} >= (to_timestamp($1::bigint / 1000.0) AT TIME ZONE 'UTC')")
                }
                _ => format!("{q} >= to_timestamp($1::bigint / 1000.0)"),
            });
            param = 2;
        }
        if after {
            let left: Vec<String> = order.iter().map(|c| quote(&c.name)).collect();
            let right: Vec<String> = order
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::text::{}", param + i, c.sql_type))
                .collect();
            conditions.push(format!("({}) > ({})", left.join(", "), right.join(", ")));
        }
        let key_text: Vec<String> = order
            .iter()
            .map(|c| format!("{}::text", quote(&c.name)))
            .collect();
        let id: Vec<String> = self
            .table
            .key
            .iter()
            .map(|k| format!("{}::text", quote(k)))
            .collect();
        format!(
            "SELECT {json}, concat_ws('/', {id}), {cursor}, ARRAY[{keys}]::text[] FROM {schema}.{name} AS t{filter} ORDER BY {order} LIMIT {limit}",
            json = self.json_expr(),
            id = id.join(", "),
            cursor = self.cursor_ms().unwrap_or_else(|| "NULL::bigint".into()),
            keys = key_text.join(", "),
            schema = quote(&self.table.schema),
            name = quote(&self.table.name),
            filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) },
            order = order.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", "),
            limit = self.limit,
        )
    }

    /// Reads the page at `token` inside a read-only, repeatable-read transaction.
    pub(super) async fn read(
        &self,
        client: &mut Client,
        token: &PageToken,
    ) -> Result<RowPage, Error> {
        let after: Option<Vec<String>> = match token {
            PageToken::Cursor(text) => Some(serde_json::from_str(text).map_err(|_| {
                Error::new(
                    ErrorCode::Internal,
                    "A saved table position could not be read.",
                )
            })?),
            _ => None,
        };
        let sql = self.sql(after.is_some());
        let since = self.since;
        let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        if let (Some(since), Some(_)) = (since, &self.cursor) {
            params.push(Box::new(since));
        }
        for value in after.iter().flatten() {
            params.push(Box::new(value.clone()));
        }
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let transaction = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| classify(&e, ""))?;
        let rows = transaction
            .query(&sql, &refs)
            .await
            .map_err(|e| query_error(&e))?;
        transaction.commit().await.map_err(|e| classify(&e, ""))?;
        let full = rows.len() as i64 == self.limit;
        let next = match (full, rows.last()) {
            (true, Some(last)) => {
                let keys: Vec<Option<String>> = last.get(3);
                Some(PageToken::Cursor(
                    serde_json::to_string(&keys).unwrap_or_default(),
                ))
            }
            _ => None,
        };
        Ok(RowPage {
            rows: rows
                .iter()
                .map(|r| Row {
                    json: r.get(0),
                    id: r.get(1),
                    cursor: r.get(2),
                })
                .collect(),
            next,
        })
    }
}

/// A table's pages from `from` on, read by a task of its own that stays one page ahead of the
/// caller: the database builds the next page while the caller seals and commits this one. The
/// task stops after the last page or the first error (both delivered), and when dropped.
pub(super) struct PagesAhead {
    pages: tokio::sync::mpsc::Receiver<Result<RowPage, Error>>,
    task: Option<tokio::task::JoinHandle<Client>>,
}

impl PagesAhead {
    pub(super) fn start(read: TableRead, mut client: Client, from: PageToken) -> Self {
        let (sender, pages) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut token = from;
            loop {
                let page = read.read(&mut client, &token).await;
                let next = page.as_ref().ok().and_then(|p| p.next.clone());
                if sender.send(page).await.is_err() {
                    return client;
                }
                match next {
                    Some(next) => token = next,
                    None => return client,
                }
            }
        });
        Self {
            pages,
            task: Some(task),
        }
    }

    /// The next page, or the error that stopped the reader.
    pub(super) async fn next(&mut self) -> Result<RowPage, Error> {
        self.pages.recv().await.unwrap_or_else(|| {
            Err(Error::new(
                ErrorCode::Internal,
                "The table was read past its last page.",
            ))
        })
    }

    /// The connection back, once the last page has been taken.
    pub(super) async fn finish(mut self) -> Result<Client, Error> {
        let task = self.task.take();
        match task {
            Some(task) => task
                .await
                .map_err(|_| Error::new(ErrorCode::Internal, "The table's reader stopped early.")),
            None => Err(Error::new(
                ErrorCode::Internal,
                "The table's reader is gone.",
            )),
        }
    }
}

impl Drop for PagesAhead {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn query_error(e: &tokio_postgres::Error) -> Error {
    match e.code() {
        Some(c) if *c == tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE => Error::new(
            ErrorCode::InsufficientPermissions,
            "This user may not read one of the chosen tables.",
        )
        .with_field("tables"),
        Some(c)
            if *c == tokio_postgres::error::SqlState::UNDEFINED_TABLE
                || *c == tokio_postgres::error::SqlState::UNDEFINED_COLUMN =>
        {
            Error::invalid_config("tables", "A chosen table or column no longer exists.")
        }
        _ => classify(e, ""),
    }
}

/// The tables found and the first rows of one of them (the first chosen, or the first found).
pub(crate) async fn preview(
    def: &crate::catalog::ConnectorDef,
    config: &SecretConfig,
    outbound: &Outbound,
    stream: Option<&str>,
) -> Result<Preview, Error> {
    let ctx = crate::checks::Ctx::new(outbound, config);
    within_timeout(&ctx, async {
        let mut client = open(outbound, config).await?;
        let tables = discover(&client).await?;
        let picked = selections(config);
        let name = stream
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| picked.first().map(|s| s.stream.clone()))
            .or_else(|| tables.iter().find(|t| !t.key.is_empty()).map(Table::stream))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    "This user cannot read any table with a primary key in this database.",
                )
            })?;
        let table = tables.iter().find(|t| t.stream() == name).ok_or_else(|| {
            let names: Vec<String> = tables.iter().map(Table::stream).collect();
            super::unknown_stream(&name, names.iter().map(String::as_str))
        })?;
        let read = TableRead {
            table: table.clone(),
            cursor: None,
            since: None,
            limit: super::PREVIEW_RECORDS as i64 + 1,
        };
        let page = if table.key.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("“{name}” has no primary key, so it cannot be synced."),
            )
            .with_field("stream"));
        } else {
            read.read(&mut client, &PageToken::Start).await?
        };
        let has_more = page.rows.len() > super::PREVIEW_RECORDS;
        let scrub = crate::outbound::scrub::Scrub::new(def, config)?;
        let records: Vec<serde_json::Value> = page
            .rows
            .iter()
            .take(super::PREVIEW_RECORDS)
            .filter_map(|r| serde_json::from_str(&scrub.clean(&r.json)).ok())
            .collect();
        Ok(Preview {
            stream: name,
            streams: tables.iter().map(Table::stream).collect(),
            columns: table
                .columns
                .iter()
                .map(|c| crate::model::data::Column {
                    name: c.name.clone(),
                    column_type: column_type(c),
                })
                .collect(),
            records,
            has_more,
        })
    })
    .await
}

fn column_type(c: &ColumnDef) -> crate::model::data::ColumnType {
    use crate::model::data::ColumnType as T;
    match c.kind {
        ColumnKind::Integer => T::Integer,
        ColumnKind::Timestamp | ColumnKind::TimestampWithoutZone => T::Timestamp,
        ColumnKind::Numeric | ColumnKind::Bytea => T::String,
        ColumnKind::Other => match c.sql_type.as_str() {
            "real" | "double precision" => T::Number,
            "boolean" => T::Boolean,
            "json" | "jsonb" => T::Object,
            t if t.ends_with("[]") => T::Array,
            _ => T::String,
        },
    }
}
