"""The application: one :class:`Phaseout` object is the path for every use case.

The CLI, the web dashboard, the demo, the tests and the benchmarks all go through it, so the
pipeline is wired once: import -> identify -> (choose packs ->) assess -> plan -> work orders ->
verification.  Adapters parse their input, call a method here (or a read in
:mod:`phaseout.queries`), and render.  The rules live in the pure packages (identify, assess,
policy, plan, track, estate); persistence in :mod:`phaseout.store`.

The one rule for re-assessment: choosing policy packs re-assesses the estate when it has been
assessed before, so stored findings never disagree with the packs in use (from the CLI and
the web alike).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phaseout.errors import KnowledgeError, UsageError
from phaseout.store import Store
from phaseout.store.audit import cli_actor
from phaseout.store.engine import writing

if TYPE_CHECKING:
    from phaseout.app.alerts import Delivery, Evaluation
    from phaseout.app.imports import ImportOptions, ImportResult, Progress
    from phaseout.app.scans import ScanOutcome
    from phaseout.app.work import Verification
    from phaseout.assess.device import DeviceAssessment
    from phaseout.discover.scanner import HostResult, ScanSettings
    from phaseout.identify import Identifier
    from phaseout.ingest.prepare import MappedTable
    from phaseout.plan.catalogue import Catalogue
    from phaseout.plan.estate import EstatePlan, PlanSettings
    from phaseout.plan.solve import PlanResult
    from phaseout.policy.packs import PolicyPack
    from phaseout.store.scans import ScanRecord
    from phaseout.store.work import ReturnResult


class Phaseout:
    """One organisation's programme over one store.  ``actor`` is who the audit trail names."""

    def __init__(self, store: Store, *, actor: str | None = None) -> None:
        self.store = store
        self.actor = actor or cli_actor()

    @classmethod
    def open(cls, db: str | None = None, *, actor: str | None = None, upgrade: bool = True) -> Phaseout:
        return cls(Store.open(db, upgrade=upgrade), actor=actor)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Phaseout:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Any:
        return self.store.engine

    def as_actor(self, actor: str) -> Phaseout:
        """The same programme acting for another person (a web user)."""
        other = Phaseout(self.store, actor=actor)
        if "identifier" in self.__dict__:
            other.__dict__["identifier"] = self.__dict__["identifier"]
        return other

    # -- knowledge and policy -------------------------------------------------------------------

    @cached_property
    def identifier(self) -> Identifier:
        from phaseout.identify import Identifier

        return Identifier()

    def packs_available(self) -> dict[str, PolicyPack]:
        from phaseout.policy.packs import available_packs

        return available_packs()

    def packs_in_use(self) -> list[PolicyPack]:
        """The packs in use, each of which must still be installed (a pack removed after it was
        chosen is a knowledge error naming it, not a silent gap in the findings)."""
        from phaseout.store.policies import packs_in_use

        installed = self.packs_available()
        with self.engine.connect() as conn:
            chosen = packs_in_use(conn)
        missing = [p for p in chosen if p not in installed]
        if missing:
            raise KnowledgeError(
                f"packs in use are not installed: {', '.join(missing)}",
                hint="phaseout policy add FILE, or choose again with phaseout policy use",
            )
        return [installed[p] for p in chosen]

    def covered_makers(self) -> set[str]:
        from phaseout.plan.catalogue import covered_makers

        return set(covered_makers(self.packs_in_use()))

    def use_packs(self, pack_ids: list[str], today: dt.date | None = None) -> bool:
        """Choose the packs that apply; re-assesses when the estate was assessed before.
        Returns whether it re-assessed."""
        from phaseout.plan.catalogue import covered_makers
        from phaseout.store.policies import set_packs_in_use

        known = self.packs_available()
        unknown = [p for p in pack_ids if p not in known]
        if unknown:
            raise UsageError(f"unknown policy pack(s): {', '.join(unknown)}", hint="phaseout policy list")
        chosen = list(dict.fromkeys(pack_ids))
        set_packs_in_use(self.engine, chosen, sorted(covered_makers([known[p] for p in chosen])), self.actor)
        if self.assessed():
            self.assess(today)
            return True
        return False

    def assessed(self) -> bool:
        from sqlalchemy import select

        from phaseout.store.schema import assessments

        with self.engine.connect() as conn:
            return conn.execute(select(assessments.c.device_id).limit(1)).first() is not None

    def policy_summary(self, today: dt.date) -> Any:
        from phaseout.app.policies import summary

        return summary(self.engine, self.packs_in_use(), today)

    # -- sources --------------------------------------------------------------------------------

    def import_devices(
        self, path: Path | str, options: ImportOptions | None = None, progress: Progress | None = None
    ) -> tuple[ImportResult, MappedTable]:
        from phaseout.app.imports import import_devices

        return import_devices(self.store, path, options, progress, identifier=self.identifier, actor=self.actor)

    def import_sites(
        self, path: Path | str, options: ImportOptions | None = None, progress: Progress | None = None
    ) -> tuple[ImportResult, MappedTable]:
        from phaseout.app.imports import import_sites

        return import_sites(self.store, path, options, progress, actor=self.actor)

    def import_source(self, path: Path, fmt: Any, **options: Any) -> ImportResult:
        """Another tool's export (nmap, Nessus, VMS lists, DHCP leases...; ``ingest.formats``)."""
        from phaseout.app.source_import import import_source

        return import_source(self.store, path, fmt, identifier=self.identifier, actor=self.actor, **options)

    def probe(
        self, hosts: list[str], settings: ScanSettings, progress: Callable[[HostResult], None] | None = None
    ) -> ScanOutcome:
        """Probe hosts already checked against the scope (Ctrl-C keeps what finished)."""
        from phaseout.app.scans import run_probes

        return run_probes(hosts, settings, progress)

    def record_scan(
        self,
        outcome: ScanOutcome,
        *,
        targets: list[str],
        planned: int,
        ports: tuple[int, ...],
        site: str | None = None,
        vantage: str | None = None,
        discovered: dict[str, list[dict[str, Any]]] | None = None,
        within: Callable[[Any, int], None] | None = None,
        answers: dict[bytes, Any] | None = None,
    ) -> ScanRecord:
        """Store a scan.  ``answers``: facts its collector sent, by answer (``facts.answer_key``;
        checked by ``discover.collector.wire``), read instead of parsing those answers again."""
        from phaseout.app.scans import store_scan

        return store_scan(
            self.store,
            outcome,
            targets=targets,
            planned=planned,
            ports=ports,
            site=site,
            vantage=vantage,
            identifier=self.identifier,
            actor=self.actor,
            extra=discovered,
            within=within,
            answers=answers,
        )

    def record_results(
        self,
        results: list[HostResult],
        *,
        targets: list[str],
        ports: tuple[int, ...] | None = None,
        site: str | None = None,
        vantage: str | None = None,
        interrupted: bool = False,
        silent: list[str] | tuple[str, ...] = (),
        within: Callable[[Any, int], None] | None = None,
        answers: dict[bytes, Any] | None = None,
    ) -> ScanRecord:
        """Store finished probe results (a scan run elsewhere: tests, collectors).  ``ports``:
        what was probed (default: the scanner's default ports); ``silent``: addresses probed to
        the end that answered nothing (the scanner leaves them out of its results); ``within(conn,
        scan_id)`` runs inside the scan's transaction (a collector upload's receipt); ``answers``:
        the facts the collector sent (``record_scan``)."""
        from phaseout.app.scans import ScanOutcome
        from phaseout.discover.scanner import PORTS
        from phaseout.discover.scanner import HostResult as Host

        finished = {r.ip: r for r in results} | {ip: Host(ip) for ip in silent}
        outcome = ScanOutcome(list(results), finished, interrupted)
        return self.record_scan(
            outcome,
            targets=targets,
            planned=len(finished),
            ports=ports or tuple(PORTS),
            site=site,
            vantage=vantage,
            within=within,
            answers=answers,
        )

    def scan(
        self,
        hosts: list[str],
        settings: ScanSettings,
        *,
        targets: list[str] | None = None,
        site: str | None = None,
        vantage: str | None = None,
        progress: Callable[[HostResult], None] | None = None,
    ) -> tuple[ScanOutcome, ScanRecord]:
        """Probe and store in one call (tests, demo, benchmarks)."""
        outcome = self.probe(hosts, settings, progress)
        record = self.record_scan(
            outcome, targets=targets or hosts, planned=len(hosts), ports=settings.ports, site=site, vantage=vantage
        )
        return outcome, record

    def reidentify(self, *, only_stale: bool = True) -> int:
        from phaseout.store.generation import bump
        from phaseout.store.identification import reidentify

        done = reidentify(self.engine, self.identifier, only_stale=only_stale)
        if done:
            with writing(self.engine) as conn:
                bump(conn)
        return done

    # -- assessment and planning ----------------------------------------------------------------

    def assess(self, today: dt.date | None = None) -> list[DeviceAssessment]:
        from phaseout.app.assessment import run_assessment

        return run_assessment(self.engine, self.packs_in_use(), today or dt.date.today())

    def plan_estate(
        self, settings: PlanSettings, today: dt.date | None = None, catalogue: str | Path | None = None
    ) -> tuple[EstatePlan, Catalogue]:
        """The stored, assessed estate as a planning problem, with the catalogue (default: the
        illustrative sample) checked against the packs in use."""
        from phaseout.app.planning import plan_stored_estate

        return plan_stored_estate(self.engine, catalogue, settings, today or dt.date.today())

    def save_plan(self, name: str, estate: EstatePlan, result: PlanResult) -> int:
        """Store a solved plan as scenario ``name`` (the newest plan is what the dashboard,
        the reports and ``work generate`` read)."""
        from phaseout.app.planning import save_plan

        return save_plan(self.engine, name, estate, result, actor=self.actor)

    def site_runbook(self, code: str) -> dict[str, Any] | None:
        """The stored plan's visits at a site and their runbook steps (nothing is re-planned)."""
        from phaseout.app.planning import with_runbook
        from phaseout.queries.dashboard import site_plan

        with self.engine.connect() as conn:
            return with_runbook(site_plan(conn, code))

    # -- work orders ----------------------------------------------------------------------------

    def generate_work(self, plan_id: int | None = None) -> tuple[int, int]:
        from phaseout.store.work import generate

        return generate(self.engine, self.actor, plan_id)

    def set_work_status(self, order_id: int, wanted: str, reason: str = "") -> dict[str, Any]:
        from phaseout.app.work import set_status

        return set_status(self.store, self.actor, order_id, wanted, reason)

    def unblock_work(self, order_id: int) -> dict[str, Any]:
        from phaseout.store.work import unblock

        return unblock(self.engine, self.actor, order_id)

    def record_return(self, path: str | Path) -> ReturnResult:
        from phaseout.app.work import record_return

        return record_return(self.store, self.actor, path)

    def verify(self) -> Verification:
        from phaseout.app.work import verify

        return verify(self.store, self.actor, self.covered_makers())

    # -- alerts (app/alerts.py; docs/alerts.md) -------------------------------------------------

    def add_alert(
        self, name: str, kind: str, config: dict[str, Any], rules: list[dict[str, Any]], secret: str | None = None
    ) -> tuple[int, str | None]:
        """Check and store an alert; returns its id and a webhook secret phaseout made (shown once)."""
        from phaseout.app.alerts import add_alert

        return add_alert(self.store, self.actor, name, kind, config, rules, secret)

    def evaluate_alerts(self, today: dt.date | None = None) -> Evaluation:
        """Evaluate the rules over batches not yet evaluated and the deadlines (imports and scans
        call this themselves once committed)."""
        from phaseout.app.alerts import evaluate

        return evaluate(self.store, today)

    def deliver_alerts(self, limit: int = 100, timeout: float = 10.0) -> Delivery:
        from phaseout.app.alerts import deliver

        return deliver(self.store, self.actor, limit=limit, timeout=timeout)

    def test_alert(self, name: str) -> tuple[bool, str]:
        from phaseout.app.alerts import send_test

        return send_test(self.store, self.actor, name)
