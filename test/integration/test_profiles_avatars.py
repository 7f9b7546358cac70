"""The public avatar endpoints of the generator and initials tiers: GET
/avatars/generated/{username}.svg and /avatars/initials/{username}.svg answer a deterministic
SVG (cacheable for a year) at the asked size, and 400 for bad names and sizes."""
import xml.etree.ElementTree as ET

import pytest

KINDS = ['generated', 'initials']


def svg(server, kind, name, query=''):
    """GET of the avatar without credentials; (response, parsed root element)."""
    r = server.get('/avatars/%s/%s.svg%s' % (kind, name, query))
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get('Content-Type', '').startswith('image/svg+xml'), r.headers
    cc = r.headers.get('Cache-Control', '')
    assert 'max-age=31536000' in cc and 'public' in cc, cc
    root = ET.fromstring(r.content)
    assert root.tag.split('}')[-1] == 'svg', root.tag
    return r, root


@pytest.mark.parametrize('kind', KINDS)
def test_avatar_is_a_deterministic_svg(env, kind):
    name = env.unique('av')
    r1, _ = svg(env.server, kind, name)
    r2, _ = svg(env.server, kind, name)
    assert r1.content == r2.content, 'the same name gives the same bytes'
    other, _ = svg(env.server, kind, env.unique('av') + 'zz')
    assert other.content != r1.content, 'another name gives another picture'
    # The picture is the canonical (lower-case) name's.
    upper, _ = svg(env.server, kind, name.upper())
    assert upper.content == r1.content


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('size', [16, 100, 720, 1080, 2048])
def test_size(env, kind, size):
    _, root = svg(env.server, kind, 'size_check', '?size=%d' % size)
    assert root.get('width') == str(size) and root.get('height') == str(size), root.attrib


@pytest.mark.parametrize('name,initials', [('john_doe', 'JD'), ('x.y', 'XY'), ('__a', 'A'),
                                           ('alice', 'A'), ('9lives', '9')])
def test_initials_text(env, name, initials):
    _, root = svg(env.server, 'initials', name)
    text = ''.join(''.join(e.itertext()) for e in root.iter() if e.tag.split('}')[-1] == 'text')
    text = text.strip()
    assert text == initials, 'initials of %s: %r' % (name, text)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('path', ['bad-name.svg', 'a.svg', 'x' * 25 + '.svg', 'ok_name.png',
                                  'ok_name.svg?size=15', 'ok_name.svg?size=2049',
                                  'ok_name.svg?size=0', 'ok_name.svg?size=abc',
                                  'ok_name.svg?size=-100'])
def test_bad_requests(env, kind, path):
    r = env.server.get('/avatars/%s/%s' % (kind, path))
    assert r.status_code in (400, 404), (path, r.status_code, r.text)
    if '?' in path or path.endswith('.svg'):
        assert r.status_code == 400, (path, r.status_code, r.text)
