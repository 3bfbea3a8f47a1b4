"""LLM negatives: ask an OpenAI-compatible chat-completions endpoint, one request per ID label.

Protocol: ``POST {url}/chat/completions`` with JSON ``{model, messages, temperature: 0}`` and,
when a key is set, ``Authorization: Bearer <key>``; the answer is read from
``choices[0].message.content``. Only the standard library is used (urllib).

The prompt (:data:`SYSTEM_PROMPT`, :data:`USER_PROMPT`; change :data:`PROMPT_VERSION` with
them) asks for object nouns that look like the ID object but are not it, as JSON
``{"negatives": [...]}``. :func:`parse_answer` reads that even when it is wrapped in a code
fence or prose, cut off mid-list (the complete strings are kept) or given as a plain list.

Failures: HTTP 429 waits for Retry-After (seconds or an HTTP date, capped) or else backs off
exponentially; 408, 5xx, timeouts and connection errors back off too; other 4xx fail at once
(a wrong URL, model or key does not get better by retrying). An answer with no usable item is
asked again. All bounded by ``max_attempts``. Successful answers are cached on disk (keyed by
url, model, messages and label), so a rerun with the cache reproduces the list without the
server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import email.utils
import hashlib
import http.client
import json
import logging
import os
from pathlib import Path
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    'PROMPT_VERSION',
    'SYSTEM_PROMPT',
    'USER_PROMPT',
    'LLMAnswer',
    'LLMClient',
    'LLMError',
    'build_messages',
    'parse_answer',
    'redact_url',
]

_LOG = logging.getLogger(__name__)

PROMPT_VERSION = 'negas-negatives-v1'
SYSTEM_PROMPT = (
    'You help build the label vocabulary of an open-vocabulary object detector. You answer '
    'with JSON only, no prose.'
)
USER_PROMPT = (
    'The detector must find these object classes: {id_list}.\n'
    'For the class "{label}", list {count} everyday physical objects that LOOK similar to a '
    '"{label}" in a photo (similar shape, size, colour, texture or context) but are NOT a '
    '"{label}": not a synonym, not a kind or subtype of it, not a broader category that '
    'contains it, not a part of it, and none of the classes listed above.\n'
    'Each item is a common concrete noun of one to three words, singular, lower case, that a '
    'person could draw a box around. No adjectives alone, no abstract words, no brand names, '
    'no duplicates.\n'
    'Answer with exactly this JSON and nothing else: {{"negatives": ["...", "..."]}}'
)


def build_messages(label: str, id_labels: Sequence[str], count: int) -> list[dict[str, str]]:
    """The chat messages asking for ``count`` negatives of one ID label."""
    id_list = ', '.join(f'"{x}"' for x in id_labels)
    return [
        {'role': 'system', 'content': SYSTEM_PROMPT},
        {'role': 'user', 'content': USER_PROMPT.format(id_list=id_list, label=label, count=count)},
    ]


class LLMError(OSError):
    """The endpoint could not give a usable answer within the retry budget, or refused.

    refused: the server answered with a 4xx other than 408/429 (bad URL, model or key), which
    every further request would get too.
    """

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


_FENCE = re.compile(r'```(?:json|JSON)?\s*(.*?)(?:```|$)', re.DOTALL)
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_LIST_LINE = re.compile(r'^\s*(?:[-*\u2022]|\d+[.)])\s+(.+?)\s*$')


def parse_answer(content: str) -> tuple[list[str], bool]:
    """Negatives from an answer text, and whether the answer was complete, well-formed JSON.

    Accepted, in order: JSON ``{"negatives": [...]}`` (any key holding a list of strings),
    a bare JSON list, either inside a code fence or surrounded by prose; a JSON answer cut off
    mid-list (every complete string after the opening bracket is kept); a bulleted or
    numbered list. Non-string items are skipped. Returns ([], False) when nothing is found.
    """
    text = content.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    for candidate in (text, _outermost(text)):
        if not candidate:
            continue
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        items = _items(data)
        if items is not None:
            return items, candidate == text
    bracket = text.find('[')
    if bracket >= 0:  # truncated or broken JSON: the complete strings after '['
        items = [_unescape(m) for m in _STRING.findall(text[bracket:])]
        if items:
            return items, False
    lines = [m.group(1) for m in map(_LIST_LINE.match, text.splitlines()) if m]
    return [line.strip('"\'') for line in lines], False


def _outermost(text: str) -> str:
    """The text from the first '{' or '[' to the last matching closer (prose trimmed)."""
    starts = [i for i in (text.find('{'), text.find('[')) if i >= 0]
    if not starts:
        return ''
    start = min(starts)
    end = text.rfind('}' if text[start] == '{' else ']')
    return text[start : end + 1] if end > start else ''


def _items(data: object) -> list[str] | None:
    if isinstance(data, dict):
        preferred = data.get('negatives')
        if isinstance(preferred, list):
            return [x for x in preferred if isinstance(x, str)]
        lists = [v for v in data.values() if isinstance(v, list)]
        return [x for x in lists[0] if isinstance(x, str)] if lists else None
    if isinstance(data, list):
        return [x for x in data if isinstance(x, str)]
    return None


def _unescape(raw: str) -> str:
    try:
        return str(json.loads(f'"{raw}"'))
    except ValueError:
        return raw


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment (safe to log and write to provenance)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ''
    netloc = f'{host}:{parts.port}' if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, '', ''))


@dataclass(frozen=True)
class LLMAnswer:
    """One label's answer: the parsed items, the raw text, and where it came from."""

    label: str
    items: list[str]
    content: str
    complete: bool
    cached: bool
    attempts: int


