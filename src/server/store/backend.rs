//! What the store needs of a database, named once.
//!
//! The queries (one file per domain beside this one) are written once, in code generic over
//! [`Backend`], which SQLite and PostgreSQL implement (`sqlite.rs`, `postgres.rs`). Their SQL is
//! the subset both share (`$N` placeholders, `RETURNING`, `ON CONFLICT`); what differs is named
//! here:
//! - times: SQLite keeps Unix milliseconds, PostgreSQL `timestamptz` (written with millisecond
//!   precision, so both keep the same);
//! - scopes: JSON text on SQLite, `text[]` on PostgreSQL;
//! - the write lock: every write transaction holds the database's, so writers queue instead of
//!   failing and the rights log's ids follow commit order;
//! - telling other instances of a change of rights at commit (PostgreSQL's NOTIFY), and listening
//!   for it;
//! - matching a pattern in any case: SQLite's `LIKE` ignores ASCII case, PostgreSQL's `ILIKE` is
//!   needed for it.
//!
//! Rust cannot state "this database encodes `i64`" once for every generic function (a bound on a
//! type other than `Self` is not implied by a trait), so the value types the queries bind and read
//! are listed as supertraits ([`Binds`], [`Reads`]), each implemented for every database that
//! encodes them. The hot path costs what sqlx costs: the functions are monomorphized per database.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::{StoreResult, parse_role};
use crate::api::Role;

/// A query of backend `B`, its SQL a fixed string.
pub type Q<B> = Query<'static, B, <B as Database>::Arguments>;

/// What sqlx's executors return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A write transaction of backend `B`.
pub type Tx<B> = sqlx::Transaction<'static, B>;

/// A database the store runs on.
pub trait Backend:
    Database
    + Run
    + Binds<i64>
    + Binds<Option<i64>>
    + Binds<bool>
    + Binds<Option<bool>>
    + for<'a> Binds<&'a str>
    + for<'a> Binds<Option<&'a str>>
    + Binds<Option<String>>
    + for<'a> Binds<&'a [u8]>
    + Reads<i64>
    + Reads<Option<i64>>
    + Reads<bool>
    + Reads<String>
    + Reads<Option<String>>
{
    /// Whether matching a pattern in any case takes `ILIKE` (PostgreSQL) rather than `LIKE`.
    const ILIKE: bool;

    fn bind_time(query: Q<Self>, at: DateTime<Utc>) -> Q<Self>;
    fn read_time(row: &Self::Row, column: &str) -> StoreResult<DateTime<Utc>>;
    fn read_optional_time(row: &Self::Row, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn bind_scopes(query: Q<Self>, scopes: &[String]) -> StoreResult<Q<Self>>;
    fn read_scopes(row: &Self::Row, column: &str) -> StoreResult<Vec<String>>;
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// A transaction that holds the database's write lock.
    fn write(pool: &Pool<Self>) -> impl Future<Output = StoreResult<Tx<Self>>> + Send;
    /// Tells the other instances on this database, when `tx` commits, that rights changed (the
    /// rights log says what). Nothing where they can only read the log.
    fn announce_rights_change(tx: &mut Tx<Self>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Starts a task that wakes `wake` after each announced change (and after each reconnection);
    /// `None` where changes are found only by reading the log.
    fn watch(pool: &Pool<Self>, wake: Arc<Notify>) -> Option<AbortHandle>;
}

/// Runs a query on a connection (of the pool, or a transaction's).
pub trait Run: Database {
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        query: Q<Self>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<Self::Row>>>;
    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        query: Q<Self>,
    ) -> BoxFuture<'c, sqlx::Result<Option<Self::Row>>>;
    fn fetch_one<'c>(
        conn: &'c mut Self::Connection,
        query: Q<Self>,
    ) -> BoxFuture<'c, sqlx::Result<Self::Row>>;
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        query: Q<Self>,
    ) -> BoxFuture<'c, sqlx::Result<Self::QueryResult>>;
}

impl<DB: Database> Run for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    fn fetch_all<'c>(
        conn: &'c mut DB::Connection,
        query: Q<DB>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<DB::Row>>> {
        conn.fetch_all(query)
    }

    fn fetch_optional<'c>(
        conn: &'c mut DB::Connection,
        query: Q<DB>,
    ) -> BoxFuture<'c, sqlx::Result<Option<DB::Row>>> {
        conn.fetch_optional(query)
    }

    fn fetch_one<'c>(
        conn: &'c mut DB::Connection,
        query: Q<DB>,
    ) -> BoxFuture<'c, sqlx::Result<DB::Row>> {
        conn.fetch_one(query)
    }

    fn execute<'c>(
        conn: &'c mut DB::Connection,
        query: Q<DB>,
    ) -> BoxFuture<'c, sqlx::Result<DB::QueryResult>> {
        conn.execute(query)
    }
}

/// Binds a value of type `T` to a query.
pub trait Binds<T>: Database {
    fn bind(query: Q<Self>, value: T) -> Q<Self>;
}

impl<'t, DB: Database, T> Binds<T> for DB
where
    T: Encode<'t, DB> + Type<DB>,
{
    fn bind(query: Q<DB>, value: T) -> Q<DB> {
        query.bind(value)
    }
}

/// Reads a value of type `T` from a row's column.
pub trait Reads<T>: Database {
    fn read(row: &Self::Row, column: &str) -> sqlx::Result<T>;
}

impl<DB: Database, T> Reads<T> for DB
where
    T: for<'r> Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    fn read(row: &DB::Row, column: &str) -> sqlx::Result<T> {
        row.try_get(column)
    }
}

/// `.arg(value)`, `.time(at)` and `.scopes(list)` on a query, whatever its backend.
pub trait Bind<B: Backend>: Sized {
    fn arg<T>(self, value: T) -> Self
    where
        B: Binds<T>;
    fn time(self, at: DateTime<Utc>) -> Self;
    fn scopes(self, scopes: &[String]) -> StoreResult<Self>;
}

impl<B: Backend> Bind<B> for Q<B> {
    fn arg<T>(self, value: T) -> Q<B>
    where
        B: Binds<T>,
    {
        B::bind(self, value)
    }

    fn time(self, at: DateTime<Utc>) -> Q<B> {
        B::bind_time(self, at)
    }

    fn scopes(self, scopes: &[String]) -> StoreResult<Q<B>> {
        B::bind_scopes(self, scopes)
    }
}

/// A row read by column name, whatever its backend.
pub struct Row<'r, B: Backend>(pub &'r B::Row);

impl<B: Backend> Row<'_, B> {
    pub fn get<T>(&self, column: &str) -> StoreResult<T>
    where
        B: Reads<T>,
    {
        Ok(B::read(self.0, column)?)
    }

    pub fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        B::read_time(self.0, column)
    }

    pub fn optional_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        B::read_optional_time(self.0, column)
    }

    pub fn scopes(&self, column: &str) -> StoreResult<Vec<String>> {
        B::read_scopes(self.0, column)
    }

    pub fn role(&self, column: &str) -> StoreResult<Role> {
        parse_role(&self.get::<String>(column)?)
    }

    pub fn optional_role(&self, column: &str) -> StoreResult<Option<Role>> {
        self.get::<Option<String>>(column)?
            .as_deref()
            .map(parse_role)
            .transpose()
    }
}
