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
//!
//! It can also watch the heap ([`HeapWatch`]): while a watch is on, every allocation and
//! free through it moves a running total of the bytes asked for, and the total's highest
//! point is kept. A trial's peak memory on the CPU is that peak: the most the trial held
//! at once beyond what the process held when it began, whatever earlier trials of the
//! process needed. When no watch is on, each call pays one relaxed load and a branch
//! that is never taken.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Mutex;

use libmimalloc_sys as mi;

/// The alignment of every block `mi_malloc` returns.
const MIN_ALIGN: usize = 8;

/// See the module's documentation.
pub struct Allocator;

/// Whether a watch is on.
static WATCHING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated less bytes freed since the watch began (negative when the watched code
/// frees more than it allocates).
static NET: AtomicIsize = AtomicIsize::new(0);
/// The highest `NET` since the watch began.
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// One watch at a time.
static ONE: Mutex<()> = Mutex::new(());
/// Calls that moved the total, ever: whether this allocator is the one in use.
static MOVES: AtomicUsize = AtomicUsize::new(0);

#[cold]
#[inline(never)]
fn moved(delta: isize) {
    MOVES.fetch_add(1, Ordering::Relaxed);
    let now = NET.fetch_add(delta, Ordering::Relaxed) + delta;
    if delta > 0 && now > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

#[inline]
fn watched(delta: isize) {
    if WATCHING.load(Ordering::Relaxed) {
        moved(delta);
    }
}

/// A watch on the heap, from [`HeapWatch::start`] until it is dropped. Watches take turns:
/// a second one waits for the first to end.
pub struct HeapWatch {
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl HeapWatch {
    /// Starts watching; `None` when this process's global allocator is not [`Allocator`]
    /// (a test binary of the library, say), which then sees nothing.
    pub fn start() -> Option<HeapWatch> {
        let turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
        NET.store(0, Ordering::Relaxed);
        PEAK.store(0, Ordering::Relaxed);
        WATCHING.store(true, Ordering::SeqCst);
        // A probe: through `Allocator` it moves the total (whatever other threads free
        // meanwhile).
        let moves = MOVES.load(Ordering::SeqCst);
        let probe = std::hint::black_box(vec![0u8; 4096]);
        let seen = MOVES.load(Ordering::SeqCst) != moves;
        drop(probe);
        let watch = HeapWatch { _turn: turn };
        if !seen {
            return None;
        }
        NET.store(0, Ordering::Relaxed);
        PEAK.store(0, Ordering::Relaxed);
        Some(watch)
    }

    /// A watch that counts whatever reaches [`Allocator`], which a test calls directly.
    #[cfg(test)]
    fn force() -> HeapWatch {
        let turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
        NET.store(0, Ordering::Relaxed);
        PEAK.store(0, Ordering::Relaxed);
        WATCHING.store(true, Ordering::SeqCst);
        HeapWatch { _turn: turn }
    }

    /// Bytes allocated less bytes freed since the watch began.
    pub fn net(&self) -> i64 {
        NET.load(Ordering::Relaxed) as i64
    }

    /// The most bytes held at once since the watch began, beyond what was held then.
    pub fn peak(&self) -> u64 {
        PEAK.load(Ordering::Relaxed).max(0) as u64
    }
}

impl Drop for HeapWatch {
    fn drop(&mut self) {
        WATCHING.store(false, Ordering::SeqCst);
    }
}

// SAFETY: every function forwards to mimalloc, which returns blocks of at least the size
// asked for, aligned to `MIN_ALIGN` (`mi_malloc`, `mi_zalloc`, `mi_realloc`) or to the
// alignment asked for (the `_aligned` functions), or null when out of memory; `mi_free`
// takes any block of either kind.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_malloc(layout.size()) as *mut u8 }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8 }
        };
        if !p.is_null() {
            watched(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_zalloc(layout.size()) as *mut u8 }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8 }
        };
        if !p.is_null() {
            watched(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        watched(-(layout.size() as isize));
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = if layout.align() <= MIN_ALIGN {
            unsafe { mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            unsafe {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        };
        // A failed realloc leaves the old block as it was.
        if !p.is_null() {
            watched(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_asked_for() {
        // Not while a watch counts these blocks.
        let _turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
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

    /// A watch follows allocations, frees and reallocations, and keeps the highest total;
    /// once it ends nothing moves the total.
    #[test]
    fn a_watch_keeps_the_most_held_at_once() {
        let a = Allocator;
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        let watch = HeapWatch::force();
        // SAFETY: every block is freed once, with the layout it was made or grown with.
        unsafe {
            let p = a.alloc(l(1000, 8));
            let q = a.alloc_zeroed(l(3000, 64));
            a.dealloc(p, l(1000, 8));
            let q = a.realloc(q, l(3000, 64), 5000);
            let r = a.realloc(a.alloc(l(100, 8)), l(100, 8), 40);
            a.dealloc(q, l(5000, 64));
            a.dealloc(r, l(40, 8));
            let s = a.alloc(l(2000, 8));
            a.dealloc(s, l(2000, 8));
        }
        assert_eq!(
            watch.peak(),
            5100,
            "5,000 bytes and 100 held at once, before the 100 shrink"
        );
        assert_eq!(NET.load(Ordering::Relaxed), 0, "all freed again");
        drop(watch);
        // Other tests may start (and reset) a watch now; none while this holds the turn.
        let _turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!WATCHING.load(Ordering::SeqCst));
        let (net, peak) = (NET.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed));
        // SAFETY: as above.
        unsafe {
            let p = a.alloc(l(10_000, 8));
            a.dealloc(p, l(10_000, 8));
        }
        assert_eq!(NET.load(Ordering::Relaxed), net, "no watch, no count");
        assert_eq!(PEAK.load(Ordering::Relaxed), peak);
    }

    /// In a binary whose global allocator is not this one (the library's tests) a watch
    /// sees nothing, and says so.
    #[test]
    fn a_watch_needs_this_allocator_to_be_the_global_one() {
        assert!(HeapWatch::start().is_none());
        // Another test may start a watch as soon as this one is refused; none can while
        // this holds the turn.
        let _turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!WATCHING.load(Ordering::SeqCst), "a refused watch is off");
    }
}
