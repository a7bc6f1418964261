"""WordPress's product slugs (``post_name``), as WordPress makes them, so a slug we send can be looked up again.

WordPress does not keep the slug a REST create sends: ``wp_insert_post`` runs it through ``sanitize_title`` (save
context: ``remove_accents``, then the ``sanitize_title`` filter, ``sanitize_title_with_dashes``), so ``tee.shirt`` is
saved ``tee-shirt``, ``Tee`` ``tee``, ``Café`` ``cafe`` and ``日本`` ``%e6%97%a5%e6%9c%ac``; and the REST
``?slug=`` filter (``WP_Query``'s ``name``) runs the value through ``sanitize_title_for_query`` (query context: no
``remove_accents``, none of the save-only replacements). The writer's look-up of a lost create
(``writer._Writer._lost_parent``) must ask for and compare the saved form, never the raw hub handle; the sandbox
emulator saves and filters with the same functions so its slugs are WordPress's.

A port of WordPress 6.x ``wp-includes/formatting.php`` (``sanitize_title``, ``sanitize_title_with_dashes``,
``remove_accents``, ``utf8_uri_encode``) and ``wp-includes/post.php`` ``_truncate_post_slug``, for the default
(``en_US``) locale: the ``de_*``, ``da_DK``, ``ca``, ``sr_RS``/``bs_BA`` rules of ``remove_accents`` are not ported
(a shop in such a locale would save ``ä`` as ``ae``: the look-up would then miss and create again, as before). No
library was used: ``python-slugify`` and ``Django``'s ``slugify`` fold and drop characters their own way (for
example ``日本`` is transliterated or dropped, never percent-encoded), so they would not find WordPress's slug.
``strip_tags`` is simplified (a tag runs from ``<`` not followed by a space to the next ``>``, or to the end); the
characters it leaves are dropped by the last step anyway for any handle that is not HTML.
"""

# ruff: noqa: RUF001, RUF003  (WordPress's table maps look-alike letters: that is its point)
from __future__ import annotations

import re
import unicodedata
from typing import Literal

