//! Long fuzzing of every reader: the public samples of each format, mutated (bytes flipped,
//! inserted, deleted, cut, spliced with other samples, JSON and CSV tokens dropped in), read
//! by every reader for a while, expecting a snapshot or a refusal and never a panic.
//!
//! Not part of `make test`: `make fuzz` runs every reader at once for `ATTEST_FUZZ_SECS`
//! seconds (600 by default), from a new seed each run (`ATTEST_FUZZ_SEED` repeats one),
//! prints how many inputs each reader took, and writes any input that panics to
//! `target/fuzz-crashes/` to reproduce it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use super::Format;
use super::test_support::tempdir;

/// Small, fast and reproducible: the same seed gives the same inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Tokens that steer a mutated document into the readers' less travelled paths.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"1e999",
    b"\"\"",
    b"[]",
    b"{}",
    b"[[[[[[[[",
    b"]]]]",
    b"}}}}",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"2024-02-30T25:61:61Z\"",
    b"\"0001-01-01T00:00:00Z\"",
    b"\"-8:00\"",
    b"\"N/A\"",
    b"\"no_information\"",
    b"\"not_supported\"",
    b",",
    b":",
    b"\"",
    b"\n",
    b"\r\n",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3\x28",
    b"=cmd|' /C calc'!A0",
    b"\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"]",
    b"\"Resources\":",
    b"\"members\":",
    b"\"value\":\"",
    b"\"@odata.nextLink\":",
    b"\"value\":[",
    b"\"Arn\":",
    b"\"Action\":\"*\"",
    b"user,arn,user_creation_time",
];

fn mutate(rng: &mut XorShift, bytes: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let len = bytes.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                bytes.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(len - i).min(64) + 1;
                bytes.drain(i..(i + n).min(len));
            }
            3 => bytes.truncate(rng.below(len + 1)),
            4 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                bytes.splice(i..i, token.iter().copied());
            }
            5 if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = rng.below(other.len() - from).min(512) + 1;
                    let i = rng.below(len + 1);
                    bytes.splice(i..i, other[from..from + n].iter().copied());
                }
            }
            _ if len > 1 => {
                // Repeat a slice: deep nesting and long lists.
                let i = rng.below(len);
                let n = rng.below(len - i).min(256) + 1;
                let piece: Vec<u8> = bytes[i..i + n].to_vec();
                for _ in 0..rng.below(8) + 1 {
                    bytes.splice(i..i, piece.iter().copied());
                }
            }
            _ => {}
        }
    }
}

/// Fuzzes one reader until `deadline`; returns its line of the report.
fn fuzz_one(format: Format, own: &[Vec<u8>], everything: &[Vec<u8>], seed: u64, deadline: Instant) -> String {
    let crashes = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
    let dir = tempdir::Dir::new();
    let mut rng = XorShift((seed ^ (format.name().len() as u64) << 32 ^ format.name().as_bytes()[0] as u64) | 1);
    let (started, mut inputs, mut read, mut refused) = (Instant::now(), 0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        let mut bytes = own[rng.below(own.len())].clone();
        mutate(&mut rng, &mut bytes, everything);
        let path = dir.0.join(format!("input-{}", inputs % 4));
        std::fs::write(&path, &bytes).expect("write input");
        match catch_unwind(AssertUnwindSafe(|| format.read(std::slice::from_ref(&path), "fuzz"))) {
            Ok(Ok(_)) => read += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => {
                std::fs::create_dir_all(&crashes).expect("crash folder");
                let saved = crashes.join(format!("{}-{inputs}", format.name()));
                std::fs::write(&saved, &bytes).expect("save crash");
                panic!("{} panicked on input {inputs}; saved to {}", format.name(), saved.display());
            }
        }
        inputs += 1;
    }
    format!("{:<28} {:>9} inputs in {:>4} s: {read} read, {refused} refused, 0 panics", format.name(), inputs, started.elapsed().as_secs())
}

/// Every reader at once, each on its own thread, for `ATTEST_FUZZ_SECS` seconds.
#[test]
#[ignore = "long: run with `make fuzz`"]
fn every_reader_survives_mutated_samples_for_a_while() {
    let seconds: u64 = std::env::var("ATTEST_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let samples = super::tests::all_samples();
    let everything: Vec<Vec<u8>> = samples.iter().map(|(_, bytes)| bytes.clone()).collect();
    // A new seed each run, so runs add up; ATTEST_FUZZ_SEED repeats one.
    let seed: u64 = std::env::var("ATTEST_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let report: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = Format::ALL
            .iter()
            .filter_map(|&format| {
                let own: Vec<Vec<u8>> = samples.iter().filter(|(f, _)| *f == format).map(|(_, b)| b.clone()).collect();
                let everything = &everything;
                (!own.is_empty()).then(|| scope.spawn(move || fuzz_one(format, &own, everything, seed, deadline)))
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap_or_else(|_| "a reader panicked (see above)".into())).collect()
    });
    println!("fuzzing, {seconds} s, seed {seed}, every reader at once on its own thread:\n{}", report.join("\n"));
    assert!(report.iter().all(|line| line.ends_with("0 panics")), "{report:?}");
}
