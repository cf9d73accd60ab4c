//! Serial-number lists (`alb generate --serials FILE`) from arbitrary bytes never panic; the
//! devices a list names, written back one `SERIAL [UDID]` per line, parse to the same devices.
#![no_main]

use alb_workflow::device_list::parse_device_list as parse_targets;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(targets) = parse_targets("fuzz", bytes) {
        let mut text = String::new();
        for target in &targets {
            text.push_str(&target.serial);
            if let Some(udid) = &target.udid {
                text.push(' ');
                text.push_str(udid.as_str());
            }
            text.push('\n');
        }
        let again = parse_targets("again", text.as_bytes()).expect("printed devices parse");
        assert_eq!(again, targets);
    }
});
