-- esp-ws's script for httpd.stop() (not NodeMCU's): /echo echoes text, and
-- the message "stop" stops the server from the Lua task while its
-- WebSocket session is still open.

httpd.start({ webroot = "/", max_handlers = 20, auto_index = httpd.INDEX_ALL })

httpd.websocket("/echo", function(req, ws)
  ws:on("text", function(data)
    print(data)
    if data == "stop" then
      httpd.stop()
      print("httpd.stop() returned")
    else
      ws:text(data)
    end
  end)
end)
