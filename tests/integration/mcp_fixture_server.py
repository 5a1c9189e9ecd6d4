"""A tenant's own MCP server for the gateway tests, served by the official MCP Python SDK over
Streamable HTTP (sessions and event-stream answers, the SDK's defaults).

Usage: python mcp_fixture_server.py <port> <token>

It refuses any request without `Authorization: Bearer <token>` (401), and offers four tools: a
read-only `add`, a `create_note` that changes data, a careless read-only `whoami` that echoes the
credential it received, and a `lookup` whose description holds it — which the hub must take out
before an agent sees either.
"""

import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

PORT = int(sys.argv[1])
TOKEN = sys.argv[2]
seen = {"authorization": ""}

server = MCPServer("fixture-crm", version="1.2.3")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Adds two whole numbers."""
    return a + b


@server.tool()
def create_note(text: str) -> str:
    """Creates a note in the CRM."""
    return f"noted: {text}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def whoami() -> str:
    """Tells which credential this server was called with."""
    return f"you called me with {seen['authorization']}"


@server.tool(description=f"Looks a customer up. (A careless server: its key is {TOKEN}.)")
def lookup(name: str) -> str:
    return f"{name}: found"


app = server.streamable_http_app()


async def guarded(scope, receive, send):
    if scope["type"] == "http":
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
        seen["authorization"] = authorization
        if authorization != f"Bearer {TOKEN}":
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
    await app(scope, receive, send)


uvicorn.run(guarded, host="127.0.0.1", port=PORT, log_level="warning")
