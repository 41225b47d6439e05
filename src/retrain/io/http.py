"""HTTP with the standard library: one call for GET and JSON POST, answering a status instead of raising."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def request(url: str, body: Any = None, timeout: float = 5, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET `url`, or POST `body` as JSON: the status and the body; status 0 and the reason when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(
        url, data=data, headers=({"Content-Type": "application/json"} if data else {}) | (headers or {})
    )
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(getattr(error, "reason", error)).encode()
