"""`esp-ws sim` used by hand, as the README shows: a standard client (Python's
websocket-client) against the simulator's firmwares (esp_http_server's
example, NodeMCU's httpd routes, the lwIP netconn server), and the serial log
each prints."""
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import websocket

esp_ws = sys.argv[1]


@contextlib.contextmanager
def sim(*args):
    """`esp-ws sim --port 0 ARGS`: yields (address, serial lines so far)."""
    proc = subprocess.Popen([esp_ws, "sim", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        announce = proc.stderr.readline().strip()
        prefix = "esp-ws sim: listening on "
        assert announce.startswith(prefix), f"unexpected announcement {announce!r}"
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        yield announce[len(prefix):], lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"esp-ws sim {' '.join(args)} exited with {proc.returncode}"


def wait_for(lines, text, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if any(text in l for l in lines):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the serial log:\n{''.join(lines)}")


# ESP-IDF's ws_echo_server (v5.5.5).
with sim() as (addr, lines):
    wait_for(lines, "Returned from app_main()")
    ws = websocket.create_connection(f"ws://{addr}/ws", timeout=10)
    ws.send("hello")
    assert ws.recv() == "hello"
    ws.send("Trigger async")
    assert ws.recv() == "Async data"
    ws.close()
    wait_for(lines, "I (")
    wait_for(lines, "ws_echo_server: Got packet with message: hello")
    wait_for(lines, "ws_echo_server: Got packet with message: Trigger async")
    print("websocket-client: echo and Trigger async OK")
    print("".join(l for l in lines if "ws_echo_server" in l), end="")

# The lwIP netconn tutorial's server: the 130-byte 101, then an echo.
with sim("--firmware", "netconn-hx") as (addr, lines):
    wait_for(lines, "event: sta ip:")
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: esp32\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        response = b""
        while not response.endswith(b"\r\n\r\n"):
            chunk = s.recv(1024)
            assert chunk, f"closed after {response!r}"
            response += chunk
    assert len(response) == 130, f"{len(response)} bytes: {response!r}"
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols \r\n"), response
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response, response
    # One client at a time: the raw one has gone, websocket-client is next.
    ws = websocket.create_connection(f"ws://{addr}/", timeout=10)
    ws.send("hello netconn")
    assert ws.recv() == "hello netconn"
    ws.send("ON")
    wait_for(lines, "Websocket Data Length 2, Data: ON")
    ws.close(timeout=2)
    wait_for(lines, "Websocket Data Length 13, Data: hello netconn")
    print("websocket-client: netconn-hx 130-byte 101 and echo OK")
    print("".join(l for l in lines if "Websocket Data" in l), end="")

# NodeMCU's httpd routes: the documentation's example, then a script of one's own.
with sim("--firmware", "nodemcu-pr3514") as (addr, lines):
    wait_for(lines, "powered by Lua")
    ws = websocket.create_connection(f"ws://{addr}/echo", timeout=10)
    ws.send("hello lua")
    assert ws.recv() == "hello lua"
    ws.close()
    wait_for(lines, "hello lua")
    ws = websocket.create_connection(f"ws://{addr}/beat", timeout=10)
    assert ws.recv() == "tick: 0"
    started = time.time()
    assert ws.recv() == "tick: 1"
    assert 0.8 < time.time() - started < 1.5, "ticks come a second apart"
    ws.close()
    print("websocket-client: nodemcu-pr3514 /echo and /beat OK")

with tempfile.TemporaryDirectory() as d:
    script = os.path.join(d, "init.lua")
    with open(script, "w") as f:
        f.write('print("my script")\n'
                'httpd.start({webroot = "/"})\n'
                'httpd.websocket("/up", function(req, ws)\n'
                '  ws:on("text", function(s) ws:text(s:upper()) end)\n'
                'end)\n')
    with sim("--firmware", "nodemcu-pr3514", "--script", script) as (addr, lines):
        wait_for(lines, "my script")
        ws = websocket.create_connection(f"ws://{addr}/up", timeout=10)
        ws.send("shout")
        assert ws.recv() == "SHOUT"
        ws.close()
        print("websocket-client: nodemcu-pr3514 --script OK")
