"""The project's labelled corpora split by source, for leave-one-source-out measurements:
made-up music videos (gen/video.py), and whole corpora (news comments from gen/labelled.py,
short messages from gen/messages.py, video comments).

Each source comes in two phrasings: `dev` to train on, `test` to judge, so a figure says how a
model does on a source it never saw, written in wording it never saw.
"""

from __future__ import annotations

from streamproc.gen.labelled import (
    HELDOUT_NICHES,
    HELDOUT_TOPICS,
    TRAIN_NICHES,
    TRAIN_TOPICS,
    Labelled,
    labelled_corpus,
)
from streamproc.gen.messages import message_corpus
from streamproc.gen.video import SOURCES, video_corpus

# Sources whose public counterparts are plain text-and-label files (no authors, no times).
TEXT_ONLY = frozenset({"messages", "video", *(s.name for s in SOURCES)})


def video_sources(n: int, split: str, seed: int) -> dict[str, list[Labelled]]:
    """`n` comments under each made-up video."""
    return {
        src.name: video_corpus(n, seed=seed + k, split=split, sources=[src], prefix=f"{src.name}-{split}")
        for k, src in enumerate(SOURCES)
    }


def corpus_sources(n: int, split: str, seed: int) -> dict[str, list[Labelled]]:
    """`n` news comments, messages and video comments."""
    topics, niches = (TRAIN_TOPICS, TRAIN_NICHES) if split == "dev" else (HELDOUT_TOPICS, HELDOUT_NICHES)
    return {
        "news": labelled_corpus(n, seed=seed, topics=topics, niches=niches, prefix=f"news-{split}"),
        "messages": message_corpus(n, seed=seed + 1, split=split, prefix=f"msg-{split}"),
        "video": video_corpus(n, seed=seed + 2, split=split, prefix=f"vid-{split}"),
    }
