-- esp-ws's probe script for NodeMCU's httpd WebSocket routes (not NodeMCU's):
-- it prints on the console what a script sees of the module, so that the
-- scenarios of scenarios/nodemcu-httpd/ can show each behaviour of the fact
-- sheet's table (req.method, the callbacks and when they fire, ws:close(),
-- a Lua error's traceback, httpd.websocket's return value).

-- NodeMCU's default error handler prints the traceback and restarts the chip
-- two seconds later; with print as the handler the board keeps running
-- (docs/nodemcu-lrm.md), so that the session can be seen to stay open.
node.setonerror(print)

httpd.start({ webroot = "/", max_handlers = 20, auto_index = httpd.INDEX_ALL })

local function show(v)
  if v == nil then return "nil" end
  return tostring(v)
end

httpd.websocket("/probe", function(req, ws)
  print("handler: method " .. req.method .. ", uri " .. req.uri
    .. ", query " .. show(req.query)
    .. ", Sec-WebSocket-Version " .. show(req.headers["sec-websocket-version"]))
  ws:on("text", function(data)
    print("text: " .. data)
    if data == "close" then
      ws:close()
    elseif data == "close then text" then
      ws:close()
      ws:text("sent after close")
    elseif data == "error" then
      error("boom")
    elseif data == "onerror" then
      node.setonerror(function(s)
        print("onerror: " .. s)
        node.setonerror(print)
      end)
      error("reported")
    elseif data == "register" then
      print("httpd.websocket returned " .. show(httpd.websocket("/late", function() end)))
    else
      ws:text(data)
    end
  end)
  ws:on("binary", function(data)
    print("binary: " .. #data .. " bytes")
    ws:binary(data)
  end)
  ws:on("close", function()
    print("close callback")
  end)
end)

httpd.websocket("/fail", function(req, ws)
  error("handler failed")
end)
