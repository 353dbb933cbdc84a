#!/usr/bin/env python3
"""Generate a benchmark corpus shaped like a real school account.

    make-corpus.py account DIR [--seed N] [--images 3000] [--videos 40] [--posts 20000]
    make-corpus.py big DIR [--seed N] [--size-gib 4]

`account`: about 2.4 GB of incompressible media plus Arabic JSON posts:

    DIR/media/images/YYYY-MM/IMG_NNNNN.jpg   3,000 files of 100-800 KiB: FF D8 FF E0 + random bytes
    DIR/media/videos/YYYY-MM/VID_NNNN.mp4    40 files of 5-40 MiB: an MP4 `ftyp` box + random bytes
    DIR/posts/YYYY-MM/<tweet id>.json        20,000 X-API-v2-like posts, ~1-2 KB each, Arabic text,
                                             emoji and Eastern Arabic digits

`big`: one 4 GiB random "video", DIR/video/lecture-recording.mp4.

Everything is deterministic: each file's size and bytes come from its own generator seeded by
(seed, kind, index), so the output does not depend on the order or the number of worker processes.
Random bytes come from `random.Random.randbytes` (standard library only), made on every core.
A finished corpus leaves DIR.done (beside DIR, not inside it) holding its parameters; running again with the same
parameters does nothing, so a benchmark can be re-run without regenerating the corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time
from multiprocessing import Pool

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

JPEG_MAGIC = b"\xff\xd8\xff\xe0"
# An MP4 file starts with a `ftyp` box: 32-bit size (0x18), "ftyp", major brand, minor version,
# compatible brands. Only the first 12 bytes are fixed by the brief; the rest is a plausible box.
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"

# Random bytes are produced and written in blocks of this size.
BLOCK = 1 * MIB
# The big file is split into segments, each with its own generator, so cores can share the work.
SEGMENT = 64 * MIB

MONTHS = [f"{y}-{m:02d}" for y, ms in ((2024, range(9, 13)), (2025, range(1, 7))) for m in ms]


def rng(seed: int, *parts: object) -> random.Random:
    """An independent generator for one file (or segment): seeded by a hash of its identity."""
    h = hashlib.sha256(repr((seed,) + parts).encode()).digest()
    return random.Random(int.from_bytes(h, "big"))


def write_random(f, r: random.Random, n: int) -> None:
    while n > 0:
        k = min(BLOCK, n)
        f.write(r.randbytes(k))
        n -= k


# ---------------------------------------------------------------- media


def media_plan(seed: int, images: int, videos: int) -> list[tuple[str, int, str, int]]:
    """(kind, index, relative path, size) of every media file."""
    plan = []
    for i in range(images):
        r = rng(seed, "image-size", i)
        size = r.randint(100 * KIB, 800 * KIB)
        month = MONTHS[i * len(MONTHS) // images]
        plan.append(("image", i, f"media/images/{month}/IMG_{i + 1:05d}.jpg", size))
    for i in range(videos):
        r = rng(seed, "video-size", i)
        size = r.randint(5 * MIB, 40 * MIB)
        month = MONTHS[i * len(MONTHS) // videos]
        plan.append(("video", i, f"media/videos/{month}/VID_{i + 1:04d}.mp4", size))
    return plan


def make_media(job: tuple[str, int, tuple[str, int, str, int]]) -> int:
    root, seed, (kind, i, rel, size) = job[0], job[1], job[2]
    magic = JPEG_MAGIC if kind == "image" else MP4_HEADER
    path = os.path.join(root, rel)
    with open(path, "wb") as f:
        f.write(magic)
        write_random(f, rng(seed, kind, i), size - len(magic))
    return size


# ---------------------------------------------------------------- posts

AR_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

OPENINGS = [
    "تعلن إدارة المدرسة",
    "يسر مدرستنا أن تعلن",
    "نرحب بطلابنا وطالباتنا",
    "نهنئ طلابنا الأعزاء",
    "تدعو المدرسة أولياء الأمور",
    "بكل فخر واعتزاز نعلن",
    "تذكير لجميع الطلاب",
    "شاركونا فرحتنا",
    "نشكر جميع المعلمين والمعلمات",
    "في إطار الأنشطة اللاصفية",
]
TOPICS = [
    "عن بدء التسجيل في النادي العلمي",
    "بفوز فريق الروبوت بالمركز الأول في المسابقة الوطنية",
    "بانطلاق أسبوع القراءة في مكتبة المدرسة",
    "عن موعد اجتماع مجلس الآباء والأمهات",
    "عن جدول الاختبارات النهائية للفصل الدراسي الأول",
    "عن رحلة علمية إلى متحف العلوم والتقنية",
    "بتكريم الطلاب المتفوقين في حفل نهاية العام",
    "عن حملة التبرع بالكتب لصالح المكتبات المدرسية",
    "بمشاركة طالباتنا في أولمبياد الرياضيات",
    "عن اليوم الرياضي المفتوح في ملعب المدرسة",
    "بإطلاق مبادرة الحقيبة المدرسية الخفيفة",
    "عن ورشة البرمجة للمبتدئين بالتعاون مع الجامعة",
]
DETAILS = [
    "وذلك يوم {day} الموافق {date} الساعة {hour} صباحًا",
    "آخر موعد للتسجيل {date}",
    "بمشاركة {n} طالبًا وطالبة من جميع المراحل",
    "في القاعة رقم {room} بالمبنى الرئيسي",
    "ونتمنى لهم دوام التوفيق والنجاح",
    "ويسعدنا حضوركم ومشاركتكم",
    "للاستفسار يرجى التواصل مع شؤون الطلاب على الرقم {phone}",
    "حصل الفريق على {n} نقطة من أصل {m}",
]
DAYS = ["الأحد", "الاثنين", "الثلاثاء", "الأربعاء", "الخميس"]
HASHTAGS = [
    "العودة_للمدارس",
    "مدرستي",
    "التعليم",
    "الأنشطة_الطلابية",
    "فخورون_بكم",
    "القراءة",
    "الروبوت",
    "اليوم_الرياضي",
    "التميز",
    "رؤية_٢٠٣٠",
]
EMOJI = ["🎓", "🏆", "📚", "✨", "👏", "🇸🇦", "🔬", "⚽", "🎉", "💙", "📢", "🤖", "🌟", "✅"]
MENTIONS = ["moe_gov", "school_parents", "science_club", "sports_dept", "library_team"]
SOURCES = ["Twitter for iPhone", "Twitter Web App", "Twitter for Android", "TweetDeck"]


def post_text(r: random.Random) -> tuple[str, list[str], list[str]]:
    parts = [r.choice(OPENINGS), r.choice(TOPICS)]
    for _ in range(r.randint(1, 3)):
        d = r.choice(DETAILS).format(
            day=r.choice(DAYS),
            date=f"{r.randint(1, 28)}/{r.randint(1, 12)}/{r.choice((1446, 1447))}هـ",
            hour=f"{r.randint(7, 11)}:{r.choice(('00', '30'))}",
            n=r.randint(5, 400),
            m=r.randint(400, 1000),
            room=r.randint(1, 60),
            phone=f"0{r.randint(10, 99)}{r.randint(1000000, 9999999)}",
        )
        parts.append(d)
    text = "، ".join(parts).translate(AR_DIGITS) + "."
    tags = r.sample(HASHTAGS, r.randint(1, 3))
    mentions = r.sample(MENTIONS, r.randint(0, 2))
    text += " " + "".join(r.sample(EMOJI, r.randint(1, 3)))
    if mentions:
        text += " " + " ".join("@" + m for m in mentions)
    text += " " + " ".join("#" + t for t in tags)
    return text, tags, mentions


def entity_spans(text: str, marker: str, words: list[str], key: str) -> list[dict]:
    out = []
    for w in words:
        start = text.find(marker + w)
        if start >= 0:
            out.append({"start": start, "end": start + 1 + len(w), key: w})
    return out


def make_post(seed: int, i: int, count: int) -> tuple[str, bytes]:
    r = rng(seed, "post", i)
    month = MONTHS[i * len(MONTHS) // count]
    tid = str(1830000000000000000 + i * 7919 + r.randint(0, 7000))
    y, m = month.split("-")
    created = f"{y}-{m}-{r.randint(1, 28):02d}T{r.randint(5, 20):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.000Z"
    text, tags, mentions = post_text(r)
    media_keys = [f"3_{tid[:-2]}{k:02d}" for k in range(r.choice((0, 0, 1, 1, 2, 4)))]
    author = "1500000000000000042"
    metrics = {
        "retweet_count": r.randint(0, 300),
        "reply_count": r.randint(0, 80),
        "like_count": r.randint(0, 2500),
        "quote_count": r.randint(0, 30),
        "bookmark_count": r.randint(0, 60),
        "impression_count": r.randint(500, 90000),
    }
    data = {
        "id": tid,
        "text": text,
        "created_at": created,
        "author_id": author,
        "conversation_id": tid,
        "lang": "ar",
        "source": r.choice(SOURCES),
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "edit_history_tweet_ids": [tid],
        "public_metrics": metrics,
        "entities": {
            "hashtags": entity_spans(text, "#", tags, "tag"),
            "mentions": entity_spans(text, "@", mentions, "username"),
        },
    }
    includes: dict = {
        "users": [
            {
                "id": author,
                "name": "مدرسة النور الابتدائية ١٢",
                "username": "alnoor_school",
                "verified": True,
                "description": "الحساب الرسمي لمدرسة النور الابتدائية — أخبار وأنشطة وإعلانات 📚",
            }
        ]
    }
    if media_keys:
        data["attachments"] = {"media_keys": media_keys}
        includes["media"] = [
            {
                "media_key": k,
                "type": "photo",
                "width": r.choice((1080, 1200, 2048)),
                "height": r.choice((720, 1080, 1350)),
                "alt_text": "صورة من " + r.choice(TOPICS)[3:],
            }
            for k in media_keys
        ]
    doc = {"data": data, "includes": includes}
    rel = f"posts/{month}/{tid}.json"
    return rel, (json.dumps(doc, ensure_ascii=False) + "\n").encode()


def make_posts(job: tuple[str, int, int, int, int]) -> int:
    root, seed, lo, hi, count = job
    total = 0
    for i in range(lo, hi):
        rel, body = make_post(seed, i, count)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(body)
        total += len(body)
    return total


# ---------------------------------------------------------------- big file


def make_segment(job: tuple[str, int, int, int]) -> int:
    path, seed, index, size = job
    start = index * SEGMENT
    n = min(SEGMENT, size - start)
    r = rng(seed, "big", index)
    fd = os.open(path, os.O_WRONLY)
    try:
        off = start
        if index == 0:
            os.pwrite(fd, MP4_HEADER, 0)
            off += len(MP4_HEADER)
            n -= len(MP4_HEADER)
        while n > 0:
            k = min(BLOCK, n)
            os.pwrite(fd, r.randbytes(k), off)
            off += k
            n -= k
    finally:
        os.close(fd)
    return min(SEGMENT, size - start)


# ---------------------------------------------------------------- main


def marker_path(root: str) -> str:
    return os.path.normpath(root) + ".done"


def done_marker(root: str, params: dict) -> bool:
    try:
        with open(marker_path(root), encoding="utf-8") as f:
            return json.load(f).get("params") == params
    except (OSError, ValueError):
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("account", "big"))
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=20250504)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--size-gib", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="regenerate even if DIR.done matches")
    a = ap.parse_args()

    if a.kind == "account":
        params = {"kind": "account", "seed": a.seed, "images": a.images, "videos": a.videos, "posts": a.posts, "v": 1}
    else:
        params = {"kind": "big", "seed": a.seed, "size": int(a.size_gib * GIB), "v": 1}
    if not a.force and done_marker(a.dir, params):
        print(f"{a.dir}: corpus already made ({params})", file=sys.stderr)
        return 0
    if os.path.exists(marker_path(a.dir)):
        os.remove(marker_path(a.dir))
    if os.path.exists(a.dir):
        shutil.rmtree(a.dir)
    os.makedirs(a.dir)
    t0 = time.monotonic()
    total = 0
    files = 0
    with Pool(a.jobs) as pool:
        if a.kind == "account":
            plan = media_plan(a.seed, a.images, a.videos)
            for _, _, rel, _ in plan:
                os.makedirs(os.path.join(a.dir, os.path.dirname(rel)), exist_ok=True)
            for month in MONTHS:
                os.makedirs(os.path.join(a.dir, "posts", month), exist_ok=True)
            # Biggest first, so the pool's workers finish together.
            plan.sort(key=lambda p: -p[3])
            total += sum(pool.imap_unordered(make_media, [(a.dir, a.seed, p) for p in plan], chunksize=4))
            step = 1000
            jobs = [(a.dir, a.seed, lo, min(lo + step, a.posts), a.posts) for lo in range(0, a.posts, step)]
            total += sum(pool.imap_unordered(make_posts, jobs))
            files = len(plan) + a.posts
        else:
            size = params["size"]
            path = os.path.join(a.dir, "video", "lecture-recording.mp4")
            os.makedirs(os.path.dirname(path))
            with open(path, "wb") as f:
                f.truncate(size)
            segments = (size + SEGMENT - 1) // SEGMENT
            total += sum(pool.imap_unordered(make_segment, [(path, a.seed, i, size) for i in range(segments)]))
            files = 1
    with open(marker_path(a.dir), "w", encoding="utf-8") as f:
        json.dump({"params": params, "files": files, "bytes": total}, f)
    dt = time.monotonic() - t0
    print(f"{a.dir}: {files} files, {total} bytes in {dt:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
