//! The SQLite file-format reader (rpmdb.sqlite) on arbitrary bytes: the whole gatherer with
//! the input as the database, then with its tail as a write-ahead log, then every page as a
//! table root.
#![no_main]
use libfuzzer_sys::fuzz_target;
use preflight_facts::MemFiles;
use preflight_facts::packages::{self, sqlite::Db};

fuzz_target!(|data: &[u8]| {
    let files = MemFiles::new().with("/var/lib/rpm/rpmdb.sqlite", data);
    let _ = packages::gather(&files);
    let split = data.len() / 2;
    let files = MemFiles::new()
        .with("/var/lib/rpm/rpmdb.sqlite", &data[..split])
        .with("/var/lib/rpm/rpmdb.sqlite-wal", &data[split..]);
    let _ = packages::gather(&files);
    if let Ok(db) = Db::open(data) {
        let _ = db.schema();
        for root in 1..8 {
            let _ = db.table(root);
        }
    }
});
