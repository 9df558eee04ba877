"""Regions and their policy years, held as data (POLICY.md section 3).

A figure the source documents do not give is NULL ("not in source"), never 0;
the rules refuse to compute with it.  Every model is tracked by
django-pghistory (database triggers), so each edit and each publication is in
the audit trail with who made it.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.audit import tracked

from .rules.types import (
    BENEFIT_START_RULES,
    CATEGORIES,
    CHARGES,
    GROUP_BENEFIT_STARTS,
    IDENTITIES,
    PERIOD_KINDS,
    RELATIONS,
    SPECIAL_GROUP_CODES,
    STUDENT_STATUSES,
    TIER_KINDS,
)

MONEY = {"max_digits": 14, "decimal_places": 2,
         "validators": [MinValueValidator(Decimal("0"), message="金额不能为负数")]}


def _choices(mapping):
    return list(mapping.items())


@tracked()
class Region(models.Model):
    code = models.CharField("行政区划代码", max_length=6, primary_key=True,
                            help_text="GB/T 2260 六位代码")
    name = models.CharField("名称", max_length=50)
    province = models.CharField("所属省份", max_length=50)
    province_code = models.CharField("省级代码", max_length=6)
    policy_region = models.ForeignKey(
        "self", verbose_name="执行政策的地区", null=True, blank=True, on_delete=models.PROTECT,
        related_name="counties",
        help_text="县级市等执行上级市政策时填写，例如孝义市 141181 执行吕梁市 141100 的政策")

    class Meta:
        verbose_name = "地区"
        verbose_name_plural = "地区"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^\d{6}$"), name="region_code_six_digits"),
            models.CheckConstraint(condition=~Q(policy_region=F("code")), name="region_policy_not_self"),
        ]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    @property
    def policy_code(self) -> str:
        return self.policy_region_id or self.code


class PolicyYearStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"


@tracked()
class PolicyYear(models.Model):
    region = models.ForeignKey(Region, verbose_name="地区", on_delete=models.PROTECT,
                               related_name="policy_years")
    year = models.PositiveSmallIntegerField("待遇年度")
    status = models.CharField("状态", max_length=10, choices=PolicyYearStatus.choices,
                              default=PolicyYearStatus.DRAFT)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="发布人", null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField("修订号", default=1, editable=False)
    source_document = models.CharField("来源文件", max_length=100, blank=True)
    source_title = models.CharField("来源标题", max_length=200, blank=True)
    notes = models.TextField("说明", blank=True)

    age_reference_date = models.DateField("年龄计算基准日", help_text="通常为待遇年度起始前一天")
    registration_starts_on = models.DateField("参保登记开始", null=True, blank=True)
    registration_ends_on = models.DateField("参保登记截止", null=True, blank=True)
    payment_day_from = models.PositiveSmallIntegerField(
        "每月可缴费起始日", null=True, blank=True, help_text="不限则留空")
    payment_day_to = models.PositiveSmallIntegerField(
        "每月可缴费截止日", null=True, blank=True, help_text="不限则留空")
    cash_working_days_only = models.BooleanField("现金仅限工作日", default=False)
    bank_record_delay_working_days = models.PositiveSmallIntegerField(
        "银行渠道记录可查延迟（工作日）", null=True, blank=True)
    nonlocal_requires_permit = models.BooleanField("外地户籍须持居住证", default=True)
    nonlocal_infant_parent_months = models.PositiveSmallIntegerField(
        "外地新生儿凭父母参保可登记的月龄上限", null=True, blank=True,
        help_text="宁波：0-6 个月新生儿，父母一方在本市参保；无此政策则留空")

    college_course_prepay = models.BooleanField(
        "高校学生可按学制一次性缴费", default=False,
        help_text="吕梁 003 §三(二)：按学制一次性缴纳，学制内调整标准不再补缴，离校可退剩余年度")
    assistance_refund_in_window = models.BooleanField(
        "集中缴费期内新认定且已缴费的，退还资助部分", default=False,
        help_text="动态调整（吕梁 003 §二）：动态调整前已参保的新增困难群体，集中缴费期内由医疗救助给予资助；缴费期结束后个人缴费不退还")
    registration_documents_listed = models.BooleanField(
        "来源文件列出参保登记所需材料", default=False,
        help_text="宁波 000 §2：持本人身份证或社会保障卡、外地户籍持居住证、他人代办须携带代办人身份证等；"
                  "来源文件未列出的地区不勾选，登记时不显示材料清单（不代为编造）")
    continuity_from_year = models.PositiveSmallIntegerField("连续参保起算年度", default=2025)
    fixed_waiting_months = models.PositiveSmallIntegerField("固定等待期（月）", default=3)
    variable_waiting = models.BooleanField("实行变动等待期", default=False,
                                           help_text="每断保 1 年增加 1 个月，补缴 1 年减少 1 个月")
    variable_floor_gap_years = models.PositiveSmallIntegerField(
        "连续断保年数达到（含）", null=True, blank=True)
    variable_floor_months = models.PositiveSmallIntegerField(
        "修复后等待期不少于（月）", null=True, blank=True)

    cap_after_years = models.PositiveSmallIntegerField(
        "连续参保满 N 年后提高大病限额", null=True, blank=True)
    cap_increase_per_year = models.DecimalField(
        "每连续参保 1 年提高大病限额（元）", null=True, blank=True, **MONEY)
    cap_break_decrease = models.DecimalField(
        "断保再参保降低大病限额（元）", null=True, blank=True, **MONEY)
    cap_zero_claim_increase = models.DecimalField(
        "零报销次年提高大病限额（元）", null=True, blank=True, **MONEY)
    cap_zero_claim_incentive = models.BooleanField(
        "实行基金零报销激励", default=False,
        help_text="上一年度参保且未报销医疗费用，次年正常参保后提高大病限额（上海 004 (一)Q1）")
    cap_break_decrease_per_year = models.BooleanField(
        "按断保年数降低大病限额", default=False,
        help_text="勾选：每断保 1 年降低一次（上海“按照断保年数”）；不勾选：断保再参保降低一次（咸阳）")

    flex_pay_by = models.DateField(
        "灵活就业：缴费截止日期", null=True, blank=True,
        help_text="咸阳 002 灵活就业 注意事项 1：“于12月31日前完成缴费”")
    flex_makeup_within_months = models.PositiveSmallIntegerField(
        "灵活就业：中断 N 个月内补足可自缴费之日享受待遇", null=True, blank=True)
    flex_waiting_months = models.PositiveSmallIntegerField(
        "灵活就业：超过期限按初次参保的等待期（月）", null=True, blank=True)
    flex_certificate_after_days = models.PositiveSmallIntegerField(
        "灵活就业：缴费后 N 日可打印缴费证明", null=True, blank=True)

    pool_relations = ArrayField(models.CharField(max_length=30, choices=_choices(RELATIONS)),
                                verbose_name="家庭共济近亲属范围", default=list, blank=True)
    pool_organizer_scope = models.CharField(
        "共济组建人参保范围", max_length=10, blank=True,
        choices=[("region", "本市"), ("province", "本省")])
    pool_medical_payment = models.BooleanField("可选共济支付（医疗费用）", default=False)
    pool_premium_payment = models.BooleanField("可选共济缴费（居民医保费）", default=False)
    pool_premium_cutoff = models.DateTimeField("共济缴费选择截止", null=True, blank=True)
    pool_batch_starts_on = models.DateField("共济缴费批量划扣开始", null=True, blank=True)
    pool_results_on = models.DateField("共济缴费结果可查日", null=True, blank=True)
    pool_certificate_working_days = models.PositiveSmallIntegerField(
        "扣款成功后缴费证明（工作日）", null=True, blank=True)
    pool_school_cancel_deadline = models.DateTimeField(
        "学校参保取消共济缴费截止", null=True, blank=True)
    pool_community_cancel_same_day = models.BooleanField(
        "社区参保须当日取消共济缴费", default=False)

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "政策年度"
        verbose_name_plural = "政策年度"
        ordering = ["region_id", "-year"]
        permissions = [("publish_policyyear", "可以发布或撤回政策年度")]
        constraints = [
            models.UniqueConstraint(fields=["region", "year"], name="policy_year_unique_region_year"),
            models.CheckConstraint(condition=Q(payment_day_from__isnull=True) | Q(payment_day_from__gte=1, payment_day_from__lte=31),
                                   name="policy_year_payment_day_from_range"),
            models.CheckConstraint(condition=Q(payment_day_to__isnull=True) | Q(payment_day_to__gte=1, payment_day_to__lte=31),
                                   name="policy_year_payment_day_to_range"),
            models.CheckConstraint(condition=Q(cap_increase_per_year__isnull=True) | Q(cap_increase_per_year__gte=0),
                                   name="policy_year_cap_increase_nonneg"),
            models.CheckConstraint(condition=Q(cap_break_decrease__isnull=True) | Q(cap_break_decrease__gte=0),
                                   name="policy_year_cap_decrease_nonneg"),
            models.CheckConstraint(condition=Q(cap_zero_claim_increase__isnull=True) | Q(cap_zero_claim_increase__gte=0),
                                   name="policy_year_cap_zero_claim_nonneg"),
            models.CheckConstraint(condition=~Q(status="published") | Q(published_at__isnull=False),
                                   name="policy_year_published_has_time"),
        ]

    def __str__(self):
        return f"{self.region.name} {self.year} 年度（{self.get_status_display()}）"

    @property
    def is_published(self) -> bool:
        return self.status == PolicyYearStatus.PUBLISHED


class _Child(models.Model):
    policy_year = models.ForeignKey(PolicyYear, verbose_name="政策年度", on_delete=models.CASCADE)
    sort_order = models.PositiveSmallIntegerField("顺序", default=0)
    source_note = models.CharField("来源出处", max_length=300, blank=True)

    class Meta:
        abstract = True
        ordering = ["sort_order", "id"]


@tracked()
class Category(_Child):
    code = models.CharField("类别", max_length=20, choices=_choices(CATEGORIES))
    name = models.CharField("名称", max_length=30)
    student = models.CharField("学生身份", max_length=20, blank=True, choices=_choices(STUDENT_STATUSES),
                               help_text="按学生身份确定类别时填写；学生身份优先于出生日期")
    born_from = models.DateField("出生日期自（含）", null=True, blank=True)
    born_to = models.DateField("出生日期至（含）", null=True, blank=True)
    birth_range_in_source = models.BooleanField(
        "来源给出出生日期区间", default=True,
        help_text="来源文件未给出该类别的出生日期区间时取消勾选")
    personal_standard = models.DecimalField("个人缴费标准（元）", null=True, blank=True,
                                            help_text="来源未给出则留空", **MONEY)
    fiscal_subsidy = models.DecimalField("财政补助（元）", null=True, blank=True,
                                         help_text="来源未给出则留空", **MONEY)

    class Meta(_Child.Meta):
        verbose_name = "参保类别及缴费标准"
        verbose_name_plural = "参保类别及缴费标准"
        constraints = [
            models.UniqueConstraint(fields=["policy_year", "code"], name="category_unique_code"),
            models.CheckConstraint(condition=Q(personal_standard__isnull=True) | Q(personal_standard__gte=0),
                                   name="category_personal_nonneg"),
            models.CheckConstraint(condition=Q(fiscal_subsidy__isnull=True) | Q(fiscal_subsidy__gte=0),
                                   name="category_fiscal_nonneg"),
            models.CheckConstraint(
                condition=Q(born_from__isnull=True) | Q(born_to__isnull=True) | Q(born_from__lte=F("born_to")),
                name="category_birth_range_ordered"),
        ]

    def __str__(self):
        return self.name


@tracked()
class PaymentPeriod(_Child):
    kind = models.CharField("缴费期类型", max_length=20, choices=_choices(PERIOD_KINDS))
    starts_on = models.DateField("开始日期", null=True, blank=True, help_text="来源未给出则留空")
    ends_on = models.DateField("截止日期", null=True, blank=True, help_text="留空表示至待遇年度末")
    benefit_start = models.CharField("待遇开始规则", max_length=30, choices=_choices(BENEFIT_START_RULES))
    offset = models.PositiveSmallIntegerField("N（天或月）", default=0)
    charge = models.CharField("缴纳内容", max_length=30, choices=_choices(CHARGES), default="personal")

    class Meta(_Child.Meta):
        verbose_name = "缴费期"
        verbose_name_plural = "缴费期"
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__isnull=True) | Q(starts_on__lte=F("ends_on")),
                name="period_dates_ordered"),
            models.CheckConstraint(
                condition=Q(benefit_start__in=["payment_plus_days", "payment_plus_months"]) | Q(offset=0),
                name="period_offset_only_with_plus_rules"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.starts_on or '—'} 至 {self.ends_on or '年度末'}"


@tracked()
class AssistanceTier(_Child):
    identity = models.CharField("困难身份", max_length=40, choices=_choices(IDENTITIES))
    kind = models.CharField("资助方式", max_length=20, choices=_choices(TIER_KINDS))
    percentage = models.DecimalField("资助比例（%）", max_digits=5, decimal_places=2, null=True,
                                     blank=True, validators=[MinValueValidator(Decimal("0")),
                                                             MaxValueValidator(Decimal("100"))])
    amount = models.DecimalField("定额资助（元）", null=True, blank=True,
                                 help_text="来源未给出则留空", **MONEY)
    age_ranges = models.JSONField(
        "年龄条件", default=list, blank=True,
        help_text='满足任一区间即可，含两端，例如 [[null, 18], [60, null]] 表示 18 周岁及以下或 60 周岁及以上')
    certified_by = models.DateField("认定日期不晚于", null=True, blank=True)
    assessed_by = models.DateField(
        "当年新办证的评定日期不晚于", null=True, blank=True,
        help_text="吕梁 003 §二(五)：2025 年新办证的应在 10 月 31 日前完成残疾评定")
    local_hukou_only = models.BooleanField("仅限本地户籍", default=False)
    funding_source = models.CharField("资金来源", max_length=100, blank=True)
    certifying_department = models.CharField("认定部门", max_length=100, blank=True)

    class Meta(_Child.Meta):
        verbose_name = "资助标准"
        verbose_name_plural = "资助标准"
        constraints = [
            models.UniqueConstraint(fields=["policy_year", "identity"], name="tier_unique_identity"),
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gte=0),
                                   name="tier_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(percentage__isnull=True) | Q(percentage__gte=0, percentage__lte=100),
                name="tier_percentage_range"),
        ]

    def __str__(self):
        return self.get_identity_display()


@tracked()
class SpecialGroup(_Child):
    code = models.CharField("特殊群体", max_length=40,
                            choices=_choices({**SPECIAL_GROUP_CODES, **IDENTITIES}))
    exempt_from_periods = models.BooleanField("不受缴费期限制", default=True)
    exempt_from_waiting = models.BooleanField("不设等待期", default=True)
    benefit_start = models.CharField("待遇开始", max_length=20, choices=_choices(GROUP_BENEFIT_STARTS),
                                     default="payment_date")
    free_in_birth_year = models.BooleanField("出生当年不缴费", default=False)
    within_months = models.PositiveSmallIntegerField("退出后 N 个月内", null=True, blank=True)

    class Meta(_Child.Meta):
        verbose_name = "特殊群体（不受缴费期/等待期限制）"
        verbose_name_plural = "特殊群体（不受缴费期/等待期限制）"
        constraints = [
            models.UniqueConstraint(fields=["policy_year", "code"], name="special_group_unique_code"),
        ]

    def __str__(self):
        return self.get_code_display()


@tracked()
class FlexibleEmploymentRate(_Child):
    """Flexible-employment medical insurance, a separate scheme (Xianyang 2025)."""

    status = models.CharField("人员状态", max_length=20,
                              choices=[("in_service", "在职"), ("retired", "退休")])
    component = models.CharField("险种", max_length=30, choices=[
        ("basic", "基本医疗保险"), ("large_medical", "大额医疗补助"), ("critical_illness", "大病保险")])
    annual_amount = models.DecimalField("年缴费标准（元）", null=True, blank=True, **MONEY)
    monthly_amount = models.DecimalField("月缴费标准（元）", null=True, blank=True,
                                         help_text="补足中断期间缴费按月计算时使用（基本医疗保险 288 元/月）",
                                         **MONEY)

    class Meta(_Child.Meta):
        verbose_name = "灵活就业人员医疗保险缴费标准"
        verbose_name_plural = "灵活就业人员医疗保险缴费标准"
        constraints = [
            models.UniqueConstraint(fields=["policy_year", "status", "component"],
                                    name="flex_rate_unique"),
            models.CheckConstraint(condition=Q(annual_amount__isnull=True) | Q(annual_amount__gte=0),
                                   name="flex_rate_nonneg"),
        ]

    def __str__(self):
        return f"{self.get_status_display()} {self.get_component_display()}"
