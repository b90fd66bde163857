"""Timestamps a camera gets wrong (jumps, repeats, gaps, drift) never corrupt a segment."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import av

from camera_support import play
from swipeguard.cameras.audio import audio_out
from swipeguard.cameras.clock import WallClock
from swipeguard.cameras.segments import SegmentWriter
from swipeguard.cameras.sources import TimedPacket

T = 1_780_000_000.0  # an epoch second in 2026


def feed(clock: WallClock, times: list[tuple[float | None, float]]) -> list[float]:
    return [clock.wall(0, t, received) for t, received in times]


def test_receive_jitter_maps_to_the_least_delayed_arrival() -> None:
    rng = random.Random(7)
    captured = [i / 30 for i in range(900)]  # 30 s at 30 fps
    times = [(t, T + t + 0.04 + rng.uniform(0, 0.3)) for t in captured]
    clock = WallClock()

    clock.settle(times[:30])  # as a live source does with its first second
    walls = feed(clock, times)

    errors = [w - (T + t) for w, t in zip(walls, captured, strict=True)]
    assert all(b > a for a, b in zip(walls, walls[1:], strict=False))
    assert max(abs(e - 0.04) for e in errors[60:]) < 0.02


def test_a_camera_clock_running_slow_or_fast_is_followed() -> None:
    for rate in (0.998, 1.002):  # 2000 ppm, forty times a poor crystal's error
        captured = [i / 30 for i in range(30 * 120)]
        times = [(t * rate, T + t + 0.05) for t in captured]

        walls = feed(WallClock(), times)

        assert abs(walls[-1] - (T + captured[-1] + 0.05)) < 0.1, rate


def test_a_jump_in_camera_time_reanchors_on_the_receive_time() -> None:
    clock = WallClock()
    feed(clock, [(i / 30, T + i / 30) for i in range(60)])

    forward = clock.wall(0, 3600.0, T + 2.05)  # camera clock leapt an hour ahead
    back = clock.wall(0, 0.0, T + 2.10)  # camera restarted its timestamps

    assert abs(forward - (T + 2.05)) < 1e-6
    assert abs(back - (T + 2.10)) < 1e-6


def test_a_burst_of_late_packets_at_connect_does_not_delay_the_recording() -> None:
    clock = WallClock()
    burst = [(i / 30, T + 2.0) for i in range(60)]  # two seconds buffered, then live
    live = [(2 + i / 30, T + 2 + i / 30 + 0.03) for i in range(30)]

    clock.settle(burst + live)
    walls = feed(clock, burst + live)

    assert abs(walls[0] - (T + 0.03)) < 1e-6
    assert all(b > a for a, b in zip(walls, walls[1:], strict=False))


def test_missing_timestamps_fall_back_to_the_receive_time() -> None:
    clock = WallClock()
    feed(clock, [(i / 30, T + i / 30) for i in range(30)])

    wall = clock.wall(0, None, T + 1.5)

    assert wall >= T + 29 / 30


class ListIndex:
    """Keeps what a writer reports, in place of the database."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, object]] = {}

    def opened(self, *, path: str, started_at: datetime, video_codec: str,
               audio_codec: str | None) -> int:
        self.rows[len(self.rows) + 1] = {"path": path, "started_at": started_at}
        return len(self.rows)

    def closed(self, *, segment_id: int, ended_at: datetime, size_bytes: int) -> None:
        self.rows[segment_id].update(ended_at=ended_at, size=size_bytes)


def test_repeated_backward_and_jumping_times_still_make_playable_monotonic_segments(
    samples: Path, tmp_path: Path,
) -> None:
    source = av.open(str(samples / "video" / "short_hamilton_clip.mp4"))
    video, audio = source.streams.video[0], source.streams.audio[0]
    index = ListIndex()
    writer = SegmentWriter(data_dir=tmp_path, camera_id=1, segment_seconds=2.0, video=video,
                           audio=audio_out(audio), index=index)
    # Packet number -> seconds added to its time: a repeat, a step back, a jump ahead
    # and a leap back.
    disturb = {40: -1 / 30, 41: -0.5, 90: 5.0, 150: -2.0}

    for n, packet in enumerate(source.demux(video, audio)):
        if packet.size == 0 or packet.pts is None:
            continue
        wall = T + float(packet.pts * packet.time_base) + disturb.get(n, 0.0)
        writer.write(TimedPacket(packet=packet, kind=packet.stream.type, wall=wall, lead=0.0,
                                 duration=float((packet.duration or 0) * packet.time_base)))
    writer.close()
    source.close()

    assert len(index.rows) >= 3
    for row in index.rows.values():
        path = tmp_path / str(row["path"])
        assert play(path).video_frames > 0
        with av.open(str(path)) as segment:
            dts = [p.dts for p in segment.demux(video=0) if p.dts is not None]
        assert all(b > a for a, b in zip(dts, dts[1:], strict=False)), row["path"]
        assert row["ended_at"] >= row["started_at"]  # type: ignore[operator]