# remove_accents' table for the default locale (UTF-8 branch), in WordPress's order.
_ACCENTS: dict[str, str] = {
    # Latin-1 Supplement.
    "ª": "a", "º": "o", "À": "A", "Á": "A", "Â": "A", "Ã": "A", "Ä": "A", "Å": "A", "Æ": "AE", "Ç": "C",
    "È": "E", "É": "E", "Ê": "E", "Ë": "E", "Ì": "I", "Í": "I", "Î": "I", "Ï": "I", "Ð": "D", "Ñ": "N",
    "Ò": "O", "Ó": "O", "Ô": "O", "Õ": "O", "Ö": "O", "Ù": "U", "Ú": "U", "Û": "U", "Ü": "U", "Ý": "Y",
    "Þ": "TH", "ß": "s", "à": "a", "á": "a", "â": "a", "ã": "a", "ä": "a", "å": "a", "æ": "ae", "ç": "c",
    "è": "e", "é": "e", "ê": "e", "ë": "e", "ì": "i", "í": "i", "î": "i", "ï": "i", "ð": "d", "ñ": "n",
    "ò": "o", "ó": "o", "ô": "o", "õ": "o", "ö": "o", "ø": "o", "ù": "u", "ú": "u", "û": "u", "ü": "u",
    "ý": "y", "þ": "th", "ÿ": "y", "Ø": "O",
    # Latin Extended-A.
    "Ā": "A", "ā": "a", "Ă": "A", "ă": "a", "Ą": "A", "ą": "a", "Ć": "C", "ć": "c", "Ĉ": "C", "ĉ": "c",
    "Ċ": "C", "ċ": "c", "Č": "C", "č": "c", "Ď": "D", "ď": "d", "Đ": "D", "đ": "d", "Ē": "E", "ē": "e",
    "Ĕ": "E", "ĕ": "e", "Ė": "E", "ė": "e", "Ę": "E", "ę": "e", "Ě": "E", "ě": "e", "Ĝ": "G", "ĝ": "g",
    "Ğ": "G", "ğ": "g", "Ġ": "G", "ġ": "g", "Ģ": "G", "ģ": "g", "Ĥ": "H", "ĥ": "h", "Ħ": "H", "ħ": "h",
    "Ĩ": "I", "ĩ": "i", "Ī": "I", "ī": "i", "Ĭ": "I", "ĭ": "i", "Į": "I", "į": "i", "İ": "I", "ı": "i",
    "Ĳ": "IJ", "ĳ": "ij", "Ĵ": "J", "ĵ": "j", "Ķ": "K", "ķ": "k", "ĸ": "k", "Ĺ": "L", "ĺ": "l", "Ļ": "L",
    "ļ": "l", "Ľ": "L", "ľ": "l", "Ŀ": "L", "ŀ": "l", "Ł": "L", "ł": "l", "Ń": "N", "ń": "n", "Ņ": "N",
    "ņ": "n", "Ň": "N", "ň": "n", "ŉ": "n", "Ŋ": "N", "ŋ": "n", "Ō": "O", "ō": "o", "Ŏ": "O", "ŏ": "o",
    "Ő": "O", "ő": "o", "Œ": "OE", "œ": "oe", "Ŕ": "R", "ŕ": "r", "Ŗ": "R", "ŗ": "r", "Ř": "R", "ř": "r",
    "Ś": "S", "ś": "s", "Ŝ": "S", "ŝ": "s", "Ş": "S", "ş": "s", "Š": "S", "š": "s", "Ţ": "T", "ţ": "t",
    "Ť": "T", "ť": "t", "Ŧ": "T", "ŧ": "t", "Ũ": "U", "ũ": "u", "Ū": "U", "ū": "u", "Ŭ": "U", "ŭ": "u",
    "Ů": "U", "ů": "u", "Ű": "U", "ű": "u", "Ų": "U", "ų": "u", "Ŵ": "W", "ŵ": "w", "Ŷ": "Y", "ŷ": "y",
    "Ÿ": "Y", "Ź": "Z", "ź": "z", "Ż": "Z", "ż": "z", "Ž": "Z", "ž": "z", "ſ": "s",
    # Latin Extended-B.
    "Ə": "E", "ǝ": "e", "Ș": "S", "ș": "s", "Ț": "T", "ț": "t",
    # Euro and pound signs.
    "€": "E", "£": "",
    # Vietnamese vowels: unmarked, grave, hook, tilde, acute, dot below.
    "Ơ": "O", "ơ": "o", "Ư": "U", "ư": "u",
    "Ầ": "A", "ầ": "a", "Ằ": "A", "ằ": "a", "Ề": "E", "ề": "e", "Ồ": "O", "ồ": "o", "Ờ": "O", "ờ": "o",
    "Ừ": "U", "ừ": "u", "Ỳ": "Y", "ỳ": "y",
    "Ả": "A", "ả": "a", "Ẩ": "A", "ẩ": "a", "Ẳ": "A", "ẳ": "a", "Ẻ": "E", "ẻ": "e", "Ể": "E", "ể": "e",
    "Ỉ": "I", "ỉ": "i", "Ỏ": "O", "ỏ": "o", "Ổ": "O", "ổ": "o", "Ở": "O", "ở": "o", "Ủ": "U", "ủ": "u",
    "Ử": "U", "ử": "u", "Ỷ": "Y", "ỷ": "y",
    "Ẫ": "A", "ẫ": "a", "Ẵ": "A", "ẵ": "a", "Ẽ": "E", "ẽ": "e", "Ễ": "E", "ễ": "e", "Ỗ": "O", "ỗ": "o",
    "Ỡ": "O", "ỡ": "o", "Ữ": "U", "ữ": "u", "Ỹ": "Y", "ỹ": "y",
    "Ấ": "A", "ấ": "a", "Ắ": "A", "ắ": "a", "Ế": "E", "ế": "e", "Ố": "O", "ố": "o", "Ớ": "O", "ớ": "o",
    "Ứ": "U", "ứ": "u",
    "Ạ": "A", "ạ": "a", "Ậ": "A", "ậ": "a", "Ặ": "A", "ặ": "a", "Ẹ": "E", "ẹ": "e", "Ệ": "E", "ệ": "e",
    "Ị": "I", "ị": "i", "Ọ": "O", "ọ": "o", "Ộ": "O", "ộ": "o", "Ợ": "O", "ợ": "o", "Ụ": "U", "ụ": "u",
    "Ự": "U", "ự": "u", "Ỵ": "Y", "ỵ": "y",
    # Chinese (Hanyu Pinyin): ɑ, macron, acute, caron, grave.
    "ɑ": "a", "Ǖ": "U", "ǖ": "u", "Ǘ": "U", "ǘ": "u", "Ǎ": "A", "ǎ": "a", "Ǐ": "I", "ǐ": "i", "Ǒ": "O",
    "ǒ": "o", "Ǔ": "U", "ǔ": "u", "Ǚ": "U", "ǚ": "u", "Ǜ": "U", "ǜ": "u",
}  # fmt: skip
_ACCENT_TABLE = str.maketrans(_ACCENTS)

