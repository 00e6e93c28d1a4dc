"""The English lead of an English question whose answer is a quantity."""

from __future__ import annotations

import pytest

from bot.english_lead import chinese_number, english_lead, english_quantity


@pytest.mark.parametrize(
    ("text", "kind", "english"),
    [
        ("验证成功后需在24小时内完成新账号注册。", "duration", "within 24 hours"),
        ("华为云收到发票后,第二个工作日将审核发票。", "duration", "the 2nd working day"),
        ("退订款项大约会在1个工作日内退还至华为云账户。", "duration", "within 1 working day"),
        ("自活动结束之日起,三十天内须提交核销。", "duration", "within 30 days"),
        ("不完整的核销最多保留45天。", "duration", "45 days"),
        ("代金券次日到账。", "duration", "the next day"),
        ("每月15号发放。", "moment", None),
        ("项目6个月云资源金额,上限30万", "amount", "up to 300,000"),
        ("华为云已有客户:5万", "amount", "50,000"),
        ("税率为6%。", "amount", "6%"),
        ("支持开具增值税专用发票和电子专票。", "amount", None),
        ("项目6个月云资源金额", "amount", None),  # a bare number is not the amount asked for
    ],
)
def test_the_quantity_in_english(text: str, kind: str, english: str | None) -> None:
    assert english_quantity(text, kind) == english  # type: ignore[arg-type]


def test_the_lead_is_a_sentence_or_nothing() -> None:
    assert english_lead("验证成功后需在24小时内完成新账号注册。", "duration") == (
        "In short: within 24 hours."
    )
    assert english_lead("请在伙伴中心申请。", "duration") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("24", 24), ("二", 2), ("十", 10), ("二十四", 24), ("两百", 200), ("几", None)],
)
def test_chinese_numbers(text: str, value: float | None) -> None:
    assert chinese_number(text) == value
