"""AI Gateway's headers, named once for the client that sends them and the emulator that reads
them (and the ids every answer carries), so the two can never spell one differently."""

#: the gateway a call goes through; without it, the account's default gateway
GATEWAY_HEADER = "cf-aig-gateway-id"
#: the name of that default gateway, which Cloudflare makes on the first call through it
DEFAULT_GATEWAY = "default"
#: a JSON object the gateway logs with the call
METADATA_HEADER = "cf-aig-metadata"
#: Cloudflare's limit on the entries of `cf-aig-metadata`
MAX_METADATA_ENTRIES = 5
SKIP_CACHE_HEADER = "cf-aig-skip-cache"
MAX_ATTEMPTS_HEADER = "cf-aig-max-attempts"
#: on every answer: the gateway's log entry for the call (what a billing question is settled
#: with) and the request's id
LOG_ID_HEADER = "cf-aig-log-id"
REQUEST_ID_HEADER = "cf-aig-request-id"
