"""botocore's per-request behaviour adjusted through its documented event hooks, on clients
s3flood owns (a caller's own client is left as it is).

No ``Expect: 100-continue``: botocore adds it to every PutObject and UploadPart (it turns each
body into a file-like object, and "any file like object will use an expect 100-continue
header regardless of size"). aiohttp then waits for the server's interim answer with no
timeout at all, so a server that accepts the connection and stays silent hung the run
forever (found by the silent-server test); it is also one more exchange per request. Without
it, a stalled request is cut off by the read timeout like any other.

Bodies stay bytes: botocore wraps every PutObject and UploadPart body in a BytesIO, which
aiohttp then copies whole (``getbuffer()`` un-shares it) and re-reads in 64 KiB copies: 4.5% of
the samples on the mixed tree, plus a filename lookup per request. s3flood's bodies are
already in memory; sent as bytes, aiohttp writes them to the socket as they are. botocore's
only other uses of the wrapper are its own retries (off: s3flood owns every retry) and the
``Expect`` header (removed above).

Fast path: per-request work cut down.

Why: botocore resolves an endpoint for every request by evaluating S3's endpoint ruleset, and
caches the result keyed on all the ruleset's parameters. ``Key`` is one of them, although no
rule reads it (boto/botocore#3528; fixed upstream in #3692, which aioboto3's pinned botocore
does not have). So every new key misses the cache and the whole rule tree runs again: ~30% of
the client CPU of a small PutObject, measured here.

How: at ``before-parameter-build`` the real key moves into the request context and PutObject
continues with one constant placeholder key, so endpoint resolution hits the cache; at
``before-sign`` the placeholder in the URL path is replaced by the real key, percent-encoded
exactly as botocore's serializer encodes a ``{Key+}`` label. Signing happens after that, on the
final URL, by botocore. Nothing private is touched; the S3 request on the wire is the one
botocore would have sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.handlers import add_expect_header, convert_body_to_file_like_object
from botocore.utils import percent_encode

PLACEHOLDER = "s3flood-key-placeholder"
_CONTEXT_KEY = "s3flood_real_key"
_ENCODED_PLACEHOLDER = "/" + PLACEHOLDER


def _stash_real_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_CONTEXT_KEY] = params["Key"]
    params["Key"] = PLACEHOLDER


def _restore_real_key(request: Any, **_: Any) -> None:
    key = request.context.get(_CONTEXT_KEY)
    if key is None:
        return
    parts = urlsplit(request.url)
    if not parts.path.endswith(_ENCODED_PLACEHOLDER):
        raise RuntimeError(f"s3flood: unexpected PutObject URL path {parts.path!r}")
    path = parts.path[: -len(PLACEHOLDER)] + percent_encode(key, safe="/~")
    request.url = urlunsplit(parts._replace(path=path))


def remove_expect_continue(client: Any) -> None:
    client.meta.events.unregister("before-call.s3", add_expect_header)


def send_bodies_as_bytes(client: Any) -> None:
    for operation in ("PutObject", "UploadPart"):
        event = f"before-parameter-build.s3.{operation}"
        client.meta.events.unregister(event, convert_body_to_file_like_object)


def install_fast_path(client: Any) -> None:
    events = client.meta.events
    events.register("before-parameter-build.s3.PutObject", _stash_real_key, unique_id="s3flood-stash-key")
    events.register("before-sign.s3.PutObject", _restore_real_key, unique_id="s3flood-restore-key")
