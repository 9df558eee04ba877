"""Residents (参保人) and their enrollment year by year."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from core.audit import tracked
from policy.models import MONEY, Region
from policy.rules.types import CATEGORIES, IDENTITIES, STUDENT_STATUSES, TIMING_NAMES, TIMINGS


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
    # no index of its own: (region, id) serves every region lookup, and the FK's own two
    # indexes (plain and varchar_pattern_ops) cost every bulk write (bench/RESULTS.md)
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT,
                               related_name="residents", db_index=False)
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
        permissions = [("view_full_id_number", "可以查看完整身份证号码")]
        indexes = [
            models.Index(fields=["region", "id"], name="resident_region_id"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="resident_name_trgm"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"),
                                   name="resident_id_number_format"),
            models.CheckConstraint(condition=Q(hukou="nonlocal") | Q(residence_permit=False),
                                   name="resident_permit_only_nonlocal"),
        ]

    def __str__(self):
        from .idnumbers import mask

        return f"{self.name}（{mask(self.id_number)}）"


class EnrollmentStatus(models.TextChoices):
    REGISTERED = "registered", "已登记（待缴费）"
    PAID = "paid", "已缴费"
    CANCELLED = "cancelled", "已注销"


class RegisteredVia(models.TextChoices):
    SCHOOL = "school", "学校集中登记"
    COMMUNITY = "community", "社区登记"
    ONLINE = "online", "网上办理"
    COUNTER = "counter", "经办窗口"
    DEFAULT_RENEWAL = "default_renewal", "默认续保"
    NEWBORN = "newborn", "新生儿登记"


class PaidVia(models.TextChoices):
    CHANNEL = "channel", "缴费渠道"
    FAMILY_POOL = "family_pool", "家庭共济"
    ASSISTANCE = "assistance", "资助代缴"
    COLLECTIVE = "collective", "集中代收"


# the history of a person's enrollments is read by resident (the resident page's audit)
@tracked(event_indexes=[models.Index(fields=["resident"], name="enrollmentevent_resident")])
class Enrollment(models.Model):
    """One person's enrollment for one benefit year (never two at once: a constraint)."""

    # a person's enrollments are found through enrollment_one_per_person_year (resident first)
    resident = models.ForeignKey(Resident, verbose_name="参保人", on_delete=models.PROTECT,
                                 related_name="enrollments", db_index=False)
    year = models.PositiveSmallIntegerField("待遇年度")
    # region lookups use the (region, year, id) and (region, status, id) indexes
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT,
                               related_name="+", db_index=False)
    category = models.CharField("参保类别", max_length=20, choices=list(CATEGORIES.items()))
    status = models.CharField("状态", max_length=12, choices=EnrollmentStatus.choices,
                              default=EnrollmentStatus.REGISTERED)
    registered_via = models.CharField("登记方式", max_length=20, choices=RegisteredVia.choices)
    registered_at = models.DateTimeField("登记时间", default=timezone.now)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+",
                                      db_index=False)  # never searched by; users are not deleted
    nonlocal_via_parent_permit = models.BooleanField("凭父母居住证参保（外地婴幼儿）", default=False)

    personal_standard = models.DecimalField("个人缴费标准", null=True, blank=True, **MONEY)
    fiscal_subsidy = models.DecimalField("财政补助", null=True, blank=True, **MONEY)
    assistance_identity = models.CharField("资助身份", max_length=40, blank=True, choices=list(IDENTITIES.items()))
    assistance_amount = models.DecimalField("资助金额", null=True, blank=True, **MONEY)
    amount_due = models.DecimalField("应缴金额", **MONEY)
    timing = models.CharField("缴费时段", max_length=20, blank=True,
                              choices=[(t, TIMING_NAMES[t]) for t in TIMINGS])

    paid_amount = models.DecimalField("实缴金额", null=True, blank=True, **MONEY)
    paid_on = models.DateField("缴费日期", null=True, blank=True)
    paid_at = models.DateTimeField("到账时间", null=True, blank=True)
    paid_via = models.CharField("缴费方式", max_length=20, blank=True, choices=PaidVia.choices)
    benefit_start = models.DateField("待遇开始", null=True, blank=True)
    benefit_end = models.DateField("待遇结束", null=True, blank=True)
    waiting_months = models.PositiveSmallIntegerField("等待期（月）", default=0)
    waiting_days = models.PositiveSmallIntegerField("等待期（天）", default=0)
    cap_adjustment = models.IntegerField("大病限额调整（元）", null=True, blank=True)

    cancelled_at = models.DateTimeField("注销时间", null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="注销人", null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+",
                                     db_index=False)
    cancel_reason = models.CharField("注销原因", max_length=200, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保登记"
        verbose_name_plural = "参保登记"
        ordering = ["-year", "id"]
        indexes = [
            models.Index(fields=["year", "region", "status"], name="enrollment_year_region_status"),
            models.Index(fields=["region", "year", "id"], name="enrollment_region_year_id"),
            # 是否缴费 / 状态 without a year, newest first (bench/RESULTS.md)
            models.Index(fields=["region", "status", "id"], name="enrollment_region_status_id"),
        ]
        constraints = [
            # One live enrollment a person-year: a live one has no cancellation time, and NULLs
            # count as equal here; cancelled ones differ by theirs.  Not partial, so it also
            # finds all of a person's enrollments (cancelled ones too), and the resident column
            # needs no index of its own — one index fewer to write on every enrollment update
            # (enrollment 0016; bench/RESULTS.md, issue 11).
            models.UniqueConstraint(fields=["resident", "year", "cancelled_at"], nulls_distinct=False,
                                    name="enrollment_one_per_person_year"),
            models.CheckConstraint(condition=Q(amount_due__gte=0), name="enrollment_amount_due_nonneg"),
            models.CheckConstraint(condition=Q(paid_amount__isnull=True) | Q(paid_amount__gte=0),
                                   name="enrollment_paid_amount_nonneg"),
            models.CheckConstraint(condition=Q(assistance_amount__isnull=True) | Q(assistance_amount__gte=0),
                                   name="enrollment_assistance_nonneg"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_on__isnull=False, paid_amount__isnull=False,
                                                benefit_start__isnull=False),
                name="enrollment_paid_has_payment"),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | (Q(cancelled_at__isnull=False) & ~Q(cancel_reason="")),
                name="enrollment_cancelled_has_reason"),
        ]

    def __str__(self):
        return f"{self.year} 年度 {self.get_category_display()}（{self.get_status_display()}）"


