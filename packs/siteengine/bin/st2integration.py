#!/usr/bin/env python3
"""Forward an ExtremeCloud IQ Site Engine alarm to Gale (or StackStorm) as a webhook.

Installed on the Site Engine server and run by an alarm's custom action ("run program").
Python 3 standard library only. It builds the Site Engine envelope (Gale spec, section 1.4),
POSTs it over HTTPS with an st2 API key to /api/v1/webhooks/siteengine, retries with
exponential backoff, and when Gale cannot be reached spools the event to a directory; the
spool is resent, oldest first, before the next event and with --flush. Every event carries an
Idempotency-Key (from the alarm id and time) so Gale drops resent duplicates.

Custom Arguments line for the alarm action (one line; Site Engine substitutes $keywords,
double quotes keep multi-word values together):

  /usr/local/Extreme_Networks/NetSight/ST2Integration/st2integration.py
    --config /usr/local/Extreme_Networks/NetSight/ST2Integration/config/st2integration.json
    --event-type alarm --alarm-name "$alarmName" --alarm-id "$alarmId"
    --severity "$severity" --alarm-source "$alarmSource" --device-ip "$deviceIP"
    --device-name "$deviceName" --message "$message"

(keyword names other than $alarmName and $alarmSource vary by release: use the ones your
Site Engine lists under Alarm Action Defaults). Unknown "key=value" arguments, e.g. from the
"all" keyword, are kept under the envelope's "extra".

Exit status: 0 delivered; 75 spooled for later delivery; 2 refused (bad arguments, or Gale
rejected the event as invalid: it is not spooled); 1 anything else (including a full spool).
"""

import argparse
import datetime
import errno
import fcntl
import hashlib
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

VERSION = "1.0.0"
DEFAULT_PATH = "/api/v1/webhooks/siteengine"
EX_SPOOLED = 75
EX_REFUSED = 2
# Gale answers these for an event that will never be accepted: spooling it would block the
# spool forever.
PERMANENT_STATUSES = {400, 404, 405, 413, 415, 422}


class Refused(Exception):
    """Gale rejected the event itself (4xx other than auth)."""


class Unreachable(Exception):
    """Gale could not take the event now (network, TLS, timeout, 5xx, auth)."""


def log(msg):
    sys.stderr.write("st2integration: %s\n" % msg)
    sys.stderr.flush()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def idempotency_key(alarm_id, time_text):
    """Same value as Gale's gale_siteengine::envelope::idempotency_key."""
    digest = hashlib.sha256(("%s|%s" % (alarm_id, time_text)).encode("utf-8")).hexdigest()
    return "se-" + digest[:32]


