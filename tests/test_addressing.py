"""The one channel policy (bot.delivery.addressing): which channel and address reach a person or a group."""
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from bot.channels import CHANNELS
from bot.delivery import addressing
from bot.delivery.outbox import Notices, Who
from models import TARGET_USER


def settings(*enabled):
    return SimpleNamespace(**{f"{c}_enabled": c in enabled for c in CHANNELS})


def test_a_person_is_reached_on_the_first_enabled_channel_they_have():
    both = {"wecom": "zhangsan", "dingtalk": "dt1"}
    assert addressing.person_address(both, settings("wecom", "dingtalk")) == addressing.Address(
        "wecom", TARGET_USER, "zhangsan")
    assert addressing.person_address(both, settings("dingtalk")).target == "dt1"
    # Not on an enabled channel: wherever they have an identity (it waits for that channel to be set up).
    assert addressing.person_address({"wecom": "zhangsan"}, settings("dingtalk")).channel == "wecom"
    assert addressing.person_address({}, settings("wecom")) is None
    assert addressing.person_address({"wecom": ""}, settings("wecom")) is None


@given(st.dictionaries(st.sampled_from(CHANNELS), st.text(min_size=1, max_size=5)),
       st.sets(st.sampled_from(CHANNELS)))
def test_person_address_never_skips_an_enabled_identity(identities, enabled):
    address = addressing.person_address(identities, settings(*enabled))
    if not identities:
        assert address is None
        return
    assert identities[address.channel] == address.target
    reachable_enabled = [c for c in CHANNELS if c in enabled and c in identities]
    if reachable_enabled:
        assert address.channel == reachable_enabled[0]


def test_jobs_and_handlers_share_the_policy():
    """A job's batch and a handler's one-notice path address the same person the same way."""
    who = Who(1, "张三", None, {"wecom": "zhangsan", "dingtalk": "dt1"})
    batch = Notices(settings("dingtalk"), "test")
    assert batch.to_person(who, "您好", key="k1")
    assert (batch.rows[0]["channel"], batch.rows[0]["target"]) == ("dingtalk", "dt1")
    assert not batch.to_person(Who(2, "无号", None, {}), "您好", key="k2")  # unreachable: no notice
    assert not batch.to_person(who, "again", key="k1")  # a key once per batch


def test_group_channel_defaults_to_the_first_enabled_channel(seeded):
    with seeded.db.session() as s:
        assert addressing.group_channel(s, "supervision", seeded.settings) == "wecom"
        assert addressing.group_channel(s, "no-such-group", settings("dingtalk")) == "dingtalk"
        assert addressing.group_channel(s, "no-such-group", settings()) == CHANNELS[0]
