//! ESP-IDF's esp_system start-up as far as it prints: the main task that
//! calls the application's `app_main()`.

use crate::chip::console::Console;
use crate::idf::release::Startup;
use crate::log;

/// components/freertos/app_startup.c `main_task()` (v5.x), or v4.x's
/// cpu_start.c `main_task()`, which calls `app_main()` without a word.
/// `app_main` is whatever the build linked in; it is given as a function.
pub fn main_task(con: &Console, startup: Startup, app_main: impl FnOnce()) {
    if startup.prints_main_task_lines() {
        log!(con, Info, "main_task", "Started on CPU0");
        log!(con, Info, "main_task", "Calling app_main()");
    }
    app_main();
    if startup.prints_app_main_return() {
        log!(con, Info, "main_task", "Returned from app_main()");
    }
}
