"""Which regions a user may see: caseworkers their own, auditors and superusers all."""

from django.db.models import Q


def region_codes(user) -> frozenset[str] | None:
    """None = every region; otherwise the codes the user works on (maybe empty)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    if user.is_superuser or user.has_perm("accounts.all_regions"):
        return None
    cached = getattr(user, "_region_codes", None)
    if cached is None:
        from .models import StaffRegion

        cached = frozenset(StaffRegion.objects.filter(user=user).values_list("region_id", flat=True))
        user._region_codes = cached
    return cached


def scope(queryset, user, field: str = "region"):
    """Filter a queryset to the user's regions (``field`` names the region FK path)."""
    codes = region_codes(user)
    if codes is None:
        return queryset
    return queryset.filter(**{f"{field}__in": codes})


def can_see_region(user, code: str) -> bool:
    codes = region_codes(user)
    return codes is None or code in codes
