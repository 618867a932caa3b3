"""WeComClient against the fake WeCom server on loopback."""

import base64
import hashlib
import socket

import pytest
import requests

from bot.channels.wecom.api import (
    APP_MARKDOWN_MAX_BYTES,
    IMAGE_MAX_BYTES,
    MARKDOWN_MAX_BYTES,
    MEMBER_PER_MINUTE,
    ROBOT_MARKDOWN_MAX_BYTES,
    ROBOT_PER_MINUTE,
    TEXT_MAX_BYTES,
    ConfigError,
    PermanentError,
    RetryableError,
    WeComClient,
    WeComError,
    classify,
    file_payload,
    image_payload,
    invalid_users,
    markdown_payload,
    text_payload,
    textcard_body,
)
from bot.infra.kv import MemoryKV
from bot.tools.fakes.wecom_server import FakeWeCom

CORP = "wwfakecorp"
SECRET = "fakesecret"
AGENT = 1000002
KEY = "robot-key-123-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def fake():
    with FakeWeCom(CORP, SECRET, robot_keys={KEY}, known_users={"alice", "bob", "carol"}) as f:
        yield f


def _session():
    s = requests.Session()
    s.trust_env = False  # ignore any proxy settings for loopback
    return s


@pytest.fixture
def make_client(fake):
    clients = []

    def make(store=None, *, secret=SECRET, corp=CORP, timeout=5.0, base_url=None):
        client = WeComClient(
            base_url or fake.base_url, corp, secret, AGENT,
            store if store is not None else MemoryKV(),
            timeout=timeout, session=_session(),
        )
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.session.close()


class RecordingStore(MemoryKV):
    def __init__(self):
        super().__init__()
        self.sets = []

    def set(self, key, value, ttl_seconds):
        self.sets.append((key, value, ttl_seconds))
        super().set(key, value, ttl_seconds)


# -- tokens -----------------------------------------------------------------

def test_one_gettoken_for_many_sends(fake, make_client):
    client = make_client()
    for i in range(5):
        assert client.send_app(["alice"], "text", {"content": "msg %d" % i})["errcode"] == 0
    assert fake.gettoken_calls == 1
    assert fake.hits["send"] == 5
    assert [m["payload"]["text"]["content"] for m in fake.sent] == ["msg %d" % i for i in range(5)]


def test_token_cached_with_margin_under_key_with_secret_hash(fake, make_client):
    store = RecordingStore()
    client = make_client(store)
    token = client.access_token()
    assert store.sets == [(client.token_key, token, 7200 - 300)]
    assert CORP in client.token_key and str(AGENT) in client.token_key
    assert SECRET not in client.token_key
    other = WeComClient(fake.base_url, CORP, "another", AGENT, store)
    assert other.token_key != client.token_key


def test_token_shared_between_clients_through_one_store(fake, make_client):
    store = MemoryKV()
    a, b = make_client(store), make_client(store)
    a.send_app(["alice"], "text", {"content": "from a"})
    b.send_app(["bob"], "text", {"content": "from b"})
    assert fake.gettoken_calls == 1
    c = make_client(MemoryKV())  # separate store: separate token
    c.send_app(["carol"], "text", {"content": "from c"})
    assert fake.gettoken_calls == 2


def test_force_fetches_new_token(fake, make_client):
    client = make_client()
    t1 = client.access_token()
    assert client.access_token() == t1
    t2 = client.access_token(force=True)
    assert t2 != t1 and fake.gettoken_calls == 2


def test_expired_token_refreshed_once_then_success(fake, make_client):
    client = make_client()
    client.send_app(["alice"], "text", {"content": "one"})
    fake.expire_tokens()
    result = client.send_app(["alice"], "text", {"content": "two"})
    assert result["errcode"] == 0
    assert fake.gettoken_calls == 2
    assert fake.hits["send"] == 3  # one, two rejected (42001), two retried
    assert len(fake.sent) == 2


def test_unknown_cached_token_replaced(fake, make_client):
    store = MemoryKV()
    client = make_client(store)
    store.set(client.token_key, "bogus-token", 3600)
    assert client.send_app(["alice"], "text", {"content": "hi"})["errcode"] == 0
    assert fake.gettoken_calls == 1
    assert store.get(client.token_key) != "bogus-token"


