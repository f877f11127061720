"""Hypothesis strategies shared by the fuzz tests of every door (API, socket, gateway)."""

from __future__ import annotations

from hypothesis import strategies as st


def json_values(*, text_size: int = 20, key_size: int = 8, max_leaves: int = 10):
    """Any JSON value: scalars (huge integers included) nested in lists and objects."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=text_size),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=key_size), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )
