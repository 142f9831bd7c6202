"""`esp-ws sim` used by hand, as the README shows: a standard client (Python's
websocket-client) against the simulator, and the serial log it prints."""
import subprocess
import sys
import threading
import time

import websocket

esp_ws = sys.argv[1]
proc = subprocess.Popen([esp_ws, "sim", "--port", "0"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
lines = []
try:
    announce = proc.stderr.readline().strip()
    prefix = "esp-ws sim: listening on "
    assert announce.startswith(prefix), f"unexpected announcement {announce!r}"
    addr = announce[len(prefix):]
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()

    def wait_for(text, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if any(text in l for l in lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the serial log:\n{''.join(lines)}")

    wait_for("Returned from app_main()")
    ws = websocket.create_connection(f"ws://{addr}/ws", timeout=10)
    ws.send("hello")
    assert ws.recv() == "hello"
    ws.send("Trigger async")
    assert ws.recv() == "Async data"
    ws.close()
    wait_for("I (")
    wait_for("ws_echo_server: Got packet with message: hello")
    wait_for("ws_echo_server: Got packet with message: Trigger async")
    print("websocket-client: echo and Trigger async OK")
    print("".join(l for l in lines if "ws_echo_server" in l), end="")
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
assert proc.returncode == 0, f"esp-ws sim exited with {proc.returncode}"
