"""A connection to OBS Studio through obs-websocket v5 (built into OBS 28 and newer).

obs-websocket-py 1.0 speaks the protocol (its request classes, its authentication); this
module adds what a process that runs for hours beside OBS needs:
- a connect timeout (the library itself waits for ever on a host that does not answer);
- errors a user can act on, each one line: nothing listening (OBS not running, its
  WebSocket server switched off, or another port), a refused or missing password, something
  else answering on the port, an OBS too old for protocol v5;
- its own receiver thread that ends quietly when OBS goes away (the library's prints a
  traceback) and fails every waiting request at once rather than after the request timeout;
- request failures that carry OBS's own status code and comment.

No events are subscribed to: the overlay only sends requests, so OBS sends us nothing it
does not have to.

The password is held only by the client object for the handshake: it is never logged, is
in no message and no repr (ObsAddress hides it). OBS_WEBSOCKET_PASSWORD, when set, takes
precedence over the config file's [obs] password (resolve_password).

Reconnecting is the caller's job (the OBS sink and the OBS frame source each recover their
own way); Backoff gives them the camera's schedule: 0.5 s, doubling to at most 5 s.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import websocket
from obswebsocket import obsws
from obswebsocket import requests as obs_requests

from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.config import ObsConfig

logger = logging.getLogger(__name__)

PASSWORD_ENV: Final = "OBS_WEBSOCKET_PASSWORD"
CONNECT_TIMEOUT_S: Final = 3.0
REQUEST_TIMEOUT_S: Final = 5.0
FIRST_RETRY_S: Final = 0.5
MAX_RETRY_S: Final = 5.0

# obs-websocket v5 close codes (WebSocketCloseCode) and request status codes (RequestStatus).
_CLOSE_AUTHENTICATION_FAILED: Final = 4009
_CLOSE_UNSUPPORTED_RPC_VERSION: Final = 4010
NOT_FOUND: Final = 600  # ResourceNotFound
ALREADY_EXISTS: Final = 601  # ResourceAlreadyExists

_WHERE_SETTINGS = "OBS: Tools > WebSocket Server Settings"
_SET_PASSWORD = f"set {PASSWORD_ENV}, or password in the [obs] section of the config (`emotion-overlay config edit`)"


class ObsError(OverlayError):
    """Something about OBS a user can act on; the message is one line."""


class ObsUnreachable(ObsError):
    """Nothing answers at the address: OBS is not running, its WebSocket server is off, or another port.

    The one failure that waiting can cure, so the sink keeps trying after it.
    """


class ObsAuthError(ObsError):
    """OBS refused the password, or asks for one and none is set."""


class ObsConnectionLost(ObsError):
    """An established connection broke (OBS closed or crashed) or stopped answering."""


class ObsRequestError(ObsError):
    """OBS answered a request with a failure; `code` is obs-websocket's RequestStatus."""

    def __init__(self, request: str, code: int, comment: str) -> None:
        super().__init__(f"OBS refused {request}: {comment or 'no reason given'} (status {code})")
        self.request, self.code, self.comment = request, code, comment


@dataclass(frozen=True)
class ObsAddress:
    """Where OBS listens; the password is left out of repr and str, so logging an address is safe."""

    host: str = "127.0.0.1"
    port: int = 4455
    password: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")


def resolve_password(configured: str) -> str:
    """OBS_WEBSOCKET_PASSWORD when set (even to ""), else the config file's password."""
    return os.environ.get(PASSWORD_ENV, configured)


def configured_address(obs: ObsConfig) -> ObsAddress:
    """Where the config's [obs] section says OBS listens, with its password resolved (never printed)."""
    return ObsAddress(obs.host, obs.port, resolve_password(obs.password))


