"""Why a scenario cannot be generated: bad photos, an impossible plan, an occupied output."""

from __future__ import annotations


class ScenarioError(ValueError):
    code = "scenario_error"


class NoPhotos(ScenarioError):
    code = "no_photos"


class PhotoUnusable(ScenarioError):
    code = "photo_unusable"


class BadPlan(ScenarioError):
    code = "bad_plan"


class OutputExists(ScenarioError):
    code = "output_exists"
