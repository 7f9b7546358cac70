#!/usr/bin/env python3
"""Writes the sidecar's sample replay recording, sidecar/replay/demo.ndjson.

One event per line in the streamed schema without session_id and offset (type, id, time,
user {id, username, nickname, avatar_url} or null, then the type's fields), about 3000
events over ten minutes of a busy LIVE: mostly comments in many languages (emoji included),
likes, gifts, joins, follows, shares, and a viewer count every 5-10 s that rises and falls.
About 200 distinct users, a few of them much chattier than the rest.

Deterministic (fixed seed, Python 3 standard library only): running it again gives the same
file byte for byte. Usage: make_replay.py [output path]
"""
import json
import math
import os
import random
import re
import sys
from datetime import datetime, timedelta, timezone

SEED = 20261124
START = datetime(2026, 11, 24, 19, 0, 0, tzinfo=timezone.utc)
DURATION_S = 600.0
USERS = 200
TARGET_EVENTS = 3000          # viewer counts come on top of about this many

USERNAME_RE = re.compile(r"^[a-z0-9_.]{2,24}$")

FIRST = ["maria", "joao", "aiko", "minh", "ahmed", "lucas", "sofia", "kenji", "olga", "emre",
         "priya", "chen", "fatima", "diego", "lena", "yuki", "omar", "ana", "ivan", "mei",
         "carlos", "nina", "hugo", "sara", "tomas", "leila", "jin", "amara", "noah", "eva",
         "rafael", "hana", "ali", "julia", "arjun", "linh", "mateo", "zoe", "tariq", "ines"]
WORDS = ["gamer", "vibes", "music", "daily", "art", "cooks", "fit", "travel", "beauty", "dance",
         "official", "tv", "live", "clips", "fan", "world", "studio", "style", "moon", "star"]
NICK_DECOR = ["", "", "", " ✨", " 🌸", " 🔥", " 💜", " ⚡", " 🎮", " 🌙", " 🦋", " 🍀", " 👑",
              " ☕", " 🎧", " 🐱"]
NICK_NATIVE = {
    "aiko": "あいこ", "kenji": "けんじ", "yuki": "ゆき", "minh": "Minh Nguyễn", "linh": "Linh Trần",
    "ahmed": "أحمد", "fatima": "فاطمة", "omar": "عمر", "leila": "ليلى", "tariq": "طارق",
    "olga": "Ольга", "ivan": "Иван", "chen": "陈晨", "mei": "美美", "jin": "김진", "hana": "하나",
    "priya": "प्रिया", "arjun": "अर्जुन", "emre": "Emre Yılmaz", "joao": "João", "maria": "María",
    "ines": "Inês", "tomas": "Tomás", "mateo": "Mateo ⚽", "amara": "Amara", "ali": "Ali",
}

COMMENTS = [
    # English
    "hello from London 👋", "first time here!", "this song is a vibe 🎶", "lol 😂😂😂",
    "can you say hi to me?", "what game is this?", "love your energy!!", "gg", "W stream",
    "who else is watching at 3am 😅", "drop a ❤️ if you're from the US", "so underrated",
    "how long have you been streaming?", "the lighting looks amazing today",
    "can you play the one from yesterday again pls", "no way 😱", "welcome back!",
    "you deserve way more followers", "hi chat", "let's gooo 🔥🔥🔥", "tap tap tap 💕",
    "what's your setup?", "is this live or a replay?", "greetings from Sydney 🇦🇺",
    # Spanish / Portuguese
    "hola desde México 🇲🇽", "te amo ❤️", "qué canción es esta?", "saludos a todos!",
    "jajajaja 🤣", "eres la mejor", "oi do Brasil 🇧🇷", "que lindo!!", "manda um salve pra mim",
    "kkkkkkk", "amei essa música", "buenas noches desde Bogotá",
    # Indonesian / Vietnamese / Thai
    "halo kak dari Jakarta 🙏", "semangat kak!", "mantap jiwa 👍", "chào mọi người",
    "xin chào từ Hà Nội 🇻🇳", "hay quá", "สวัสดีค่ะ 🙏", "น่ารักมาก 😍",
    # Arabic / Turkish / Hindi
    "مرحبا من الرياض 🇸🇦", "ما شاء الله", "احبك", "selam Türkiye'den 🇹🇷", "çok güzel",
    "नमस्ते भारत से 🇮🇳", "बहुत बढ़िया",
    # Japanese / Korean / Chinese
    "こんばんは！", "かわいい〜 💕", "初見です", "안녕하세요 🇰🇷", "대박 👏", "너무 좋아요",
    "你好 👋", "太厉害了", "加油！",
    # Russian / German / French / Italian
    "привет из Москвы", "класс 👍", "hallo aus Berlin 🇩🇪", "mega!", "coucou de Paris 🇫🇷",
    "trop bien 😍", "ciao dall'Italia 🇮🇹", "bellissimo",
    # emoji only
    "❤️❤️❤️", "🔥", "😂", "👏👏", "🥰", "💯", "🙌🙌", "😭😭", "🌹", "🎉🎉🎉",
]
LONG_COMMENTS = [
    "I've been following you since your very first live and honestly it's been amazing to "
    "watch you grow, keep doing what you love because it shows in every single stream 💖",
    "question for the stream: if you could only eat one food for the rest of your life what "
    "would it be? mine is definitely pizza 🍕 but my sister says sushi 🍣",
    "Acabo de llegar del trabajo y lo primero que hago es ver tu directo, gracias por "
    "alegrarme el día siempre 🥹✨",
]

