"""A relying party for the browser tests: a small web app on a local port that signs people in with Rollcall
through Authlib, as a school's service would. /login sends the browser to Rollcall; /callback takes the code,
fetches and validates the tokens (signature from the JWKS, issuer, audience, nonce), reads userinfo, refreshes,
and shows who signed in. What it learnt is kept in `results` for the test to read."""

import html
import json
import secrets
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Authlib's OIDC claim classes still live on authlib.jose
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken


class RelyingParty:
    def __init__(self, *, issuer_url: str, scope: str):
        self.issuer_url, self.scope = issuer_url, scope
        self.client_id = self.secret = ""
        self.pending: dict[str, dict] = {}
        self.results: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = f"{self.url}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self, *, client_id: str, secret: str) -> "RelyingParty":
        self.client_id, self.secret = client_id, secret
        self.discovery = requests.get(f"{self.issuer_url}/.well-known/openid-configuration", timeout=10).json()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def session(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.secret,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    def login_url(self) -> str:
        state, nonce, verifier = generate_token(20), generate_token(20), secrets.token_urlsafe(48)
        url, _ = self.session().create_authorization_url(
            self.discovery["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
        self.pending[state] = {"nonce": nonce, "verifier": verifier}
        return url

    def callback(self, url: str) -> dict:
        query = parse_qs(urlsplit(url).query)
        pending = self.pending.pop(query["state"][0])
        rp = self.session()
        token = rp.fetch_token(
            self.discovery["token_endpoint"], authorization_response=url, code_verifier=pending["verifier"]
        )
        keys = JsonWebKey.import_key_set(requests.get(self.discovery["jwks_uri"], timeout=10).json())
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"values": [self.discovery["issuer"]]}},
            claims_params={
                "nonce": pending["nonce"],
                "client_id": self.client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate(leeway=5)
        userinfo = rp.get(self.discovery["userinfo_endpoint"]).json()
        fresh = rp.refresh_token(self.discovery["token_endpoint"], refresh_token=token["refresh_token"])
        after_refresh = rp.get(self.discovery["userinfo_endpoint"]).json()
        result = {
            "id_token": dict(claims),
            "userinfo": userinfo,
            "refreshed": fresh["access_token"] != token["access_token"] and after_refresh["sub"] == userinfo["sub"],
        }
        self.results.append(result)
        return result

    def _handler(self):
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the test output stays quiet, and no code reaches it
                pass

            def _send(self, status: int, body: str = "", location: str = ""):
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self):
                if self.path == "/login":
                    return self._send(302, location=rp.login_url())
                if self.path.startswith("/callback"):
                    try:
                        result = rp.callback(f"{rp.url}{self.path}")
                    except Exception as exc:  # noqa: BLE001 - shown on the page the test reads
                        return self._send(500, f"<h1>Sign-in failed</h1><p>{html.escape(repr(exc))}</p>")
                    info = result["userinfo"]
                    return self._send(
                        200,
                        f"<h1>Signed in as {html.escape(info.get('preferred_username', info['sub']))}</h1>"
                        f"<pre id='claims'>{html.escape(json.dumps(info))}</pre>",
                    )
                return self._send(404, "<h1>Not here</h1>")

        return Handler
