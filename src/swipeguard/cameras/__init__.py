"""Counter cameras: recording, segments, clips and retention."""
