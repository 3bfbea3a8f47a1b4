"""The LLM method against a local chat-completions server: answers, failures, cache, CLI."""

from __future__ import annotations

import json
from pathlib import Path
import time

from negatives_helpers import ChatServer, chat_reply
import pytest
import yaml

from negas_ros.cli import main
from negas_ros.labels import load_labels, normalize_label
from negas_ros.negatives.filtering import NegativeFilter
from negas_ros.negatives.generate import generate_llm
from negas_ros.negatives.llm import LLMClient, LLMError, build_messages, parse_answer
from negas_ros.negatives.wordnet import WordNet

IDS = ('car', 'traffic light')


def _client(server: ChatServer, **kwargs: object) -> tuple[LLMClient, list[float]]:
    waits: list[float] = []
    options: dict[str, object] = {'timeout': 2.0, 'max_attempts': 4, 'backoff': 0.01}
    options.update(kwargs)
    client = LLMClient(server.url, 'test-model', 'sk-test', sleep=waits.append, **options)  # type: ignore[arg-type]
    return client, waits


@pytest.mark.parametrize(
    ('content', 'items', 'complete'),
    [
        ('{"negatives": ["van", "tram"]}', ['van', 'tram'], True),
        ('```json\n{"negatives": ["van", "tram"]}\n```', ['van', 'tram'], True),
        ('Sure! Here you go: {"negatives": ["van"]} Hope it helps.', ['van'], False),
        ('["van", "tram"]', ['van', 'tram'], True),
        ('{"negatives": ["van", "tram", "mail', ['van', 'tram'], False),  # cut off
        ('{"negatives": ["van", 3, null, "tram"]}', ['van', 'tram'], True),
        ('1. van\n2. tram\n- kiosk', ['van', 'tram', 'kiosk'], False),
        ('{"negatives": "van"}', [], False),
        ('I cannot help with that.', [], False),
    ],
)
def test_parse_answer(content: str, items: list[str], complete: bool) -> None:
    assert parse_answer(content) == (items, complete)


def test_prompt_names_label_count_and_all_id_labels() -> None:
    messages = build_messages('car', IDS, 7)
    assert [m['role'] for m in messages] == ['system', 'user']
    user = messages[1]['content']
    assert 'For the class "car", list 7' in user
    assert '"traffic light"' in user and '{"negatives"' in user


def test_answer_with_key_and_model(chat_server: ChatServer) -> None:
    client, waits = _client(chat_server)
    answer = client.ask('car', IDS, 4)
    assert answer.items == ['car lookalike', 'mailbox', 'lamp post'] and not answer.cached
    label, body, auth = chat_server.requests[0]
    assert (label, body['model'], body['temperature'], auth) == (
        'car',
        'test-model',
        0.0,
        'Bearer sk-test',
    )
    assert waits == []


