"""Residents (参保人) and their enrollment year by year."""

from django.db import models
from django.db.models import Q

from accounts.audit import tracked
from policy.models import Region
from policy.rules.types import STUDENT_STATUSES


class Hukou(models.TextChoices):
    LOCAL = "local", "本地户籍"
    NONLOCAL = "nonlocal", "外地户籍"


class Sex(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"


@tracked()
class Resident(models.Model):
    id_number = models.CharField("身份证号码", max_length=18, unique=True,
                                 help_text="18 位，末位 X 大写")
    name = models.CharField("姓名", max_length=50, db_index=True)
    birth_date = models.DateField("出生日期", help_text="由身份证号码得出")
    sex = models.CharField("性别", max_length=1, choices=Sex.choices, help_text="由身份证号码得出")
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT,
                               related_name="residents")
    hukou = models.CharField("户籍", max_length=10, choices=Hukou.choices, default=Hukou.LOCAL)
    residence_permit = models.BooleanField("持有效居住证", default=False)
    residence_permit_expires_on = models.DateField("居住证有效期至", null=True, blank=True)
    student = models.CharField("学生类别", max_length=20, blank=True,
                               choices=list(STUDENT_STATUSES.items()))
    school = models.CharField("学校", max_length=100, blank=True)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保人"
        verbose_name_plural = "参保人"
        ordering = ["id"]
        indexes = [models.Index(fields=["region", "id"], name="resident_region_id")]
        constraints = [
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"),
                                   name="resident_id_number_format"),
            models.CheckConstraint(condition=Q(hukou="nonlocal") | Q(residence_permit=False),
                                   name="resident_permit_only_nonlocal"),
        ]

    def __str__(self):
        from .idnumbers import mask

        return f"{self.name}（{mask(self.id_number)}）"
