//! The decoder must never allocate a declared payload size up front: a
//! hostile or buggy peer could otherwise make the harness allocate
//! gigabytes with a 10-byte header. A counting allocator (this test binary
//! only) records the largest single allocation made while decoding.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use esp_ws_frame::{DecodeError, Decoder};

struct Tracking;

static TRACKING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKING.load(Ordering::SeqCst) {
            LARGEST.fetch_max(layout.size(), Ordering::SeqCst);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACKING.load(Ordering::SeqCst) {
            LARGEST.fetch_max(new_size, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

fn largest_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
    let r = f();
    TRACKING.store(false, Ordering::SeqCst);
    (r, LARGEST.load(Ordering::SeqCst))
}

// A single test function: the tracker is process-wide, and parallel tests
// in this binary would pollute each other's measurements.
#[test]
fn huge_declared_lengths_do_not_allocate() {
    // 1 GiB declared, above the limit: rejected.
    let mut header = vec![0x82, 0x7f];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    let mut d = Decoder::new(1 << 20);
    d.push(&header);
    let (r, largest) = largest_during(|| d.next_frame());
    assert_eq!(
        r,
        Err(DecodeError::TooLarge {
            declared: 1 << 30,
            max: 1 << 20
        })
    );
    assert!(largest < 4096, "allocated {largest} bytes");

    // 1 TiB declared, within an unlimited decoder: it waits for data
    // instead of reserving room for it.
    let mut header = vec![0x82, 0x7f];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(b"some payload");
    let mut d = Decoder::new(u64::MAX);
    d.push(&header);
    let (r, largest) = largest_during(|| {
        let a = d.next_frame();
        d.push(&[0; 1000]);
        let b = d.next_frame();
        (a, b)
    });
    assert_eq!(r, (Ok(None), Ok(None)));
    assert!(largest < 64 * 1024, "allocated {largest} bytes");
}
