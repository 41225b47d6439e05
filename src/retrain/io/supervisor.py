"""supervisord's XML-RPC interface, over its unix socket, with the standard library.

The calls are supervisor's own (supervisor/rpcinterface.py, SupervisorNamespaceRPCInterface: getProcessInfo,
reloadConfig, addProcessGroup, stopProcessGroup, removeProcessGroup, signalProcess, shutdown), on the path /RPC2 that
supervisor's own supervisorctl uses. A program named NAME is the process `NAME` of the group `NAME`.
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from pathlib import Path
from typing import Any, cast

RUNNING = "RUNNING"


class Unreachable(Exception):
    """No supervisord answers on the socket."""


class _Connection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


class _Transport(xmlrpc.client.Transport):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        self.path, self.timeout = path, timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _Connection(self.path, self.timeout)


class Supervisor:
    """One supervisord, by its socket. Every call raises Unreachable when nothing answers there."""

    def __init__(self, socket_path: Path, timeout: float = 90) -> None:
        # the timeout outlasts a stop: supervisord answers stopProcessGroup once the group stopped (stopwaitsecs)
        self.path = socket_path
        self.proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_Transport(socket_path, timeout))

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.proxy.supervisor, method)(*args)
        except (OSError, http.client.HTTPException) as error:
            raise Unreachable(f"no supervisord answers on {self.path}: {error}") from None

    def alive(self) -> bool:
        try:
            return bool(cast(dict[str, Any], self._call("getState"))["statename"] == RUNNING)
        except Unreachable:
            return False

    def info(self, name: str) -> dict[str, Any] | None:
        """The program's process as supervisord records it (state name, pid, start time), None if it has none."""
        try:
            return cast(dict[str, Any], self._call("getProcessInfo", name))
        except xmlrpc.client.Fault as fault:
            if "BAD_NAME" in fault.faultString:
                return None
            raise

    def programs(self) -> list[str]:
        return [str(process["name"]) for process in self._call("getAllProcessInfo")]

    def add(self, name: str) -> None:
        """Read the config files again, and start the program they now name (autostart)."""
        self._call("reloadConfig")
        try:
            self._call("addProcessGroup", name)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_ADDED" not in fault.faultString:
                raise

    def remove(self, name: str) -> None:
        """Stop the program (its whole process group: stopasgroup) and forget it; nothing if it is not there."""
        try:
            self._call("stopProcessGroup", name)
        except xmlrpc.client.Fault as fault:
            if "BAD_NAME" in fault.faultString:
                return
            if "NOT_RUNNING" not in fault.faultString:
                raise
        self._call("removeProcessGroup", name)

    def signal(self, name: str, signal: str) -> None:
        self._call("signalProcess", name, signal)

    def shutdown(self) -> None:
        self._call("shutdown")
