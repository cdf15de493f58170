//! The server, tested for real: HTTP on loopback, a SQLite file in a temporary directory or a
//! database on a throwaway PostgreSQL cluster (`KEYWARDEN_TEST_BACKEND`), and the built binary for
//! the command line.

mod common;

mod cli;
mod escalation;
mod guessing;
mod held_up;
mod instances;
mod lifecycle;
mod limits;
mod live;
mod openapi;
mod permissions;
mod postgres;
mod revocation;
mod router;
mod status_codes;
mod store;
mod tls;
