"""Writes for policy years: load from the data files, clone, publish.

Each function is one transaction and runs inside an audit context naming the
actor, so the triggers record who loaded, cloned, edited or published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_context
from core.audit_actor import acting_user

from .datafile import (
    YEAR_DEFAULTS,
    PolicyFileError,
    clone_data,
    policy_files,
    read_policy_file,
    read_regions_file,
)
from .models import (
    AssistanceTier,
    Category,
    FlexibleEmploymentRate,
    PaymentPeriod,
    PolicyYear,
    PolicyYearStatus,
    Region,
    SpecialGroup,
)
from .validation import validate_policy

CHILD_MODELS = {
    "categories": Category,
    "periods": PaymentPeriod,
    "assistance": AssistanceTier,
    "special_groups": SpecialGroup,
    "flexible_employment": FlexibleEmploymentRate,
}
_SKIP = {"id", "policy_year"}


class PolicyError(ValueError):
    """A policy write that cannot be done; the message says why (Chinese)."""


# --- database <-> normalised dict ----------------------------------------------------


def _child_fields(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in _SKIP]


def policy_year_as_data(py: PolicyYear) -> dict:
    """The normalised dict (see policy.datafile) of a policy year in the database."""
    fields = {name: getattr(py, name) for name in YEAR_DEFAULTS}
    fields["pool_relations"] = list(fields["pool_relations"] or [])
    fields["age_reference_date"] = py.age_reference_date
    for key in ("pool_premium_cutoff", "pool_school_cancel_deadline"):
        if fields[key] is not None:
            fields[key] = timezone.localtime(fields[key])
    data = {"region": py.region_id, "year": py.year, "year_fields": fields}
    for name, model in CHILD_MODELS.items():
        names = _child_fields(model)
        rows = model.objects.filter(policy_year=py).order_by("sort_order", "id").values(*names)
        data[name] = [dict(r) for r in rows]
    return data


def _comparable(data: dict) -> dict:
    """Normalised dicts compared for equality: status and sort_order gaps ignored."""
    out = {k: v for k, v in data.items() if k != "year_fields"}
    out["year_fields"] = {k: v for k, v in data["year_fields"].items() if k != "status"}
    for name in CHILD_MODELS:
        rows = []
        for i, row in enumerate(data.get(name, [])):
            row = dict(row)
            row["sort_order"] = i
            rows.append(row)
        out[name] = rows
    return out


def same_policy(a: dict, b: dict) -> bool:
    return _comparable(a) == _comparable(b)


def _write_children(py: PolicyYear, data: dict) -> None:
    for name, model in CHILD_MODELS.items():
        model.objects.filter(policy_year=py).delete()
        allowed = set(_child_fields(model))
        model.objects.bulk_create(
            [model(policy_year=py, **{k: v for k, v in row.items() if k in allowed})
             for row in data.get(name, [])])


def _write_policy_year(data: dict, *, existing: PolicyYear | None, actor) -> PolicyYear:
    fields = dict(data["year_fields"])
    status = fields.pop("status")
    if existing is None:
        py = PolicyYear(region_id=data["region"], year=data["year"], **fields)
    else:
        py = existing
        for k, v in fields.items():
            setattr(py, k, v)
        py.revision = F("revision") + 1
    py.status = PolicyYearStatus.DRAFT
    py.published_at = None
    py.published_by = None
    py.save()
    py.refresh_from_db()
    _write_children(py, data)
    if status == PolicyYearStatus.PUBLISHED:
        _publish(py, actor)
    return py


# --- loading the bundled files ----------------------------------------------------------


@dataclass
class LoadSummary:
    regions_created: int = 0
    regions_updated: int = 0
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"regions_created": self.regions_created, "regions_updated": self.regions_updated,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "differs_not_changed": self.differs}


def load_regions(path: Path, *, actor=None) -> tuple[int, int]:
    created = updated = 0
    rows = read_regions_file(path)
    # parents first, so a county can point at its city
    rows.sort(key=lambda r: r["policy_region_id"] is not None)
    for row in rows:
        obj = Region.objects.filter(code=row["code"]).first()
        if obj is None:
            Region.objects.create(**row)
            created += 1
        elif any(getattr(obj, k) != v for k, v in row.items()):
            for k, v in row.items():
                setattr(obj, k, v)
            obj.save()
            updated += 1
    return created, updated


def load_policies(directory: Path | None = None, *, actor=None, force: bool = False) -> LoadSummary:
    """Load regions and every policy file; a second run changes nothing.

    A year already in the database and equal to its file is left alone.  One
    that differs (edited by caseworkers, or the file was corrected) is left
    alone and reported, unless ``force``: then it is rewritten from the file.
    All files are read and checked before anything is written.
    """
    directory = Path(directory or settings.POLICY_DATA_DIR)
    files = policy_files(directory)
    datas = [read_policy_file(p) for p in files]  # PolicyFileError before any write
    for path, data in zip(files, datas):
        problems = validate_policy(data)
        if problems:
            raise PolicyFileError(f"{path.name}: " + "；".join(problems))
    summary = LoadSummary()
    with transaction.atomic(), audit_context(actor, action="load_policies"):
        summary.regions_created, summary.regions_updated = load_regions(
            directory / "regions.yaml", actor=actor)
        for path, data in zip(files, datas):
            label = f"{data['region']}-{data['year']}"
            if not Region.objects.filter(code=data["region"]).exists():
                raise PolicyFileError(f"{path.name}: region {data['region']} is not in regions.yaml")
            existing = (PolicyYear.objects.select_for_update()
                        .filter(region_id=data["region"], year=data["year"]).first())
            if existing is None:
                _write_policy_year(data, existing=None, actor=actor)
                summary.created.append(label)
                continue
            current = policy_year_as_data(existing)
            if same_policy(current, data) and current["year_fields"]["status"] == data["year_fields"]["status"]:
                summary.unchanged.append(label)
            elif force:
                _write_policy_year(data, existing=existing, actor=actor)
                summary.updated.append(label)
            else:
                summary.differs.append(label)
    return summary


# --- clone, publish, return to draft ----------------------------------------------------


@dataclass
class CloneResult:
    policy_year: PolicyYear
    created: bool
    published: bool


def clone_policy_year(*, region: str, from_year: int, to_year: int, publish: bool = False,
                      actor=None) -> CloneResult:
    """Copy a year: same figures, every date moved by to_year - from_year years.

    Refuses when the target year exists with different content (it may hold
    caseworkers' edits); an identical existing copy is a no-op (published when
    asked).
    """
    if from_year == to_year:
        raise PolicyError("源年度与目标年度相同")
    with transaction.atomic(), audit_context(actor, action="clone_policy_year"):
        source = PolicyYear.objects.filter(region_id=region, year=from_year).first()
        if source is None:
            raise PolicyError(f"地区 {region} 没有 {from_year} 年度的政策")
        data = clone_data(policy_year_as_data(source), to_year)
        existing = (PolicyYear.objects.select_for_update()
                    .filter(region_id=region, year=to_year).first())
        if existing is not None:
            if not same_policy(policy_year_as_data(existing), data):
                raise PolicyError(
                    f"地区 {region} 已有 {to_year} 年度的政策且内容不同；请在后台编辑该年度，或删除草稿后重新复制")
            if publish and not existing.is_published:
                _publish(existing, actor)
            return CloneResult(existing, created=False, published=existing.is_published)
        if publish:
            data["year_fields"]["status"] = PolicyYearStatus.PUBLISHED
        py = _write_policy_year(data, existing=None, actor=actor)
        return CloneResult(py, created=True, published=py.is_published)


def _publish(py: PolicyYear, actor) -> None:
    problems = validate_policy(policy_year_as_data(py))
    if problems:
        raise PolicyError(f"{py.region.name} {py.year} 年度不能发布：" + "；".join(problems))
    PolicyYear.objects.filter(pk=py.pk).update(
        status=PolicyYearStatus.PUBLISHED, published_at=timezone.now(),
        published_by=acting_user(actor), revision=F("revision") + 1, updated_at=timezone.now())
    py.refresh_from_db()


def policy_year_publish(*, policy_year: PolicyYear, actor) -> PolicyYear:
    with transaction.atomic(), audit_context(actor, action="policy_year_publish"):
        py = PolicyYear.objects.select_for_update().get(pk=policy_year.pk)
        if py.is_published:
            raise PolicyError(f"{py} 已发布")
        _publish(py, actor)
        return py


def policy_year_unpublish(*, policy_year: PolicyYear, actor) -> PolicyYear:
    """Return a published year to draft so it can be edited (quotes refuse it meanwhile)."""
    with transaction.atomic(), audit_context(actor, action="policy_year_unpublish"):
        py = PolicyYear.objects.select_for_update().get(pk=policy_year.pk)
        if not py.is_published:
            raise PolicyError(f"{py} 不是已发布状态")
        PolicyYear.objects.filter(pk=py.pk).update(
            status=PolicyYearStatus.DRAFT, published_at=None, published_by=None,
            revision=F("revision") + 1, updated_at=timezone.now())
        py.refresh_from_db()
        return py


def policy_year_touch(*, policy_year: PolicyYear) -> None:
    """Bump the revision after an edit (admin inlines), so cached specs are rebuilt."""
    PolicyYear.objects.filter(pk=policy_year.pk).update(revision=F("revision") + 1)
