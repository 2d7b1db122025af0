//! Where tree-sitter's memory comes from.
//!
//! Indexing and mutating a repository parses every file and keeps the trees: millions of
//! small allocations, nearly all of them tree-sitter's. Served by mimalloc rather than glibc,
//! `sera mutate` on a large crate takes about a fifth of the page faults and a tenth less CPU
//! (`cargo xtask bench mutate`). Only tree-sitter moves: Rust code stays on the system
//! allocator, under which the trainer, which parses nothing, measured faster.

use std::ffi::c_void;

/// Routes every tree-sitter allocation of this process to mimalloc.
///
/// Must run before the first tree-sitter object exists, so that no memory is allocated by
/// one allocator and freed by the other: `main` calls it first thing. Plugins that link their
/// own copy of tree-sitter keep their own allocator, consistently.
pub fn route_tree_sitter_to_mimalloc() {
    // SAFETY: called once, first in `main`, before any thread starts and before any tree-sitter
    // object is made; the four functions are mimalloc's malloc family (plus `calloc`, below).
    unsafe {
        tree_sitter::set_allocator(
            Some(libmimalloc_sys::mi_malloc),
            Some(calloc),
            Some(libmimalloc_sys::mi_realloc),
            Some(libmimalloc_sys::mi_free),
        );
    }
}

/// C's `calloc` on mimalloc: zeroed memory for `count * size` bytes, or null on overflow.
unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: mi_zalloc has no preconditions; it returns null when out of memory.
        Some(bytes) => unsafe { libmimalloc_sys::mi_zalloc(bytes) },
        None => std::ptr::null_mut(),
    }
}