def body_key(body):
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "se-body-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def load_config(path):
    """JSON config file. Also reads Site Engine's .st2info.json keys (ip, ST2-Api-Key, xmc.ip)."""
    if not path:
        return {}
    with open(path, "r", encoding="utf-8") as f:
        cfg = json.load(f)
    if not isinstance(cfg, dict):
        raise ValueError("%s: must hold a JSON object" % path)
    out = dict(cfg)
    if "url" not in out and out.get("ip"):
        out["url"] = "https://%s%s" % (out["ip"], DEFAULT_PATH)
    if "api_key" not in out and out.get("ST2-Api-Key"):
        out["api_key"] = out["ST2-Api-Key"]
    if "siteengine_ip" not in out and out.get("xmc.ip"):
        out["siteengine_ip"] = out["xmc.ip"]
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="st2integration.py",
        description="Send a Site Engine alarm, trap or syslog event to Gale as a webhook.",
    )
    c = p.add_argument_group("delivery")
    c.add_argument("--config", help="JSON file with url, api_key, ca_file, verify, spool_dir, ...")
    c.add_argument("--url", help="webhook URL, e.g. https://gale.example.net%s" % DEFAULT_PATH)
    c.add_argument("--api-key", help="st2 API key (sent as St2-Api-Key)")
    c.add_argument("--ca-file", help="PEM CA file that signed Gale's certificate")
    c.add_argument("--insecure", action="store_true", help="do not verify Gale's certificate")
    c.add_argument("--spool-dir", help="where undeliverable events wait")
    c.add_argument("--spool-max", type=int, help="most events kept in the spool (default 10000)")
    c.add_argument("--retries", type=int, help="attempts per event (default 4)")
    c.add_argument("--backoff", type=float, help="first retry delay in seconds, doubled each time (default 1)")
    c.add_argument("--timeout", type=float, help="seconds per HTTP request (default 10)")
    c.add_argument("--flush", action="store_true", help="only resend the spool")
    c.add_argument("--dry-run", action="store_true", help="print the envelope and exit")

    e = p.add_argument_group("event")
    e.add_argument("--event-type", choices=["alarm", "trap", "syslog"], default="alarm")
    e.add_argument("--siteengine-ip")
    e.add_argument("--siteengine-version")
    e.add_argument("--alarm-name")
    e.add_argument("--alarm-id")
    e.add_argument("--severity")
    e.add_argument("--condition")
    e.add_argument("--alarm-source")
    e.add_argument("--alarm-state", help="raised or cleared (default: cleared for severity Clear)")
    e.add_argument("--time", help="event time; RFC 3339 preferred (default: now)")
    e.add_argument("--count")
    e.add_argument("--device-ip")
    e.add_argument("--device-name")
    e.add_argument("--device-nickname")
    e.add_argument("--device-family")
    e.add_argument("--device-type")
    e.add_argument("--site")
    e.add_argument("--serial")
    e.add_argument("--if-index")
    e.add_argument("--if-name")
    e.add_argument("--if-alias")
    e.add_argument("--message")
    e.add_argument("--trap-oid")
    e.add_argument("--trap-name")
    e.add_argument("--snmp-version")
    e.add_argument("--enterprise")
    e.add_argument("--generic-trap")
    e.add_argument("--specific-trap")
    e.add_argument("--uptime")
    e.add_argument("--varbind", action="append", default=[],
                   help="one varbind as oid|name|type|value (repeatable)")
    e.add_argument("--varbinds-json", help="varbinds as a JSON list of {oid,name,type,value}")
    e.add_argument("--syslog-message")
    e.add_argument("--facility")
    e.add_argument("--syslog-severity")
    e.add_argument("--program")
    e.add_argument("--hostname")
    p.add_argument("extra", nargs="*", help="key=value pairs kept under extra")
    # Intermixed: Site Engine's "all" keyword may put key=value pairs between options.
    return p.parse_intermixed_args(argv)


def as_int(value):
    """Alarm variables arrive as text; send numbers as numbers when they are numbers."""
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return value


def put(obj, key, value):
    if value is not None and value != "":
        obj[key] = value


def build_envelope(a, cfg):
    alarm = {}
    put(alarm, "name", a.alarm_name)
    put(alarm, "id", a.alarm_id)
    put(alarm, "severity", a.severity)
    put(alarm, "condition", a.condition)
    put(alarm, "source_component", a.alarm_source)
    state = a.alarm_state
    if not state:
        state = "cleared" if (a.severity or "").strip().lower() in ("clear", "cleared") else "raised"
    alarm["state"] = state
    # Fixed at first send, so a resent (spooled) event keeps its idempotency key.
    alarm["time"] = a.time or now_rfc3339()
    put(alarm, "count", as_int(a.count))

    device = {}
    put(device, "ip", a.device_ip)
    put(device, "name", a.device_name)
    put(device, "nickname", a.device_nickname)
    put(device, "family", a.device_family)
    put(device, "type", a.device_type)
    put(device, "site", a.site)
    put(device, "serial", a.serial)

    body = {"event_type": a.event_type, "source": "siteengine"}
    se = {}
    put(se, "ip", a.siteengine_ip or cfg.get("siteengine_ip"))
    put(se, "version", a.siteengine_version)
    if se:
        body["siteengine"] = se
    body["alarm"] = alarm
    body["device"] = device

    interface = {}
    put(interface, "if_index", as_int(a.if_index))
    put(interface, "name", a.if_name)
    put(interface, "alias", a.if_alias)
    if interface:
        body["interface"] = interface

    if a.event_type == "trap" or a.trap_oid:
        trap = {}
        put(trap, "oid", a.trap_oid)
        put(trap, "name", a.trap_name)
        put(trap, "snmp_version", a.snmp_version)
        put(trap, "enterprise", a.enterprise)
        put(trap, "generic_trap", as_int(a.generic_trap))
        put(trap, "specific_trap", as_int(a.specific_trap))
        put(trap, "uptime", as_int(a.uptime))
        varbinds = []
        if a.varbinds_json:
            varbinds.extend(json.loads(a.varbinds_json))
        for vb in a.varbind:
            parts = vb.split("|", 3)
            parts += [""] * (4 - len(parts))
            varbinds.append({"oid": parts[0], "name": parts[1], "type": parts[2], "value": parts[3]})
        trap["varbinds"] = varbinds
        body["trap"] = trap

    if a.event_type == "syslog" or a.syslog_message:
        syslog = {}
        put(syslog, "facility", as_int(a.facility))
        put(syslog, "severity", as_int(a.syslog_severity))
        put(syslog, "program", a.program)
        put(syslog, "hostname", a.hostname)
        put(syslog, "message", a.syslog_message)
        body["syslog"] = syslog

    put(body, "message", a.message)
    extra = {}
    for item in a.extra:
        key, sep, value = item.partition("=")
        if sep and key:
            extra[key.lstrip("$")] = value
        else:
            extra.setdefault("args", []).append(item)
    body["extra"] = extra
    return body


