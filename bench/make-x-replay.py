#!/usr/bin/env python3
"""Build an X API v2 replay tree from the benchmark account corpus, for `replay-server`.

    make-x-replay.py CORPUS OUT [--posts 1000] [--images N] [--videos N] [--page-size 100]

CORPUS is the `account` corpus of make-corpus.py (media/images/*/IMG_*.jpg,
media/videos/*/VID_*.mp4, posts/*/<id>.json). OUT is rebuilt from scratch:

    OUT/routes.json                  path + query -> file, for the API documents
    OUT/api/users-me.json            GET /2/users/me (id 1409876543210987776, tweet_count = posts)
    OUT/api/tweets/page-NN.json      GET /2/users/{id}/tweets, newest first, `meta.next_token`
                                     on every page but the last
    OUT/pbs/media/<name>.jpg         photos  (https://pbs.twimg.com/media/<name>.jpg)
    OUT/video/ext_tw_video/<id>/pu/vid/avc1/1280x720/<name>.mp4
                                     videos: the highest-bit_rate mp4 variant
    OUT/urls.txt                     every URL a client fetches, as the server serves it (path and
                                     query, relative to http://HOST:PORT): the API documents first,
                                     then the media, in the order of the timeline
    OUT/manifest.json                counts and bytes (API documents, media, total)

Media files are hard links to the corpus files (symbolic links if the two are on different file
systems), never copies. Only the variant a client should download exists: the lower mp4 variants,
the HLS playlist and the video preview images are listed in the API documents but answer 404, so
a client that fetches them shows up in the server's log.

The posts are the newest `--posts` of the corpus (text, created_at, metrics, entities); the
`--images` images and `--videos` videos (default: all of the corpus) are spread over them: one
video per video post (evenly spaced along the timeline), the images over the other posts, as evenly
as possible (at most 4 per post, X's limit). Everything is deterministic.

The host rewrite a client needs: api.x.com=http://HOST:PORT/api,
pbs.twimg.com=http://HOST:PORT/pbs, video.twimg.com=http://HOST:PORT/video.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import json
import os
import shutil
import sys
from urllib.parse import urlencode, urlsplit

USER_ID = "1409876543210987776"
USERNAME = "alnoor_school"
USER_NAME = "مدرسة النور الابتدائية ١٢"
MEDIA_ID_BASE = 1831000000000000000

# The requests the adapter sends (crates/fetcher/src/platforms/x/api.rs, platforms.md §1.2): the
# replay ignores the query except pagination_token, but urls.txt carries it so that the baseline
# fetches the same URLs.
TWEET_FIELDS = (
    "created_at,lang,attachments,entities,public_metrics,referenced_tweets,note_tweet,"
    "conversation_id,in_reply_to_user_id,edit_history_tweet_ids,possibly_sensitive,reply_settings,author_id"
)
USER_FIELDS = "created_at,description,profile_image_url,protected,public_metrics,verified,pinned_tweet_id,url,username,name"
TWEETS_QUERY = [
    ("max_results", "100"),
    ("tweet.fields", TWEET_FIELDS),
    ("expansions", "attachments.media_keys,author_id,referenced_tweets.id,referenced_tweets.id.author_id"),
    ("media.fields", "url,variants,preview_image_url,duration_ms,width,height,alt_text,type,public_metrics"),
    ("user.fields", USER_FIELDS),
]
ME_QUERY = [("user.fields", USER_FIELDS), ("expansions", "pinned_tweet_id"), ("tweet.fields", TWEET_FIELDS)]

# Video variants: (bit_rate, resolution); the last is the highest and is the corpus file. Listed
# in the documents in a shuffled order (X's variants are unordered), with the HLS playlist.
VARIANTS = [(256000, "480x270"), (832000, "640x360"), (2176000, "1280x720")]


def h(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def media_name(mid: str) -> str:
    """15 URL-safe characters, like X's media names (GWa1bC2XsAAq9Zk)."""
    return base64.urlsafe_b64encode(h("name", mid)).decode()[:15].replace("-", "A").replace("_", "B")


