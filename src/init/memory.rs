//! Keep PID 1 small: once UP, hand the pages of code used only to get there (hooks, parsing,
//! configuration) back to the page cache. `MADV_DONTNEED` on dops-init's own executable text:
//! a read-only file mapping, so pages that run again are simply faulted back in from the file.
//! Nothing writable is touched.

/// Drop dops-init's code pages from its resident set (they stay in the page cache).
pub fn trim_code() {
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