class Backoff:
    """Delays between reconnection attempts: `first`, doubling up to `maximum`; reset() after a success."""

    def __init__(self, first: float = FIRST_RETRY_S, maximum: float = MAX_RETRY_S) -> None:
        self.first, self.maximum = first, maximum
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class _Client(obsws):  # type: ignore[misc]  # obs-websocket-py is untyped
    """obsws with a bounded connect, classified handshake failures, and a quiet receiver."""

    def __init__(self, address: ObsAddress, connect_timeout: float, request_timeout: float) -> None:
        super().__init__(address.host, address.port, address.password, legacy=False, timeout=request_timeout)
        self.address = address
        self.connect_timeout = connect_timeout
        self.lost = threading.Event()
        self._ids = itertools.count(1)
        self._pending: dict[str, threading.Event] = {}
        self._answers: dict[str, dict[str, Any]] = {}
        self._receiver: threading.Thread | None = None

    def connect(self) -> None:
        ws: Any = websocket.WebSocket(enable_multithread=True)  # websocket-client is only partly typed
        try:
            ws.connect(f"ws://{self.address.host}:{self.address.port}", timeout=self.connect_timeout)
        except websocket.WebSocketBadStatusException as err:
            ws.shutdown()
            raise ObsError(
                f"{self.address} answers but is not OBS's WebSocket server (HTTP {err.status_code}); "
                f"check --obs-port against {_WHERE_SETTINGS}"
            ) from None
        except (OSError, websocket.WebSocketException) as err:
            ws.shutdown()
            raise ObsUnreachable(
                f"cannot reach OBS at {self.address} ({_reason(err)}): start OBS 28 or newer and enable its "
                f"WebSocket server ({_WHERE_SETTINGS} > Enable WebSocket server), and check that the port matches"
            ) from None
        self.ws = ws
        try:
            self._identify()
        except (OSError, websocket.WebSocketException, ValueError, KeyError) as err:
            ws.shutdown()
            raise ObsError(f"OBS at {self.address} broke off the handshake ({_reason(err)}); try again") from None
        except ObsError:
            ws.shutdown()
            raise
        ws.settimeout(None)
        self._receiver = threading.Thread(target=self._receive, name="obs-websocket-receiver", daemon=True)
        self._receiver.start()

    def _identify(self) -> None:
        """obs-websocket v5: Hello (op 0) -> Identify (op 1) -> Identified (op 2), or a close code saying why not."""
        hello = json.loads(self.ws.recv() or "{}")
        if hello.get("op") != 0:
            raise ObsError(
                f"{self.address} does not speak obs-websocket 5; OBS 28 or newer is needed (OBS 27 with "
                "the obs-websocket 4 plugin is not supported)"
            )
        self.server_version = hello["d"].get("obsWebSocketVersion")
        challenge = hello["d"].get("authentication")
        if challenge and not self.password:
            raise ObsAuthError(f"OBS at {self.address} asks for a password and none is set: {_SET_PASSWORD}")
        auth = self._build_auth_string(challenge["salt"], challenge["challenge"]) if challenge else ""
        identify = {"op": 1, "d": {"rpcVersion": 1, "authentication": auth, "eventSubscriptions": 0}}
        self.ws.send(json.dumps(identify))
        opcode, frame = self.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame[:2])[0] if len(frame) >= 2 else 0
            if code == _CLOSE_AUTHENTICATION_FAILED:
                raise ObsAuthError(
                    f"OBS at {self.address} refused the password: copy the server password from "
                    f"{_WHERE_SETTINGS} > Show Connect Info, then {_SET_PASSWORD}"
                )
            if code == _CLOSE_UNSUPPORTED_RPC_VERSION:
                raise ObsError(f"OBS at {self.address} does not accept obs-websocket protocol 1; update OBS")
            reason = frame[2:].decode("utf-8", "replace") if len(frame) > 2 else "no reason given"
            raise ObsError(f"OBS at {self.address} closed the connection during the handshake: {reason} ({code})")
        identified = json.loads(frame)
        if identified.get("op") != 2:
            raise ObsError(f"OBS at {self.address} answered the handshake unexpectedly (op {identified.get('op')})")

    def _receive(self) -> None:
        """Hand each answer to the request waiting for it; on any failure mark the connection lost."""
        try:
            while not self.lost.is_set():
                message = self.ws.recv()
                if not message:  # a close frame
                    break
                data = json.loads(message)
                if data.get("op") == 7:  # RequestResponse
                    request_id = data["d"]["requestId"]
                    waiting = self._pending.get(request_id)
                    if waiting is not None:
                        self._answers[request_id] = data["d"]
                        waiting.set()
        except (OSError, websocket.WebSocketException, ValueError, KeyError) as err:
            logger.debug("obs-websocket receiver ended: %s", _reason(err))
        finally:
            self.lost.set()
            for waiting in list(self._pending.values()):
                waiting.set()  # nobody waits out the request timeout for an answer that cannot come

    def call(self, request: Any) -> Any:
        """Send one request and wait for its answer; raises ObsConnectionLost or ObsRequestError."""
        if self.lost.is_set():
            raise ObsConnectionLost(f"the connection to OBS at {self.address} is closed")
        request_id = str(next(self._ids))
        answered = threading.Event()
        self._pending[request_id] = answered
        try:
            payload = {
                "op": 6,
                "d": {"requestId": request_id, "requestType": request.name, "requestData": request.data()},
            }
            try:
                self.ws.send(json.dumps(payload))
            except (OSError, websocket.WebSocketException) as err:
                self.lost.set()
                raise ObsConnectionLost(f"lost the connection to OBS at {self.address} ({_reason(err)})") from None
            if not answered.wait(self.timeout):
                raise ObsConnectionLost(f"OBS at {self.address} did not answer {request.name} in {self.timeout:.0f} s")
            answer = self._answers.pop(request_id, None)
        finally:
            self._pending.pop(request_id, None)
        if answer is None:
            raise ObsConnectionLost(f"lost the connection to OBS at {self.address}")
        status = answer.get("requestStatus", {})
        request.input(answer.get("responseData") or {}, bool(status.get("result")))
        if not status.get("result"):
            raise ObsRequestError(request.name, int(status.get("code", 0)), str(status.get("comment", "")))
        return request

    def disconnect(self) -> None:
        ws: Any = self.ws
        if ws is None:
            return
        self.lost.set()
        with contextlib.suppress(OSError, websocket.WebSocketException):
            ws.send_close()
        if ws.sock is not None:  # wake the receiver at once, even when OBS is frozen and never answers the close
            with contextlib.suppress(OSError):
                ws.sock.shutdown(socket.SHUT_RDWR)
        if self._receiver is not None and self._receiver is not threading.current_thread():
            self._receiver.join(timeout=2.0)
        ws.shutdown()