def test_invalid_token_twice_raises_after_one_refresh(fake, make_client):
    client = make_client()
    client.access_token()
    fake.fail_next(2, errcode=40014, path="/cgi-bin/message/send")
    with pytest.raises(PermanentError) as info:
        client.send_app(["alice"], "text", {"content": "hi"})
    assert info.value.errcode == 40014
    assert fake.gettoken_calls == 2
    assert fake.hits["send"] == 2
    assert fake.sent == []


def test_refresh_reuses_token_another_client_already_stored(fake, make_client):
    store = MemoryKV()
    a = make_client(store)
    stale = a.access_token()
    fake.expire_tokens()
    fresh = a.access_token(force=True)

    class StaleOnce(MemoryKV):
        """First read returns the stale token, as a racing process would see."""

        def __init__(self):
            super().__init__()
            self.first = True

        def get(self, key):
            if self.first:
                self.first = False
                return stale
            return store.get(key)

        def set(self, key, value, ttl_seconds):
            store.set(key, value, ttl_seconds)

    b = make_client(StaleOnce())
    assert b.send_app(["bob"], "text", {"content": "hi"})["errcode"] == 0
    assert fake.gettoken_calls == 2  # b did not fetch: it reused `fresh`
    assert store.get(a.token_key) == fresh


def test_bad_secret_is_config_error_without_retry(fake, make_client):
    client = make_client(secret="wrong")
    for _ in range(2):
        with pytest.raises(ConfigError) as info:
            client.send_app(["alice"], "text", {"content": "hi"})
        assert info.value.errcode == 40001
    assert fake.gettoken_calls == 2  # exactly one attempt per call
    assert fake.hits["send"] == 0
    assert "wrong" not in str(info.value)


def test_bad_corpid_and_ip_not_allowed_are_config_errors(fake, make_client):
    with pytest.raises(ConfigError) as info:
        make_client(corp="wwother").access_token()
    assert info.value.errcode == 40013
    fake.fail_next(1, errcode=60020, path="/cgi-bin/gettoken")
    with pytest.raises(ConfigError) as info:
        make_client().access_token()
    assert info.value.errcode == 60020
    assert fake.gettoken_calls == 2


# -- classification ---------------------------------------------------------

def test_robot_rate_limit_is_retryable_with_retry_after(fake, make_client):
    client = make_client()
    for i in range(ROBOT_PER_MINUTE):
        client.webhook_send(KEY, text_payload("n%d" % i))
    with pytest.raises(RetryableError) as info:
        client.webhook_send(KEY, text_payload("one too many"))
    assert info.value.errcode == 45009
    assert info.value.retry_after == 60.0
    assert len(fake.sent) == ROBOT_PER_MINUTE


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
def test_busy_and_limit_errcodes_are_retryable(fake, make_client, errcode):
    client = make_client()
    client.access_token()
    fake.fail_next(1, errcode=errcode, path="/cgi-bin/message/send")
    with pytest.raises(RetryableError) as info:
        client.send_app(["alice"], "text", {"content": "hi"})
    assert info.value.errcode == errcode
    assert fake.gettoken_calls == 1


def test_http_500_is_retryable(fake, make_client):
    client = make_client()
    fake.fail_next(1, http_status=500, path="/cgi-bin/webhook/send")
    with pytest.raises(RetryableError) as info:
        client.webhook_send(KEY, text_payload("hi"))
    assert info.value.errcode is None and "500" in info.value.errmsg
    assert client.webhook_send(KEY, text_payload("hi"))["errcode"] == 0


def test_errcode_read_even_with_http_200(fake, make_client):
    client = make_client()
    fake.fail_next(1, errcode=40003, path="/cgi-bin/message/send")
    with pytest.raises(PermanentError) as info:
        client.send_app(["alice"], "text", {"content": "hi"})
    assert info.value.errcode == 40003
    assert not isinstance(info.value, (ConfigError, RetryableError))


def test_hang_with_small_timeout_is_retryable_and_redacted(fake, make_client):
    client = make_client(timeout=0.2)
    fake.fail_next(1, hang=5, path="/cgi-bin/webhook/send")
    with pytest.raises(RetryableError) as info:
        client.webhook_send(KEY, text_payload("hi"))
    assert info.value.errcode is None
    assert KEY not in str(info.value) and KEY not in info.value.errmsg
    assert info.value.__cause__ is None


