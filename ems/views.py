"""Browser pages of the EMS (thin)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from ems import selectors
from oms.selectors import instrument_list


@login_required
def market_index(request):
    first = instrument_list().first()
    if first is None:
        raise Http404("No instruments")
    return redirect("market", symbol=first.symbol)


@login_required
def market(request, symbol: str):
    """Live L2 ladders per venue, consolidated BBO, recent prints and a price chart for one instrument."""
    instruments = list(instrument_list())
    instrument = next((i for i in instruments if i.symbol == symbol.upper()), None)
    if instrument is None:
        raise Http404(f"No instrument {symbol}")
    return render(request, "ems/market.html", {
        "instrument": instrument, "instruments": instruments, "view": selectors.market_view(instrument),
        "vol_pct": instrument.daily_volatility * 100,
    })
