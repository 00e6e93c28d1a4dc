from ingest.units import units


def texts(line: str) -> list[str]:
    return [u.text for u in units(line)]


def test_sentences_headings_and_cells_are_separate_units() -> None:
    line = "单击“操作”列的“下载”,可以下载已签署的协议。 敏感关系申报 使用合作伙伴账号登录华为云。"
    assert texts(line) == [
        "单击“操作”列的“下载”,可以下载已签署的协议。",
        "敏感关系申报",
        "使用合作伙伴账号登录华为云。",
    ]


def test_navigation_path_inside_quotes_stays_one_sentence() -> None:
    line = "在顶部导航栏中选择“销售 > 客户 > 客户管理”。 操作步骤"
    assert texts(line) == ["在顶部导航栏中选择“销售 > 客户 > 客户管理”。", "操作步骤"]


def test_codes_and_latin_words_stay_whole() -> None:
    assert texts("HTTP状态码 错误码 描述 400 CBC.0100") == [
        "HTTP状态码",
        "错误码",
        "描述",
        "400 CBC.0100",
    ]


def test_cjk_sentence_ends_split_without_spaces() -> None:
    assert texts("请于日期前完成开票。华为云收到发票后审核。") == [
        "请于日期前完成开票。",
        "华为云收到发票后审核。",
    ]


def test_offsets_point_into_the_text() -> None:
    text = "xx 父主题: 经销商子客户"
    found = units(text, 3)
    assert [(u.start, u.end, u.text) for u in found] == [(3, len(text), "父主题: 经销商子客户")]
    assert all(text[u.start : u.end] == u.text for u in found)


def test_sentence_and_question_kinds() -> None:
    first, second, third = units("MDF核销有效期多长? 自活动结束之日起,90天内须提交核销。 父主题:")
    assert first.is_question and first.is_sentence
    assert second.is_sentence and not second.is_question
    assert not third.is_sentence


def test_full_width_punctuation_of_real_pages() -> None:
    # Written with escapes: editors and tools silently fold full-width forms to ASCII.
    q, bang, semi = "\uff1f", "\uff01", "\uff1b"
    paren_open, paren_close, colon = "\uff08", "\uff09", "\uff1a"
    line = (
        f"MDF核销有效期多长{q} 提交核销{paren_open}含 附件{paren_close}即可{bang} "
        f"不完整的核销最多保留45天{semi} 父主题{colon} 市场发展基金"
    )
    found = units(line)
    assert [u.text for u in found] == [
        f"MDF核销有效期多长{q}",
        f"提交核销{paren_open}含 附件{paren_close}即可{bang}",
        f"不完整的核销最多保留45天{semi}",
        f"父主题{colon} 市场发展基金",
    ]
    assert found[0].is_question and found[1].is_sentence and found[2].is_sentence


def test_a_list_number_stays_with_its_item() -> None:
    assert texts("1. 使用合作伙伴账号登录华为云。 2. 单击“伙伴中心”。 3) 选择“激励”。") == [
        "1. 使用合作伙伴账号登录华为云。",
        "2. 单击“伙伴中心”。",
        "3) 选择“激励”。",
    ]
