//! Keeping freed memory in the process (glibc only): the one user of `libc`.
//!
//! A training step allocates and frees a few hundred megabytes in blocks of one to six
//! megabytes (attention probabilities, activations, gradients). glibc returns blocks that size to
//! the kernel on every free (they are above its mmap threshold, or they trim the heap), and in a
//! multi-threaded process each unmapping interrupts every core to flush its TLB, then the next
//! step faults the pages back in. Raising the thresholds keeps the memory for reuse: about 7% of
//! a `tiny` step on two cores. The cost is that memory freed by training stays with the process
//! until it exits, which for a training run is the peak it reached anyway.

/// Raises glibc's mmap and trim thresholds for the whole process; once, and a no-op elsewhere.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // glibc's largest mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit targets); blocks
            // above it are still mapped and unmapped one by one.
            const MMAP_THRESHOLD: libc::c_int = 32 << 20;
            const TRIM_THRESHOLD: libc::c_int = 1 << 30;
            // SAFETY: mallopt only sets allocator tunables; malloc is initialised long before
            // any Rust code runs, and these two parameters may change while other threads
            // allocate. A rejected value leaves the default, which is only slower.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
                libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
            }
        });
    }
}
