"""Text: a string shown (as Markdown) by the Text dashboard.

:func:`text_summary` is torch's ``add_text`` (tag suffix ``/text_summary``, shape ``[1]``);
:func:`tf_text_summary` is ``tf.summary.text`` (the tag as given, a rank-0 tensor), for the
framework adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

from ..metadata import PLUGIN_TEXT, summary_metadata

if TYPE_CHECKING:
    from ..protos import Summary

TEXT_TAG_SUFFIX = "/text_summary"  # torch's and tensorboardX's convention; TF does not add it


def text_summary(tag: str, text_string: Any) -> "Summary":
    """Summary for ``add_text``: tag ``<tag>/text_summary``, a DT_STRING tensor of shape [1].

    Raises:
        TypeError: ``text_string`` is not ``str`` (or UTF-8 ``bytes``).
    """
    return _text_value(tag + TEXT_TAG_SUFFIX, text_string, (1,))


def tf_text_summary(tag: str, text: Any) -> "Summary":
    """Summary as ``tf.summary.text`` writes one string: a rank-0 DT_STRING tensor, ``text`` metadata.

    Raises:
        TypeError: ``text`` is not ``str`` (or UTF-8 ``bytes``).
    """
    return _text_value(tag, text, ())


def _text_value(tag: str, text: Any, shape: Tuple[int, ...]) -> "Summary":
    import numpy as np

    from .. import protos
    from ..tensor_codec import tensor_proto

    if not isinstance(text, (str, bytes)):
        raise TypeError(f"text_string must be str, got {type(text).__name__}")
    tensor = tensor_proto(np.array(text, dtype=object).reshape(shape))  # object: a str is stored whole, as UTF-8
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=summary_metadata(PLUGIN_TEXT))])
