"""Fixtures for the negative-label tests: WordNet data, and a local chat-completions server."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
from pathlib import Path
import threading
import time

from negatives_helpers import ChatServer
import pytest

from negas_ros.negatives.wordnet import WordNet, WordNetError, load_wordnet

# Tests never download: make any accidental hub access fail fast instead of hanging.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


@pytest.fixture(scope='session')
def wordnet() -> WordNet:
    """The installed WordNet (Debian wordnet-base, set up by scripts/setup.sh)."""
    try:
        return load_wordnet()
    except WordNetError as error:
        pytest.fail(f'WordNet data missing (scripts/setup.sh installs it): {error}')


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server_state = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != '/v1/chat/completions':
                self.send_error(404)
                return
            length = int(self.headers.get('Content-Length', 0))
            body = json.loads(self.rfile.read(length))
            label, (status, headers, text, delay) = server_state.reply_for(body)
            with server_state.lock:
                server_state.requests.append((label, body, self.headers.get('Authorization')))
            if delay:
                time.sleep(delay)
            data = text.encode()
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and went away: expected in the timeout test

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.url = f'http://127.0.0.1:{server.server_address[1]}/v1'
    stopped = threading.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    server_state.stop = stop
    try:
        yield server_state
    finally:
        stop()


@pytest.fixture
def bdd_ids(tmp_path: Path) -> Path:
    """A text ID-label file with the BDD100K classes."""
    path = tmp_path / 'ids.txt'
    path.write_text(
        '# BDD100K\npedestrian\nrider\ncar\ntruck\nbus\ntrain\nmotorcycle\nbicycle\n'
        'traffic light\ntraffic sign\n',
        encoding='utf-8',
    )
    return path
