#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""moto's S3 server for opsctl's off-site tests: `moto_server -H 127.0.0.1 -p PORT`, with two changes.

moto_server.py [--port PORT]     prints "ready PORT" once it listens

1. The port: without --port, a random free port in 20000-32767 (below the kernel's ephemeral
   range, so no outgoing connection can hold it), retried until the bind succeeds, then printed:
   tests running at the same time never race each other for a port.
2. The signature check: moto checks a request's SigV4 signature against the query string as
   werkzeug decoded it (`prefix=a/b/`), while S3, and every SigV4 client, signs it encoded
   (`prefix=a%2Fb%2F`): moto rejects every correctly signed listing of a prefix with a '/'
   (getmoto/moto#5948; `aws s3 ls s3://bucket/dir/` fails the same way). Here the check sees the
   raw query string, as AWS does. Everything else is moto's own: a wrong key still gets 403
   SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, an unknown bucket NoSuchBucket.

Authentication is on once INITIAL_NO_AUTH_ACTION_COUNT unauthenticated calls are spent, as with
moto_server (the tests spend them on iam create-user, put-user-policy and create-access-key).
"""
import argparse
import errno
import os
import random
import socket
import sys
from urllib.parse import urlparse, urlunparse

from werkzeug.serving import make_server

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()

setup_class = BaseResponse.setup_class


def setup_class_keeping_raw_query(self, request, full_url, headers, *rest, **options):
    setup_class(self, request, full_url, headers, *rest, **options)
    environ = getattr(request, "environ", None)
    self._raw_query = environ.get("QUERY_STRING") if environ is not None else None


authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action


def authenticate_with_raw_query(self, iam_request_cls, resource="*"):
    raw = getattr(self, "_raw_query", None)
    if raw is None:
        return authenticate(self, iam_request_cls, resource)
    decoded = self.uri
    self.uri = urlunparse(urlparse(decoded)._replace(query=raw))
    try:
        return authenticate(self, iam_request_cls, resource)
    finally:
        self.uri = decoded


BaseResponse.setup_class = setup_class_keeping_raw_query
ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_with_raw_query

app = DomainDispatcherApplication(create_backend_app)


def bind():
    """A listening socket: --port, else a random free port below the ephemeral range."""
    for _ in range(200):
        port = args.port or random.randint(20000, 32767)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", port))
        except OSError as error:
            listener.close()
            if error.errno != errno.EADDRINUSE or args.port:
                raise
            continue
        listener.listen(128)
        return make_server("127.0.0.1", port, app, threaded=True, fd=listener.fileno())
    sys.exit("no free port found in 20000-32767")


server = bind()
os.environ["MOTO_PORT"] = str(server.port)
print(f"ready {server.port}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
