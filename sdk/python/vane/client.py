"""The Vane client: remote evaluation with a per-context cache of the bulk evaluation (OFREP)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union

T = TypeVar("T")
Context = Mapping[str, Any]


@dataclass(frozen=True)
class EvaluationDetail:
    """What an evaluation answered; ``error_code`` is set when the value is the fallback."""

    flag_key: str
    value: Any = None
    variation: Optional[str] = None
    reason: str = "ERROR"  # DISABLED, TARGETING_MATCH, SPLIT, DEFAULT, STATIC, ERROR
    rule_id: Optional[str] = None
    # FLAG_NOT_FOUND, TARGETING_KEY_MISSING, TYPE_MISMATCH, INVALID_CONTEXT, GENERAL (network, timeout, refused key)
    error_code: Optional[str] = None
    version: Optional[int] = None


class _HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass
class _Entry:
    etag: Optional[str]
    flags: Dict[str, Dict[str, Any]]
    fetched_at: float
    generation: int


def context_key(value: Any) -> str:
    """A stable key for a context: its JSON with object keys sorted."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def user_context(user_id: Union[str, int, None], attributes: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The context ``is_feature_enabled(flag, user_id, attributes)`` stands for (as the REST API builds it)."""
    ctx: Dict[str, Any] = dict(attributes or {})
    if user_id is not None and user_id != "":
        ctx["user_id"] = str(user_id)
        ctx["key"] = str(user_id)
    return ctx