# sanitize_title_with_dashes, save context: encoded characters turned into a dash, and ones dropped.
_SAVE_TO_DASH = (
    "%c2%a0",
    "%e2%80%93",
    "%e2%80%94",
    "&nbsp;",
    "&#160;",
    "&ndash;",
    "&#8211;",
    "&mdash;",
    "&#8212;",
    "/",
)
_SAVE_DROPPED = (
    "%c2%ad",  # soft hyphen
    "%c2%a1", "%c2%bf",  # ¡ ¿
    "%c2%ab", "%c2%bb", "%e2%80%b9", "%e2%80%ba",  # angle quotes
    "%e2%80%98", "%e2%80%99", "%e2%80%9c", "%e2%80%9d", "%e2%80%9a", "%e2%80%9b", "%e2%80%9e", "%e2%80%9f",  # curly
    "%e2%80%a2",  # bullet
    "%c2%a9", "%c2%ae", "%c2%b0", "%e2%80%a6", "%e2%84%a2",  # © ® ° … ™
    "%c2%b4", "%cb%8a", "%cc%81", "%cd%81",  # acute accents
    "%cc%80", "%cc%84", "%cc%8c",  # grave accent, macron, caron
    "%e2%80%8b", "%e2%80%8c", "%e2%80%8d", "%e2%80%8e", "%e2%80%8f",  # zero-width and direction marks
    "%e2%80%aa", "%e2%80%ab", "%e2%80%ac", "%e2%80%ad", "%e2%80%ae",  # embeddings and overrides
    "%ef%bb%bf", "%ef%bf%bc",  # byte order mark, object replacement character
)  # fmt: skip
_SAVE_SPACES = (  # non-visible characters with a width: en quad ... hair space, line/paragraph separators, nnbsp
    *(f"%e2%80%8{d}" for d in "0123456789a"),
    "%e2%80%a8",
    "%e2%80%a9",
    "%e2%80%af",
)

# Slugs ``wp_unique_post_slug`` never keeps for a post of a flat (non-hierarchical) type such as ``product`` that is
# not a draft, pending or auto-draft, even when no post holds them: WordPress's flat branch suffixes a slug when
# ``$post_name_check || in_array( $slug, $feeds ) || 'embed' === $slug || $conflicts_with_date_archive ||
# apply_filters( 'wp_unique_post_slug_is_bad_flat_slug', ... )``, trying ``<slug>-2``, ``-3``, ... for the first one
# no post of the type holds (the reserved check is made on the wanted slug only). ``$feeds`` is ``WP_Rewrite::$feeds``,
# ``array( 'feed', 'rdf', 'rss', 'rss2', 'atom' )`` by default; the date-archive check is for ``post`` only. A
# product made ``feed`` is saved ``feed-2``. Not modelled: feeds a plugin adds (``add_feed``) and the filter.
RESERVED_FLAT_SLUGS = frozenset({"feed", "rdf", "rss", "rss2", "atom", "embed"})

# The length WordPress cuts a slug to (``utf8_uri_encode( $title, 200 )``; ``post_name`` is varchar(200)).
SLUG_LENGTH = 200


