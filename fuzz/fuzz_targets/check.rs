//! Arbitrary bytes through the whole front end: `nasc::check_source` parses, checks and
//! counts, and must return diagnostics, never panic, for any input. Rendering the
//! diagnostics is included: it slices the source by the spans the checker produced.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let out = nasc::check_source("fuzz.nas", text, None);
    for d in &out.diagnostics {
        let _ = nasc::render::human(d, &out.sources, 100, false);
        let _ = nasc::render::json(d, &out.sources);
    }
    for s in &out.summaries {
        let _ = nasc::render_summary(s, "fuzz.nas");
    }
});