def test_connection_refused_is_retryable(make_client):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = make_client(base_url="http://127.0.0.1:%d" % port, timeout=1.0)
    with pytest.raises(RetryableError):
        client.webhook_send(KEY, text_payload("hi"))


def test_bad_robot_key_is_permanent(fake, make_client):
    client = make_client()
    with pytest.raises(PermanentError) as info:
        client.webhook_send("not-a-key", text_payload("hi"))
    assert info.value.errcode == 93000
    assert not isinstance(info.value, ConfigError)
    fake.remove_robot(KEY)
    with pytest.raises(PermanentError) as info:
        client.webhook_send(KEY, markdown_payload("**hi**"))
    assert info.value.errcode == 93000


def test_classify_table():
    assert isinstance(classify(-1), RetryableError)
    assert classify(-1).retry_after is None
    assert isinstance(classify(45009), RetryableError)
    for code in (40001, 40013, 60020, 48002):
        assert isinstance(classify(code), ConfigError)
    for code in (93000, 40003, 81013, 12345):
        err = classify(code)
        assert isinstance(err, PermanentError) and not isinstance(err, ConfigError)
    assert issubclass(ConfigError, PermanentError) and issubclass(RetryableError, WeComError)


# -- app messages -----------------------------------------------------------

def test_send_app_payload_shape(fake, make_client):
    client = make_client()
    client.send_app(["alice", "bob"], "text", {"content": "通知：明天开会"})
    sent = fake.sent[-1]
    assert sent["kind"] == "app" and sent["touser"] == ["alice", "bob"]
    assert sent["payload"] == {
        "touser": "alice|bob", "msgtype": "text", "agentid": AGENT,
        "text": {"content": "通知：明天开会"},
    }


def test_send_app_textcard(fake, make_client):
    client = make_client()
    body = textcard_body("Title", "Desc", "https://example.org/x", "More")
    client.send_app(["alice"], "textcard", body)
    assert fake.sent[-1]["payload"]["textcard"] == {
        "title": "Title", "description": "Desc", "url": "https://example.org/x", "btntxt": "More",
    }
    with pytest.raises(ValueError):
        textcard_body("", "d", "u")


def test_partial_invaliduser_surfaced(fake, make_client):
    client = make_client()
    result = client.send_app(["alice", "ghost", "bob"], "text", {"content": "hi"})
    assert result["errcode"] == 0
    assert result["invaliduser"] == "ghost"
    assert invalid_users(result) == ["ghost"]
    assert fake.sent[-1]["touser"] == ["alice", "bob"]


def test_all_users_invalid_raises_with_response(fake, make_client):
    client = make_client()
    with pytest.raises(PermanentError) as info:
        client.send_app(["ghost"], "text", {"content": "hi"})
    assert info.value.errcode == 81013
    assert invalid_users(info.value.response) == ["ghost"]


def test_send_app_checks_user_count_and_size_before_sending(fake, make_client):
    client = make_client()
    with pytest.raises(ValueError):
        client.send_app(["u%d" % i for i in range(1001)], "text", {"content": "hi"})
    with pytest.raises(ValueError):
        client.send_app([], "text", {"content": "hi"})
    with pytest.raises(TypeError):
        client.send_app("alice", "text", {"content": "hi"})
    with pytest.raises(ValueError):
        client.send_app(["alice"], "text", {"content": "中" * 683})  # 2049 bytes
    with pytest.raises(ValueError):
        client.send_app(["alice"], "markdown", {"content": "x" * (APP_MARKDOWN_MAX_BYTES + 1)})
    assert fake.hits["send"] == 0 and fake.gettoken_calls == 0
    # Exactly at the limit passes the client and the fake.
    assert client.send_app(["alice"], "text", {"content": "中" * 682 + "ab"})["errcode"] == 0


def test_member_limit_drops_silently(fake, make_client):
    client = make_client()
    for i in range(MEMBER_PER_MINUTE + 1):
        assert client.send_app(["carol"], "text", {"content": str(i)})["errcode"] == 0
    assert len(fake.sent) == MEMBER_PER_MINUTE
    assert [d["touser"] for d in fake.dropped] == ["carol"]


