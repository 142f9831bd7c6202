-- The example of NodeMCU's httpd module documentation (docs/modules/httpd.md
-- of PR #3514), written from its description in the fact sheet
-- nodemcu-httpd-websocket.md, section 5: neither the sheet nor the seed
-- quotes its text, so this is not NodeMCU's wording, only its behaviour.
--
-- /echo prints each text message on the console and sends it back.
-- /beat sends "tick: 0" at once, then "tick: 1" ... "tick: 5" a second
-- apart, and then closes the connection (no CLOSE frame).

httpd.start({
  webroot = "<static file prefix>",
  max_handlers = 20,
  auto_index = httpd.INDEX_ALL,
})

httpd.websocket("/echo", function(req, ws)
  ws:on("text", function(data)
    print(data)
    ws:text(data)
  end)
end)

local function tick(ws, n)
  ws:text("tick: " .. n)
  n = n + 1
  if n < 6 then
    tmr.create():alarm(1000, tmr.ALARM_SINGLE, function() tick(ws, n) end)
  else
    ws:close()
  end
end

httpd.websocket("/beat", function(req, ws)
  tick(ws, 0)
end)