def headers_for(body):
    alarm = body.get("alarm") or {}
    if alarm.get("id") and alarm.get("time"):
        key = idempotency_key(alarm["id"], alarm["time"])
    else:
        key = body_key(body)
    tag = "siteengine-%s-%s" % (body.get("event_type", "event"), alarm.get("id") or key[-12:])
    return {"Idempotency-Key": key, "St2-Trace-Tag": tag}


class Sender(object):
    def __init__(self, cfg):
        self.url = cfg["url"]
        self.api_key = cfg.get("api_key") or ""
        self.timeout = float(cfg.get("timeout") or 10)
        self.retries = max(1, int(cfg.get("retries") or 4))
        self.backoff = float(cfg["backoff"]) if cfg.get("backoff") is not None else 1.0
        verify = cfg.get("verify", True)
        if isinstance(verify, str):
            verify = verify.strip().lower() not in ("0", "false", "no", "off")
        if not verify:
            self.ssl = ssl.create_default_context()
            self.ssl.check_hostname = False
            self.ssl.verify_mode = ssl.CERT_NONE
        else:
            self.ssl = ssl.create_default_context(cafile=cfg.get("ca_file") or None)

    def post_once(self, body, extra_headers):
        data = json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url, data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("User-Agent", "st2integration.py/%s" % VERSION)
        if self.api_key:
            req.add_header("St2-Api-Key", self.api_key)
        for k, v in extra_headers.items():
            req.add_header(k, v)
        ctx = self.ssl if self.url.lower().startswith("https:") else None
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=ctx) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as e:
            text = e.read()[:300].decode("utf-8", "replace")
            if e.code in PERMANENT_STATUSES:
                raise Refused("HTTP %d: %s" % (e.code, text))
            raise Unreachable("HTTP %d: %s" % (e.code, text))
        except urllib.error.URLError as e:
            raise Unreachable(str(e.reason))
        except (socket.timeout, TimeoutError):
            raise Unreachable("timed out after %gs" % self.timeout)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            raise Unreachable(str(e))

    def post(self, body, extra_headers, attempts=None):
        attempts = attempts or self.retries
        delay = self.backoff
        for i in range(attempts):
            try:
                return self.post_once(body, extra_headers)
            except Unreachable as e:
                if i + 1 >= attempts:
                    raise
                log("attempt %d/%d failed (%s); retrying in %gs" % (i + 1, attempts, e, delay))
                time.sleep(delay)
                delay = min(delay * 2, 60.0)


