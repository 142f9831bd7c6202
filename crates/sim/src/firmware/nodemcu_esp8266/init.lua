-- The example of NodeMCU's websocket module documentation
-- (docs/modules/websocket.md, "websocket.client:on()"), with the URL a
-- user edits into it: esp-ws puts the server's URI where the example has
-- 'ws://echo.websocket.org' ({uri} is replaced before the script runs).
local ws = websocket.createClient()
ws:on("connection", function(ws)
  print('got ws connection')
end)
ws:on("receive", function(_, msg, opcode)
  print('got message:', msg, opcode) -- opcode is 1 for text message, 2 for binary
end)
ws:on("close", function(_, status)
  print('connection closed', status)
  ws = nil -- required to Lua gc the websocket client
end)
ws:connect('{uri}')
