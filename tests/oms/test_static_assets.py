"""Every page loads its scripts, styles and images from this server: no CDN at run time."""

import re

import pytest

ASSET = re.compile(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", ["/login/", "/", "/api/docs/", "/market/ACME/", "/orders/{order_id}/"])
def test_page_assets_are_served_locally(client, pm, portfolio, instrument, path, submit_order):
    from ems.services import venues_sync_from_sim

    venues_sync_from_sim()
    order = submit_order(pm)
    if path != "/login/":
        client.force_login(pm)

    page = client.get(path.format(order_id=order.id))

    assert page.status_code == 200
    assets = ASSET.findall(page.content.decode())
    assert assets, "the page loads no assets at all?"
    for url in assets:
        assert url.startswith(("/", "data:")) and not url.startswith("//"), f"{path} loads {url} from elsewhere"
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


@pytest.fixture
def submit_order(order_payload):
    from oms.roles import Actor
    from oms.services import order_submit

    def submit(user):
        return order_submit(user=user, actor=Actor.for_user(user, "api"), data=order_payload()).order

    return submit
