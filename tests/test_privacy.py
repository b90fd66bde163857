import logging

from swipeguard.privacy import MaskCardPaths, keyed_hash, mask_card, mask_card_paths


def test_a_card_number_in_a_request_address_is_masked() -> None:
    assert mask_card_paths("/api/card-holders/880000000001/photos/3") == (
        "/api/card-holders/****0001/photos/3")
    assert mask_card_paths("/api/cards/880000000001/timeline?since=x") == (
        "/api/cards/****0001/timeline?since=x")
    assert mask_card_paths("/api/alarms/12") == "/api/alarms/12"
    assert mask_card_paths("/api/cases?limit=5&card_no=880000409901&x=1") == (
        "/api/cases?limit=5&card_no=****9901&x=1")
    assert mask_card_paths("/api/cases?card_no=880000409901") == "/api/cases?card_no=****9901"
    assert mask_card_paths("/api/cases?card%5Fno=880000409901") == (
        "/api/cases?card%5Fno=****9901")
    assert "880000409901" not in mask_card_paths("/api/cards/880000409901%2Ftimeline")
    assert mask_card_paths("/api/swipes/1234567/clip") == "/api/swipes/1234567/clip"


def test_the_access_log_writes_no_card_number() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/card-holders/880000000001", "1.1", 401), None,
    )

    MaskCardPaths().filter(record)

    assert "880000000001" not in record.getMessage()
    assert "****0001" in record.getMessage()


def test_keyed_hashes_match_the_same_id_and_hide_it() -> None:
    a = keyed_hash("k", "110101199001011234")

    assert a == keyed_hash("k", " 110101199001011234 ")
    assert a != keyed_hash("other key", "110101199001011234")
    assert "1234" not in a
    assert mask_card("12") == "****"
