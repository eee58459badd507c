//! Keep PID 1 small. From the start: one malloc arena for all of dops-init's threads
//! (`one_arena`). Once UP: the heap's free pages go back to the kernel, and the pages of code used
//! only to get there (hooks, parsing, configuration) back to the page cache. `MADV_DONTNEED` on dops-init's own executable text:
//! a read-only file mapping, so pages that run again are simply faulted back in from the file.
//! Nothing writable is touched.

/// One malloc arena for every thread, set before any thread starts. glibc gives each thread that
/// allocates its own arena (a 64 MB reservation, of which every touched page is private dirty);
/// dops-init's few threads (output, notifications, DNS registration, one per watch) allocate
/// little and seldom at the same moment, so sharing the main arena costs no measurable waiting
/// and saves those pages in every container. The heap's free top also goes back to the kernel as
/// soon as 32 KB are free there (glibc keeps 128 KB, plus 128 KB of padding on every growth):
/// after UP, the DNS registration and the watches allocate and free small messages for ever.
pub fn one_arena() {
    // SAFETY: mallopt only sets tunables of glibc's allocator; no pointer is involved.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TOP_PAD, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 * 1024);
    }
}

/// Drop dops-init's code pages from its resident set (they stay in the page cache), and give the
/// heap's free pages back (`malloc_trim`: the top of the heap and whole free pages inside it).
pub fn trim_code() {
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
    let here = trim_code as *const () as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        // Only the executable, read-only mapping that holds this very function.
        if perms != "r-xp" {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        if (start..end).contains(&here) {
            // SAFETY: a private, read-only, file-backed text mapping of our own executable:
            // DONTNEED only drops page-table entries, the content is re-read from the file.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}
