"""Credentials never leave a URL: userinfo and token-like query values become ``***``.

A private feed mirror is often reached as ``https://user:token@host/feed/`` or with a signed
query (``?sig=...``, ``X-Amz-Signature=...``). depguard prints and writes feed URLs in many
places (warnings, errors, ``feed status``, ``serve``, the commit message and ``--message-file``
of ``sync --commit``, which end up in git history and pull requests), so every place that
renders a feed source goes through :func:`redact_url` or :func:`redact_text`. Only the bytes
shown change; the URL that is fetched keeps its credentials.

Query parameters redacted (names compared case-insensitively): the names in
:data:`SECRET_PARAMS`, any name starting with one of :data:`SECRET_PREFIXES` (the signed-URL
families of AWS and Google Cloud), and any name containing one of :data:`SECRET_PARTS`.
Imports nothing of depguard: the CLI may use it before loading anything heavy.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_PARAMS", "SECRET_PARTS", "SECRET_PREFIXES", "is_secret_param", "redact_text", "redact_url"]

MASK = "***"
#: Query parameter names that carry a credential.
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "auth",
        "authorization",
        "client_secret",
        "code",
        "credential",
        "id_token",
        "key",
        "pass",
        "passwd",
        "password",
        "private_token",
        "pwd",
        "refresh_token",
        "secret",
        "session",
        "sig",
        "signature",
        "token",
    }
)
#: Prefixes of signed-URL parameters (``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Goog-Signature``, ...).
SECRET_PREFIXES = ("x-amz-", "x-goog-")
#: Any parameter whose name contains one of these is redacted too (``gitlab_token``, ``db_password``).
SECRET_PARTS = ("token", "secret", "passw", "signature", "credential", "apikey", "api_key")

#: A URL inside free text: a scheme, ``://``, then anything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter of this name is redacted (see the module docstring)."""
    lowered = name.lower()
    return lowered in SECRET_PARAMS or lowered.startswith(SECRET_PREFIXES) or any(p in lowered for p in SECRET_PARTS)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and token-like query values replaced by ``***``.

    Works on the text, not a parse: a URL too broken for :func:`urllib.parse.urlsplit` (a bad
    port, say) is still redacted, and everything else stays byte for byte as it was.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        authority = MASK + "@" + authority.rpartition("@")[2]
    if "?" in tail:
        path, _, query = tail.partition("?")
        query, hash_mark, fragment = query.partition("#")
        tail = path + "?" + _redact_query(query) + hash_mark + fragment
    return scheme + sep + authority + tail


def _redact_query(query: str) -> str:
    parts = []
    for part in re.split(r"([&;])", query):
        name, eq, _value = part.partition("=")
        parts.append(f"{name}={MASK}" if eq and is_secret_param(name) else part)
    return "".join(parts)


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`): for messages that quote one."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)
