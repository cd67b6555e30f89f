"""What each stage computes from an envelope: the one implementation used by the Faust stages
and by the offline tools (`check`). No Kafka here."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamproc.config import Settings
from streamproc.detect.decide import SiteThresholds, Thresholds, decide
from streamproc.detect.duplicates import (
    DuplicateConfig,
    Probe,
    check_duplicate,
    is_empty,
    offline_shard,
    probe,
)
from streamproc.detect.features import observe_author
from streamproc.detect.links import DomainLists, DomainListsFile, add_campaign, assess_links
from streamproc.detect.model import LinearModel
from streamproc.detect.spam import score_spam
from streamproc.errors import ConfigError
from streamproc.events import Envelope, StageResult

History = MutableMapping[str, Any]  # state key -> rows (a Faust table or a dict)


def load_domain_lists(path: str) -> DomainLists:
    """Read deny/allow/shortener lists from a JSON file; empty path gives the defaults."""
    return DomainListsFile(path).lists


def load_spam_model(path: str) -> LinearModel:
    """The spam model from a file written by `streamproc train`; empty path: rules only."""
    if not path:
        return LinearModel.untrained()
    try:
        return LinearModel.from_bytes(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"spam_model file {path!r} could not be read: {exc}") from None


@dataclass(slots=True)
class StageLogic:
    """The detection logic of all stages, configured once per worker."""

    settings: Settings
    domain_lists: DomainListsFile = field(init=False)  # re-read when the file changes
    link_campaigns: History = field(init=False)  # domain -> recent sightings; offline path only
    thresholds: Thresholds = field(init=False)
    site_thresholds: SiteThresholds = field(init=False)
    spam_model: LinearModel = field(init=False)  # replaced by the stage when the model topic moves on
    spam_authors: History = field(init=False)  # author -> recent comments; offline path only
    duplicate_config: DuplicateConfig = field(init=False)

    def __post_init__(self) -> None:
        self.domain_lists = DomainListsFile(self.settings.domain_lists)
        self.link_campaigns = {}
        self.thresholds = Thresholds(self.settings.hold_threshold, self.settings.reject_threshold)
        sites = {k: Thresholds(*v) for k, v in self.settings.thresholds_by_site().items()}
        self.site_thresholds = SiteThresholds(self.thresholds, sites)
        self.spam_model = load_spam_model(self.settings.spam_model)
        self.spam_authors = {}
        self.duplicate_config = DuplicateConfig(
            window=self.settings.duplicate_window,
            threshold=self.settings.duplicate_threshold,
            max_comments=self.settings.duplicate_max_comments,
        )

    @property
    def lists(self) -> DomainLists:
        """The domain lists in force now."""
        return self.domain_lists.current()

    def link_findings(self, env: Envelope) -> StageResult:
        """The links stage without campaign state: what the comment's text shows."""
        return assess_links(env.comment.text, self.lists)

    def link_campaign(self, env: Envelope, found: StageResult, campaigns: History) -> StageResult:
        """Add domain-campaign evidence from `campaigns` (domain -> sightings) and update it."""
        c = env.comment
        return add_campaign(
            found, campaigns, comment_id=c.id, author=c.author_key, thread_id=c.thread_id, now=c.posted_at
        )

    def links(self, env: Envelope, campaigns: History | None = None) -> StageResult:
        """The links stage; `campaigns` is a Faust table keyed by domain in the stream, the
        worker's own dict offline."""
        campaigns = self.link_campaigns if campaigns is None else campaigns
        return self.link_campaign(env, self.link_findings(env), campaigns)

    def duplicate_key(self, env: Envelope) -> Probe | None:
        """The duplicate index keys of a comment, or None when it has none (empty or junk)."""
        c = env.comment
        if is_empty(c.text):
            return None
        return probe(self.duplicate_config, c.id, c.author_key, c.thread_id, c.posted_at, c.text)

    def duplicates(self, env: Envelope, history: History) -> StageResult:
        """Check against and update `history` (the whole index: one shard), as the stream does
        on a single partition."""
        c = env.comment
        shard = history.get("duplicates")  # the offline index: one shard over two dicts
        if shard is None:
            shard = history["duplicates"] = offline_shard(self.duplicate_config)
        return check_duplicate(shard, c.id, c.author_key, c.thread_id, c.posted_at, c.text)

    @staticmethod
    def spam_key(env: Envelope) -> str:
        """The spam stage's state key: the author (posting rate), else the comment itself."""
        key = env.comment.author_key
        return f"author:{key}" if key else f"comment:{env.comment.id}"

    def spam(self, env: Envelope, authors: History | None = None) -> StageResult:
        """Score with the current model; `authors` (a Faust table in the stream, a dict offline)
        holds each author's recent comments for the posting rate and first sighting."""
        authors = self.spam_authors if authors is None else authors
        c = env.comment
        activity = None
        if c.author_key:
            key = self.spam_key(env)
            activity, authors[key] = observe_author(authors.get(key, []), c.id, c.posted_at)
        return score_spam(
            c,
            env.stages,
            model=self.spam_model,
            activity=activity,
            thresholds=self.site_thresholds.for_site(c.site),
        )

    def decide(self, env: Envelope) -> tuple[str, StageResult]:
        return decide(env.stages, self.site_thresholds.for_site(env.comment.site))

    def run_all(self, env: Envelope, history: History) -> tuple[str, StageResult]:
        """All stages in order, as the streaming pipeline chains them (used by `check`)."""
        env.stages["links"] = self.links(env)
        env.stages["duplicates"] = self.duplicates(env, history)
        env.stages["spam"] = self.spam(env)
        return self.decide(env)
