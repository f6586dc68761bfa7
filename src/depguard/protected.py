"""Packages no feed record may block whole without a reviewed override.

A ``malicious-package`` record compiles to ``name<0``: no version of the package installs
again. For a typosquat that is the point; for ``requests``, ``pip`` or ``uv`` it would break
every consumer's installs at once, which is exactly what a compromised feed host or a bad pull
request would want. So a whole-package block of a name listed here is refused by
``feed validate`` and by every client unless the record carries
``database_specific.depguard.protected_override`` (a reviewer's name and reason).
Version-exact exclusions of these packages stay allowed: litellm, chalk and debug are on the
list and their hijacked releases are in the feed.

The lists (names in each ecosystem's normal form):

* the 100 most-downloaded packages of each ecosystem, ranked by downloads as of 2026-12-06
  (PyPI: rank among the 15,000 most downloaded; npm: downloads a month);
* depguard's own runtime dependencies (a test holds this list to the installed closure);
* the installers and build front-ends a block would lock out (pip, uv, poetry, npm, ...).
"""

from __future__ import annotations

__all__ = ["PROTECTED", "is_protected"]

_TOP_PYPI = frozenset({
    "aiobotocore", "aiohappyeyeballs", "aiohttp", "aiosignal", "annotated-doc", "annotated-types",
    "anyio", "attrs", "awscli", "boto3", "botocore", "certifi", "cffi", "charset-normalizer",
    "click", "colorama", "cryptography", "fastapi", "filelock", "frozenlist", "fsspec",
    "google-api-core", "google-auth", "googleapis-common-protos", "greenlet", "grpcio",
    "grpcio-status", "h11", "httpcore", "httpx", "idna", "importlib-metadata", "iniconfig",
    "jinja2", "jmespath", "jsonschema", "jsonschema-specifications", "litellm", "markdown-it-py",
    "markupsafe", "mdurl", "multidict", "numpy", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-semantic-conventions", "packaging", "pandas", "pathspec", "pillow", "pip",
    "platformdirs", "pluggy", "propcache", "protobuf", "pyarrow", "pyasn1", "pyasn1-modules",
    "pycparser", "pydantic", "pydantic-core", "pydantic-settings", "pygments", "pyjwt",
    "pyparsing", "pytest", "python-dateutil", "python-dotenv", "python-multipart", "pytz",
    "pyyaml", "referencing", "requests", "requests-oauthlib", "rich", "rpds-py", "s3fs",
    "s3transfer", "scipy", "setuptools", "shellingham", "six", "sniffio", "sqlalchemy",
    "starlette", "tenacity", "tqdm", "trove-classifiers", "typer", "typing-extensions",
    "typing-inspection", "tzdata", "urllib3", "uvicorn", "virtualenv", "websockets", "wheel",
    "wrapt", "yarl", "zipp",
})
_TOP_NPM = frozenset({
    "@babel/code-frame", "@babel/core", "@babel/generator", "@babel/helper-validator-identifier",
    "@babel/parser", "@babel/template", "@babel/traverse", "@babel/types",
    "@jridgewell/trace-mapping", "@rollup/rollup-linux-x64-musl", "@types/node", "acorn",
    "agent-base", "ajv", "ansi-regex", "ansi-styles", "argparse", "balanced-match",
    "brace-expansion", "camelcase", "chalk", "cliui", "color-convert", "color-name", "commander",
    "cross-spawn", "debug", "emoji-regex", "entities", "escape-string-regexp", "eslint-scope",
    "eslint-visitor-keys", "estraverse", "execa", "find-up", "form-data", "fs-extra", "get-stream",
    "glob", "glob-parent", "globals", "has-flag", "https-proxy-agent", "iconv-lite", "ignore",
    "inherits", "is-fullwidth-code-point", "is-stream", "isarray", "isexe", "js-yaml",
    "json-schema-traverse", "json5", "locate-path", "lru-cache", "mime-db", "mime-types",
    "minimatch", "minipass", "ms", "onetime", "p-limit", "p-locate", "path-exists", "path-key",
    "path-to-regexp", "picomatch", "postcss", "pretty-format", "punycode", "react-is",
    "readable-stream", "resolve", "resolve-from", "safe-buffer", "semver", "shebang-command",
    "shebang-regex", "signal-exit", "source-map", "string-width", "string_decoder", "strip-ansi",
    "strip-json-comments", "supports-color", "telecom-mas-agent", "tr46", "tslib", "type-fest",
    "typescript", "undici-types", "uuid", "webidl-conversions", "whatwg-url", "which", "wrap-ansi",
    "ws", "yallist", "yargs", "yargs-parser",
})
#: depguard's runtime dependency closure (``tests/test_protected.py`` keeps it complete).
_DEPGUARD_PYPI = frozenset({
    "annotated-doc", "annotated-types", "anyio", "attrs", "certifi", "colorama", "depguard",
    "exceptiongroup", "gitdb", "gitpython", "h11", "httpcore", "httpx", "idna", "jsonschema",
    "jsonschema-specifications", "markdown-it-py", "mdurl", "packaging", "platformdirs",
    "pydantic", "pydantic-core", "pygments", "pyyaml", "referencing", "rfc3339-validator", "rich",
    "rpds-py", "rtoml", "shellingham", "six", "smmap", "tomli", "tomlkit", "typer", "typing-extensions",
    "typing-inspection",
})
_INSTALLERS_PYPI = frozenset({
    "build", "conda", "flit", "flit-core", "hatch", "hatchling", "maturin", "meson-python", "nox",
    "pdm", "pdm-backend", "pip", "pip-tools", "pipenv", "pipx", "poetry", "poetry-core",
    "scikit-build-core", "setuptools", "setuptools-scm", "tox", "twine", "uv", "virtualenv",
    "wheel",
})
_INSTALLERS_NPM = frozenset({
    "@yarnpkg/cli-dist", "bun", "corepack", "lerna", "node-gyp", "npm", "npx", "nx", "pnpm",
    "turbo", "typescript", "yarn",
})

#: Ecosystem -> the normalized names a whole-package block needs an override for.
PROTECTED: dict[str, frozenset[str]] = {
    "PyPI": _TOP_PYPI | _DEPGUARD_PYPI | _INSTALLERS_PYPI,
    "npm": _TOP_NPM | _INSTALLERS_NPM,
}


def is_protected(ecosystem: str, normalized_name: str) -> bool:
    """Whether blocking every version of this package needs a reviewed override."""
    return normalized_name in PROTECTED.get(ecosystem, frozenset())
