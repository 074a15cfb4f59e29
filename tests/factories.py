"""factory_boy factories for the OMS (shared by every test module)."""

from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from oms.models import Instrument, Portfolio, RestrictedInstrument, RiskLimit


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Corp.")
    reference_price = Decimal("100.00")
    adv = 10_000_000
    daily_volatility = Decimal("0.0200")
    spread_bps = Decimal("2.0")
    tick_size = Decimal("0.01")
    lot_size = 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "secret-pass-1")
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


class PortfolioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portfolio
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"PF{n}")
    name = factory.LazyAttribute(lambda o: f"Portfolio {o.code}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class RiskLimitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskLimit


class RestrictedInstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RestrictedInstrument

    reason = "restricted list"
