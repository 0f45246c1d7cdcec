"""How a prompt's identifiers rank definitions: the one it names unmistakably first, namesakes not."""

from __future__ import annotations

from ctxeng.pack.name_match import EXACT_IDENT, SPECIFIC_IDENT, ident_bonus, member_names


def test_a_named_definition_outranks_its_namesakes() -> None:
    idents = {"Engine.LoadHTMLFS", "LoadHTMLFS"}
    members = member_names(idents)
    assert members == {"LoadHTMLFS"}
    # The qualified name the prompt wrote: the undamped bonus.
    assert ident_bonus("LoadHTMLFS", "Engine.LoadHTMLFS", idents, members) == (0.0, SPECIFIC_IDENT)
    # A top-level function of the same name (gin's `ginS.LoadHTMLFS` wrapper) is only a namesake.
    assert ident_bonus("LoadHTMLFS", "LoadHTMLFS", idents, members) == (EXACT_IDENT, 0.0)
    # Compound names written alone are unmistakable; a plain word is not (damped for data by the caller).
    for name in ("ITER_CHUNK_SIZE", "FileSystem", "get_netrc_auth"):
        assert ident_bonus(name, name, {name}, frozenset()) == (0.0, SPECIFIC_IDENT)
    assert ident_bonus("flush", "flush", {"flush"}, frozenset()) == (EXACT_IDENT, 0.0)
    assert ident_bonus("flush", "Session.flush", {"flush"}, frozenset()) == (EXACT_IDENT, 0.0)
    assert ident_bonus("close", "Store.close", {"flush"}, frozenset()) == (0.0, 0.0)
