"""The front of the `local` deploy target: one port that keeps answering while releases come and go.

A reverse proxy that sends every request to the URL written in the `upstream` file, re-read whenever the file is
replaced, so `retrain deploy` switches traffic by replacing one file. A request that cannot reach its upstream (a
release that has just been stopped) is retried once on the current upstream: predictions are pure, a retry is safe.
On a real host, nginx or a load balancer can take this role by following the same file.

    python -m retrain.release.proxy --port 3000 --upstream-file ~/.local/state/retrain/upstream
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

IDENTITY = "/-/front"  # answered by the front itself (its pid), never forwarded: how the deployer knows it is ours
HOP_BY_HOP = {
    "content-encoding",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "upgrade",
    "te",
    "trailer",
}
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


class Upstream:
    """The URL in a file, read again only when the file has been replaced."""

    def __init__(self, file: Path) -> None:
        self.file, self.url, self._stamp = file, "", (0, 0)

    def current(self) -> str:
        try:
            status = self.file.stat()
        except FileNotFoundError:
            return ""
        if (status.st_ino, status.st_mtime_ns) != self._stamp:
            self.url, self._stamp = self.file.read_text().strip(), (status.st_ino, status.st_mtime_ns)
        return self.url


def _forwarded(headers: httpx.Headers | dict[str, str], also: frozenset[str] = frozenset()) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in HOP_BY_HOP | also}


def create_app(upstream_file: Path) -> Starlette:
    upstream = Upstream(upstream_file)
    client = httpx.AsyncClient(timeout=60)

    async def forward(request: Request) -> Response:
        body, headers = await request.body(), _forwarded(dict(request.headers))
        for attempt in (1, 2):
            url = upstream.current()
            if not url:
                return JSONResponse({"error": "no release is deployed"}, status_code=503)
            try:
                answer = await client.request(
                    request.method, url + request.url.path, params=request.query_params, content=body, headers=headers
                )
            except httpx.TransportError as error:
                if attempt == 2:
                    return JSONResponse({"error": f"the release at {url} does not answer: {error}"}, status_code=502)
                await asyncio.sleep(0.5)  # the deployer is switching: the file names the new release by now
                continue
            answered = _forwarded(answer.headers, frozenset({"content-encoding"}))  # httpx has decoded the body
            return Response(answer.content, status_code=answer.status_code, headers=answered)
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    async def identity(_: Request) -> Response:
        return JSONResponse({"pid": os.getpid(), "upstream": upstream.current()})

    routes = [Route(IDENTITY, identity), Route("/{path:path}", forward, methods=METHODS)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m retrain.release.proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--upstream-file", type=Path, required=True)
    arguments = parser.parse_args()
    uvicorn.run(
        create_app(arguments.upstream_file),
        host=arguments.host,
        port=arguments.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
