"""Assistance identities (资助参保身份) from the certifying departments' rosters."""

from django.db import models
from django.db.models import Q

from core.audit import tracked
from policy.models import Region
from policy.rules.types import IDENTITIES


@tracked()
class AssistanceIdentity(models.Model):
    """One person's identity for one benefit year, as certified by a department.

    Kept by ID number, like the rosters; ``resident`` is filled when the
    bureau has matched the number to a resident.
    """

    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    resident = models.ForeignKey("enrollment.Resident", verbose_name="参保人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="identities")
    region = models.ForeignKey(Region, verbose_name="地区", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    identity = models.CharField("困难身份", max_length=40, choices=list(IDENTITIES.items()))
    department = models.CharField("认定部门", max_length=100, blank=True)
    certified_on = models.DateField("认定日期", null=True, blank=True)
    source = models.CharField("来源名单", max_length=200, blank=True)
    created_at = models.DateTimeField("导入时间", auto_now_add=True)

    class Meta:
        verbose_name = "资助身份"
        verbose_name_plural = "资助身份"
        ordering = ["region_id", "year", "id_number"]
        indexes = [models.Index(fields=["id_number", "year"], name="identity_id_year")]
        constraints = [
            models.UniqueConstraint(fields=["id_number", "region", "year", "identity"],
                                    name="identity_unique_per_year"),
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"),
                                   name="identity_id_format"),
        ]

    def __str__(self):
        return f"{self.get_identity_display()} {self.year}"
