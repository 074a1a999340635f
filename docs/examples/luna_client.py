#!/usr/bin/python3
"""A luna-sender subscriber that survives disconnects (SPEC 9), using only `websockets`.

Debian: `apt-get install python3-websockets` (10.4 on Debian 12; newer releases work too).

It subscribes with positions=1, remembers the position of the last event (or of the 101's
Luna-Stream-Position header before any event), reconnects with exponential backoff and jitter,
and resumes from that position, so nothing is missed and nothing doubled. When the gateway cannot
resume (410: epoch changed, position no longer retained or ahead of the stream; or 4010 history
lost while replaying) it reports the gap on stderr and subscribes afresh.

stdout: one JSON line per event, {"position": "<token>", "frame": "<the frame as received>"}.
stderr: one JSON line per state change ({"state": "open", ...}, {"state": "waiting", ...},
{"gap": {...}}). Exits 0 after --count events (0: run until interrupted), 2 on a refusal that
retrying cannot fix (a bad filter or account).

    /usr/bin/python3 luna_client.py --url ws://127.0.0.1:5080 \\
        --account 8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a --filters 'gender=1&sources=cam1,cam2'
"""

import argparse
import asyncio
import json
import random
import re
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websockets
import websockets.exceptions as wse

# A frame's position is its last key (SPEC 9); read without parsing the frame, whose 64-bit ids
# a JSON parser may not keep exact.
FRAME_POSITION = re.compile(r'"position":\s*"([A-Za-z0-9_:-]+)"\s*}\s*$')
HISTORY_LOST = 4010  # ours: the replay lost its history; resuming is pointless
OWN_PARAMS = ("luna_account_id", "positions", "resume")


class Refused(Exception):
    """The handshake got an HTTP answer instead of a 101."""

    def __init__(self, status):
        super().__init__(f"HTTP {status}")
        self.status = status


def subscription_url(base, api, account, filters, resume):
    parts = urlsplit(base)
    query = parse_qsl(filters.lstrip("?"), keep_blank_values=True)
    for key, _ in query:
        if key in OWN_PARAMS:
            raise SystemExit(f"--filters must not set {key!r}: the client sets it")
    query += [("luna_account_id", account), ("positions", "1")]
    if resume is not None:
        query.append(("resume", resume))
    path = f"{parts.path.rstrip('/')}/{api}/ws"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def report(**fields):
    print(json.dumps(fields), file=sys.stderr, flush=True)


def refusal_status(exc):
    """The HTTP status of a refused handshake, across websockets releases (10.x and 13+)."""
    if isinstance(exc, getattr(wse, "InvalidStatusCode", ())):
        return exc.status_code
    response = getattr(exc, "response", None)  # websockets 13+: InvalidStatus
    if isinstance(exc, getattr(wse, "InvalidStatus", ())) and response is not None:
        return response.status_code
    return None


def close_code(exc):
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        return rcvd.code
    return getattr(exc, "code", 1006)


def close_code_of(ws):
    return getattr(ws, "close_code", None) or 1006


def stream_position(ws):
    headers = getattr(ws, "response_headers", None)  # websockets 10.x legacy client
    if headers is None:
        headers = ws.response.headers  # websockets 13+
    return headers.get("Luna-Stream-Position")


class Client:
    def __init__(self, args):
        self.args = args
        self.position = args.position
        self.received = 0
        self.attempt = 0

    def gap(self, reason, detail):
        report(gap={"reason": reason, "detail": detail, "position": self.position})
        self.position = None

    def delay(self):
        """Exponential, capped, spread over [d/2, d] so clients dropped together do not return together."""
        self.attempt += 1
        d = min(self.args.backoff_max, self.args.backoff_initial * 2 ** (self.attempt - 1))
        return d / 2 + random.random() * d / 2

    async def session(self):
        """One connection; returns when it ends (raises Refused for a non-101 answer)."""
        resume = self.position
        url = subscription_url(self.args.url, self.args.api, self.args.account, self.args.filters, resume)
        report(state="connecting", attempt=self.attempt, resume=resume)
        try:
            ws = await websockets.connect(url, open_timeout=10, max_size=None)
        except Exception as exc:
            status = refusal_status(exc)
            if status is not None:
                raise Refused(status) from exc
            raise
        try:
            # SPEC 9: everything after the 101's position is delivered, so it is a resume point
            # even before the first event.
            self.position = stream_position(ws) or self.position
            self.attempt = 0
            report(state="open", resumed=resume is not None, position=self.position)
            async for frame in ws:
                if not isinstance(frame, str):
                    continue
                m = FRAME_POSITION.search(frame)
                if m:
                    self.position = m.group(1)
                print(json.dumps({"position": self.position, "frame": frame}), flush=True)
                self.received += 1
                if self.args.count and self.received >= self.args.count:
                    return "done"
            return close_code_of(ws)
        except wse.ConnectionClosed as exc:
            return close_code(exc)
        finally:
            await ws.close()

    async def run(self):
        while True:
            try:
                outcome = await self.session()
                if outcome == "done":
                    return 0
                if outcome == HISTORY_LOST:
                    self.gap("history-lost", "closed with 4010 history lost")
                reason = f"closed {outcome}"
            except Refused as exc:
                if self.position is not None and exc.status in (400, 410):
                    # 410: cannot resume (epoch changed, no longer retained, ahead). A 400 while
                    # resuming may be a malformed (persisted) token: a fresh try tells; a bad filter
                    # then fails again without resume and ends below.
                    self.gap("refused", f"resume refused with HTTP {exc.status}")
                    continue
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    report(state="failed", status=exc.status)
                    return 2
                reason = str(exc)
            except (OSError, asyncio.TimeoutError, wse.WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            delay = self.delay()
            report(state="waiting", attempt=self.attempt, delay=round(delay, 3), reason=reason)
            await asyncio.sleep(delay)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="the gateway, ws://host:5080 (/{api}/ws is appended)")
    p.add_argument("--api", type=int, default=2, choices=(1, 2))
    p.add_argument("--account", required=True, help="Luna-Account-Id, sent as luna_account_id")
    p.add_argument("--filters", default="", help="filter query string, e.g. 'gender=1&sources=cam1,cam2'")
    p.add_argument("--position", help="a position token to resume from (e.g. the last line of a previous run)")
    p.add_argument("--count", type=int, default=0, help="exit after this many events (0: never)")
    p.add_argument("--backoff-initial", type=float, default=0.25, help="first reconnect delay, seconds")
    p.add_argument("--backoff-max", type=float, default=10.0, help="ceiling of the reconnect delay, seconds")
    args = p.parse_args()
    try:
        sys.exit(asyncio.run(Client(args).run()))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
