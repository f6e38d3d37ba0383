//! The process allocator: mimalloc. Every tool allocates a few small objects per message, and
//! with several jobs a message is allocated on the reader thread and freed on another: glibc's
//! allocator made `--jobs 2` slower than one job on a capture (4.9 s against 2.6 s) and was a
//! quarter of the instructions of `sipsec-verify --pcap`; mimalloc's per-thread free lists do
//! neither.
//!
//! The `mimalloc` crate's own `GlobalAlloc` calls mimalloc's aligned entry points for every
//! allocation, which cost about twice the plain ones; most Rust allocations (bytes, strings,
//! vectors of words) need no more than plain `mi_malloc` gives, so this calls the plain ones
//! then, as Rust's own `System` allocator does with `malloc`.

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every plain mimalloc block has: a pointer's size. Blocks are carved from pages
/// in size classes that are multiples of 8 (24, 40, 48…), so 16 is not guaranteed; mimalloc's
/// own `mi_realloc_aligned` takes the plain path on the same condition.
const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

pub struct MiMalloc;

/// Whether plain `mi_malloc` already aligns a block of this layout (as `System` decides for
/// `malloc`: the alignment is at most the guaranteed one and at most the size).
fn plain(layout: &Layout) -> bool {
    layout.align() <= PLAIN_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free` takes blocks from any
// of its entry points); a layout that plain allocation does not align goes through the aligned
// entry points, exactly as the mimalloc crate does for all of them.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(&layout) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(&layout) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: see the impl.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl; the new size keeps the alignment rule (a block that had to be
        // aligned stays on the aligned path).
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(&layout) && plain(&new) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_comes_back_aligned_and_usable() {
        let a = MiMalloc;
        // Many of each, so that blocks land at every offset of their pages.
        for size in [1, 3, 8, 15, 16, 24, 40, 100, 4096, 1 << 20]
            .into_iter()
            .flat_map(|s| std::iter::repeat_n(s, 16))
        {
            for align in [1, 2, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; each block is written within its size, grown, checked
                // and freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(
                        !p.is_null() && (p as usize).is_multiple_of(align),
                        "{size} {align}"
                    );
                    p.write_bytes(0xa5, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert!(
                        !q.is_null() && (q as usize).is_multiple_of(align),
                        "{size} {align} grown"
                    );
                    assert_eq!(*q.add(size - 1), 0xa5);
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert!((z as usize).is_multiple_of(align) && *z.add(size - 1) == 0);
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
