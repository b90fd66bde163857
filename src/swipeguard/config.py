"""One validated settings model for the whole system.

Every setting has a title, a default, bounds and an environment variable
(``SWIPEGUARD_<SECTION>__<NAME>``, or ``SWIPEGUARD_<NAME>`` for top-level ones).
Unknown keys are errors.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaceSettings(Section):
    engine: str = Field("dlib", title="Face backend (a name in faces.service.ENGINES)")
    workers: int = Field(2, ge=1, le=64, title="Processes computing face descriptors")
    upsample: int = Field(1, ge=0, le=3, title="Times the detector upsamples an image")
    # dlib's own cut (0.0) lets partial and merged faces through; they score 0.0-0.2 on
    # the samples while real faces score 0.26+ (1st pct): see faces/dlib_engine.py.
    min_detection_score: float = Field(
        0.2, ge=-2.0, le=3.0,
        title="HOG detection score below which a detection is dropped",
    )
    min_face_px: int = Field(60, ge=20, le=1000, title="Smallest face (eye-to-mouth box side, px)")
    max_image_pixels: int = Field(
        40_000_000, ge=1_000_000, le=400_000_000, title="Largest image accepted, in pixels"
    )
    enrol_jitter: int = Field(
        5, ge=0, le=100, title="Jittered copies averaged into an enrolment descriptor"
    )


class VerificationSettings(Section):
    # Measured with `swipeguard bench verification` on LFW's development folds (enrolment
    # photo: jitter 5 + mirror; capture: mirrored, no jitter; distances at one common
    # length; 5.1 million different-person pairs for the false-accept rate). At 0.59:
    # accuracy 0.991 on the 3,000 pairs, 98.4% of genuine pairs accepted, 6.5e-3 of
    # strangers accepted (dlib's usual 0.60: accuracy 0.990, 9.1e-3). 0.54 would hold
    # strangers to 1e-3 but alarm on 5.6% of honest swipes instead of 1.6%: three times
    # the operators' false alarms to stop a stranger who, at 0.59, still fails 99.3% of the
    # time. The fused frames of a real capture accept more genuine holders than one LFW
    # photo does.
    threshold: float = Field(
        0.59, gt=0.0, lt=2.0,
        title="Euclidean distance at or below which a capture matches the card holder",
    )
    # On top of the threshold: a face nearer another enrolled holder's photo than the card
    # holder's is a mismatch (`swipeguard bench populations`: different-person pairs
    # accepted on Chinese faces fall from 72% to 0, with every genuine pair still kept).
    nearest_enrolled: bool = Field(
        True, title="A face nearer another enrolled card holder than the card's is a mismatch")
    # ...unless it is this near the card's holder: one person enrolled on two cards (or a
    # twin) is not flagged. 1% of Chinese different-person pairs fall below 0.41, half of
    # same-person pairs below 0.28 (`swipeguard bench populations`).
    sure_below: float = Field(
        0.40, ge=0.0, lt=2.0,
        title="Distance under which the card holder is matched whoever else is near")
    decision_deadline_s: float = Field(
        5.0, ge=0.0, le=60.0, title="Longest a till's pre-payment check waits for the verdict"
    )
    alarm_on_no_face: bool = Field(True, title="Open an alarm when no face is seen at a swipe")
    window_before_s: float = Field(3.0, ge=0.0, le=30.0, title="Video seconds before a swipe")
    window_after_s: float = Field(2.0, ge=0.0, le=30.0, title="Video seconds after a swipe")
    frames_fused: int = Field(3, ge=1, le=20, title="Best frames embedded and fused per capture")
    early_decision: bool = Field(
        True, title="Decide from the video before a swipe when it shows the counter's face well"
    )
    claim_timeout_s: float = Field(
        60.0, ge=5.0, le=3600.0, title="A claimed swipe not decided by then is claimed again"
    )
    broker_url: str | None = Field(
        None, pattern=r"^rediss?://",
        title="Redis URL whose streams wake verifiers on other machines; none: in-process",
    )


class RecordingSettings(Section):
    segment_seconds: float = Field(10.0, ge=1.0, le=600.0, title="Length of a recorded segment")
    reconnect_initial_s: float = Field(0.5, ge=0.05, le=60.0, title="First reconnect delay")
    reconnect_max_s: float = Field(30.0, ge=0.5, le=600.0, title="Longest reconnect delay")
    clip_before_s: float = Field(15.0, ge=0.0, le=600.0, title="Clip seconds before a swipe")
    clip_after_s: float = Field(15.0, ge=0.0, le=600.0, title="Clip seconds after a swipe")
    in_serve: bool = Field(
        True, title="swipeguard serve records the cameras (off: `swipeguard record` does)")


class RetentionSettings(Section):
    keep_days: float = Field(30.0, ge=0.01, le=3650.0, title="Days a segment is kept")
    min_free_bytes: int = Field(
        5 * 1024**3, ge=0, title="Free disk space below which the oldest segments go first"
    )
    interval_s: float = Field(600.0, ge=1.0, le=86400.0, title="Seconds between retention runs")


class SearchSettings(Section):
    exact_below: int = Field(
        200_000, ge=10, title="Gallery size below which search is exact (flat index)"
    )
    top_k: int = Field(20, ge=1, le=1000, title="Results returned by a face search")
    # `swipeguard bench search` on galleries fitted to real descriptors: IVF4096 reached
    # recall@10 0.94 at 1M only when probing 6% of the lists; HNSW32 built with
    # efConstruction 40 reached 0.997 at efSearch 1024 in 3.5 ms (1M), and builds twice
    # as fast as with 80. Vectors kept as float16 lose no recall that matters (7M: 0.993
    # against 0.9925) and save 1.8 GB at 7M. efSearch grows with the gallery
    # (investigations/search.py): 4096 at 7M, 21 ms per query.
    approximate: str = Field(
        "HNSW32,SQfp16", min_length=1, max_length=100,
        title="FAISS index factory string of the index used from exact_below on",
    )
    approximate_params: str = Field(
        "efConstruction=40,efSearch=1024", max_length=200,
        title="FAISS parameters of that index (name=value,...)",
    )
    # Measured on all LFW development photos (`swipeguard bench investigation`, grouping;
    # distances at the common length): B-cubed precision/recall 0.93/0.95 at 0.48,
    # 0.96/0.93 at 0.46, 0.88/0.96 at 0.50. 0.48 keeps a person's captures together (LFW
    # spans years; counter captures do not) while two strangers are rarely joined;
    # investigators split what is wrong.
    group_threshold: float = Field(
        0.48, gt=0.0, lt=2.0,
        title="Distance at or below which two non-holder captures are taken as one person",
    )


class RuleSettings(Section):
    many_facilities_count: int = Field(3, ge=2, le=100, title="Facilities in the window to alarm")
    many_facilities_window_h: float = Field(6.0, gt=0, le=168, title="Window for that rule, h")
    max_travel_kmh: float = Field(60.0, gt=0, le=1000, title="Fastest plausible travel, km/h")
    amount_factor: float = Field(5.0, gt=1, le=1000, title="Amount over the holder's median x")
    amount_min_history: int = Field(5, ge=1, le=1000, title="Past swipes needed for that rule")


class ServerSettings(Section):
    host: str = Field("127.0.0.1", title="Address the API and console listen on")
    port: int = Field(8000, ge=1, le=65535, title="Port the API and console listen on")
    session_hours: float = Field(12.0, gt=0, le=720, title="Hours a console sign-in lasts")
    secure_cookies: bool = Field(False, title="Send the session cookie only over HTTPS")
    # 10 MB holds a till's full-resolution JPEG still or an enrolment photo with room to spare.
    max_body_bytes: int = Field(
        10 * 1024**2, ge=1024, le=1024**3, title="Largest request body accepted, bytes"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWIPEGUARD_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(Path("data"), title="Directory for the database, faces and video")
    database_url: str | None = Field(
        None, title="SQLAlchemy URL; default is a SQLite file in the data directory"
    )
    secret_key: str | None = Field(
        None, title="Key for national ID hashes; default is a random key kept in the data dir"
    )
    faces: FaceSettings = FaceSettings()
    verification: VerificationSettings = VerificationSettings()
    recording: RecordingSettings = RecordingSettings()
    retention: RetentionSettings = RetentionSettings()
    search: SearchSettings = SearchSettings()
    rules: RuleSettings = RuleSettings()
    server: ServerSettings = ServerSettings()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'swipeguard.db').resolve()}"

    def path(self, *parts: str) -> Path:
        """A path under the data directory, its parent created."""
        p = self.data_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
