"""Assess a whole estate quickly: each distinct set of inputs once (pure).

:func:`phaseout.assess.device.assess_device` is a pure function, and on a large estate most
devices give it the same inputs: a chain's 1,000,000 cameras are a few dozen maker / model /
firmware combinations over a handful of site kinds.  Assessing each device from scratch spent
most of a 1,000,000-device assessment rebuilding the same findings.  :class:`AssessmentMemo`
assesses each distinct input once and hands the result to every device that shares it.

What the key holds is exactly what the assessment reads, apart from the device's id and site
code (which only label the result):

* the device's identification (vendor, label, relation, model, type, confidence), its
  inventory firmware and how many cameras stand behind it;
* its address only as far as the findings read it: :func:`exposure.public_address` (a global
  address appears in the finding's evidence, so it is part of the key; every private or
  invalid address is the same ``None``);
* the site's facts (sensitivity, next maintenance) and the networks a scan covered it from.

A device a scan answered (``seen`` not empty) carries per-device evidence (ports, banners, its
firmware as read): it is assessed on its own, never memoised.  ``tests/assess/test_batch.py``
checks the memoised results against the plain per-device ones on a varied estate.

Devices that share a result share its lists (findings, risk parts, mitigations): callers treat
assessments as read-only values, as they always did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from typing import Any

from phaseout.assess.device import DeviceAssessment, StoredDevice, assess_device
from phaseout.assess.exposure import public_address
from phaseout.policy.evaluate import SiteFacts
from phaseout.policy.packs import PolicyPack


class AssessmentMemo:
    """``assess(device, site, seen, looked_from)`` equal to :func:`assess_device` with the
    packs, KEV catalogue and day given here; each distinct unscanned input assessed once."""

    def __init__(self, packs: list[PolicyPack], kev: Any, today: dt.date) -> None:
        self.packs = packs
        self.kev = kev
        self.today = today
        self.results: dict[Hashable, DeviceAssessment] = {}
        self.hits = 0

    @staticmethod
    def key(device: StoredDevice, site: SiteFacts, looked_from: set[str]) -> Hashable:
        """Everything an unscanned device's assessment reads, except its id and site code."""
        return (
            device.vendor,
            device.label,
            device.relation,
            device.model,
            device.device_type,
            device.confidence,
            device.firmware,
            device.cameras_behind,
            public_address(device.ip),
            site,
            frozenset(looked_from),
        )

    def assess(
        self, device: StoredDevice, site: SiteFacts, seen: list[dict[str, Any]], looked_from: set[str]
    ) -> DeviceAssessment:
        if seen:
            return assess_device(device, site, seen, looked_from, self.packs, self.kev, self.today)
        key = self.key(device, site, looked_from)
        done = self.results.get(key)
        if done is None:
            done = assess_device(device, site, seen, looked_from, self.packs, self.kev, self.today)
            self.results[key] = done
            return done
        self.hits += 1
        return DeviceAssessment(
            device.device_id,
            device.site,
            done.vendor,
            done.brand,
            done.model,
            done.risk,
            done.findings,
            done.risk_parts,
            done.mitigations,
        )