# (gift_id, name, diamonds per gift, weight)
GIFTS = [
    (5655, "Rose", 1, 40), (5269, "TikTok", 1, 12), (6064, "GG", 1, 10),
    (5827, "Ice Cream Cone", 1, 10), (5487, "Finger Heart", 5, 12), (5879, "Doughnut", 30, 5),
    (6247, "Perfume", 20, 4), (5660, "Hand Hearts", 100, 3), (5585, "Confetti", 100, 2),
    (6267, "Corgi", 299, 1.2), (7168, "Money Gun", 500, 0.8), (5767, "Galaxy", 1000, 0.5),
    (6820, "Whale diving", 2150, 0.2), (6369, "Lion", 29999, 0.05),
]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def make_users(rng):
    users, seen = [], set()
    while len(users) < USERS:
        first = rng.choice(FIRST)
        style = rng.random()
        if style < 0.3:
            name = first + str(rng.randint(1, 9999))
        elif style < 0.55:
            name = first + rng.choice(["_", ".", ""]) + rng.choice(WORDS)
        elif style < 0.75:
            name = rng.choice(WORDS) + "." + first + str(rng.randint(0, 99))
        elif style < 0.9:
            name = first + "_" + rng.choice(WORDS) + "_" + str(rng.randint(1, 99))
        else:
            name = "user" + "".join(rng.choice("0123456789abcdef") for _ in range(10))
        name = name[:24]
        if name in seen or not USERNAME_RE.match(name):
            continue
        seen.add(name)
        native = NICK_NATIVE.get(first)
        if native and rng.random() < 0.5:
            nick = native
        elif rng.random() < 0.15:
            nick = name
        else:
            nick = first.capitalize() + rng.choice(["", "", " " + rng.choice(WORDS).capitalize()])
        nick += rng.choice(NICK_DECOR)
        avatar = ("https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/%032x~c5_100x100.jpeg"
                  % rng.getrandbits(128))
        users.append({"id": str(rng.randint(6700000000000000000, 7399999999999999999)),
                      "username": name, "nickname": nick, "avatar_url": avatar})
    # A few chatty regulars, a long tail of lurkers (Zipf-like weights).
    weights = [1.0 / (i + 1) ** 0.8 for i in range(USERS)]
    return users, weights


def main():
    rng = random.Random(SEED)
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "sidecar", "replay", "demo.ndjson")
    users, weights = make_users(rng)
    gift_weights = [g[3] for g in GIFTS]
    next_id = [7301946211000000000]

    def upstream_id():
        next_id[0] += rng.randint(1, 50000)
        return str(next_id[0])

    events = []          # (seconds, order, event)
    likes_total = rng.randint(12000, 15000)
    # The rate swells and eases like a real room: mean ~5 events/s.
    t = 0.0
    mean_rate = TARGET_EVENTS / DURATION_S
    while True:
        rate = mean_rate * (1.0 + 0.55 * math.sin(t / 47.0) + 0.25 * math.sin(t / 13.0 + 1.0))
        t += rng.expovariate(max(rate, 0.8))
        if t >= DURATION_S:
            break
        user = rng.choices(users, weights)[0]
        r = rng.random()
        ev = {"id": upstream_id(), "user": dict(user)}
        if r < 0.56:
            ev["type"] = "comment"
            if rng.random() < 0.03:
                text = rng.choice(LONG_COMMENTS)
            else:
                text = rng.choice(COMMENTS)
                if rng.random() < 0.08:
                    text = "@%s %s" % (rng.choice(users)["username"], text)
                elif rng.random() < 0.1:
                    text += " " + rng.choice(["😂", "❤️", "🔥", "🙏", "👀", "!!", "??"])
            ev["text"] = text
        elif r < 0.72:
            ev["type"] = "like"
            count = rng.randint(1, 15)
            likes_total += count
            ev["count"] = count
            ev["total"] = likes_total
        elif r < 0.79:
            ev["type"] = "gift"
            gift = rng.choices(GIFTS, gift_weights)[0]
            count = 1 if gift[2] >= 100 else rng.choice([1, 1, 1, 2, 3, 5, 10])
            ev.update(gift_id=gift[0], gift_name=gift[1], count=count, diamonds=gift[2] * count)
        elif r < 0.93:
            ev["type"] = "join"
        elif r < 0.975:
            ev["type"] = "follow"
        else:
            ev["type"] = "share"
        events.append((t, len(events), ev))

    # Viewer counts every 5-10 s: up from ~850 to a peak of ~2400, then easing off.
    t, viewers = rng.uniform(0.5, 2.0), 850
    while t < DURATION_S:
        half = DURATION_S / 2
        if t < half:
            target = 850 + 1550 * math.sin(math.pi / 2 * t / half)
        else:
            target = 2400 - 700 * (t - half) / half
        viewers = max(0, int(viewers + (target - viewers) * 0.35 + rng.randint(-40, 40)))
        events.append((t, len(events), {"id": upstream_id(), "type": "viewers", "user": None,
                                        "viewers": viewers}))
        t += rng.uniform(5.0, 10.0)

    events.sort(key=lambda e: (e[0], e[1]))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for secs, _, ev in events:
            when = START + timedelta(milliseconds=int(secs * 1000))
            line = {"type": ev["type"], "id": ev["id"], "time": iso(when), "user": ev["user"]}
            for k, v in ev.items():
                if k not in ("type", "id", "user"):
                    line[k] = v
            f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(tmp, out)
    print("wrote %s: %d events, %d users" % (out, len(events), len(users)))


if __name__ == "__main__":
    main()
