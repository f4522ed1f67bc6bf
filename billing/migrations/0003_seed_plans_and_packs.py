"""The plans and top-up packs of seed 003. Stripe price ids are filled in per installation
(console, or STRIPE_PRICE_* below at migration time); without them checkout is disabled."""

import os
from decimal import Decimal

from django.db import migrations

PLANS = [
    ("free", "Free", Decimal("0"), 500, 10, ""),
    ("guru", "Guru", Decimal("10"), 10_000, 30, "STRIPE_GURU_PRICE_ID"),
    ("pro", "Pro", Decimal("50"), 55_000, 100, "STRIPE_PRO_PRICE_ID"),
]
PACKS = [
    ("small", "Small", Decimal("5"), 5_000, "STRIPE_TOPUP_5_PRICE_ID"),
    ("medium", "Medium", Decimal("25"), 27_500, "STRIPE_TOPUP_25_PRICE_ID"),
    ("large", "Large", Decimal("100"), 125_000, "STRIPE_TOPUP_100_PRICE_ID"),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    TopUpPack = apps.get_model("billing", "TopUpPack")
    for position, (slug, name, price, credits, rpm, env) in enumerate(PLANS):
        Plan.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "price_usd": price,
                "monthly_credits": credits,
                "rpm_limit": rpm,
                "stripe_price_id": os.environ.get(env, "") if env else "",
                "position": position,
            },
        )
    for position, (slug, name, price, credits, env) in enumerate(PACKS):
        TopUpPack.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "price_usd": price,
                "credits": credits,
                "stripe_price_id": os.environ.get(env, ""),
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_plans_credits_rollups")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
