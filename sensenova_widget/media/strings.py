"""Strings a user gives as media: URLs checked before sending, paths, base64, quoted safely.

A string reaches the media layer from code (`snw.image("photo.jpg")`) or from data (a caption
column), so it may be anything: an http(s) URL, a data: URL, base64, a path, or plain text.
Each is read as what it looks like, never guessed: a path is a path only when it looks like one
(it exists, ends with an image or video suffix, or is written as a path), and `~` is expanded.

Error messages quote a string only as far as is safe: a URL by its scheme and host (a query
string may carry a signature), any other text by a short prefix, and never what a file holds.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from ..errors import MediaError
from .values import IMAGE_SUFFIXES, VIDEO_SUFFIXES, in_words

SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,20}):")
# Characters RFC 3986 allows in a URL; anything else must be percent-encoded.
_URL_CHAR = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
URL_RULE = (
    "an http:// or https:// URL with a host, holding only letters, digits and -._~:/?#[]@!$&'()*+,;=% "
    "(percent-encode anything else, e.g. with urllib.parse.quote)"
)


def has_scheme(text: str) -> bool:
    """`text` starts like a URL (`scheme://`), whatever the scheme; data: URLs are apart."""
    found = SCHEME_RE.match(text)
    return found is not None and text[found.end() : found.end() + 2] == "//"


def check_url(text: str, kind: str = "image") -> str:
    """The http(s) URL `text`, stripped, once it is one the service can fetch; otherwise a
    MediaError saying what is wrong and what is allowed (a bad URL is refused before sending)."""
    url = text.strip()
    found = SCHEME_RE.match(url)
    scheme = found.group(1).lower() if found else ""
    if scheme not in ("http", "https") or url[len(scheme) + 1 : len(scheme) + 3] != "//":
        named = f"the scheme {scheme}:" if scheme else "no scheme"
        raise MediaError(f"an {kind} URL with {named} is not allowed: expected {URL_RULE}.")
    shown = url_origin(url)
    for position, char in enumerate(url, 1):
        if not _URL_CHAR.match(char):
            raise MediaError(
                f"the {kind} URL {shown} is not allowed: it holds {char_in_words(char)} at character "
                f"{position}; expected {URL_RULE}."
            )
    if _BAD_PERCENT.search(url):
        raise MediaError(
            f"the {kind} URL {shown} is not allowed: a % is not followed by two hex digits; "
            f"expected {URL_RULE}."
        )
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise MediaError(
            f"the {kind} URL {shown} is not allowed: its port is not valid; expected {URL_RULE}."
        ) from None
    if not parts.hostname:
        raise MediaError(f"the {kind} URL {shown} is not allowed: it has no host; expected {URL_RULE}.")
    return url


def url_origin(url: str) -> str:
    """The URL's scheme and host, quoted for a message: no user name or password, no path or
    query (a signed URL's query is a credential), at most 60 characters."""
    scheme, _, rest = url.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    origin = f"{scheme}://{host}"
    origin = origin if len(origin) <= 60 else origin[:57] + "..."
    return repr(origin + ("/..." if len(rest) > len(host) else ""))


def char_in_words(char: str) -> str:
    """ "a space", "a line break", "the character '<'": a character a URL may not hold."""
    named = {" ": "a space", "\n": "a line break", "\r": "a line break", "\t": "a tab"}
    if char in named:
        return named[char]
    if not char.isprintable():
        return "a control character"
    if not char.isascii():
        return f"the non-ASCII character {char!r}"
    return f"the character {char!r}"


def safe_prefix(text: str, limit: int = 8) -> str:
    """The first `limit` characters of a string the user gave, escaped, for an error message:
    enough to find the value, too little to repeat a secret it might hold."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def looks_base64(text: str) -> bool:
    """At least 16 characters of the base64 alphabet, checked at both ends (cheap on 20 MB)."""
    return len(text) >= 16 and bool(_BASE64_RE.match(text[:4096])) and bool(_BASE64_RE.match(text[-4096:]))


def expand(path: str) -> str:
    """`~` and `~user` expanded, as in a shell: the media layer reads `~/photo.jpg` from home."""
    return os.path.expanduser(path)


def path_of(text: str) -> str | None:
    """The path (`~` expanded) a string names when it looks like one, else None.

    It looks like a path when it names an existing file or folder, ends with an image or video
    suffix (.jpg, .png, .mp4, ...), starts with `~`, `./`, `../` or a drive (`C:\\`), or holds a
    `/` and is not base64. Plain text ("a red car", an id) is not a path.
    """
    if not text or len(text) > 4096 or not text.isprintable():
        return None
    path = expand(text)
    if (
        os.path.exists(path)
        or text.lower().endswith(IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        or text.startswith(("~", "./", "../", ".\\", "..\\"))
        or _WINDOWS_DRIVE.match(text)
        or ((os.sep in text or "/" in text) and not looks_base64(text))
    ):
        return path
    return None


def not_media_text(text: str, *, marked: bool, kind: str = "image") -> MediaError:
    """The error for a string that is no URL, data: URL, base64 or path: what is allowed, and
    only a short prefix of the string."""
    given = f"{in_words(text)} starting {safe_prefix(text.strip())}" if text.strip() else in_words(text)
    if kind == "video":
        allowed = "an http(s) URL or the path of an existing video file (~ is expanded)"
    else:
        path = (
            "the path of an existing image file (~ is expanded)"
            if marked
            else "a path marked with snw.image(...)"
        )
        allowed = f"an http(s) URL, a data:image/...;base64,... URL, base64 text, or {path}"
    return MediaError(f"{given} cannot be sent as an {kind}: a string must be {allowed}.")


def data_url_head(text: str) -> str:
    """The media type of a data: URL (`image/png`), or "no media type", for a message."""
    head = text[5 : text.find(",")] if "," in text[:200] else text[5:60]
    found = re.match(r"[\w.+-]{1,40}/[\w.+-]{1,60}", head)
    return found.group(0) if found else "no media type"