def remove_accents(text: str) -> str:
    """WordPress ``remove_accents`` (UTF-8, default locale): NFC first, then the table (single characters only)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text).translate(_ACCENT_TABLE)


def _strip_tags(text: str) -> str:
    """PHP ``strip_tags``, simplified: ``<`` followed by whitespace is text; else a tag up to ``>`` (or the end)."""
    return re.sub(r"<(?!\s)[^>]*(?:>|$)", "", text)


def utf8_uri_encode(text: str, length: int = 0, encode_ascii: bool = False) -> str:
    """WordPress ``utf8_uri_encode``: non-ASCII characters as lower-case ``%xx`` octets, ASCII kept (or
    ``rawurlencode``d), stopping before the first character that would make it longer than ``length``."""
    out: list[str] = []
    size = 0
    for char in text:
        if char.isascii():
            piece = _rawurlencode(char) if encode_ascii else char
        else:
            piece = "".join(f"%{b:x}" for b in char.encode("utf-8"))
        if length and size + len(piece) > length:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _rawurlencode(char: str) -> str:
    return char if re.fullmatch(r"[A-Za-z0-9_.~-]", char) else f"%{ord(char):02X}"


def sanitize_title_with_dashes(title: str, context: Literal["save", "query", "display"] = "display") -> str:
    """WordPress ``sanitize_title_with_dashes``: lower-case, ``.`` and spaces to dashes, other punctuation dropped,
    non-ASCII percent-encoded (200 characters at most); the save context also turns dashes and special spaces into
    ``-`` and drops quotes, marks and invisible characters."""
    title = _strip_tags(title)
    title = re.sub(r"%([a-fA-F0-9][a-fA-F0-9])", r"---\1---", title)  # keep escaped octets,
    title = title.replace("%", "")  # drop other percent signs,
    title = re.sub(r"---([a-fA-F0-9][a-fA-F0-9])---", r"%\1", title)  # and restore the octets
    title = utf8_uri_encode(title.lower(), SLUG_LENGTH)  # (mb_strtolower: full Unicode lower-casing, as str.lower)
    title = title.lower()
    if context == "save":
        for token in _SAVE_TO_DASH:
            title = title.replace(token, "-")
        for token in _SAVE_DROPPED:
            title = title.replace(token, "")
        for token in _SAVE_SPACES:
            title = title.replace(token, "-")
        title = title.replace("%c3%97", "x")  # ×
    title = re.sub(r"&.+?;", "", title)  # entities
    title = title.replace(".", "-")
    title = re.sub(r"[^%a-z0-9 _-]", "", title)
    title = re.sub(r"\s+", "-", title)
    title = re.sub(r"-+", "-", title)
    return title.strip("-")


def sanitize_title(title: str, context: Literal["save", "query"] = "save") -> str:
    """WordPress ``sanitize_title`` with its default filter: the slug ``wp_insert_post`` saves for a given
    ``post_name`` (``save``), or the value ``WP_Query`` compares ``post_name`` with for ``?slug=`` (``query``).
    Empty when nothing is left (WordPress then takes the title's slug, or the post id)."""
    if context == "save":
        title = remove_accents(title)
    return sanitize_title_with_dashes(title, context)


def truncate_post_slug(slug: str, length: int = SLUG_LENGTH) -> str:
    """WordPress ``_truncate_post_slug``: a slug longer than ``length`` cut to it (at a whole encoded character
    when it holds ``%xx`` octets), trailing dashes dropped; ``wp_unique_post_slug`` makes room for ``-<n>`` so."""
    if len(slug) > length:
        decoded = _urldecode(slug)
        slug = slug[:length] if decoded == slug else utf8_uri_encode(decoded, length, encode_ascii=True)
    return slug.rstrip("-")


def _urldecode(slug: str) -> str:
    """PHP ``urldecode`` for a slug (``%xx`` octets as UTF-8; a slug has no ``+``)."""
    from urllib.parse import unquote

    return unquote(slug, errors="replace")


def suffixed_slug(slug: str, suffix: int) -> str:
    """The slug ``wp_unique_post_slug`` tries for the ``suffix``-th product wanting ``slug`` (2, 3, ...)."""
    return f"{truncate_post_slug(slug, SLUG_LENGTH - (len(str(suffix)) + 1))}-{suffix}"