class LLMClient:
    """A chat-completions client with retries and an answer cache.

    url: the API base ('https://api.openai.com/v1', 'http://127.0.0.1:8000/v1'); the request
        goes to ``{url}/chat/completions``.
    model: the model name sent in the request.
    api_key: the bearer token, or None for servers without authentication. The CLI reads it
        from an environment variable only; it is never logged, cached or written out.
    timeout: seconds per request (> 0). max_attempts: requests per label, >= 1.
    backoff: first back-off in seconds, doubled each retry, capped at ``max_wait``, with up
        to 10% jitter; ``max_wait`` also caps Retry-After.
    cache_dir: directory of cached answers, or None. sleep: injectable for tests.
    temperature: sent as is (0 for repeatable answers where the server honours it).
    """

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        cache_dir: str | os.PathLike[str] | None = None,
        temperature: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(('http://', 'https://')):
            raise ValueError(f'--llm-url must start with http:// or https://, got {url!r}')
        if not model:
            raise ValueError('--llm-model is empty; name the model to ask')
        if timeout <= 0 or max_attempts < 1 or backoff < 0 or max_wait < 0:
            raise ValueError(
                'need timeout > 0, max_attempts >= 1, backoff >= 0, max_wait >= 0; got '
                f'{timeout}, {max_attempts}, {backoff}, {max_wait}'
            )
        self.url = url.rstrip('/')
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.temperature = temperature
        self._sleep = sleep
        self._jitter = random.Random(0)  # seeded: jitter only spreads retries, never answers

    # --- cache -------------------------------------------------------------------------------

    def cache_key(self, label: str, messages: list[dict[str, str]]) -> str:
        """sha256 over url, model, messages and label (the API key is not part of it)."""
        blob = json.dumps(
            {
                'url': self.url,
                'model': self.model,
                'messages': messages,
                'label': label,
                'temperature': self.temperature,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode('utf-8')).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f'{key}.json'

    # --- requests ----------------------------------------------------------------------------

    def ask(self, label: str, id_labels: Sequence[str], count: int) -> LLMAnswer:
        """Negatives for one ID label: from the cache, else from the endpoint.

        Raises :class:`LLMError` when every attempt failed or the server refused (4xx).
        """
        messages = build_messages(label, id_labels, count)
        key = self.cache_key(label, messages)
        path = self._cache_path(key)
        if path is not None and path.is_file():
            record = json.loads(path.read_text(encoding='utf-8'))
            items, complete = parse_answer(record['content'])
            return LLMAnswer(label, items, record['content'], complete, True, 0)
        last_error = 'no attempt made'
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            try:
                content = self._post(messages)
            except _RetryableError as error:
                last_error, wait = str(error), error.retry_after
            else:
                items, complete = parse_answer(content)
                if items:
                    if not complete:
                        _LOG.warning(
                            '%r: answer was not complete JSON; kept %d items from it',
                            label,
                            len(items),
                        )
                    if path is not None:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        record = {
                            'url': redact_url(self.url),
                            'model': self.model,
                            'label': label,
                            'messages': messages,
                            'content': content,
                        }
                        tmp = path.with_suffix('.tmp')
                        tmp.write_text(json.dumps(record, indent=1), encoding='utf-8')
                        tmp.replace(path)  # atomic: an interrupted run leaves no half file
                    return LLMAnswer(label, items, content, complete, False, attempt)
                last_error = f'no negatives in the answer: {content[:120]!r}'
            if attempt == self.max_attempts:
                break
            delay = self._delay(attempt, wait)
            _LOG.warning(
                '%r: attempt %d/%d failed (%s); retrying in %.1f s',
                label,
                attempt,
                self.max_attempts,
                last_error,
                delay,
            )
            self._sleep(delay)
        raise LLMError(
            f'{label!r}: no usable answer after {self.max_attempts} attempts; '
            f'last error: {last_error}'
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        base = min(self.backoff * 2.0 ** (attempt - 1), self.max_wait)
        return float(base * (1.0 + 0.1 * self._jitter.random()))

    def _post(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps(
            {'model': self.model, 'messages': messages, 'temperature': self.temperature}
        ).encode('utf-8')
        headers = {'Content-Type': 'application/json', 'Accept': 'application/json'}
        if self._api_key:
            headers['Authorization'] = f'Bearer {self._api_key}'
        request = urllib.request.Request(
            f'{self.url}/chat/completions', data=body, headers=headers, method='POST'
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read(300).decode('utf-8', 'replace')
            if error.code == 429 or error.code == 408 or error.code >= 500:
                raise _RetryableError(
                    f'HTTP {error.code}', _retry_after(error.headers.get('Retry-After'))
                ) from None
            raise LLMError(
                f'HTTP {error.code} from {redact_url(self.url)}: {detail}', refused=True
            ) from None
        except TimeoutError as error:
            raise _RetryableError(f'timeout after {self.timeout} s ({error})') from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _RetryableError(f'timeout after {self.timeout} s') from None
            raise _RetryableError(f'connection failed: {error.reason}') from None
        except (ConnectionError, http.client.HTTPException) as error:
            raise _RetryableError(f'connection failed: {error!r}') from None
        try:
            payload = json.loads(raw)
            content = payload['choices'][0]['message']['content']
        except (ValueError, KeyError, IndexError, TypeError):
            raise _RetryableError(f'not a chat-completions response: {raw[:120]!r}') from None
        if not isinstance(content, str):
            raise _RetryableError('chat-completions response without text content')
        return content


class _RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