# -- robots -----------------------------------------------------------------

def test_webhook_text_with_mentions(fake, make_client):
    client = make_client()
    client.webhook_send(KEY, text_payload("请查收", mentioned_mobiles=["13800000000"],
                                          mentioned_userids=["alice", "@all"]))
    sent = fake.sent[-1]
    assert sent["kind"] == "robot" and sent["key"] == KEY and sent["msgtype"] == "text"
    assert sent["payload"]["text"] == {
        "content": "请查收", "mentioned_list": ["alice", "@all"],
        "mentioned_mobile_list": ["13800000000"],
    }


def test_webhook_image_accepted_by_fake(fake, make_client):
    client = make_client()
    assert client.webhook_send(KEY, image_payload(PNG))["errcode"] == 0
    assert fake.sent[-1]["msgtype"] == "image"


def test_webhook_upload_then_file(fake, make_client):
    client = make_client()
    media_id = client.webhook_upload(KEY, "周报.xlsx", b"PK\x03\x04 spreadsheet bytes")
    assert media_id
    upload = fake.sent[-1]
    assert upload["kind"] == "upload" and upload["filename"] == "周报.xlsx"
    assert upload["size"] == len(b"PK\x03\x04 spreadsheet bytes")
    assert client.webhook_send(KEY, file_payload(media_id))["errcode"] == 0
    with pytest.raises(ValueError):
        client.webhook_upload(KEY, "tiny.txt", b"1234")
    with pytest.raises(PermanentError) as info:
        client.webhook_upload("bad-key", "a.txt", b"hello")
    assert info.value.errcode == 93000


def test_webhook_send_checks_size_before_sending(fake, make_client):
    client = make_client()
    too_long = {"msgtype": "markdown", "markdown": {"content": "x" * (ROBOT_MARKDOWN_MAX_BYTES + 1)}}
    with pytest.raises(ValueError):
        client.webhook_send(KEY, too_long)
    with pytest.raises(ValueError):
        client.webhook_send(KEY, {"msgtype": "text"})
    assert fake.hits["webhook_send"] == 0


# -- payload builders -------------------------------------------------------

def test_limits_constants():
    assert TEXT_MAX_BYTES == 2048
    assert MARKDOWN_MAX_BYTES["app"] == 2048 and MARKDOWN_MAX_BYTES["robot"] == 4096
    assert ROBOT_PER_MINUTE == 20 and MEMBER_PER_MINUTE == 30


def test_text_payload_byte_limit():
    assert text_payload("a" * 2048)["text"]["content"] == "a" * 2048
    assert text_payload("中" * 682)["msgtype"] == "text"  # 2046 bytes
    with pytest.raises(ValueError):
        text_payload("中" * 683)  # 2049 bytes although only 683 characters
    with pytest.raises(ValueError):
        text_payload("")
    assert "mentioned_list" not in text_payload("x")["text"]


def test_markdown_payload_byte_limit():
    assert markdown_payload("中" * 1365)["markdown"]["content"]  # 4095 bytes
    with pytest.raises(ValueError):
        markdown_payload("中" * 1366)  # 4098 bytes
    with pytest.raises(ValueError):
        markdown_payload("😀" * 1025)  # 4100 bytes


def test_image_payload_base64_md5_and_size():
    payload = image_payload(PNG)
    assert payload["msgtype"] == "image"
    assert base64.b64decode(payload["image"]["base64"]) == PNG
    assert payload["image"]["md5"] == hashlib.md5(PNG).hexdigest()
    jpeg_max = b"\xff\xd8\xff" + b"\x00" * (IMAGE_MAX_BYTES - 3)
    assert image_payload(jpeg_max)["image"]["md5"] == hashlib.md5(jpeg_max).hexdigest()
    with pytest.raises(ValueError):
        image_payload(jpeg_max + b"\x00")
    with pytest.raises(ValueError):
        image_payload(b"GIF89a" + b"\x00" * 10)
    with pytest.raises(ValueError):
        image_payload(b"")


def test_file_payload():
    assert file_payload("m1") == {"msgtype": "file", "file": {"media_id": "m1"}}
    with pytest.raises(ValueError):
        file_payload("")
