"""Drives Microsoft's MSAL for Python against the emulator's TLS listener, for tests/msal.rs.

Speaks JSON lines: prints one object per step on stdout; for the authorization-code step it prints
{"authorize": URL} and reads one line back, the URL the emulator redirected the browser to (the test
plays the browser). Exits non-zero with {"error": ...} on the first failing step.

    python msal_flows.py AUTHORITY CLIENT_ID CA_FILE REDIRECT_URI LOGIN_HINT
The client secret comes from the MSAL_CLIENT_SECRET environment variable (not the command line).
"""

import json
import os
import sys
import urllib.parse

import msal

PC_RESOURCE = "https://api.partnercenter.microsoft.com"


def emit(obj):
    print(json.dumps(obj), flush=True)


def fail(step, result):
    emit({"error": step, "result": {k: v for k, v in result.items() if "token" not in k}})
    sys.exit(1)


def main():
    authority, client_id, ca_file, redirect_uri, login_hint = sys.argv[1:6]
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=os.environ["MSAL_CLIENT_SECRET"],
        authority=authority,
        # The emulator is not a Microsoft host: skip instance discovery at the public cloud.
        instance_discovery=False,
        # Trust the emulator's generated CA (requests' `verify`).
        verify=ca_file,
    )

    r = app.acquire_token_for_client(scopes=[PC_RESOURCE + "/.default"])
    if "access_token" not in r:
        fail("client_credentials", r)
    emit({"step": "client_credentials", "access_token": r["access_token"], "token_type": r.get("token_type")})

    flow = app.initiate_auth_code_flow(
        scopes=[PC_RESOURCE + "/user_impersonation"], redirect_uri=redirect_uri, login_hint=login_hint
    )
    emit({"authorize": flow["auth_uri"]})
    redirected = sys.stdin.readline().strip()
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirected).query))
    r = app.acquire_token_by_auth_code_flow(flow, auth_response)
    if "access_token" not in r:
        fail("authorization_code", r)
    claims = r.get("id_token_claims", {})
    emit(
        {
            "step": "authorization_code",
            "access_token": r["access_token"],
            "has_refresh_token": bool(r.get("refresh_token")),
            "id_token_claims": claims,
            "accounts": [a["username"] for a in app.get_accounts()],
        }
    )
    refresh_token = r["refresh_token"]

    # The refresh token from the code redemption, redeemed explicitly ...
    r = app.acquire_token_by_refresh_token(refresh_token, scopes=[PC_RESOURCE + "/user_impersonation"])
    if "access_token" not in r:
        fail("refresh_token", r)
    emit({"step": "refresh_token", "access_token": r["access_token"]})

    # ... and through MSAL's cache (the account found by client_info / home_account_id); the first
    # refresh token was rotated above and, as in Entra, still works.
    accounts = app.get_accounts(username=login_hint)
    if not accounts:
        emit({"error": "silent", "result": {"accounts": app.get_accounts()}})
        sys.exit(1)
    r = app.acquire_token_silent(
        [PC_RESOURCE + "/user_impersonation"], account=accounts[0], force_refresh=True
    )
    if not r or "access_token" not in r:
        fail("silent", r or {"result": None})
    emit({"step": "silent_refresh", "access_token": r["access_token"], "source": r.get("token_source")})


if __name__ == "__main__":
    main()
