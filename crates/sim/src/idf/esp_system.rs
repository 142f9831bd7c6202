//! ESP-IDF's esp_system start-up as far as it prints: the main task that
//! calls the application's `app_main()`.

use crate::chip::console::Console;
use crate::idf::release::Startup;
use crate::log;

/// components/freertos/app_startup.c `main_task()` (v5.x) running the
/// firmware's `app_main()`; v4.x's main task calls it without a log line
/// (v4.2: components/esp32/cpu_start.c). `app_main` is whatever the build
/// linked in; it is given as a function.
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
