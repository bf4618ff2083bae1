//! The allocator of the `nasc` binary and of the benches: mimalloc, asked the way that
//! takes its ordinary path.
//!
//! mimalloc keeps freed tensor buffers for reuse: with the system allocator every large
//! tensor of a training step is a fresh mapping whose pages fault in again (about a sixth
//! of a CPU training step, measured with `cargo bench --bench train`).
//!
//! The `mimalloc` crate's allocator hands every allocation to `mi_malloc_aligned`, whose
//! slow path (taken whenever the page at hand has no free block) over-allocates and
//! realigns the block, even for an alignment every mimalloc block already has. A sampler
//! makes a few dozen small vectors per candidate, and a third of them took that path. Every
//! block mimalloc hands out is aligned to at least 8 bytes (its size classes are multiples
//! of 8), so an allocation that asks no more goes to `mi_malloc`, any other to the aligned
//! functions; every block goes back through `mi_free`.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment of every block `mi_malloc` returns.
const MIN_ALIGN: usize = 8;

/// See the module's documentation.
pub struct Allocator;

// SAFETY: every function forwards to mimalloc, which returns blocks of at least the size
// asked for, aligned to `MIN_ALIGN` (`mi_malloc`, `mi_zalloc`, `mi_realloc`) or to the
// alignment asked for (the `_aligned` functions), or null when out of memory; `mi_free`
// takes any block of either kind.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_malloc(layout.size()) as *mut u8 }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_zalloc(layout.size()) as *mut u8 }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            unsafe {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_asked_for() {
        let a = Allocator;
        for (size, align) in [
            (1, 1),
            (8, 8),
            (24, 8),
            (40, 8),
            (24, 16),
            (100, 64),
            (5000, 8),
        ] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: a layout of non-zero size; the block is written within its size,
            // grown, and freed once.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size} bytes aligned to {align}");
                p.write_bytes(7, size);
                let q = a.realloc(p, layout, size * 3);
                assert_eq!(q as usize % align, 0);
                assert_eq!(*q.add(size - 1), 7, "realloc keeps the contents");
                a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                let z = a.alloc_zeroed(layout);
                assert_eq!(z as usize % align, 0);
                assert!((0..size).all(|i| *z.add(i) == 0));
                a.dealloc(z, layout);
            }
        }
    }
}
