"""Every stage over comments in order, offline, on one local partition of state: the same steps
and cores as the stream (chain.py), so `streamproc check`, `eval`, `train` and the tests judge a
comment exactly as a one-partition stream does. No Kafka here."""

from __future__ import annotations

import time
from typing import Any

from streamproc.chain import Chain, Finished, serve_here
from streamproc.config import Settings
from streamproc.events import Envelope
from streamproc.stages import build_stages
from streamproc.stages.duplicates import duplicate_config
from streamproc.stages.stage import ApplyContext, Stage
from streamproc.state import LocalState
from streamproc.topology import STAGE_NAMES, group_for


class OfflinePipeline:
    def __init__(self, settings: Settings) -> None:
        self.group = group_for(STAGE_NAMES, settings.app_id)
        self.stages = build_stages(settings, self.group)
        self.state = LocalState(duplicate_config(settings))
        self.chain = Chain(self.stages, self.state.partitions)

    def stage(self, name: str) -> Any:
        """A stage step by name (e.g. to give the spam stage a model)."""
        found: Stage = next(s for s in self.stages if s.spec.name == name)
        return found

    def run(self, env: Envelope) -> Finished:
        """All stages over one comment; its state is remembered for the next ones."""
        work = self.chain.begin(env)
        ctx = ApplyContext(wall=time.time())
        for q in list(work.by_partition):
            serve_here(self.chain, work, q, self.state.local(q), ctx)
        return self.chain.finish(work)
