"""The two example policies load and say what their seeds say (Seed T: LMT, Seed R: Lytagra)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVar

import pytest

from sargs.bootstrap import EXAMPLES
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import DPV, Duration, Policy, Purpose
from sargs.domains.policy.vocabulary import dpv

DPV_PD = "https://w3id.org/dpv/pd#"
T = TypeVar("T")

SMS_KEYWORDS = {
    "JAUNUMI": ("offers", {"own", "other_operator"}),
    "METADATI": ("metadata", {"own"}),
    "AUTO": ("profiling", {"own"}),
    "VIETA": ("location", {"own"}),
    "SADARBIBA": ("loyalty", {"own"}),
}


@pytest.fixture(scope="module")
def telecom() -> Policy:
    return load_policy(EXAMPLES / "telecom.yaml")


@pytest.fixture(scope="module")
def retailer() -> Policy:
    return load_policy(EXAMPLES / "retailer.yaml")


@pytest.fixture(scope="module", params=["telecom.yaml", "retailer.yaml"])
def example(request: pytest.FixtureRequest) -> Policy:
    return load_policy(EXAMPLES / request.param)


def by_keyword(policy: Policy, keyword: str) -> Purpose:
    matches = [p for p in policy.purposes if p.sms_keyword == keyword]
    assert len(matches) == 1, keyword
    return matches[0]


def only(items: Sequence[T], **attrs: object) -> T:
    matches = [i for i in items if all(getattr(i, k) == v for k, v in attrs.items())]
    assert len(matches) == 1, attrs
    return matches[0]


# --- both files -------------------------------------------------------------------------------


def test_every_example_file_opens_with_a_comment_naming_its_seed() -> None:
    for name, seed in (("telecom.yaml", "Seed T"), ("retailer.yaml", "Seed R")):
        first = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#")
        assert seed in first
        assert "modelled on" in first


def test_every_purpose_has_latvian_and_english_title_and_description(example: Policy) -> None:
    for purpose in example.purposes:
        for text in (purpose.title, purpose.description):
            assert text.lv.strip() and text.en.strip(), purpose.id
            assert text.lv != text.en, purpose.id


def test_every_dpv_purpose_and_legal_basis_is_a_dpv_2_2_term(example: Policy) -> None:
    terms = dpv().terms
    for purpose in example.purposes:
        assert purpose.dpv_purpose in terms, purpose.id
        assert purpose.legal_basis_iri in terms, purpose.id
    for category in example.cookie_categories:
        assert category.dpv_purpose is not None and category.dpv_purpose in terms, category.id
    for data in example.data_categories:
        assert data.dpv_category is None or data.dpv_category in terms, data.id


def test_data_category_tags_are_dpv_personal_data_iris(example: Policy) -> None:
    tagged = [c for c in example.data_categories if c.dpv_category is not None]
    assert tagged
    for category in tagged:
        assert category.dpv_category is not None
        assert category.dpv_category.startswith(DPV_PD), category.id


def test_consent_purposes_are_exactly_those_with_consent_channels(example: Policy) -> None:
    for purpose in example.purposes:
        assert bool(purpose.consent_channels) == purpose.needs_consent, purpose.id


def test_supervisory_authority_is_the_data_state_inspectorate(example: Policy) -> None:
    authority = example.supervisory_authority
    assert authority.name.lv == "Datu valsts inspekcija"
    assert authority.name.en == "Data State Inspectorate"
    assert authority.address == "Elijas iela 17, Rīga, LV-1050"
    assert authority.email == "pasts@dvi.gov.lv"
    assert authority.phone == "+371 67223131"
    assert authority.url == "https://www.dvi.gov.lv"


def test_policy_is_reviewed_at_least_every_two_years(example: Policy) -> None:
    assert example.policy.review_interval_months == 24


def test_every_processor_has_a_contract_in_force_with_a_data_protection_clause(example: Policy) -> None:
    assert example.processors
    for processor in example.processors:
        assert processor.contract.status == "in_force", processor.id
        assert processor.contract.data_protection_clause, processor.id


# --- Seed T: LMT ------------------------------------------------------------------------------


def test_telecom_policy_is_lmt_group_updated_on_12_january_2021(telecom: Policy) -> None:
    assert telecom.id == "lmt-group"
    assert telecom.version == "2021-01-12"
    assert telecom.policy.published == date(2021, 1, 12)


def test_telecom_has_the_operator_and_its_retail_arm_as_controllers(telecom: Policy) -> None:
    lmt = telecom.controller("lmt")
    retail = telecom.controller("lmt-retail")
    assert lmt is not None and retail is not None
    assert lmt.legal_name == "Latvijas Mobilais Telefons SIA"
    assert lmt.registration_number == "50003050931"
    assert retail.legal_name == "LMT Retail & Logistics SIA"
    assert retail.registration_number == "40103148504"
    for controller in (lmt, retail):
        assert controller.address == "Ropažu iela 6, Rīga, LV-1039"
        assert controller.country == "LV"
        assert controller.contact.url == "https://www.lmt.lv/lv/kontakti-v2"
        assert controller.privacy_policy_url == (
            "https://lmt.mstatic.lv/lmt/files/lmt-rl_privatuma_politika_29.09.2021.pdf"
        )
    assert [c.id for c in telecom.controllers] == ["lmt", "lmt-retail"]


def test_telecom_client_groups_are_own_and_other_operators_clients(telecom: Policy) -> None:
    titles = {g.id: g.title for g in telecom.client_groups}
    assert set(titles) == {"own", "other_operator"}
    assert titles["own"].lv == "LMT klienti"
    assert titles["other_operator"].lv == "Citu komersantu klienti"


def test_a_stranger_texting_the_short_number_counts_as_another_operators_client(telecom: Policy) -> None:
    assert telecom.default_client_group == "other_operator"


def test_the_five_sms_keywords_are_exactly_those_of_the_seed_table(telecom: Policy) -> None:
    keywords = {p.sms_keyword for p in telecom.purposes if p.sms_keyword}
    assert keywords == set(SMS_KEYWORDS)


@pytest.mark.parametrize("keyword", sorted(SMS_KEYWORDS))
def test_each_sms_keyword_grants_its_purpose_by_consent_for_lmt(telecom: Policy, keyword: str) -> None:
    purpose = by_keyword(telecom, keyword)
    purpose_id, _groups = SMS_KEYWORDS[keyword]
    assert purpose.id == purpose_id
    assert purpose.controllers == ["lmt"]
    assert purpose.legal_basis == "consent"
    assert purpose.consent_channels == ["portal", "sms", "staff", "api"]
    assert purpose.contact_channels == ["phone", "sms"]


@pytest.mark.parametrize("keyword", sorted(SMS_KEYWORDS))
def test_each_sms_keyword_is_offered_to_exactly_the_seed_client_groups(telecom: Policy, keyword: str) -> None:
    _purpose_id, groups = SMS_KEYWORDS[keyword]
    purpose = by_keyword(telecom, keyword)
    assert purpose.eligible_groups is not None
    assert set(purpose.eligible_groups) == groups
    assert len(purpose.eligible_groups) == len(groups)


def test_jaunumi_is_offered_to_own_and_other_operators_clients(telecom: Policy) -> None:
    assert set(by_keyword(telecom, "JAUNUMI").eligible_groups or []) == {"own", "other_operator"}


def test_metadati_is_offered_only_to_own_clients(telecom: Policy) -> None:
    assert by_keyword(telecom, "METADATI").eligible_groups == ["own"]


def test_auto_vieta_and_sadarbiba_are_offered_only_to_own_clients(telecom: Policy) -> None:
    for keyword in ("AUTO", "VIETA", "SADARBIBA"):
        assert by_keyword(telecom, keyword).eligible_groups == ["own"], keyword


def test_sms_purposes_carry_the_seed_wording_in_latvian(telecom: Policy) -> None:
    assert by_keyword(telecom, "JAUNUMI").title.lv == "LMT piedāvājumi"
    assert "noslodzes datus" in by_keyword(telecom, "METADATI").description.lv
    assert "kredītspējas informāciju" in by_keyword(telecom, "AUTO").description.lv
    assert "pieslēguma punkta adresi" in by_keyword(telecom, "VIETA").description.lv
    assert "divu gadu laikā pēc pēdējā darījuma beigām" in by_keyword(telecom, "SADARBIBA").description.lv


def test_offers_and_loyalty_are_direct_marketing_by_calls_and_sms(telecom: Policy) -> None:
    for keyword in ("JAUNUMI", "SADARBIBA"):
        purpose = by_keyword(telecom, keyword)
        assert purpose.direct_marketing, keyword
        assert purpose.dpv_purpose == DPV + "DirectMarketing", keyword
        assert purpose.contact_channels == ["phone", "sms"], keyword


def test_sms_purposes_use_the_closest_dpv_terms(telecom: Policy) -> None:
    assert by_keyword(telecom, "METADATI").dpv_purpose == DPV + "ServicePersonalisation"
    assert by_keyword(telecom, "AUTO").dpv_purpose == "https://w3id.org/dpv/sector/finance#CreditChecking"
    assert by_keyword(telecom, "VIETA").dpv_purpose == DPV + "ProvidePersonalisedRecommendations"


def test_sms_purposes_process_the_data_their_row_names(telecom: Policy) -> None:
    assert "ecomm-metadata" in by_keyword(telecom, "METADATI").data_categories
    assert "creditworthiness" in by_keyword(telecom, "AUTO").data_categories
    assert "location" in by_keyword(telecom, "VIETA").data_categories
    assert set(by_keyword(telecom, "SADARBIBA").data_categories) == {
        "contact",
        "loyalty-transactions",
        "creditworthiness",
    }


def test_sms_keywords_are_sent_to_short_number_29307777(telecom: Policy) -> None:
    [number] = telecom.sms
    assert number.number == "29307777" and number.controller == "lmt"  # T: the SMS table, LMT's consents
    keyword_purposes = [p for p in telecom.purposes if p.sms_keyword]
    assert len(keyword_purposes) == 5
    assert all(p.controllers == ["lmt"] for p in keyword_purposes)


def test_email_tracking_is_an_lmt_consent_purpose_over_email(telecom: Policy) -> None:
    purpose = telecom.purpose("lmt", "email-tracking")
    assert purpose is not None
    assert purpose.controllers == ["lmt"]
    assert purpose.legal_basis == "consent"
    assert purpose.sms_keyword is None
    assert purpose.consent_channels == ["portal", "staff", "api", "email_link"]
    assert purpose.contact_channels == ["email"]
    assert purpose.direct_marketing
    assert "email-interaction" in purpose.data_categories
    assert telecom.purpose("lmt-retail", "email-tracking") is None


def test_service_provision_is_a_contract_purpose_of_both_controllers(telecom: Policy) -> None:
    for controller in ("lmt", "lmt-retail"):
        purpose = telecom.purpose(controller, "service")
        assert purpose is not None, controller
        assert purpose.legal_basis == "contract"
        assert purpose.consent_channels == []


def test_website_access_logs_are_kept_under_legitimate_interest(telecom: Policy) -> None:
    purpose = telecom.purpose("lmt", "website-logs")
    assert purpose is not None
    assert purpose.legal_basis == "legitimate_interest"
    assert set(purpose.data_categories) == {"website-access-log", "speed-test-results"}
    log_title = next(c.title for c in telecom.data_categories if c.id == "website-access-log")
    for item in ("IP adrese", "interneta servisa nodrošinātājs", "apmeklējuma laiks", "aplūkotās sadaļas"):
        assert item in log_title.lv


def test_telecom_data_categories_cover_what_the_seed_names(telecom: Policy) -> None:
    assert {c.id for c in telecom.data_categories} >= {
        "identification",
        "contact",
        "ecomm-metadata",
        "location",
        "loyalty-transactions",
        "creditworthiness",
        "website-access-log",
        "speed-test-results",
        "email-interaction",
    }


def test_loyalty_data_are_kept_two_years_after_the_last_transaction(telecom: Policy) -> None:
    rule = only(telecom.retention_rules, purpose="loyalty", anchor="last_transaction")
    assert rule.period == Duration(years=2)
    assert rule.period is not None and rule.period.iso() == "P2Y"
    assert set(rule.data_categories) == {"contact", "loyalty-transactions", "creditworthiness"}


def test_consent_based_telecom_data_are_kept_until_withdrawal(telecom: Policy) -> None:
    for purpose in telecom.purposes:
        if purpose.needs_consent:
            rule = only(telecom.retention_rules, purpose=purpose.id, anchor="consent_withdrawal")
            assert rule.period is None, purpose.id


def test_access_logs_are_kept_for_a_configured_twelve_months_from_collection(telecom: Policy) -> None:
    rule = only(telecom.retention_rules, purpose="website-logs")
    assert rule.period == Duration(months=12)
    assert rule.anchor == "collection"


def test_tsc_repairs_devices_for_the_retail_arm_under_a_contract_in_force(telecom: Policy) -> None:
    tsc = only(telecom.processors, id="tsc")
    assert tsc.controllers == ["lmt-retail"]
    assert tsc.purposes == ["device-repair"]
    assert tsc.contract.status == "in_force"
    assert not tsc.transfer_outside_eea


def test_telecom_cookies_are_functional_required_plus_optional_analytics_and_marketing(
    telecom: Policy,
) -> None:
    required = {c.id: c.required for c in telecom.cookie_categories}
    assert required == {"functional": True, "analytics": False, "marketing": False}


def test_telecom_deadlines_are_the_gdpr_defaults(telecom: Policy) -> None:
    assert telecom.deadlines.dsr_response_days == 30
    assert telecom.deadlines.breach_notification_hours == 72


# --- Seed R: Lytagra --------------------------------------------------------------------------


def test_retailer_policy_is_the_june_2018_lytagra_group_version(retailer: Policy) -> None:
    assert retailer.id == "lytagra-group"
    assert retailer.version == "2018-06"
    assert retailer.policy.published == date(2018, 6, 1)


def test_retailer_controllers_are_the_parent_and_every_listed_subsidiary(retailer: Policy) -> None:
    names = {c.id: (c.legal_name, c.country) for c in retailer.controllers}
    assert names == {
        "lytagra-lv": ('AS „Lytagra"', "LV"),
        "lytagra-lt": ('AB „Lytagra"', "LT"),
        "klaipedos-lytagra": ('UAS „Klaipėdos Lytagra"', "LT"),
        "panevezio-lytagra": ('UAS „Panevėžio Lytagra"', "LT"),
        "vilniaus-lytagra": ('AS „Vilniaus Lytagra"', "LT"),
        "lytagros-zub": ("Lytagros ŽŪB", "LT"),
        "okainiu-zub": ("Ķēdaiņu r. Okainių ŽŪB", "LT"),
    }
    # The seed states no registration numbers; none may be invented.
    for controller in retailer.controllers:
        assert controller.registration_number is None, controller.id


def test_retailer_can_be_reached_by_the_seed_email_and_phone(retailer: Policy) -> None:
    lytagra = retailer.controller("lytagra-lv")
    assert lytagra is not None
    assert lytagra.contact.email == "lytagra@lytagra.lv"
    assert lytagra.contact.phone == "+371 27839555"
    assert lytagra.contact.url == "https://www.lytagra.lv"


def test_retailer_clients_are_the_default_group(retailer: Policy) -> None:
    assert retailer.default_client_group == "client"
    assert "client" in {g.id for g in retailer.client_groups}


def test_retailer_processes_only_name_email_address_and_phone(retailer: Policy) -> None:
    assert {c.id for c in retailer.data_categories} == {"name", "email", "address", "phone"}
    for purpose in retailer.purposes:
        assert set(purpose.data_categories) == {"name", "email", "address", "phone"}, purpose.id


def test_service_provision_rests_on_the_contract_for_every_company(retailer: Policy) -> None:
    for controller in retailer.controllers:
        purpose = retailer.purpose(controller.id, "service")
        assert purpose is not None, controller.id
        assert purpose.legal_basis == "contract"
        assert not purpose.direct_marketing


def test_retailer_direct_marketing_needs_consent_and_reaches_post_phone_email_and_sms(
    retailer: Policy,
) -> None:
    purpose = retailer.purpose("lytagra-lv", "direct-marketing")
    assert purpose is not None
    assert purpose.legal_basis == "consent"
    assert purpose.direct_marketing
    assert purpose.dpv_purpose == DPV + "DirectMarketing"
    assert set(purpose.consent_channels) == {"portal", "staff", "email_link", "api", "post"}
    assert set(purpose.contact_channels) == {"email", "phone", "post", "sms"}


def test_service_data_are_kept_ten_years_after_the_last_order_except_for_the_state_archive(
    retailer: Policy,
) -> None:
    rule = only(retailer.retention_rules, purpose="service")
    assert rule.period == Duration(years=10)
    assert rule.anchor == "last_order"
    assert rule.archive_exemption
    assert rule.action == "delete"


def test_direct_marketing_data_are_kept_until_consent_is_withdrawn(retailer: Policy) -> None:
    rule = only(retailer.retention_rules, purpose="direct-marketing")
    assert rule.anchor == "consent_withdrawal"
    assert rule.period is None


def test_delivery_partners_get_only_what_delivery_needs(retailer: Policy) -> None:
    delivery = only(retailer.processors, id="delivery-partners")
    assert set(delivery.data_categories) == {"name", "address", "phone"}
    assert delivery.purposes == ["service"]
    assert delivery.contract.status == "in_force"


def test_processors_serve_only_contract_performance(retailer: Policy) -> None:
    for processor in retailer.processors:
        assert processor.purposes == ["service"], processor.id
        assert not processor.transfer_outside_eea, processor.id


def test_retailer_cookie_categories_are_exactly_those_of_section_4_3(retailer: Policy) -> None:
    categories = [(c.id, c.required) for c in retailer.cookie_categories]
    assert categories == [
        ("functional", True),
        ("development", False),
        ("analytics", False),
        ("marketing", False),
    ]
    analytics = only(retailer.cookie_categories, id="analytics")
    assert "reklāmas efektivitātes" in analytics.description.lv


def test_retailer_deadlines_are_those_of_the_seed(retailer: Policy) -> None:
    deadlines = retailer.deadlines
    assert deadlines.dsr_response_days == 30
    assert deadlines.marketing_objection_hours == 72
    assert deadlines.breach_notification_hours == 72
    assert deadlines.repeat_request_months == 6


def test_only_the_auto_consent_covers_automated_decisions(telecom: Policy) -> None:
    assert [p.sms_keyword for p in telecom.purposes if p.automated_decision] == ["AUTO"]