class Spool(object):
    """One JSON file per event, named so that lexical order is arrival order."""

    def __init__(self, directory, max_files):
        self.dir = directory
        self.max = max_files
        os.makedirs(self.dir, exist_ok=True)

    def lock(self):
        f = open(os.path.join(self.dir, ".lock"), "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    def files(self):
        return sorted(n for n in os.listdir(self.dir) if n.endswith(".json") and not n.startswith("."))

    def add(self, body, headers):
        if len(self.files()) >= self.max:
            raise OSError(errno.ENOSPC, "spool %s is full (%d events)" % (self.dir, self.max))
        name = "%020d-%d-%s.json" % (time.time_ns(), os.getpid(), headers["Idempotency-Key"])
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"body": body, "headers": headers}, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.dir, name))
        return name

    def flush(self, sender):
        """Resend oldest first; stop at the first event Gale cannot take now. Returns
        (sent, left)."""
        sent = 0
        for name in self.files():
            path = os.path.join(self.dir, name)
            try:
                with open(path, "r", encoding="utf-8") as f:
                    item = json.load(f)
            except (OSError, ValueError) as e:
                log("unreadable spool file %s moved aside: %s" % (name, e))
                os.rename(path, path + ".bad")
                continue
            try:
                sender.post(item["body"], item["headers"], attempts=1)
            except Refused as e:
                log("Gale refused spooled event %s: %s (moved aside)" % (name, e))
                os.rename(path, path + ".refused")
                continue
            except Unreachable as e:
                log("spool flush stopped: %s" % e)
                break
            os.remove(path)
            sent += 1
        return sent, len(self.files())


def default_spool_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "spool")


def main(argv):
    a = parse_args(argv)
    try:
        cfg = load_config(a.config or os.environ.get("ST2INTEGRATION_CONFIG"))
    except (OSError, ValueError) as e:
        log("cannot read config: %s" % e)
        return EX_REFUSED
    # Flags win over the config file, which wins over the environment.
    for key, flag, env in [
        ("url", a.url, "ST2INTEGRATION_URL"),
        ("api_key", a.api_key, "ST2_API_KEY"),
        ("ca_file", a.ca_file, "ST2INTEGRATION_CA_FILE"),
        ("spool_dir", a.spool_dir, "ST2INTEGRATION_SPOOL_DIR"),
        ("retries", a.retries, None),
        ("backoff", a.backoff, None),
        ("timeout", a.timeout, None),
        ("spool_max", a.spool_max, None),
    ]:
        if flag is not None:
            cfg[key] = flag
        elif key not in cfg and env and os.environ.get(env):
            cfg[key] = os.environ[env]
    if a.insecure:
        cfg["verify"] = False

    body = None
    if not a.flush:
        if not a.device_ip:
            log("--device-ip is required")
            return EX_REFUSED
        if a.event_type == "alarm" and not a.alarm_name:
            log("--alarm-name is required for an alarm")
            return EX_REFUSED
        if a.event_type == "trap" and not a.trap_oid:
            log("--trap-oid is required for a trap")
            return EX_REFUSED
        if a.event_type == "syslog" and not a.syslog_message:
            log("--syslog-message is required for a syslog event")
            return EX_REFUSED
        try:
            body = build_envelope(a, cfg)
        except ValueError as e:
            log("invalid argument: %s" % e)
            return EX_REFUSED
        if a.dry_run:
            print(json.dumps({"body": body, "headers": headers_for(body)}, indent=2))
            return 0
    if not cfg.get("url"):
        log("no webhook URL: give --url or a config file with url (or ip)")
        return EX_REFUSED

    try:
        sender = Sender(cfg)
        spool = Spool(cfg.get("spool_dir") or default_spool_dir(), int(cfg.get("spool_max") or 10000))
        lock = spool.lock()
    except (OSError, ValueError, ssl.SSLError) as e:
        log("cannot start: %s" % e)
        return 1
    try:
        sent, left = spool.flush(sender)
        if sent:
            log("resent %d spooled event(s), %d left" % (sent, left))
        if body is None:
            return 0 if left == 0 else EX_SPOOLED
        headers = headers_for(body)
        if left:
            # Keep arrival order: nothing overtakes the spool.
            spool.add(body, headers)
            log("Gale unreachable; event spooled behind %d others" % left)
            return EX_SPOOLED
        try:
            status = sender.post(body, headers)
            log("delivered %s (HTTP %s)" % (headers["Idempotency-Key"], status))
            return 0
        except Refused as e:
            log("Gale refused the event: %s" % e)
            return EX_REFUSED
        except Unreachable as e:
            name = spool.add(body, headers)
            log("Gale unreachable (%s); event spooled as %s" % (e, name))
            return EX_SPOOLED
    except OSError as e:
        log(str(e))
        return 1
    finally:
        lock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
