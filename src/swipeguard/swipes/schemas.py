"""What a till posts and what the API answers about swipes.

A swipe is posted as JSON (``Content-Type: application/json``)::

    {"card_no": "8800123456", "swiped_at": "2026-03-01T09:15:02+08:00",
     "amount": "42.50", "idempotency_key": "till7-000913",
     "still": "<base64 of a JPEG>", "wait": true}

``amount`` is a decimal string in the currency's main unit (at most two decimals), so
no cent is lost to floating point. ``still`` is optional: without it the face is taken
from the till's camera around ``swiped_at``. ``wait`` (or ``?wait=true``) holds the
answer until the verdict is known or ``verification.decision_deadline_s`` has passed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Swipe, SwipeState, Verdict
from swipeguard.swipes.service import advice

# As the card holder register keeps them (``cardholders.service.CARD_NO``).
CARD_NO = r"^[0-9A-Za-z]{6,32}$"
# Up to 9,999,999.99: far above any pharmacy or clinic bill, so a larger number is a
# till's error (cents sent as units, a misplaced separator), not a purchase.
# ASCII digits only: `\d` would also take other scripts' digits.
AMOUNT = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
# Visible ASCII only: keys come from till software (UUIDs, counters), never from people.
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,100}$"


class SwipeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    card_no: str = Field(pattern=CARD_NO, description="the card number as printed")
    swiped_at: AwareDatetime = Field(description="ISO 8601 time with its zone")
    amount: str = Field(pattern=AMOUNT, description="decimal string, e.g. \"42.50\"")
    idempotency_key: str = Field(
        pattern=IDEMPOTENCY_KEY, max_length=100,
        description="unique per till; a retry with the same key returns the first swipe",
    )
    still: str | None = Field(None, description="base64 of a JPEG of the person at the till")
    wait: bool = Field(False, description="wait for the verdict (pre-payment check)")

    def amount_cents(self) -> int:
        return int(Decimal(self.amount) * 100)


class SwipeOut(BaseModel):
    swipe_id: int
    till_id: int
    till_name: str | None = None  # "Riverside Pharmacy / Till 2"
    card: str  # masked: ****1234
    swiped_at: datetime
    amount: str
    state: SwipeState
    verdict: Verdict | None
    distance: float | None
    threshold: float | None
    reason: str | None
    advice: str  # proceed | decline | check_id | pending
    has_still: bool
    decided_at: datetime | None

    @classmethod
    def of(cls, swipe: Swipe, *, till_name: str | None = None) -> SwipeOut:
        return cls(
            swipe_id=swipe.id, till_id=swipe.till_id, till_name=till_name,
            card=mask_card(swipe.card_no),
            swiped_at=swipe.swiped_at, amount=f"{Decimal(swipe.amount_cents) / 100:.2f}",
            state=swipe.state, verdict=swipe.verdict, distance=swipe.distance,
            threshold=swipe.threshold, reason=swipe.reason, advice=advice(swipe),
            has_still=swipe.still_path is not None, decided_at=swipe.decided_at,
        )


class CaptureOut(BaseModel):
    capture_id: int
    source: str
    frames_used: int
    face_px: int
    sharpness: float
    frontal: float
    detection_score: float


class SwipeDetailOut(SwipeOut):
    card_holder_id: int | None
    attempts: int
    captures: list[CaptureOut]

    @classmethod
    def detail(cls, swipe: Swipe, *, till_name: str | None = None) -> SwipeDetailOut:
        captures = [
            CaptureOut(capture_id=c.id, source=c.source.value, frames_used=c.frames_used,
                       face_px=c.face_px, sharpness=c.sharpness, frontal=c.frontal,
                       detection_score=c.detection_score)
            for c in swipe.captures
        ]
        return cls(**SwipeOut.of(swipe, till_name=till_name).model_dump(),
                   card_holder_id=swipe.card_holder_id,
                   attempts=swipe.attempts, captures=captures)