@tracked()
class EmployeeCoverage(models.Model):
    """A year of employee insurance (职工医保), imported from the employee scheme.

    Kept by ID number (an employee need not be a resident here).  While
    ``ended_on`` is empty the person is employee-insured and may not enroll;
    a year of employee insurance counts as covered for continuity.
    """

    id_number = models.CharField("身份证号码", max_length=18, db_index=True)
    name = models.CharField("姓名", max_length=50)
    region_code = models.CharField("参保地", max_length=6)
    year = models.PositiveSmallIntegerField("年度")
    ended_on = models.DateField("中断（退出）日期", null=True, blank=True)
    imported_at = models.DateTimeField("导入时间", auto_now=True)

    class Meta:
        verbose_name = "职工医保参保记录"
        verbose_name_plural = "职工医保参保记录"
        ordering = ["id_number", "year"]
        constraints = [
            models.UniqueConstraint(fields=["id_number", "year"], name="employee_coverage_unique"),
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"),
                                   name="employee_coverage_id_format"),
        ]

    def __str__(self):
        return f"{self.id_number[:6]}… {self.year}"


@tracked()
class GapRepair(models.Model):
    """A break year made up by back-payment (补缴), which shortens variable waiting."""

    resident = models.ForeignKey(Resident, verbose_name="参保人", on_delete=models.PROTECT,
                                 related_name="gap_repairs")
    year = models.PositiveSmallIntegerField("补缴年度")
    recorded_at = models.DateTimeField("记录时间", default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "断保补缴记录"
        verbose_name_plural = "断保补缴记录"
        constraints = [models.UniqueConstraint(fields=["resident", "year"], name="gap_repair_unique")]

    def __str__(self):
        return f"{self.year}年度断保补缴"


class ReregisterReason(models.TextChoices):
    HUKOU_MOVED = "hukou_moved", "户籍注销或迁出"
    PERMIT_EXPIRED = "permit_expired", "外地户籍居住证失效"
    CATEGORY_CHANGED = "category_changed", "参保类别变化"
    GRADUATED = "graduated", "大学生毕业"
    PARENT_PERMIT = "parent_permit", "外地婴幼儿凭父母居住证参保"
    NOT_ELIGIBLE = "not_eligible", "不再符合参保条件"
    VALUE_NOT_IN_SOURCE = "value_not_in_source", "新年度所需标准未设定"
    OTHER_SCHEME = "other_scheme", "已参加其他医疗保险（同一时间只能参加一种）"


class ReregistrationNotice(models.Model):
    """Someone default renewal did not renew, and why: they must register again."""

    resident = models.ForeignKey(Resident, verbose_name="参保人", on_delete=models.CASCADE,
                                 related_name="reregistration_notices")
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    reason = models.CharField("原因", max_length=30, choices=ReregisterReason.choices)
    detail = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("生成时间", default=timezone.now)

    class Meta:
        verbose_name = "须重新登记人员"
        verbose_name_plural = "须重新登记人员"
        ordering = ["region_id", "year", "id"]
        constraints = [models.UniqueConstraint(fields=["resident", "year"], name="reregister_unique")]
        indexes = [models.Index(fields=["region", "year", "reason"], name="reregister_region_year")]

    def __str__(self):
        return f"{self.year}年度须重新登记（{self.get_reason_display()}）"


class EnrollmentFigure(models.Model):
    """The home page's enrollment figures per region and benefit year: a summary the engine
    refreshes (enrollment.figures.figures_refresh, every few minutes on Celery beat), so a page
    view reads a few rows instead of counting millions of enrollments."""

    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    registered = models.PositiveIntegerField("已登记（含已缴费）", default=0)
    paid = models.PositiveIntegerField("已缴费", default=0)
    refreshed_at = models.DateTimeField("统计时间")

    class Meta:
        verbose_name = "参保统计"
        verbose_name_plural = "参保统计"
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="enrollment_figure_unique")]

    def __str__(self):
        return f"{self.region_id} {self.year}年度参保统计"