def test_malformed_json_is_asked_again(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [chat_reply('{"negatives": [oops'), chat_reply('["van"]')]
    client, waits = _client(chat_server)
    assert client.ask('car', IDS, 4).items == ['van']
    assert len(chat_server.requests) == 2 and len(waits) == 1


def test_non_json_http_body_is_retried(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [(200, {}, '<html>gateway</html>', 0.0), chat_reply('["van"]')]
    client, _ = _client(chat_server)
    assert client.ask('car', IDS, 4).items == ['van']


def test_truncated_list_keeps_complete_items(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [chat_reply('{"negatives": ["golf cart", "forklift", "go-k')]
    client, _ = _client(chat_server)
    answer = client.ask('car', IDS, 4)
    assert answer.items == ['golf cart', 'forklift'] and not answer.complete
    assert len(chat_server.requests) == 1


def test_429_respects_retry_after_then_succeeds(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [
        (429, {'Retry-After': '7'}, '{"error": "rate limited"}', 0.0),
        (429, {}, '{"error": "rate limited"}', 0.0),
        chat_reply('["van"]'),
    ]
    client, waits = _client(chat_server, backoff=0.5)
    assert client.ask('car', IDS, 4).items == ['van']
    assert waits[0] == 7.0  # the server's Retry-After, not our back-off
    assert 1.0 <= waits[1] <= 1.1  # no header: exponential back-off (0.5 * 2) with jitter


def test_5xx_backs_off_exponentially_and_gives_up(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [(503, {}, 'down', 0.0)]
    client, waits = _client(chat_server, backoff=1.0, max_attempts=4)
    with pytest.raises(LLMError, match=r'after 4 attempts.*HTTP 503'):
        client.ask('car', IDS, 4)
    assert len(chat_server.requests) == 4
    assert [round(w) for w in waits] == [1, 2, 4]


def test_client_error_is_not_retried(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [(401, {}, '{"error": "bad key"}', 0.0)]
    client, _ = _client(chat_server)
    with pytest.raises(LLMError, match='HTTP 401'):
        client.ask('car', IDS, 4)
    assert len(chat_server.requests) == 1


def test_timeout_is_retried(chat_server: ChatServer) -> None:
    chat_server.script['car'] = [(*chat_reply('["slow"]')[:3], 1.5), chat_reply('["van"]')]
    client, waits = _client(chat_server, timeout=0.3)
    started = time.monotonic()
    assert client.ask('car', IDS, 4).items == ['van']
    assert time.monotonic() - started < 1.4  # did not wait for the slow answer
    assert len(waits) == 1


def test_cache_makes_rerun_identical_without_server(
    chat_server: ChatServer, tmp_path: Path, wordnet: WordNet
) -> None:
    chat_server.script['car'] = [chat_reply('["golf cart", "automobile", "cars", "forklift"]')]
    cache = tmp_path / 'cache'
    nfilter = NegativeFilter(IDS, wordnet)
    client, _ = _client(chat_server, cache_dir=cache)
    first = generate_llm(IDS, client, nfilter, count=3)
    assert len(list(cache.glob('*.json'))) == 2
    chat_server.stop()
    offline = LLMClient(chat_server.url, 'test-model', cache_dir=cache, max_attempts=1)
    again = generate_llm(IDS, offline, nfilter, count=3)
    assert again.by_id_label == first.by_id_label
    assert again.provenance == first.provenance
    assert first.by_id_label['car'] == ['golf cart', 'forklift']  # synonym and plural dropped
    for record in cache.glob('*.json'):
        assert 'sk-test' not in record.read_text()  # the key is never cached


def test_cli_llm_writes_loadable_yaml_and_reruns_from_cache(
    chat_server: ChatServer,
    bdd_ids: Path,
    tmp_path: Path,
    wordnet: WordNet,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level('DEBUG')
    chat_server.script['car'] = [
        (429, {'Retry-After': '0'}, 'slow down', 0.0),
        chat_reply(
            '```json\n{"negatives": ["automobile", "Cars", "golf cart", "toy car", '
            '"justice", "van", "forklift", "mannequin", "go-kart"]}\n```'
        ),
    ]
    chat_server.script['pedestrian'] = [
        chat_reply(
            '{"negatives": ["walker", "soldier", "statue", "scarecrow", "mannequin", '
            '"fire hydrant", "mailbox", "a very long phrase for a thing"]}'
        ),
    ]
    chat_server.script['bus'] = [
        chat_reply('{"negatives": ["trolleybus", "tram", "kiosk", "shipp')
    ]
    monkeypatch.setenv('NEGAS_TEST_KEY', 'sk-from-env')
    out, cache = tmp_path / 'gen' / 'bdd.yaml', tmp_path / 'cache'
    argv = [
        'negatives',
        'generate',
        '--method',
        'llm',
        '--id-labels',
        str(bdd_ids),
        '--out',
        str(out),
        '--count',
        '3',
        '--llm-url',
        chat_server.url,
        '--llm-model',
        'test-model',
        '--llm-key-env',
        'NEGAS_TEST_KEY',
        '--cache',
        str(cache),
        '--explain',
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert 'synonym' in printed and 'id-label' in printed and 'too-long' in printed
    assert {auth for _, _, auth in chat_server.requests} == {'Bearer sk-from-env'}
    labels = load_labels(out)
    negatives = labels.negative_labels
    assert 'golf cart' in negatives and 'fire hydrant' in negatives
    for bad in ('automobile', 'cars', 'toy car', 'justice', 'walker', 'soldier', 'van'):
        assert bad not in negatives
    assert len(negatives) <= 3 * len(labels.id_labels)
    data = yaml.safe_load(out.read_text())
    provenance = data['provenance']
    assert provenance['method'] == 'llm' and provenance['model'] == 'test-model'
    assert provenance['incomplete_answers'] == ['bus']
    # The key reaches the server only: not the output, its provenance, the explanation, the
    # answer cache, what is printed or any log record (a retry was logged above).
    assert 'sk-from-env' not in out.read_text()
    assert (tmp_path / 'gen' / 'bdd.yaml.explain.tsv').is_file()
    written = [out, tmp_path / 'gen' / 'bdd.yaml.explain.tsv', *cache.glob('*')]
    assert all('sk-from-env' not in path.read_text() for path in written)
    assert caplog.records and 'sk-from-env' not in printed and 'sk-from-env' not in caplog.text
    _assert_no_id_synonyms(negatives, labels.id_labels, wordnet)

    first = out.read_bytes()
    requests = len(chat_server.requests)
    out.unlink()
    chat_server.stop()
    assert main(argv[:-1]) == 0  # from the cache alone: same bytes, no request
    assert len(chat_server.requests) == requests
    assert out.read_bytes() == first


def test_cli_llm_reports_failed_labels(
    chat_server: ChatServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / 'ids.txt'
    ids.write_text('car\nbus\n')
    chat_server.script['bus'] = [chat_reply('no idea')]
    out = tmp_path / 'out.yaml'
    code = main(
        [
            'negatives',
            'generate',
            '--method',
            'llm',
            '--id-labels',
            str(ids),
            '--out',
            str(out),
            '--llm-url',
            chat_server.url,
            '--llm-model',
            'm',
            '--llm-attempts',
            '2',
        ]
    )
    assert code == 2 and not out.exists()
    assert 'no usable answer for 1 ID label(s): bus' in capsys.readouterr().err


def test_cli_requires_url_and_named_key_variable(tmp_path: Path, bdd_ids: Path) -> None:
    out = tmp_path / 'x.yaml'
    base = [
        'negatives',
        'generate',
        '--method',
        'llm',
        '--id-labels',
        str(bdd_ids),
        '--out',
        str(out),
    ]
    assert main(base) == 2
    assert (
        main(
            [
                *base,
                '--llm-url',
                'http://127.0.0.1:9/v1',
                '--llm-model',
                'm',
                '--llm-key-env',
                'NEGAS_SURELY_UNSET_VARIABLE',
            ]
        )
        == 2
    )


def _assert_no_id_synonyms(negatives: tuple[str, ...], ids: tuple[str, ...], wn: WordNet) -> None:
    """No negative is an ID label, its plural, or shares a WordNet synset with one."""
    id_keys = {normalize_label(i) for i in ids}
    id_synsets = {s for i in ids for s in wn.lookup(i)}
    for negative in negatives:
        assert normalize_label(negative) not in id_keys
        assert not set(wn.lookup(negative)) & id_synsets, negative


def test_cached_record_is_plain_json(chat_server: ChatServer, tmp_path: Path) -> None:
    client, _ = _client(chat_server, cache_dir=tmp_path)
    client.ask('car', IDS, 2)
    (record,) = tmp_path.glob('*.json')
    data = json.loads(record.read_text())
    assert data['label'] == 'car' and data['model'] == 'test-model' and 'content' in data
