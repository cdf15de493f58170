//! Keys in and out of this computer: an encrypted backup that restores on another one, and
//! import from where keys live today. Speaks to
//! the sources and the keychain, never to a backend; the command line hands it this computer's
//! database as bytes.

pub mod backup;
pub mod import;
pub mod local;