# --- leaving another scheme (退出其他制度保障): 003 §三(四), 001 §三 注 -------------------------


class SchemeExitKind(models.TextChoices):
    DISCHARGED_SOLDIER = "discharged_soldier", "当年退出现役的军人"
    MILITARY_SPOUSE = "military_spouse", "随迁的随军未就业配偶"
    RELEASED_PRISONER = "released_prisoner", "刑满释放人员"
    EMPLOYEE_STOPPED = "employee_stopped", "职工医保中断缴费人员"


class SchemeExitEvidence(models.TextChoices):
    DISCHARGE = "discharge", "退出现役证明（退役证）"
    MILITARY_SPOUSE = "military_spouse", "部队出具的随军未就业配偶证明"
    RELEASE = "release", "刑满释放证明书"
    EMPLOYEE_STOP = "employee_stop", "职工医保停保（中断缴费）证明"
    OTHER = "other", "其他证明材料"


@tracked()
class SchemeExit(models.Model):
    """A person who left another scheme (the army, prison, employee insurance) on a day,
    with the evidence seen: within the region's months after it (policy data,
    ``left_other_scheme`` group) the person may enroll after the window (enrollment.leavers)."""

    resident = models.ForeignKey(Resident, verbose_name="参保人", on_delete=models.PROTECT,
                                 related_name="scheme_exits")
    # the resident's (never changing) ID number, so that the batch facts selector joins the
    # numbers asked for to this table directly, as it does employee coverage, instead of
    # looking up every leaver's resident row (bench figures in the README section)
    id_number = models.CharField("身份证号码", max_length=18, editable=False)
    kind = models.CharField("类别", max_length=30, choices=SchemeExitKind.choices)
    left_on = models.DateField("退出日期")
    evidence_kind = models.CharField("证明材料", max_length=30, choices=SchemeExitEvidence.choices)
    evidence_number = models.CharField("证明编号", max_length=50)
    note = models.CharField("说明", max_length=200, blank=True)
    recorded_at = models.DateTimeField("记录时间", default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        verbose_name = "退出其他制度保障记录"
        verbose_name_plural = "退出其他制度保障记录"
        ordering = ["resident_id", "-left_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "kind", "left_on"], name="scheme_exit_unique"),
            models.CheckConstraint(condition=~Q(evidence_number=""), name="scheme_exit_has_evidence"),
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"), name="scheme_exit_id_format"),
        ]
        indexes = [models.Index(fields=["id_number", "left_on"], name="scheme_exit_number_left")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.left_on.isoformat()}"


# --- zero-claim years (004 (一)Q1 基金零报销激励) ---------------------------------------------


@tracked()
class ZeroClaimYear(models.Model):
    """A benefit year the person was enrolled and paid here and the fund reimbursed nothing
    (004 (一)Q1): recorded by the bureau from the settlement system's list, with what it rests
    on.  Where the region rewards it (policy data, ``cap_zero_claim_incentive``) the facts
    selector reads the year as history "resident_zero_claim", which raises the next year's
    critical-illness cap; the amount stays unset while the source gives none."""

    resident = models.ForeignKey(Resident, verbose_name="参保人", on_delete=models.PROTECT,
                                 related_name="zero_claim_years")
    id_number = models.CharField("身份证号码", max_length=18, editable=False)
    year = models.PositiveSmallIntegerField("零报销年度")
    source = models.CharField("依据", max_length=200, help_text="如：医保结算系统 2025 年度零报销名单")
    recorded_at = models.DateTimeField("记录时间", default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    # why the record was last corrected, or (written just before the row is deleted) withdrawn:
    # the audit trail shows it as a change of this field, with who and when
    change_reason = models.CharField("更正或撤销原因", max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = "零报销年度"
        verbose_name_plural = "零报销年度"
        ordering = ["resident_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "year"], name="zero_claim_year_unique"),
            models.CheckConstraint(condition=~Q(source=""), name="zero_claim_year_has_source"),
        ]
        indexes = [models.Index(fields=["year", "id_number"], name="zero_claim_year_number")]

    def __str__(self):
        return f"{self.year} 年度零报销"


# --- documents and agents of a registration (000 §2) ----------------------------------------


class DocumentKind(models.TextChoices):
    ID_CARD = "id_card", "本人居民身份证或社会保障卡"
    HUKOU_BOOK = "hukou_book", "户口簿"
    BIRTH_CERTIFICATE = "birth_certificate", "出生医学证明"
    RESIDENCE_PERMIT = "residence_permit", "本市有效居住证"
    PARENT_RESIDENCE_PERMIT = "parent_residence_permit", "父母一方的本市有效居住证"
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit", "港澳台居民居住证"
    FOREIGNER_PERMANENT_RESIDENCE = "foreigner_permanent_residence", "外国人永久居留身份证"
    AGENT_ID_CARD = "agent_id_card", "代办人身份证"


class AgentRelation(models.TextChoices):
    PARENT = "parent", "父母"
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    SIBLING = "sibling", "兄弟姐妹"
    GRANDPARENT = "grandparent", "（外）祖父母"
    OTHER_RELATIVE = "other_relative", "其他亲属"
    GUARDIAN = "guardian", "监护人"
    OTHER = "other", "其他受托人"


@tracked()
class RegistrationDocument(models.Model):
    """A document a caseworker saw for a registration (one row a kind)."""

    enrollment = models.ForeignKey(Enrollment, verbose_name="参保登记", on_delete=models.PROTECT,
                                   related_name="documents")
    kind = models.CharField("材料", max_length=40, choices=DocumentKind.choices)
    number = models.CharField("证件编号", max_length=50, blank=True)
    seen_at = models.DateTimeField("查验时间", default=timezone.now)
    seen_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="查验人", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        verbose_name = "已查验材料"
        verbose_name_plural = "已查验材料"
        ordering = ["enrollment_id", "id"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "kind"], name="registration_document_unique")]

    def __str__(self):
        return self.get_kind_display()


@tracked()
class RegistrationAgent(models.Model):
    """The agent (代办人) who registered a person for them: 000 §2 "由他人代办的，需同时携带代办人身份证"."""

    enrollment = models.OneToOneField(Enrollment, verbose_name="参保登记", on_delete=models.PROTECT,
                                      related_name="agent")
    name = models.CharField("代办人姓名", max_length=50)
    id_number = models.CharField("代办人身份证号码", max_length=18)
    relation = models.CharField("与参保人关系", max_length=20, choices=AgentRelation.choices)
    recorded_at = models.DateTimeField("记录时间", default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        verbose_name = "代办人"
        verbose_name_plural = "代办人"
        constraints = [
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"), name="registration_agent_id_format"),
            models.CheckConstraint(condition=~Q(name=""), name="registration_agent_has_name"),
        ]

    def __str__(self):
        from .idnumbers import mask

        return f"{self.name}（{mask(self.id_number)}）"


@tracked()
class NewbornParentLink(models.Model):
    """A non-local newborn registered on a parent's residence permit (000 §1(一)), linked to
    the parent insured here whose benefits were normal on the registration day."""

    enrollment = models.OneToOneField(Enrollment, verbose_name="参保登记", on_delete=models.PROTECT,
                                      related_name="parent_link")
    parent = models.ForeignKey(Resident, verbose_name="父母一方", on_delete=models.PROTECT, related_name="+")
    parent_enrollment = models.ForeignKey(Enrollment, verbose_name="父母一方的参保登记", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="+")
    same_household = models.BooleanField("新生儿与父母登记在同一户口", default=True)
    checked_on = models.DateField("核验日期")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        verbose_name = "新生儿参保所凭父母"
        verbose_name_plural = "新生儿参保所凭父母"

    def __str__(self):
        return str(self.parent)
