//! Keep PID 1 small: its private memory is paid once per container. Measured with
//! `bench/init.sh` (20 containers, each UP, registered in the DNS and running one watch), where
//! the private dirty pages of a dops-init went:
//! - glibc's per-thread caches (tcache: up to 7 freed chunks of every size up to 1 KB, per
//!   thread) and fast bins held about 90 KB of freed memory in the heap, for a live heap of
//!   about 14 KB (valgrind massif). dops-init runs with the tcache off and no fast bins: a few
//!   small allocations a second do not need them (`tune_allocator`, `one_arena`);
//! - the stacks of finished threads (the hooks' output forwarders), which glibc keeps for reuse;
//! - the main stack's and the heap's pages touched only during startup (`trim`).
//!
//! Once UP the pages of code used only to get there (hooks, parsing, configuration) also go back
//! to the page cache: `MADV_DONTNEED` on dops-init's own read-only file mappings, so pages that
//! run again are simply faulted back in from the file. Nothing written is ever dropped.

use std::ffi::OsString;

/// The glibc tunables dops-init runs with: no per-thread cache of freed chunks, and no cache of
/// finished threads' stacks (both keep their pages dirty for ever).
const TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.pthread.stack_cache_size=0";

/// Set only across dops-init's exec of itself: the container's own `GLIBC_TUNABLES`, restored
/// for the programs, hooks and commands dops-init starts ("=value", or "-" when it was unset).
const CONTAINER_TUNABLES: &str = "DOPS_INIT_CONTAINER_GLIBC_TUNABLES";

/// Glibc reads its tunables from the environment before `main` (a static binary too), and only
/// then: the first time through, dops-init executes itself again with `TUNABLES` added; the
/// second time it gives the environment back as the container has it, so that nothing it starts
/// inherits dops-init's settings. Call before any thread starts. Costs one exec of a file that is
/// in the page cache: about a millisecond (bench/init.sh, median start 3.5 -> 4.7 ms); without
/// /proc, dops-init runs untuned.
pub fn tune_allocator() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    if let Some(was) = std::env::var_os(CONTAINER_TUNABLES) {
        std::env::remove_var(CONTAINER_TUNABLES);
        match was.as_bytes().strip_prefix(b"=") {
            Some(v) => std::env::set_var("GLIBC_TUNABLES", std::ffi::OsStr::from_bytes(v)),
            None => std::env::remove_var("GLIBC_TUNABLES"),
        }
        return;
    }
    let was = std::env::var_os("GLIBC_TUNABLES");
    let mut tunables = OsString::new();
    let mut saved = OsString::from("-");
    if let Some(v) = &was {
        saved = OsString::from("=");
        saved.push(v);
        if !v.is_empty() {
            // Later entries win: the container's own settings stay for everything but these.
            tunables.push(v);
            tunables.push(":");
        }
    }
    tunables.push(TUNABLES);
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("dops-init"));
    // exec only returns on failure: then run as we are.
    let _ = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(CONTAINER_TUNABLES, saved)
        .exec();
}

/// One malloc arena for every thread, set before any thread starts. glibc gives each thread that
/// allocates its own arena (a 64 MB reservation, of which every touched page is private dirty);
/// dops-init's few threads (output, notifications, DNS registration, one per watch) allocate
/// little and seldom at the same moment, so sharing the main arena costs no measurable waiting
/// and saves those pages in every container. No fast bins: freed small chunks are merged with
/// their neighbours at once instead of being kept apart. The heap's free top also goes back to
/// the kernel as soon as 32 KB are free there (glibc keeps 128 KB, plus 128 KB of padding on
/// every growth): after UP, the DNS registration and the watches allocate and free small
/// messages for ever.
pub fn one_arena() {
    // SAFETY: mallopt only sets tunables of glibc's allocator; no pointer is involved.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MXFAST, 0);
        libc::mallopt(libc::M_TOP_PAD, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 * 1024);
    }
}

/// Once UP, on the main thread: give the heap's free pages back (`malloc_trim`: the top of the
/// heap and whole free pages inside it), drop the pages of dops-init's read-only file mappings
/// from its resident set (they stay in the page cache), and the main stack's pages below the
/// current frame (touched by startup's deeper calls; a page used again is a fresh zero page).
pub fn trim() {
    if let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") {
        trim_mappings(&smaps);
    }
    // Last: reading smaps used the heap too.
    trim_heap();
}

