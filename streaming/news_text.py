"""Plain text from Steam news contents: external posts are HTML, Steam announcements BBCode.

Search and word counts need the words, not the markup: tags of both kinds, Steam's image
placeholders and HTML entities are removed, whitespace collapsed. Raw contents stay in silver.
"""

from __future__ import annotations

import html
import re

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

_STEAM_PLACEHOLDER = re.compile(r"\{STEAM_[A-Z_]+\}\S*")
_BLOCK_BREAK = re.compile(
    r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>|\[(/?list|\*|/p|br|/h[1-6])\]", re.IGNORECASE
)
_HTML_TAG = re.compile(r"<[^<>]+>")
_BBCODE_TAG = re.compile(r"\[/?[a-zA-Z][a-zA-Z0-9_]*(?:=[^\]]*)?\]|\[\*\]")
_SPACE = re.compile(r"\s+")

TEXT_SCHEMA = StructType([StructField("text", StringType()), StructField("words", IntegerType())])


def markup_to_text(contents: str | None) -> str | None:
    """HTML or BBCode -> plain text (None stays None)."""
    if contents is None:
        return None
    text = _STEAM_PLACEHOLDER.sub(" ", contents)
    text = _BLOCK_BREAK.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = _BBCODE_TAG.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def word_count(text: str | None) -> int | None:
    """Whitespace-separated words (None for None)."""
    return None if text is None else len(text.split())


def _text_and_words(contents: str | None) -> tuple[str | None, int | None]:
    text = markup_to_text(contents)
    return text, word_count(text)


def text_and_words(contents: Column) -> Column:
    """A struct column (`text`, `words`) derived from a contents column.

    The UDF is made at each call, not once at import: PySpark builds a classic or a Spark Connect
    UDF depending on the session in use when it is made, and a classic one made at import fails
    on a Connect session ("SparkContext or SparkSession should be created first").
    """
    # A lambda: pyspark would otherwise try (and warn about) inferring a pandas UDF from the hints.
    # Not Arrow-optimised (Spark's default once a session is active): rows go to the Python worker
    # pickled, as before, so its interpreter needs no pyarrow.
    udf = F.udf(lambda text: _text_and_words(text), TEXT_SCHEMA, useArrow=False)
    return udf(contents)
