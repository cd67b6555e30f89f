"""The stream topology, declared once: the stages in the order a comment travels, what each reads
and publishes, the keyed state each reaches, and the internal topics and table of a stage group.
The Faust wiring (stream.py), the offline runner (pipeline.py), `check`, the README diagram and
tests/unit/test_topology.py read it from here.

    producers ──► comments ──► [links ─► duplicates ─► spam ─► decide] ──► verdicts
                     │            │            │          │
                     │            ▼            ▼          ▼
                     │       verdicts.links  verdicts.duplicates  verdicts.spam
                     └─(invalid)──► comments.dlq
    keyed state, one scatter and one gather per comment:
      links ─ domain sightings (by registrable domain) · duplicates ─ index shards (by band key)
      spam ─ author activity (by author)
    feedback ──► spam model (compacted streamproc.model, read by every worker)

A worker runs one *stage group*: consecutive stages, chained in one pass over each comment (each
stage's verdict is still published, but never read back by the same process). A group reads the
comments topic, or the previous stage's verdict topic when the stages before it run elsewhere.
Each group is its own consumer group with its own internal topics:

- `<group>-state-changelog`: the group's one table ("state") of keyed state, partitioned like its
  input topic; every key lives on the partition `state_partition(key)` names;
- `<group>-state-requests` / `<group>-state-replies`: a comment's state operations on partitions
  owned by another worker of the group go there (one request per partition, one reply each).
  Partitions this worker owns are served in place, without a Kafka hop.

All of a group's topics have the partition count of its input topic, so Faust assigns partition p
of each to the same worker (co-partitioning): the owner of input partition p also owns state
partition p and receives the replies sent to p.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from streamproc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class StateKind:
    """Keyed state a stage reaches for each comment, stored in its group's state table."""

    name: str
    prefix: bytes  # table keys of this kind start with it
    key: str  # what the state is keyed (and partitioned) by
    what: str


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    output: str  # role in config.Topics of the topic it publishes
    state: tuple[str, ...]  # StateKind names
    what: str


STATE_KINDS = {
    k.name: k
    for k in (
        StateKind("campaigns", b"c", "registrable domain", "recent comments linking the domain"),
        StateKind("index", b"d", "band key", "the duplicate index shard that owns the key"),
        StateKind("authors", b"a", "author", "the author's recent comments"),
    )
}

STAGES = (
    StageSpec("links", "links", ("campaigns",), "every URL, normalised to registrable domains"),
    StageSpec("duplicates", "duplicates", ("index",), "exact and near repeats over a bounded window"),
    StageSpec("spam", "spam", ("authors",), "a spam score with reasons; learns from feedback"),
    StageSpec("decide", "verdicts", (), "approve / hold / reject with every reason"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)

STATE_TABLE = "state"
REQUESTS = "state-requests"
REPLIES = "state-replies"


def state_partition(key: str | bytes, partitions: int) -> int:
    """The state partition that owns `key` (stable across processes and machines)."""
    data = key.encode() if isinstance(key, str) else key
    return zlib.crc32(data) % partitions


@dataclass(frozen=True, slots=True)
class Group:
    """The stages one worker runs: consecutive, in travel order."""

    stages: tuple[StageSpec, ...]
    group_id: str  # consumer group, Faust app id and prefix of the internal topics

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def input(self) -> str:
        """Role (in config.Topics) of the topic the group reads."""
        first = STAGES.index(self.stages[0])
        return "comments" if first == 0 else STAGES[first - 1].output

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(s.output for s in self.stages)

    @property
    def state(self) -> tuple[StateKind, ...]:
        return tuple(STATE_KINDS[k] for s in self.stages for k in s.state)

    @property
    def changelog(self) -> str:
        return f"{self.group_id}-{STATE_TABLE}-changelog"  # Faust's name for the table's topic

    @property
    def requests(self) -> str:
        return f"{self.group_id}-{REQUESTS}"

    @property
    def replies(self) -> str:
        return f"{self.group_id}-{REPLIES}"

    @property
    def feedback_queue(self) -> str | None:
        """One-partition topic that funnels moderators' labels to a single worker of the group
        that runs the spam stage (which publishes new model versions)."""
        return f"{self.group_id}-spam-feedback" if "spam" in self.names else None

    @property
    def internal_topics(self) -> tuple[str, ...]:
        """Internal topics the group needs, partitioned like its input (the feedback queue aside)."""
        return (self.changelog, self.requests, self.replies) if self.state else ()


def group_for(stages: tuple[str, ...], app_id: str) -> Group:
    """The group of `stages` (any order given; they must be consecutive)."""
    unknown = set(stages) - set(STAGE_NAMES)
    if unknown or not stages:
        raise ConfigError(f"stages {','.join(stages)!r} is invalid: choose from {','.join(STAGE_NAMES)}")
    chosen = tuple(s for s in STAGES if s.name in stages)
    first = STAGES.index(chosen[0])
    if chosen != STAGES[first : first + len(chosen)]:
        raise ConfigError(
            f"stages {','.join(s.name for s in chosen)} are not consecutive: a group runs a run of "
            f"{' -> '.join(STAGE_NAMES)} (e.g. links,duplicates and spam,decide)"
        )
    whole = len(chosen) == len(STAGES)
    group_id = app_id if whole else "-".join((app_id, *(s.name for s in chosen)))
    return Group(chosen, group_id)


def all_groups(app_id: str) -> list[Group]:
    """Every stage group a deployment of `app_id` can run: each run of consecutive stages."""
    return [
        group_for(tuple(s.name for s in STAGES[i:j]), app_id)
        for i in range(len(STAGES))
        for j in range(i + 1, len(STAGES) + 1)
    ]


def diagram() -> str:
    """The stage table of the README, derived from STAGES (a test keeps the README in step)."""
    lines = ["| stage | reads | publishes | keyed state |", "|---|---|---|---|"]
    previous = "comments"
    for s in STAGES:
        state = ", ".join(f"{STATE_KINDS[k].name} (by {STATE_KINDS[k].key})" for k in s.state) or "none"
        lines.append(f"| `{s.name}` | `{previous}` | `{_topic_name(s.output)}` | {state} |")
        previous = _topic_name(s.output)
    return "\n".join(lines)


def _topic_name(role: str) -> str:
    from streamproc.config import Topics

    return str(getattr(Topics(), role))
