#!/usr/bin/env python3
"""A webhook receiver for the integration tests: verifies Standard Webhooks signatures with
Python's own hmac (an implementation independent of the coordinator's) and logs each request.

Usage: webhook_receiver.py DIR [PORT]
  Listens on 127.0.0.1:PORT (0: any free port) and writes the port to DIR/port.
  Reads the whsec_ secret from DIR/secret at each request.
  Appends one JSON line per request to DIR/requests.jsonl:
    {"path", "id", "timestamp", "signature", "verified", "body"}
  Answers by path: /ok -> 200, /fail -> 500, /hang -> never (the connection stays open).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

directory = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
lock = threading.Lock()


def verified(secret, msg_id, timestamp, body, header):
    if not secret.startswith("whsec_"):
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in header.split(" "))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            with open(os.path.join(directory, "secret")) as f:
                secret = f.read().strip()
        except OSError:
            secret = ""
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        entry = {"path": self.path, "id": msg_id, "timestamp": timestamp, "signature": signature,
                 "verified": verified(secret, msg_id, timestamp, body, signature), "body": body.decode("utf-8", "replace")}
        with lock:
            with open(os.path.join(directory, "requests.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        if self.path.startswith("/hang"):
            time.sleep(3600)
            return
        status = 500 if self.path.startswith("/fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
with open(os.path.join(directory, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
server.serve_forever()
