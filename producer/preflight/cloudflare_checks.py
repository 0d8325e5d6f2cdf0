"""The token, the account and each gateway, asked of Cloudflare's account API (never `ai/run`).

The token is verified as a user's token first (`/user/tokens/verify`, made under My Profile) and,
when Cloudflare does not know it there, as the account's own (`/accounts/{id}/tokens/verify`,
made under Manage Account): a valid token of either kind passes. The account and gateways are
read through AI Gateway, the permission the calls go through; a token without AI Gateway Read
cannot show them, and the line says the check could not be made rather than guess.
"""

from jobs.gateway_headers import DEFAULT_GATEWAY
from producer.preflight.lines import CheckLine, failed, ok, warning
from worker.cloudflare_account import ApiAnswer, CloudflareAccount

#: the answers of a token Cloudflare refuses at one verification endpoint (the other may know it)
_REFUSED = frozenset({401, 403})
#: Cloudflare's codes for an account id the token cannot reach: 7403 "The given account is not
#: valid or is not authorized to access this service", 7003 "Could not route to ... perhaps your
#: object identifier is invalid?"
_ACCOUNT_CODES = frozenset({7403, 7003})
TOKEN_ADVICE = (
    "create an API token with the Workers AI and AI Gateway permissions "
    "(AI Gateway Read lets doctor check the gateways) and export it as CLOUDFLARE_API_TOKEN"
)


def token_line(account: CloudflareAccount) -> CheckLine:
    """Whether Cloudflare knows the token and it is active."""
    answer, kind = account.verify_user_token(), "a user token"
    if not answer.ok and answer.status in _REFUSED:
        as_account = account.verify_account_token()
        if as_account.ok:
            answer, kind = as_account, "an account token"
    if not answer.ok:
        return failed(
            "token",
            f"Cloudflare refuses CLOUDFLARE_API_TOKEN ({answer.described()}); {TOKEN_ADVICE}",
        )
    status = answer.result.get("status") if isinstance(answer.result, dict) else None
    if status != "active":
        return failed("token", f"the token is {status or 'not active'}; {TOKEN_ADVICE}")
    return ok("token", f"valid and active ({kind})")


def account_and_gateway_lines(
    account: CloudflareAccount, gateway_ids: tuple[str, ...]
) -> list[CheckLine]:
    """The account's line, then one per configured gateway (or one saying none is set)."""
    listed = account.list_gateways()
    line = _account_line(account.account_id, listed)
    if not listed.ok:
        unchecked = "not checked: the account's gateways could not be read"
        return [line, warning("gateways", unchecked)] if gateway_ids else [line]
    if not gateway_ids:
        default = (
            "none set (CLOUDFLARE_GATEWAY_IDS): calls go through the account's default gateway"
        )
        return [line, ok("gateways", f"{default}, which Cloudflare makes on the first call")]
    return [line, *(_gateway_line(account, gateway_id) for gateway_id in gateway_ids)]


def _account_line(account_id: str, listed: ApiAnswer) -> CheckLine:
    if listed.ok:
        return ok("account", f"{account_id} is reachable, and the token may read its AI Gateways")
    if listed.status == 404 or _ACCOUNT_CODES.intersection(listed.codes):
        return failed(
            "account",
            f"account {account_id} is not reachable with this token ({listed.described()}): "
            "check CLOUDFLARE_ACCOUNT_ID (dashboard > Workers AI > account id)",
        )
    if listed.status in _REFUSED:
        return warning(
            "account",
            f"could not check account {account_id} ({listed.described()}): the token lacks AI "
            "Gateway Read, or the account is not the token's; add AI Gateway Read to the token "
            "for doctor to tell",
        )
    return failed(
        "account",
        f"Cloudflare could not list account {account_id}'s gateways ({listed.described()})",
    )


def _gateway_line(account: CloudflareAccount, gateway_id: str) -> CheckLine:
    subject = f"gateway {gateway_id}"
    answer = account.get_gateway(gateway_id)
    if answer.ok:
        return ok(subject, "exists")
    if answer.status == 404 and gateway_id == DEFAULT_GATEWAY:
        return ok(subject, "not made yet: Cloudflare makes it on the first call")
    if answer.status == 404:
        return failed(
            subject,
            f"does not exist in account {account.account_id}: create it (dashboard > AI > AI "
            "Gateway) or remove it from CLOUDFLARE_GATEWAY_IDS",
        )
    if answer.status in _REFUSED:
        return warning(
            subject, f"could not be checked ({answer.described()}): the token lacks AI Gateway Read"
        )
    return failed(subject, f"Cloudflare could not show it ({answer.described()})")
