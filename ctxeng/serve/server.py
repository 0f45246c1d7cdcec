"""Run the app with uvicorn on a socket bound here (so `--port 0` can report its port), and announce it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.serve.engine import Engine
from ctxeng.serve.local import remove_running, write_running

GRACEFUL_S = 5  # a streaming answer still running at shutdown gets this long, then is cut


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: any free one); clear errors for bad addresses."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CtxengError(f"cannot resolve host '{host}': {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CtxengError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="choose another --port (0 picks a free one)",
        ) from None
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog instead of failing
    return sock


def url_of(sock: socket.socket) -> str:
    """The base URL (`http://host:port`) a bound socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server_class() -> type:
    import uvicorn

    class StoppingServer(uvicorn.Server):
        """A uvicorn server that stops the engine as soon as shutdown starts."""

        def __init__(self, config: uvicorn.Config, engine: Engine) -> None:
            super().__init__(config)
            self.engine = engine

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Running and waiting generations end now, so their requests are answered within the
            # graceful period: otherwise uvicorn cancels them after it (a CancelledError traceback per
            # request), and the worker later reports to a closed event loop.
            self.engine.stop()
            await super().shutdown(sockets)

    return StoppingServer


def _Server(config: Any, engine: Engine) -> Any:  # noqa: N802 - a class made on first use (uvicorn is heavy)
    return _server_class()(config, engine)


def run(
    engine: Engine,
    sock: socket.socket,
    root: Path | None,
    token: str | None = None,
    max_tokens: int = 512,
    announce: Callable[[str], None] = lambda url: None,
    hosts: Sequence[str] = (),
) -> None:
    """Serve `engine` on `sock` until Ctrl-C / SIGTERM; `.ctxeng/serve.json` under `root` says where.

    Requests must name a loopback host or the bound address in Host/Origin, or one of `hosts`.
    """
    import uvicorn

    from ctxeng.serve.app import create_app

    app = create_app(engine, token, max_tokens, hosts, bound=str(sock.getsockname()[0]))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=GRACEFUL_S
    )
    server = _Server(config, engine)
    url = url_of(sock)
    if root is not None:
        write_running(root, url, engine.names, auth=token is not None)
    announce(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the signal it caught: stopping is the normal end
    finally:
        engine.close()
        if root is not None:
            remove_running(root)
        sock.close()