def _reason(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, socket.timeout | websocket.WebSocketTimeoutException):
        return "no answer"
    if isinstance(err, socket.gaierror):
        return "unknown host"
    text = str(err).strip()
    return text or type(err).__name__


class ObsConnection:
    """One open connection to OBS. Not shared between threads: each user opens its own.

    Raises ObsUnreachable, ObsAuthError or ObsError when it cannot connect. request() raises
    ObsConnectionLost when the connection broke (then open a new one) and ObsRequestError when
    OBS refused the request (the connection stays usable).
    """

    def __init__(
        self,
        address: ObsAddress,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        request_timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.address = address
        self._client = _Client(address, connect_timeout, request_timeout)
        self._client.connect()
        version = self.request("GetVersion")
        self.obs_version = str(version.get("obsVersion", "?"))
        self.websocket_version = str(version.get("obsWebSocketVersion", "?"))
        logger.info("connected to OBS %s (obs-websocket %s) at %s", self.obs_version, self.websocket_version, address)

    @property
    def alive(self) -> bool:
        return not self._client.lost.is_set()

    def request(self, name: str, **data: Any) -> dict[str, Any]:
        """Send request `name` (obs-websocket v5 request type) with `data`; its response data."""
        answer = self._client.call(getattr(obs_requests, name)(**data))
        return dict(answer.datain)

    def close(self) -> None:
        """Idempotent."""
        self._client.disconnect()

    def __enter__(self) -> ObsConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
