import pytest

from sargs.core.errors import InvalidInput
from sargs.domains.subjects.identifiers import Identity, mask, parse_identity


@pytest.mark.parametrize(
    "raw",
    [
        "msisdn:+37129123456",
        "msisdn:29123456",
        "msisdn: 2912 3456 ",
        "msisdn:0037129123456",
        "MSISDN:+371 29-12-34-56",
    ],
)
def test_latvian_numbers_in_any_common_form_normalise_to_e164(raw: str) -> None:
    assert parse_identity(raw) == Identity("msisdn", "+37129123456")


def test_foreign_numbers_keep_their_country_code() -> None:
    assert parse_identity("msisdn:+37061234567").value == "+37061234567"


@pytest.mark.parametrize("raw", ["msisdn:123", "msisdn:hello", "msisdn:+3712912345678901"])
def test_invalid_phone_numbers_are_rejected_with_a_message(raw: str) -> None:
    with pytest.raises(InvalidInput, match="phone number"):
        parse_identity(raw)


def test_email_domain_and_case_are_normalised() -> None:
    assert parse_identity("email: Janis.Berzins@Example.LV ") == Identity("email", "janis.berzins@example.lv")


@pytest.mark.parametrize(
    "raw",
    [
        "email:no-at-sign",
        "email:a@b",
        "email:two@@example.lv",
        "email:a b@example.lv",
        'email:"quoted"@example.lv',
        "email:a<script>@example.lv",
        "email:a@example.lv>",
        "email:one,two@example.lv",
        "email:a\x07@example.lv",
        "email:two..dots@example.lv",
        "email:.leading@example.lv",
        "email:a@-example.lv",
        "email:a@example..lv",
        "email:a@[192.0.2.1]",
        "email:Jānis <janis@example.lv>",
        "email:janis@localhost",
        "email:janis@example.invalid",
        "email:" + "x" * 65 + "@example.lv",
    ],
)
def test_malformed_emails_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput, match="e-mail"):
        parse_identity(raw)


def test_latvian_addresses_with_diacritics_are_accepted() -> None:
    assert parse_identity("email:Jānis@Ķēķis.lv").value == "jānis@ķēķis.lv"
    assert parse_identity("email:jānis@piemērs.lv").value == "jānis@piemērs.lv"


def test_an_idn_domain_written_in_punycode_is_the_same_address_as_in_unicode() -> None:
    assert parse_identity("email:Janis@XN--PIEMRS-S3A.LV") == parse_identity("email:janis@piemērs.lv")


def test_the_reason_an_address_is_refused_is_said() -> None:
    with pytest.raises(InvalidInput, match="period") as caught:
        parse_identity("email:a@b")
    assert caught.value.details == {"field": "email"}


def test_customer_numbers_are_kept_as_given_but_trimmed() -> None:
    assert parse_identity("customer: C-1001 ") == Identity("customer", "C-1001")


@pytest.mark.parametrize("raw", ["+37129123456", "passport:AB123", "msisdn:", "customer:has space"])
def test_identity_without_a_known_type_or_value_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_identity(raw)


def test_masking_hides_the_middle_of_identifiers() -> None:
    assert mask("msisdn", "+37129123456") == "+371******56"
    assert mask("email", "janis@example.lv") == "j***@example.lv"
    assert "1001" not in mask("customer", "C-1001")