def token(page: int) -> str:
    """A pagination token like X's (lowercase base-36-ish, 24+ characters)."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    n = int.from_bytes(h("token", page), "big")
    out = []
    for _ in range(27):
        n, r = divmod(n, 36)
        out.append(alphabet[r])
    return "7140dibdnow9c7btw4" + "".join(out)[:24]


def tco(*parts: object) -> str:
    return base64.urlsafe_b64encode(h("tco", *parts)).decode()[:10].replace("-", "x").replace("_", "Z")


def link(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(os.path.abspath(src), dst)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--images", type=int, help="images to use (default: all of the corpus)")
    ap.add_argument("--videos", type=int, help="videos to use (default: all of the corpus)")
    ap.add_argument("--page-size", type=int, default=100)
    a = ap.parse_args()

    images = sorted(glob.glob(os.path.join(a.corpus, "media/images/*/*.jpg")))
    videos = sorted(glob.glob(os.path.join(a.corpus, "media/videos/*/*.mp4")))
    post_files = glob.glob(os.path.join(a.corpus, "posts/*/*.json"))
    if a.images is not None:
        images = images[: a.images]
    if a.videos is not None:
        videos = videos[: a.videos]
    if len(post_files) < a.posts:
        sys.exit(f"make-x-replay: the corpus has {len(post_files)} posts, {a.posts} asked")
    if len(videos) > a.posts:
        sys.exit("make-x-replay: more videos than posts")
    photo_posts = a.posts - len(videos)
    if images and photo_posts == 0:
        sys.exit("make-x-replay: no post left for the images")
    if photo_posts and -(-len(images) // photo_posts) > 4:
        sys.exit(f"make-x-replay: {len(images)} images over {photo_posts} posts is more than 4 per post")

    # Newest first, like the timeline. Corpus ids grow with time.
    post_files.sort(key=lambda p: int(os.path.basename(p)[:-5]), reverse=True)
    posts = []
    for p in post_files[: a.posts]:
        with open(p, encoding="utf-8") as f:
            posts.append(json.load(f)["data"])

    # Which posts carry a video: evenly spaced along the timeline.
    n, nv = a.posts, len(videos)
    video_at = {min(n - 1, (2 * k + 1) * n // (2 * nv)): k for k in range(nv)}
    # Images per photo post: base, and one more for the first `extra` photo posts met (spread out
    # by interleaving: post j of the photo posts gets one more when its share crosses a unit).
    counts = []
    if photo_posts:
        for j in range(photo_posts):
            counts.append((j + 1) * len(images) // photo_posts - j * len(images) // photo_posts)

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(os.path.join(a.out, "api", "tweets"))

    media_urls: list[str] = []  # served path + query
    media_bytes = 0
    next_image = 0
    next_media_id = 0
    photo_j = 0
    data_out = []  # (post, [media objects])
    for i, src in enumerate(posts):
        tid = src["id"]
        post = {
            "id": tid,
            "text": src["text"],
            "edit_history_tweet_ids": [tid],
            "created_at": src["created_at"],
            "author_id": USER_ID,
            "conversation_id": tid,
            "lang": src.get("lang", "ar"),
            "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": src["public_metrics"],
            "entities": src.get("entities", {}),
        }
        media = []
        if i in video_at:
            vpath = videos[video_at[i]]
            mid = str(MEDIA_ID_BASE + next_media_id)
            next_media_id += 1
            name = media_name(mid)
            variants = []
            for rate, res in VARIANTS:
                url = f"https://video.twimg.com/ext_tw_video/{mid}/pu/vid/avc1/{res}/{name}.mp4?tag=12"
                variants.append({"bit_rate": rate, "content_type": "video/mp4", "url": url})
            best = variants[-1]["url"]
            u = urlsplit(best)
            link(vpath, os.path.join(a.out, "video", u.path.lstrip("/")))
            media_urls.append(f"/video{u.path}?{u.query}")
            media_bytes += os.path.getsize(vpath)
            hls = {
                "content_type": "application/x-mpegURL",
                "url": f"https://video.twimg.com/ext_tw_video/{mid}/pu/pl/{name}.m3u8?tag=12&container=fmp4",
            }
            media.append(
                {
                    "media_key": f"7_{mid}",
                    "type": "video",
                    "duration_ms": 10000 + int.from_bytes(h("dur", mid)[:4], "big") % 110000,
                    "width": 1280,
                    "height": 720,
                    "preview_image_url": f"https://pbs.twimg.com/ext_tw_video_thumb/{mid}/pu/img/{name}.jpg",
                    "public_metrics": {"view_count": int.from_bytes(h("views", mid)[:3], "big")},
                    # unordered, as X sends them: HLS, middle, highest, lowest
                    "variants": [hls, variants[1], variants[2], variants[0]],
                }
            )
        elif photo_posts:
            for _ in range(counts[photo_j]):
                ipath = images[next_image]
                next_image += 1
                mid = str(MEDIA_ID_BASE + next_media_id)
                next_media_id += 1
                name = media_name(mid)
                link(ipath, os.path.join(a.out, "pbs", "media", f"{name}.jpg"))
                media_urls.append(f"/pbs/media/{name}.jpg?name=orig")
                media_bytes += os.path.getsize(ipath)
                media.append(
                    {
                        "media_key": f"3_{mid}",
                        "type": "photo",
                        "url": f"https://pbs.twimg.com/media/{name}.jpg",
                        "width": (1080, 1200, 2048)[h("w", mid)[0] % 3],
                        "height": (720, 1080, 1350)[h("h", mid)[0] % 3],
                        "alt_text": "صورة من أنشطة المدرسة",
                    }
                )
            photo_j += 1
        if media:
            post["attachments"] = {"media_keys": [m["media_key"] for m in media]}
            # One t.co link at the end of the text for the media, one entities.urls entry per media.
            short = f"https://t.co/{tco(tid)}"
            start = len(post["text"]) + 1  # code points
            post["text"] = post["text"] + " " + short
            kind = "video" if media[0]["type"] == "video" else "photo"
            post["entities"] = dict(post["entities"])
            post["entities"]["urls"] = [
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": f"https://x.com/{USERNAME}/status/{tid}/{kind}/{k + 1}",
                    "display_url": f"pic.x.com/{tco(tid)}",
                    "media_key": m["media_key"],
                }
                for k, m in enumerate(media)
            ]
        data_out.append((post, media))
    assert next_image == len(images), (next_image, len(images))

    user = {
        "id": USER_ID,
        "name": USER_NAME,
        "username": USERNAME,
        "created_at": "2021-06-29T07:12:45.000Z",
        "description": "الحساب الرسمي لمدرسة النور الابتدائية — أخبار وأنشطة وإعلانات 📚",
        "profile_image_url": "https://pbs.twimg.com/profile_images/1409877000000000000/aBcDeFgH_normal.jpg",
        "protected": False,
        "verified": True,
        "public_metrics": {
            "followers_count": 4821,
            "following_count": 112,
            "tweet_count": a.posts,
            "listed_count": 9,
            "like_count": 356,
            "media_count": len(images) + len(videos),
        },
    }

    # The profile picture, fetched by tawthiq at its original size (without `_normal`): the
    # first image of the corpus stands in for the school's logo.
    avatar = "/pbs/profile_images/1409877000000000000/aBcDeFgH.jpg"
    link(images[0], os.path.join(a.out, avatar.lstrip("/")))
    media_urls.append(avatar)
    media_bytes += os.path.getsize(images[0])

    def write_json(rel: str, doc: dict) -> int:
        body = (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with open(os.path.join(a.out, rel), "wb") as f:
            f.write(body)
        return len(body)

    routes = []
    api_urls = []
    api_bytes = write_json("api/users-me.json", {"data": user})
    routes.append({"path": "/api/2/users/me", "file": "api/users-me.json"})
    api_urls.append("/api/2/users/me?" + urlencode(ME_QUERY))
    tweets_path = f"/api/2/users/{USER_ID}/tweets"
    pages = [data_out[k : k + a.page_size] for k in range(0, len(data_out), a.page_size)] or [[]]
    for p, page in enumerate(pages, start=1):
        doc: dict = {}
        if page:
            doc["data"] = [post for post, _ in page]
            media = [m for _, ms in page for m in ms]
            doc["includes"] = {"users": [user]}
            if media:
                doc["includes"]["media"] = media
        meta = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0][0]["id"]
            meta["oldest_id"] = page[-1][0]["id"]
        if p < len(pages):
            meta["next_token"] = token(p + 1)
        doc["meta"] = meta
        rel = f"api/tweets/page-{p:02d}.json"
        api_bytes += write_json(rel, doc)
        q = list(TWEETS_QUERY)
        if p == 1:
            routes.append({"path": tweets_path, "query": {"pagination_token": None}, "file": rel})
        else:
            routes.append({"path": tweets_path, "query": {"pagination_token": token(p)}, "file": rel})
            q.append(("pagination_token", token(p)))
        api_urls.append(tweets_path + "?" + urlencode(q))

    with open(os.path.join(a.out, "routes.json"), "w", encoding="utf-8") as f:
        json.dump({"routes": routes}, f, indent=1)
    with open(os.path.join(a.out, "urls.txt"), "w", encoding="utf-8") as f:
        f.writelines(u + "\n" for u in api_urls + media_urls)
    manifest = {
        "user_id": USER_ID,
        "posts": a.posts,
        "pages": len(pages),
        "images": len(images),
        "videos": len(videos),
        "api_documents": len(api_urls),
        "api_bytes": api_bytes,
        "media_files": len(media_urls),
        "media_bytes": media_bytes,
        "urls": len(api_urls) + len(media_urls),
        "bytes": api_bytes + media_bytes,
    }
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    print(
        f"{a.out}: {a.posts} posts on {len(pages)} pages, {len(images)} images, {len(videos)} videos; "
        f"{manifest['urls']} URLs, {manifest['bytes']} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
