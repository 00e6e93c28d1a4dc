"""The kind of answer a question expects, and whether a sentence states one."""

from __future__ import annotations

import pytest

from bot.answer_type import expected_type, identifiers, states


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("发票审核要多久?", "duration"),
        ("提交后多长时间能到账", "duration"),
        ("核销要在几个工作日内完成?", "duration"),
        ("多少天内必须提交?", "duration"),
        ("How long does the review take?", "duration"),
        ("激励每月几号发放?", "moment"),
        ("Which day is the payout?", "moment"),
        ("首单激励上限是多少?", "amount"),
        ("How much is the cap?", "amount"),
        ("How many vouchers can I get?", "amount"),
        ("激励发票能开哪些票种?", None),
        ("什么时候可以申请发放激励?", None),  # "when" is as often answered by an event
        ("When a customer moves to resale, where does the refund go?", None),
        ("几笔激励能合并申请吗?", None),  # 几笔 = several, not "how many"
    ],
)
def test_the_kind_of_answer_asked_for(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("华为云收到发票后,第二个工作日将审核发票。", "duration", True),
        ("退订款项大约会在1个工作日内退还至华为云账户。", "duration", True),
        ("验证成功后需在24小时内完成新账号注册。", "duration", True),
        ("自活动结束之日起,三十天内须提交核销。", "duration", True),
        ("系统会实时发放代金券。", "duration", True),
        ("2023年10月后新生成的代售激励支持两种选择。", "duration", False),  # dates, not spans
        ("支持开具增值税专用发票和电子专票。", "amount", False),
        ("项目6个月云资源金额,上限30万。", "amount", True),
        ("每月15号发放。", "moment", True),
        ("华为云收到发票后,第二个工作日将审核发票。", "moment", True),
        ("请在伙伴中心申请。", "moment", False),
    ],
)
def test_whether_a_sentence_states_it(text: str, kind: str, expected: bool) -> None:
    assert states(text, kind) is expected  # type: ignore[arg-type]


def test_identifiers_are_codes_with_letters_and_digits() -> None:
    tokens = ["错误码", "cbc.0200", "cbc", "0200", "first-deal", "5xx", "apig.0301", "cbc.0200"]
    assert identifiers(tokens) == ["cbc.0200", "apig.0301"]