/// Give the heap's free pages back to the kernel: its top, and whole free pages inside it. glibc
/// does so by itself only when a chunk of 64 KB or more is freed, so a burst of small allocations
/// (a watch's change: its members, the command it runs) leaves its pages dirty until this.
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn trim_mappings(smaps: &str) {
    let here = trim as *const () as usize;
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    let exe = executable(smaps, here);
    for m in mappings(smaps) {
        if Some(m.name) == exe && m.clean_read_only() {
            // SAFETY: a private, read-only, file-backed mapping of our own executable with no
            // page written (no anonymous copy): DONTNEED only drops page-table entries, the
            // content is read again from the file.
            unsafe { dontneed(m.start, m.end) };
        } else if m.name == "[stack]" && (m.start..m.end).contains(&sp) {
            // Keep the current frame and what the calls from here use (two pages are far more
            // than madvise needs); everything below it is dead stack.
            let below = (sp.saturating_sub(2 * PAGE)) & !(PAGE - 1);
            if below > m.start {
                // SAFETY: below the stack pointer of the only thread on this stack, nothing is
                // live (no signal handler runs on it: signals are read from a signalfd).
                unsafe { dontneed(m.start, below) };
            }
        }
    }
}

const PAGE: usize = 4096;

unsafe fn dontneed(start: usize, end: usize) {
    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
}

/// One mapping of /proc/self/smaps.
#[derive(Debug, PartialEq)]
struct Mapping<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    /// The file, `[stack]`, `[heap]`…, or "".
    name: &'a str,
    /// Anonymous KB (pages of a private file mapping that were written) and Private_Dirty KB.
    anonymous: u64,
    private_dirty: u64,
}

impl Mapping<'_> {
    fn clean_read_only(&self) -> bool {
        !self.perms.contains('w') && self.anonymous == 0 && self.private_dirty == 0
    }
}

/// The file mapped where `addr` (our own code) is.
fn executable(smaps: &str, addr: usize) -> Option<&str> {
    mappings(smaps)
        .find(|m| (m.start..m.end).contains(&addr))
        .map(|m| m.name)
        .filter(|n| n.starts_with('/'))
}

/// The mappings of a /proc/PID/smaps text, with the fields `trim` needs.
fn mappings(smaps: &str) -> impl Iterator<Item = Mapping<'_>> {
    let mut lines = smaps.lines().peekable();
    std::iter::from_fn(move || loop {
        let head = lines.next()?;
        let mut f = head.split_whitespace();
        let Some((a, b)) = f.next().and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        let perms = f.next().unwrap_or("");
        let name = f.nth(3).unwrap_or("");
        let mut m = Mapping {
            start,
            end,
            perms,
            name,
            anonymous: 0,
            private_dirty: 0,
        };
        // The fields, up to the next mapping's header (which starts with a hex digit and a '-').
        while let Some(l) = lines.next_if(|l| !is_header(l)) {
            let kb = || l.split_whitespace().nth(1).and_then(|v| v.parse().ok());
            if l.starts_with("Anonymous:") {
                m.anonymous = kb().unwrap_or(u64::MAX);
            } else if l.starts_with("Private_Dirty:") {
                m.private_dirty = kb().unwrap_or(u64::MAX);
            }
        }
        return Some(m);
    })
}

fn is_header(line: &str) -> bool {
    line.split_once(' ')
        .and_then(|(range, _)| range.split_once('-'))
        .is_some_and(|(a, _)| !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00200000-0028d000 r--p 00000000 00:33 852031                             /dops/bin/dops-init
Size:                564 kB
Rss:                 384 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
0028e000-0045d000 r-xp 0008d000 00:33 852031                             /dops/bin/dops-init
Private_Dirty:         0 kB
Anonymous:             0 kB
0045d000-00462000 r--p 0025b000 00:33 852031                             /dops/bin/dops-init
Private_Dirty:         8 kB
Anonymous:             8 kB
00462000-00466000 rw-p 0025f000 00:33 852031                             /dops/bin/dops-init
Private_Dirty:        16 kB
Anonymous:            16 kB
7ffcf61da000-7ffcf61fb000 rw-p 00000000 00:00 0                          [stack]
Private_Dirty:        20 kB
Anonymous:            20 kB
";

    #[test]
    fn only_clean_read_only_mappings_of_the_executable_are_dropped() {
        let all: Vec<_> = mappings(SMAPS).collect();
        assert_eq!(all.len(), 5);
        assert_eq!(all[4].name, "[stack]");
        assert_eq!((all[2].anonymous, all[2].private_dirty), (8, 8));
        let exe = executable(SMAPS, 0x0030_0000);
        assert_eq!(exe, Some("/dops/bin/dops-init"));
        let dropped: Vec<_> = all
            .iter()
            .filter(|m| Some(m.name) == exe && m.clean_read_only())
            .map(|m| m.start)
            .collect();
        // The code and the read-only data before it; never the written relro part, nor data.
        assert_eq!(dropped, vec![0x0020_0000, 0x0028_e000]);
    }

    #[test]
    fn a_field_that_cannot_be_read_keeps_the_mapping() {
        let odd = "00200000-0028d000 r--p 00000000 00:33 1 /x\nAnonymous: lots kB\n";
        let m: Vec<_> = mappings(odd).collect();
        assert!(!m[0].clean_read_only());
    }
}
