-- wrk: an MCP tool call, `list_connectors` (a page of 100), as a Streamable HTTP client posts it
-- to the hub's /mcp (stateless: no session first), with a bearer token (TOKEN from the
-- environment). Compare with `GET /v1/connectors?limit=100` a new cursor each time (the same
-- read, never from the page cache).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_connectors","arguments":{"limit":100}}}'
