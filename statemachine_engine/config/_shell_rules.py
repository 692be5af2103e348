"""Which programs run a value as code: the rules behind the shell scanner's hazards.

A placeholder's value is safe in a shell command as long as only the shell sees it (it is
substituted from a variable, never parsed). These rules name the commands that hand their
argument or their input to an interpreter -- ``eval``, ``sh -c``, ``ssh``, ``python -c``,
a shell reading its standard input -- where the value would become code again.
"""

from __future__ import annotations

import os
import re

#: programs that run their ``-c`` argument (or their standard input) as shell code
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish"})
#: programs that run a ``-c`` / ``-e`` argument (or their standard input) as code
INTERPRETERS = frozenset(
    {"python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua"}
)
CODE_FLAGS = {**dict.fromkeys(SHELLS, "c"), **dict.fromkeys(INTERPRETERS, "ce")}
KEYWORDS = frozenset({"if", "then", "else", "elif", "while", "until", "do", "!", "time", "{"})

#: the safe spelling offered for every hazard
SAFE_SPELLING = (
    'pass the value as data instead: set it with env: (e.g. env: {VALUE: "%s"}) and '
    'write "$VALUE" inside the code, or give it as an argument (sh -c \'... "$1"\' _ %s)'
)


def _program(word: str) -> str:
    name = os.path.basename(word)
    return re.sub(r"\d+(\.\d+)*$", "", name) if name.startswith("python") else name


def command_words(words: list[str]) -> list[str]:
    """The words from the command name on (assignments and keywords skipped)."""
    i = 0
    while i < len(words) and (
        words[i] in KEYWORDS or re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[i])
    ):
        i += 1
    return words[i:]


def code_hazard(words: list[str]) -> str | None:
    """Why the next word of a command made of ``words`` is run as code, if it is."""
    words = command_words(words)
    for i, word in enumerate(words):
        name = _program(word)
        if name == "eval":
            return "eval runs its arguments as shell code"
        if name == "ssh":
            # every word after the host is the remote command, parsed by the remote shell
            rest = [w for w in words[i + 1 :] if not w.startswith("-")]
            if rest:
                return "ssh runs its command words through the remote shell"
        if name == "su" and "-c" in words[i + 1 :] and words[-1] == "-c":
            return "su -c runs its argument as shell code"
        flags = CODE_FLAGS.get(name)
        if flags is not None:
            for j, option in enumerate(words[i + 1 :], start=i + 1):
                if option == "--" or not option.startswith("-"):
                    break
                short = not option.startswith("--")
                if short and any(f in option for f in flags) and j == len(words) - 1:
                    return f"{name} {option} runs its argument as code"
    return None


def runs_stdin(words: list[str]) -> str | None:
    """The shell or interpreter a command made of ``words`` is, when it runs its input."""
    words = command_words(words)
    if not words:
        return None
    name = _program(words[0])
    if name in ("ssh", "su"):
        return name
    flags = CODE_FLAGS.get(name)
    if flags is None:
        return None
    # with -c/-e or a script file the input is data, else it is the program
    for option in words[1:]:
        if not option.startswith("-") or any(f in option for f in flags):
            return None
    return name
