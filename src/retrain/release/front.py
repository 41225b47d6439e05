"""The front of the `local` deploy target: nginx, on the one port clients use, whichever release is live.

nginx rather than Caddy or HAProxy: every distribution packages it (Debian's `nginx-light` is enough), a reload
(SIGHUP) starts workers with the new upstream while the old ones finish the requests they hold, so a switch drops
no request, and its limits are the ones a front needs: body size, header/body/idle timeouts, connections per worker.
The home-made proxy it replaces buffered whole bodies with no limit, held slow connections for ever and retried a
POST after a read timeout (scored and logged twice).

Everything is rendered from params.yaml into one folder (RETRAIN_DEPLOY_DIR/front): `nginx.conf`, `upstream.conf`
(the live release's address: the switch rewrites it, then reloads), logs and temporary files. `GET /-/front` is
answered by nginx itself with the token written into its config: how the deployer knows the process on the port is
the front it started. The access log is one JSON line per request: request id (also sent to the release as
X-Request-Id, which the inference log keeps), status, model md5 (the release's X-Model header), latencies.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from retrain.io import files
from retrain.params import Front

IDENTITY = "/-/front"
NO_RELEASE = "server 127.0.0.1:9 down;  # no release is live\n"

CONFIG = """# Rendered by retrain deploy from params.yaml (deploy.front, serve.max_body_bytes): edits are overwritten.
{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections {max_connections}; }}
http {{
    log_format retrain escape=json '{{"time": "$time_iso8601", "request_id": "$request_id", '
        '"method": "$request_method", "path": "$uri", "status": $status, "model": "$upstream_http_x_model", '
        '"seconds": $request_time, "upstream": "$upstream_addr", "upstream_status": "$upstream_status", '
        '"upstream_seconds": "$upstream_response_time", "bytes_in": $request_length}}';
    access_log {folder}/access.log retrain;
    client_max_body_size {max_body_bytes};
    client_body_buffer_size 64k;
    client_header_timeout {header_timeout}s;
    client_body_timeout {body_timeout}s;
    keepalive_timeout {idle_timeout}s;
    send_timeout {body_timeout}s;
    reset_timedout_connection on;
    server_tokens off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    upstream release {{
        include {folder}/upstream.conf;
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        default_type application/json;
        location = {identity} {{ return 200 '{{"front": "{token}"}}'; }}
        location / {{
            proxy_pass http://release;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-Id $request_id;
            proxy_connect_timeout 2s;
            proxy_read_timeout {upstream_timeout}s;
            proxy_send_timeout {upstream_timeout}s;
            # a retry only when the connection failed; a POST that reached the release is never sent again
            proxy_next_upstream error;
            error_page 502 503 504 = @unavailable;
            error_page 413 = @too_large;  # a location's error_page replaces the server's: both here
        }}
        location @unavailable {{
            add_header Retry-After 1 always;
            return 503 '{{"error": "no release is answering on this front"}}';
        }}
        location @too_large {{ return 413 '{{"error": "body over {max_body_bytes} bytes"}}'; }}
    }}
}}
"""


def render(folder: Path, host: str, port: int, max_body_bytes: int, settings: Front, token: str) -> None:
    """nginx.conf for this front (and an upstream.conf naming no release, if there is none yet)."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    # As root, nginx runs its workers as `nobody`, who could not write the temporary files here.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    config = CONFIG.format(
        user=user,
        folder=folder,
        host=host,
        port=port,
        max_body_bytes=max_body_bytes,
        identity=IDENTITY,
        token=token,
        **settings.model_dump(),
    )
    files.replace_text(folder / "nginx.conf", config)
    if not (folder / "upstream.conf").exists():
        files.replace_text(folder / "upstream.conf", NO_RELEASE)


def point(folder: Path, port: int | None, canary: int | None = None, share: float = 0) -> None:
    """upstream.conf naming the release on `port` (None: no release), and a canary on its port taking `share` of
    the requests (nginx's weighted round robin: exactly that share, request by request); nginx reads it on its next
    reload."""
    if not port:
        files.replace_text(folder / "upstream.conf", NO_RELEASE)
        return
    weight = max(1, round(share * 100)) if canary and share > 0 else 0
    lines = [f"server 127.0.0.1:{port} weight={100 - weight} max_fails=0;\n"]
    if weight:
        lines.append(f"server 127.0.0.1:{canary} weight={weight} max_fails=0;  # the canary\n")
    files.replace_text(folder / "upstream.conf", "".join(lines))


def command(folder: Path) -> list[str]:
    return ["nginx", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