class VaneClient:
    """A thread-safe client of one environment (one SDK key).

    cache: cache the bulk evaluation per context (default True); a cached context is revalidated with
      If-None-Match (a 304 sends no body back); within ``cache_ttl`` seconds or, with ``stream``, until the
      server says the configuration changed, it is served with no request at all.
    stream: listen to GET /ofrep/v1/stream (a background thread) for refetchEvaluation events.
    timeout: each request's timeout in seconds (default 5).
    on_error: called with every exception that was turned into a fallback.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        cache: bool = True,
        cache_ttl: float = 0.0,
        max_cache_entries: int = 1000,
        stream: bool = False,
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> None:
        if not api_url:
            raise ValueError("VaneClient: api_url is required")
        if not api_key:
            raise ValueError("VaneClient: api_key is required")
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self._use_cache = cache
        self._ttl = cache_ttl
        self._max = max(1, max_cache_entries)
        self._on_error = on_error
        self._lock = threading.Lock()
        self._cache: "OrderedDict[str, _Entry]" = OrderedDict()
        self._generation = 0
        self._stream_live = False
        self._closed = threading.Event()
        self._listeners: List[Callable[[], None]] = []
        self._stream_thread: Optional[threading.Thread] = None
        self._stream_response: Any = None
        if stream and cache:
            self._stream_thread = threading.Thread(target=self._run_stream, name="vane-stream", daemon=True)
            self._stream_thread.start()

    # -- evaluation -------------------------------------------------------------------------------

    def is_feature_enabled(
        self, flag_key: str, user_id: Union[str, int, None] = None, user_attributes: Optional[Mapping[str, Any]] = None
    ) -> bool:
        """Source 000: whether the flag is on for the user. Never raises; False when the evaluation fails."""
        try:
            ctx = user_context(user_id, user_attributes)
            if self._use_cache:
                d = self.get_detail(flag_key, ctx)
                if isinstance(d.value, bool) or d.error_code:
                    return d.value is True and not d.error_code
                # a non-boolean flag is enabled when it serves other than its default: the server knows which
            return self._evaluate_one(flag_key, ctx).get("enabled") is True
        except Exception as err:  # noqa: BLE001 - the fallback is the point
            self._report(err)
            return False

    def get_value(self, flag_key: str, context: Optional[Context], fallback: T) -> T:
        """The flag's value, or ``fallback`` when it cannot be evaluated or has another type."""
        d = self.get_detail(flag_key, context)
        if d.error_code or d.value is None:
            return fallback
        if fallback is not None and _type_of(d.value) != _type_of(fallback):
            return fallback
        return d.value  # type: ignore[no-any-return]

    def get_detail(self, flag_key: str, context: Optional[Context] = None) -> EvaluationDetail:
        """Value, variation, reason, rule and error code. Never raises: errors are reason ERROR with an error_code."""
        ctx = dict(context or {})
        try:
            if not self._use_cache:
                return _from_rest(self._evaluate_one(flag_key, ctx))
            entry = self._bulk(ctx)
            f = entry.flags.get(flag_key)
            if f is None:
                return EvaluationDetail(flag_key, reason="ERROR", error_code="FLAG_NOT_FOUND")
            md = f.get("metadata") or {}
            if f.get("errorCode"):
                return EvaluationDetail(flag_key, reason="ERROR", error_code=f["errorCode"], version=md.get("version"))
            return EvaluationDetail(flag_key, value=f.get("value"), variation=f.get("variant"), reason=f.get("reason", "UNKNOWN"),
                                    rule_id=md.get("ruleId"), version=md.get("version"))
        except Exception as err:  # noqa: BLE001
            self._report(err)
            return EvaluationDetail(flag_key, reason="ERROR", error_code=_error_code(err))

    def get_all_flags(self, context: Optional[Context] = None) -> Dict[str, Any]:
        """Source 003: every flag as {key: value} (boolean flags True/False); {} when the call fails."""
        try:
            return self.fetch_all_flags(context)
        except Exception as err:  # noqa: BLE001
            self._report(err)
            return {}

    def fetch_all_flags(self, context: Optional[Context] = None) -> Dict[str, Any]:
        """As get_all_flags, but a failure raises."""
        _, _, body = self._send("/api/v1/feature-flags/evaluate", {"attributes": dict(context or {})})
        return json.loads(body)  # type: ignore[no-any-return]

    @property
    def streaming(self) -> bool:
        """Whether the event stream is connected: cached answers are then served with no request."""
        return self._stream_live

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Called (on the stream's thread) after the server said the configuration changed; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def off() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return off

    def close(self) -> None:
        """Drops the cache and stops the stream. Evaluations after close still work, uncached."""
        self._closed.set()
        resp = self._stream_response
        if resp is not None:
            try:
                resp.close()
            except Exception:  # noqa: BLE001
                pass
        with self._lock:
            self._cache.clear()
            self._listeners.clear()

    def __enter__(self) -> "VaneClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------

    def _report(self, err: BaseException) -> None:
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:  # noqa: BLE001 - a failing on_error must not break the fallback
                pass

    def _evaluate_one(self, flag_key: str, ctx: Dict[str, Any]) -> Dict[str, Any]:
        path = "/api/v1/feature-flags/" + urllib.parse.quote(flag_key, safe="") + "/evaluate"
        _, _, body = self._send(path, {"context": ctx})
        return json.loads(body)  # type: ignore[no-any-return]

    def _bulk(self, ctx: Dict[str, Any]) -> _Entry:
        key = context_key(ctx)
        with self._lock:
            cached = self._cache.get(key)
            generation = self._generation
            fresh = cached is not None and not self._closed.is_set() and cached.generation == generation and (
                self._stream_live or (self._ttl > 0 and time.monotonic() - cached.fetched_at < self._ttl))
        if fresh:
            assert cached is not None
            return cached
        headers = {"If-None-Match": cached.etag} if cached is not None and cached.etag else {}
        try:
            status, etag, body = self._send("/ofrep/v1/evaluate/flags", {"context": ctx}, headers)
        except Exception as err:
            if cached is not None:  # the server's last answer beats the fallback
                self._report(err)
                return cached
            raise
        if status == 304 and cached is not None:
            entry = _Entry(cached.etag, cached.flags, time.monotonic(), generation)
        else:
            data = json.loads(body)
            entry = _Entry(etag, {f["key"]: f for f in data.get("flags") or []}, time.monotonic(), generation)
        if not self._closed.is_set():
            with self._lock:
                self._cache.pop(key, None)
                self._cache[key] = entry
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return entry

    def _send(self, path: str, payload: Any, headers: Optional[Mapping[str, str]] = None) -> Tuple[int, Optional[str], bytes]:
        req = urllib.request.Request(self.api_url + path, data=json.dumps(payload).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        req.add_header("X-API-Key", self._api_key)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return res.status, res.headers.get("ETag"), res.read()
        except urllib.error.HTTPError as err:
            err.close()
            if err.code == 304:
                return 304, err.headers.get("ETag"), b""
            raise _HTTPError(err.code) from err

    def _run_stream(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                req = urllib.request.Request(self.api_url + "/ofrep/v1/stream")
                req.add_header("Accept", "text/event-stream")
                req.add_header("X-API-Key", self._api_key)
                # the server sends a heartbeat every 15 s: a read waiting longer means the connection is gone
                with urllib.request.urlopen(req, timeout=max(self.timeout, 45)) as res:
                    self._stream_response = res
                    data: List[str] = []
                    for raw in res:
                        line = raw.decode("utf-8").rstrip("\r\n")
                        if line == "":
                            if data:
                                self._on_stream_event("\n".join(data))
                            data = []
                        elif line.startswith("data:"):
                            data.append(line[6:] if line[5:6] == " " else line[5:])
                raise ConnectionError("Vane: the event stream ended")
            except Exception as err:  # noqa: BLE001
                self._stream_live = False
                if self._closed.is_set():
                    return
                self._report(err)
                self._invalidate()  # changes may be missed while away: revalidate everything
                self._closed.wait(delay)
                delay = min(delay * 2, 30.0)

    def _on_stream_event(self, data: str) -> None:
        try:
            ev = json.loads(data)
        except ValueError:
            return
        if isinstance(ev, dict) and ev.get("type") == "refetchEvaluation":
            self._invalidate()
            self._stream_live = True

    def _invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception as err:  # noqa: BLE001
                self._report(err)


ExperimentationClient = VaneClient
"""Source 000's name: its snippet runs with only the import changed."""


def _type_of(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def _error_code(err: BaseException) -> str:
    if isinstance(err, _HTTPError):
        if err.status == 404:
            return "FLAG_NOT_FOUND"
        if err.status in (400, 422):
            return "INVALID_CONTEXT"
    return "GENERAL"


def _from_rest(r: Mapping[str, Any]) -> EvaluationDetail:
    reason, code = r.get("reason", "ERROR"), r.get("error_code") or None
    if not code and reason == "FLAG_NOT_FOUND":
        reason, code = "ERROR", "FLAG_NOT_FOUND"
    return EvaluationDetail(r.get("flag_key", ""), value=r.get("value"), variation=r.get("variation") or None, reason=reason,
                            rule_id=r.get("rule_id") or None, error_code=code, version=r.get("version") or None)
