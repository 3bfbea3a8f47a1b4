"""Helpers for the negative-label tests: a scripted chat-completions server's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
import threading

# One scripted reply: (HTTP status, headers, body text, seconds to wait before answering).
Reply = tuple[int, dict[str, str], str, float]


def chat_reply(content: str) -> Reply:
    """A 200 chat-completions response whose message content is ``content``."""
    body = {
        'id': 'test',
        'object': 'chat.completion',
        'choices': [
            {
                'index': 0,
                'message': {'role': 'assistant', 'content': content},
                'finish_reason': 'stop',
            }
        ],
    }
    return 200, {'Content-Type': 'application/json'}, json.dumps(body), 0.0


@dataclass
class ChatServer:
    """A chat-completions server on 127.0.0.1 (random port) in a thread.

    ``script`` maps an ID label to the replies for its successive requests (the last one
    repeats); ``default`` answers labels without a script. ``requests`` records every request
    body and its Authorization header.
    """

    url: str = ''
    script: dict[str, list[Reply]] = field(default_factory=dict)
    default: Callable[[str], Reply] = lambda label: chat_reply(
        json.dumps({'negatives': [f'{label} lookalike', 'mailbox', 'lamp post']})
    )
    requests: list[tuple[str, dict[str, object], str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: Callable[[], None] = lambda: None

    def reply_for(self, body: dict[str, object]) -> tuple[str, Reply]:
        messages = body.get('messages')
        assert isinstance(messages, list)
        text = str(messages[-1]['content'])
        label = text.split('For the class "', 1)[1].split('"', 1)[0]
        with self.lock:
            seen = sum(1 for lbl, _, _ in self.requests if lbl == label)
            replies = self.script.get(label)
            reply = replies[min(seen, len(replies) - 1)] if replies else self.default(label)
        return label, reply
