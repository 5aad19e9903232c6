//! The binary's allocator, shared with the benchmarks (`tui/examples/bench.rs`,
//! `core/examples/insights_bench.rs`) so that their figures are the binary's. See the
//! workspace's Cargo.toml for why mimalloc (bench/RESULTS.md, "Allocator").

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (libmimalloc-sys names no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds freed memory stays with the process before mimalloc hands it back: 10,
/// as in mimalloc 2, instead of mimalloc 3's 1,000. A report frees its per-identity data
/// while it builds the rows, and within that second the freed pages were still counted
/// as the process's: the 10 M export's peak went from 468–505 to 437–440 MiB, the 10 M
/// collection's from 239–242 to 217–221 MiB, at the same speed (bench/RESULTS.md,
/// "Cold input, the stager's sort, freed memory").
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Sets the allocator's options; call first thing in `main`.
pub fn configure() {
    // SAFETY: sets one of mimalloc's documented options to a value in its range; mimalloc
    // reads its options without locks, and this runs before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        // libmimalloc-sys has no constant for it: a number that named another option
        // would set that one instead. Only the purge delay starts at 1,000 ms.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads and sets one of mimalloc's options.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, 1000, "mimalloc 3's default purge delay");
        configure();
        // SAFETY: as above.
        let after = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(after, PURGE_DELAY_MS);
    }
}
