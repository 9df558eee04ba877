"""enrollment.idnumbers: parsing, normalising and masking resident ID numbers (pure)."""

from datetime import date

import pytest

from enrollment import idnumbers
from enrollment.idnumbers import IdNumberError, make_number, mask, normalise, parse

TODAY = date(2025, 6, 1)


def gb11643_check(prefix17: str) -> str:
    """The check digit computed here independently: weights 2^(17-i) mod 11."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(prefix17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@pytest.mark.parametrize("prefix", ["11010519491231002", "33020319800101123", "14118119900315123",
                                    "63010220000229456"])
def test_make_number_appends_the_gb11643_check_digit(prefix):
    assert make_number(prefix) == prefix + gb11643_check(prefix)


def test_make_number_textbook_example():
    # The example printed in GB 11643: 11010519491231002 -> X.
    assert make_number("11010519491231002") == "11010519491231002X"


def test_valid_number_gives_birth_date_and_sex():
    female = parse("11010519491231002X", today=TODAY)
    assert female == idnumbers.IdNumber(number="11010519491231002X", birth_date=date(1949, 12, 31),
                                        sex="F", warnings=())
    male = parse("330203200001011231", today=TODAY)
    assert (male.number, male.birth_date, male.sex, male.warnings) == (
        "330203200001011231", date(2000, 1, 1), "M", ())


@pytest.mark.parametrize("text", [
    "１１０１０５１９４９１２３１００２Ｘ",     # full-width digits and X
    "11010519491231002x",                 # lower-case x
    "  110105 1949 1231 002X \t",          # spaces inside and around
    "110105-19491231-002x",               # dashes
    "１１０１０５１９４９１２３１００２ｘ",     # full-width lower-case x
])
def test_normalisation(text):
    assert normalise(text) == "11010519491231002X"
    assert parse(text, today=TODAY).number == "11010519491231002X"


def test_normalise_none_and_empty():
    assert normalise(None) == ""
    assert normalise("   ") == ""


@pytest.mark.parametrize("text, message", [
    ("", "身份证号码为空"),
    ("   ", "身份证号码为空"),
    ("11010519491231002", "身份证号码应为 18 位，实为 17 位"),
    ("11010519491231002X1", "身份证号码应为 18 位，实为 19 位"),
    ("110105194912310", "身份证号码应为 18 位，实为 15 位"),  # old 15-digit numbers are not accepted
    ("1101051949123100XX", "身份证号码前 17 位应为数字，末位为数字或 X"),
    ("11010519491231002Y", "身份证号码前 17 位应为数字，末位为数字或 X"),
    ("110105194912310021", "身份证号码校验位不正确"),
    ("330203198001011230", "身份证号码校验位不正确"),
])
def test_rejections(text, message):
    with pytest.raises(IdNumberError) as exc:
        parse(text, today=TODAY)
    assert str(exc.value) == message


def test_impossible_birth_date_with_a_correct_check_digit():
    number = make_number("33020319800230123")  # 30 February 1980
    assert number == "330203198002301230"  # the check digit is right ...
    with pytest.raises(IdNumberError) as exc:
        parse(number, today=TODAY)
    assert str(exc.value) == "身份证号码中的出生日期 19800230 不存在"  # ... the date is not


def test_month_13_is_an_impossible_birth_date():
    with pytest.raises(IdNumberError) as exc:
        parse(make_number("33020319801301123"), today=TODAY)
    assert str(exc.value) == "身份证号码中的出生日期 19801301 不存在"


def test_future_birth_date_is_rejected_relative_to_today():
    number = make_number("33020320250602123")  # born the day after TODAY
    with pytest.raises(IdNumberError) as exc:
        parse(number, today=TODAY)
    assert str(exc.value) == "身份证号码中的出生日期 2025-06-02 不合理"
    # born on TODAY itself is fine (a newborn registered on the day of birth)
    assert parse(make_number("33020320250601123"), today=TODAY).birth_date == date(2025, 6, 1)


def test_birth_before_1880_is_rejected():
    with pytest.raises(IdNumberError) as exc:
        parse(make_number("33020318790101123"), today=TODAY)
    assert str(exc.value) == "身份证号码中的出生日期 1879-01-01 不合理"


def test_anachronistic_address_code_is_accepted_with_a_warning():
    # Xiaoyi's code 141181 dates from after 1990, yet Xiaoyi people born in 1990 carry it.
    from stdnum.cn import ric

    number = make_number("14118119900315123")
    assert not ric.is_valid(number)  # what python-stdnum alone would say
    parsed = parse(number, today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date == date(1990, 3, 15)
    assert parsed.sex == "M"
    assert parsed.warnings == ("地址码 141181 在出生年份无记录（可能为后设或已撤销的区划，仅提示）",)


def test_unknown_address_code_is_only_a_warning():
    parsed = parse(make_number("99999919800101124"), today=TODAY)
    assert parsed.sex == "F"
    assert parsed.warnings == ("地址码 999999 在出生年份无记录（可能为后设或已撤销的区划，仅提示）",)


def test_mask_keeps_area_code_and_last_four():
    assert mask("11010519491231002X") == "110105********002X"
    assert mask("330203198001011231") == "330203********1231"
    assert mask("") == ""
    assert mask(None) == ""
    assert mask("12345") == "12345"  # too short to mask meaningfully: left as is
