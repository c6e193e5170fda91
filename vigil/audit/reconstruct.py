"""The incident's state after any history event, rebuilt by folding the recorded journal
entries through today's state machine (`vigil.workflows.lifecycle.apply`).

The fold starts from nothing: the `open` entry (the triage) creates the state. A continued
run does not start afresh: its input carries the state the previous run ended with. The fold
checks that this carried state is the one it rebuilt, then goes on from the carried state, as
the workflow itself did (so a drift in today's rules is reported, never compounded). Likewise
every state the workflow recorded itself (each update's result, each projection batch, the
final result) is compared with the fold at that entry, so a reconstruction says not only what
the state was, but that today's rules still rebuild exactly what the workflow did.
"""

from dataclasses import dataclass

from vigil.audit.journal import Journal, Recorded
from vigil.workflows import lifecycle
from vigil.workflows.actions import Refusal
from vigil.workflows.state import Incident


class EventOutOfRange(ValueError):
    pass


@dataclass(frozen=True)
class Check:
    event: int  # where the workflow recorded the state
    after_entry: int
    source: str
    matches: bool


@dataclass(frozen=True)
class StateAfter:
    after_event: int
    events: int  # in the whole history
    entries: int  # journal entries folded
    last: Recorded | None  # the last of them
    state: Incident | None  # None before the triage
    checks: list[Check]  # the workflow's own records up to this event, compared with the fold

    @property
    def verified(self) -> bool:
        return all(check.matches for check in self.checks)


class Reconstruction:
    """Folds a journal once; answers "the state after event N" for any N."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self.problems: list[str] = list(journal.problems)
        self._states: list[Incident | None] = [None]  # _states[k]: after the first k entries
        self._index = {r.entry.entry_no: k + 1 for k, r in enumerate(journal.entries)}
        self._fold()
        self.checks = [
            Check(w.event, w.after_entry, w.source, _same(self.after_entry(w.after_entry), w.state))
            for w in journal.witnesses
        ]

    def _carried(self, run: int) -> Incident | None:
        start = self.journal.starts[run] if run < len(self.journal.starts) else None
        return start.carried.state if start is not None and start.carried is not None else None

    def _fold(self) -> None:
        state: Incident | None = None
        policy = self.journal.policy
        run = 0
        for recorded in self.journal.entries:
            entry = recorded.entry
            while run < recorded.run:  # a new run: it went on from the state it carried
                run += 1
                state = self._carried(run) or state
            if entry.unverified:  # refused before the state machine: who sent it is not known
                pass
            elif entry.action is not None and entry.actor is not None and policy is not None:
                try:
                    after = lifecycle.apply(state, entry.action, entry.actor, entry.at, policy)
                except Refusal as refusal:
                    if not entry.refused:
                        self.problems.append(
                            f"entry {entry.entry_no} ({entry.action.type}): the workflow applied it, "
                            f"today's rules refuse it: {refusal.reason}"
                        )
                else:
                    if entry.refused:
                        self.problems.append(
                            f"entry {entry.entry_no} ({entry.action.type}): the workflow refused it "
                            f"({entry.reason}), today's rules accept it"
                        )
                    else:
                        state = after
            self._states.append(state)

    def after_entry(self, entry_no: int) -> Incident | None:
        """The folded state after journal entry `entry_no` (None before the first)."""
        return self._states[self._index.get(entry_no, 0)]

    def before_entry(self, entry_no: int) -> Incident | None:
        """The folded state just before journal entry `entry_no` was applied."""
        return self._states[max(self._index.get(entry_no, 1) - 1, 0)]

    @property
    def final(self) -> Incident | None:
        return self._states[-1]

    def after_event(self, number: int) -> StateAfter:
        total = self.journal.events
        if not 1 <= number <= total:
            raise EventOutOfRange(f"after_event must be between 1 and {total} (the history has {total} events)")
        folded = [r for r in self.journal.entries if r.applied <= number]
        state = self._states[len(folded)]
        run = self.journal.step(number).run
        if run > 0 and not any(r.run == run for r in folded):  # a new run, before its first entry
            state = self._carried(run) or state
        return StateAfter(
            after_event=number,
            events=total,
            entries=len(folded),
            last=folded[-1] if folded else None,
            state=state,
            checks=[c for c in self.checks if c.event <= number],
        )

    @property
    def verified(self) -> bool:
        return not self.problems and all(check.matches for check in self.checks)


def _same(left: Incident | None, right: Incident | None) -> bool:
    if left is None or right is None:
        return left is right
    return left.model_dump(mode="json") == right.model_dump(mode="json")
