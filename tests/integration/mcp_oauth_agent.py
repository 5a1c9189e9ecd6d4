"""An MCP client getting its own token from the hub, through the official MCP Python SDK's OAuth
client (`OAuthClientProvider`): discovery from the 401 (protected resource metadata, then the
authorization server's metadata), dynamic registration, the authorization request with PKCE and
`resource`, the code traded for tokens, then a tool call with the token.

Usage: python mcp_oauth_agent.py <mcp url> <session cookie> <scope>

This script also plays the person at the browser: the SDK's redirect handler fetches the consent
page with the person's session cookie and submits Allow, and the callback handler hands the SDK
what the hub redirected to. Prints one JSON document for the Rust test to judge.
"""

import html
import json
import re
import sys
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:9/callback"


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client = client_info


async def main(url, cookie, scope):
    seen = {"authorization_url": None, "consent_status": None, "redirected_to": None}
    answer = {}

    async def redirect_handler(authorization_url: str) -> None:
        # The person's browser: the consent page, then Allow.
        seen["authorization_url"] = authorization_url
        async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as browser:
            page = await browser.get(authorization_url, headers={"Cookie": cookie})
            seen["consent_status"] = page.status_code
            found = re.search(r'name="form_token" value="([^"]+)"', page.text)
            if not found:
                raise RuntimeError(f"no consent form: {page.status_code} {page.text[:500]}")
            target = urlparse(authorization_url)
            action = f"{target.scheme}://{target.netloc}/oauth/authorize"
            allowed = await browser.post(
                action,
                data={"form_token": html.unescape(found.group(1)), "decision": "allow"},
                headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin"},
            )
            location = allowed.headers.get("location", "")
            seen["redirected_to"] = location.split("?")[0]
            query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
            answer.update(query)

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=answer["code"], state=answer.get("state"), iss=answer.get("iss")
        )

    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="SDK agent",
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope=scope,
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.call_tool("list_connectors", {})
    authorization = urlparse(seen["authorization_url"])
    asked = {k: v[0] for k, v in parse_qs(authorization.query).items()}
    print(
        json.dumps(
            {
                "asked": {k: asked.get(k) for k in ["code_challenge_method", "resource", "scope", "response_type"]},
                "consent_status": seen["consent_status"],
                "redirected_to": seen["redirected_to"],
                "iss": answer.get("iss"),
                "client_id": storage.client.client_id,
                "access_token": storage.tokens.access_token,
                "refresh_token": storage.tokens.refresh_token,
                "token_scope": storage.tokens.scope,
                "expires_in": storage.tokens.expires_in,
                "listed": {"is_error": bool(listed.is_error), "structured": listed.structured_content},
            }
        )
    )


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:4])
