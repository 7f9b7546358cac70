"""GET /profile/{username}: which names are accepted (an optional '@', 2..24 letters, digits,
'_' and '.'; case-insensitive, so '@Name' and 'NAME' are one user and one upstream fetch),
the 400 for every other name (without asking TikTok), and who may ask."""
import pytest

from profile_env import (STATIC_READER, check_scraped, expect_error, get_profile, profile_conf,
                         start_fake_tiktok, tiktok_name)


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok()
    yield f
    f.stop()


@pytest.fixture(scope='module')
def srv(fake, module_server):
    return module_server('pvalid', extra_conf=profile_conf(fake, extra='ProfileCacheTTL 300'))


@pytest.mark.parametrize('raw', ['a', 'x' * 25, 'bad-name', 'sp%20ace', '%C3%A9', '@', '@@x',
                                 '@a', '@' + 'x' * 25, 'x' * 200],
                         ids=['one', '25', 'dash', 'space', 'e-acute', 'at', 'at-at', 'at-one',
                              'at-25', '200'])
def test_invalid_names(env, fake, srv, raw):
    before = fake.total_fetches()
    j = expect_error(get_profile(srv, raw), 400, 'invalid_username')
    assert isinstance(j['message'], str) and j['message'], j
    assert fake.total_fetches() == before, \
        'an invalid name must not reach TikTok: %s' % fake.fetches()


def test_at_sign_and_case_are_one_user(env, fake, srv):
    name = tiktok_name(env, 'case')
    first = get_profile(srv, '@' + name.capitalize())
    assert first.status_code == 200, first.text
    check_scraped(first.json(), name)
    second = get_profile(srv, name.upper())
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert second.headers.get('X-Profile-Cache') == 'hit', second.headers
    seen = {k: v for k, v in fake.fetches().items() if k.lower() == name}
    assert seen == {name: 1}, 'one fetch of the canonical (lower-case) name: %s' % seen


@pytest.mark.parametrize('shape', ['two', 'max', 'dots'])
def test_boundary_names_are_accepted(env, fake, srv, shape):
    base = tiktok_name(env, 'b')
    name = {'two': base[:1] + base[-1:],
            'max': (base + '_' * 24)[:24],
            'dots': base + '.x_y'}[shape]
    r = get_profile(srv, name)
    assert r.status_code == 200, (name, r.text)
    check_scraped(r.json(), name)


def test_api_v1_prefix(env, fake, srv):
    name = tiktok_name(env, 'v1')
    r = srv.call('GET', '/api/v1/profile/' + name, auth=STATIC_READER[0])
    assert r.status_code == 200, r.text
    check_scraped(r.json(), name)
    assert get_profile(srv, name).json() == r.json()
    assert fake.fetches(name) == 1


def test_needs_credentials(env, fake, srv):
    name = tiktok_name(env, 'auth')
    r = srv.call('GET', '/profile/' + name)
    assert r.status_code == 401, r.text
    assert fake.fetches(name) == 0


def test_needs_profiles_read(env, fake, srv, user):
    key = env.generate_key(user, scopes=['sessions:read'])['key']
    name = tiktok_name(env, 'scope')
    expect_error(srv.call('GET', '/profile/' + name, auth=key), 403, 'forbidden')
    assert fake.fetches(name) == 0
